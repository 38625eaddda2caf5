// What the operator's informer caches keep of each object (Transform).
//
// An injected pod is 20-30 kB of JSON (the sidecar and init container, their
// volumes, the status annotation), and the operator watches every pod of the
// cluster: cached whole, 6,000 pods take about 100 MB of heap. The policies
// read only a few fields of a pod, listed in podProjection; the rest is
// dropped before the object is cached. Other kinds keep everything but
// managedFields and kubectl's last-applied-configuration, which nothing here
// reads (webhook configurations and MeshRevisions are not projected: the
// server-side-apply diff reads their managedFields).
import type { KubernetesObject, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_ISTIO_REV, LABEL_SIDECAR_INJECT } from '../api/labels.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Pod annotations the policies read: the injecting revision, and the opt-out. */
const POD_ANNOTATIONS = [ANNOTATION_ISTIO_REV, LABEL_SIDECAR_INJECT] as const;

function pick(from: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!from) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    if (from[k] !== undefined) (out ??= {})[k] = from[k];
  }
  return out;
}

function containerStatus(cs: V1ContainerStatus): V1ContainerStatus {
  const waiting = cs.state?.waiting;
  // Partial on purpose (image, imageID, ... are dropped): the type's required fields are the API's, not ours.
  return {
    name: cs.name,
    ready: cs.ready,
    restartCount: cs.restartCount,
    ...(waiting ? { state: { waiting: { ...(waiting.reason !== undefined ? { reason: waiting.reason } : {}) } } } : {}),
  } as V1ContainerStatus;
}

/**
 * A pod as the operator needs it: identity, labels (selectors), the
 * injection annotations, owners, deletion, hostNetwork, phase, readiness and
 * container restarts (the built-in health gate). Reads what policy/migration
 * and policy/revision-status read, nothing else; the projection test pins it.
 */
export function podProjection(obj: KubernetesObject): KubernetesObject {
  const p = obj as V1Pod;
  const m = p.metadata ?? {};
  const annotations = pick(m.annotations, POD_ANNOTATIONS);
  const out: V1Pod = {
    apiVersion: p.apiVersion ?? 'v1',
    kind: p.kind ?? 'Pod',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.generateName !== undefined ? { generateName: m.generateName } : {}),
      ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.deletionTimestamp !== undefined ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(annotations ? { annotations } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
    },
    // Partial on purpose: containers are dropped.
    spec: (p.spec?.hostNetwork !== undefined ? { hostNetwork: p.spec.hostNetwork } : {}) as V1Pod['spec'],
  };
  const s = p.status;
  if (s) {
    out.status = {
      ...(s.phase !== undefined ? { phase: s.phase } : {}),
      ...(s.conditions ? { conditions: s.conditions.filter((c) => c.type === 'Ready').map((c) => ({ type: c.type, status: c.status })) } : {}),
      ...(s.containerStatuses ? { containerStatuses: s.containerStatuses.map(containerStatus) } : {}),
      ...(s.initContainerStatuses ? { initContainerStatuses: s.initContainerStatuses.map(containerStatus) } : {}),
    };
  }
  return out;
}

/** Everything but metadata.managedFields and kubectl's last-applied-configuration annotation. */
export function withoutBookkeeping(obj: KubernetesObject): KubernetesObject {
  const m = obj.metadata;
  if (!m || (m.managedFields === undefined && m.annotations?.[LAST_APPLIED] === undefined)) return obj;
  const metadata = { ...m };
  delete metadata.managedFields;
  if (metadata.annotations?.[LAST_APPLIED] !== undefined) {
    const annotations = { ...metadata.annotations };
    delete annotations[LAST_APPLIED];
    metadata.annotations = annotations;
  }
  return { ...obj, metadata };
}
