// What the operator's informer caches keep of each object (Transform).
//
// An injected pod is 20-30 kB of JSON (the sidecar and init container, their
// volumes, the status annotation), and the operator watches every pod of the
// cluster: cached whole, 6,000 pods take about 100 MB of heap. The policies
// read only a few fields of a pod, listed in podProjection; the rest is
// dropped before the object is cached. Deployments, StatefulSets and
// DaemonSets are projected the same way (workloadProjection): the planner
// reads their identity, selector, replica counts, rollout status and the
// pod template's labels and three annotations, never the containers (the
// admission probe GETs the one workload it needs, kube/admission-probe).
// Other kinds keep everything but managedFields and kubectl's
// last-applied-configuration, which nothing here reads (webhook
// configurations and MeshRevisions are not projected: the server-side-apply
// diff reads their managedFields).
import type { KubernetesObject, V1ContainerStatus, V1Deployment, V1ObjectMeta, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_SIDECAR_INJECT } from '../api/labels.js';
import { ANNOTATION_RESTARTED_FOR } from '../api/migration.js';

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

/** Pod-template annotations the planner reads: the opt-out, and the restart stamps (kubectl's and meshrev's). */
const TEMPLATE_ANNOTATIONS = [LABEL_SIDECAR_INJECT, ANNOTATION_RESTARTED_AT, ANNOTATION_RESTARTED_FOR] as const;

/** Identity, generation, lifecycle, labels and owners; no annotations (nothing reads a workload's own). */
function workloadMetadata(m: V1ObjectMeta): V1ObjectMeta {
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    ...(m.creationTimestamp !== undefined ? { creationTimestamp: m.creationTimestamp } : {}),
    ...(m.deletionTimestamp !== undefined ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
  };
}

/** The pod template as the planner reads it: labels, the opt-out and restart annotations, hostNetwork. */
function templateProjection(t: V1PodTemplateSpec): V1PodTemplateSpec {
  const annotations = pick(t.metadata?.annotations, TEMPLATE_ANNOTATIONS);
  const labels = t.metadata?.labels;
  const metadata = labels || annotations ? { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } : undefined;
  // Partial on purpose: containers, volumes and the rest of the pod spec are dropped.
  const spec = (t.spec?.hostNetwork !== undefined ? { hostNetwork: t.spec.hostNetwork } : {}) as V1PodTemplateSpec['spec'];
  return { ...(metadata ? { metadata } : {}), spec };
}

/** Every field of a Deployment/StatefulSet/DaemonSet status (all scalars), conditions cut to type, status and reason. */
function workloadStatus(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'conditions') {
      out[k] = (v as { type: string; status: string; reason?: string }[]).map((c) => ({ type: c.type, status: c.status, ...(c.reason !== undefined ? { reason: c.reason } : {}) }));
    } else if (v !== undefined && (typeof v !== 'object' || v === null)) {
      out[k] = v;
    }
  }
  return out;
}

/**
 * A Deployment, StatefulSet or DaemonSet as the operator needs it (same
 * shape for all three): workloadMetadata; spec.replicas, selector, paused,
 * the strategy / updateStrategy type, progressDeadlineSeconds,
 * minReadySeconds; the template's labels, TEMPLATE_ANNOTATIONS and
 * hostNetwork; the status counts, revisions and condition reasons. Reads
 * what policy/migration reads (rolloutComplete, rolloutDeadlineMs,
 * planWorkloads); the projection test pins it.
 */
export function workloadProjection(obj: KubernetesObject): KubernetesObject {
  // The three kinds share these fields' names; V1Deployment stands for all of them here.
  const w = obj as V1Deployment & { spec?: { updateStrategy?: { type?: string } } };
  const s = w.spec;
  const out: Record<string, unknown> = {
    apiVersion: w.apiVersion ?? 'apps/v1',
    ...(w.kind !== undefined ? { kind: w.kind } : {}),
    metadata: workloadMetadata(w.metadata ?? {}),
  };
  if (s) {
    out.spec = {
      ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
      ...(s.selector ? { selector: s.selector } : {}),
      ...(s.paused !== undefined ? { paused: s.paused } : {}),
      ...(s.strategy?.type !== undefined ? { strategy: { type: s.strategy.type } } : {}),
      ...(s.updateStrategy?.type !== undefined ? { updateStrategy: { type: s.updateStrategy.type } } : {}),
      ...(s.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: s.progressDeadlineSeconds } : {}),
      ...(s.minReadySeconds !== undefined ? { minReadySeconds: s.minReadySeconds } : {}),
      ...(s.template ? { template: templateProjection(s.template) } : {}),
    };
  }
  if (w.status) out.status = workloadStatus(w.status as Record<string, unknown>);
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
