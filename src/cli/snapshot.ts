// Pure: the cluster as a file, for `meshrev plan -f mrev.yaml --namespaces-from
// snapshot.yaml` — a plan made offline (in review, in CI, on a laptop
// without credentials) from what `kubectl get` printed. The snapshot is a
// YAML or JSON stream of objects and Lists (`kubectl get ... -o yaml` prints
// one List); Namespaces, Pods, Deployments, StatefulSets and DaemonSets are
// what the plan reads, MeshRevisions and MutatingWebhookConfigurations
// (revision-labelled) add its notes and resolve tags; any other kind is
// counted and left out. A snapshot that cannot give a true plan is refused,
// saying how to take one.
import type { V1MutatingWebhookConfiguration, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { LABEL_ISTIO_REV } from '../api/labels.js';
import { KIND, type MeshRevision } from '../api/meshrevision.js';
import type { Workload, WorkloadKind } from '../api/workload.js';
import { isPlainObject } from '../injector/merge.js';
import { CliError } from './errors.js';
import { parseYamlDocuments } from './yaml-input.js';

/** What to run to take a snapshot `--namespaces-from` reads in full. */
export const SNAPSHOT_COMMAND = 'kubectl get namespaces,deployments,statefulsets,daemonsets,pods,meshrevisions,mutatingwebhookconfigurations -A -o yaml';

export interface ClusterSnapshot {
  namespaces: V1Namespace[];
  pods: V1Pod[];
  workloads: Workload[];
  meshRevisions: MeshRevision[];
  /** Only those labelled istio.io/rev, as the live plan reads them. */
  webhooks: V1MutatingWebhookConfiguration[];
  /** Objects of other kinds, by kind (left out of the plan). */
  ignored: Record<string, number>;
}

const WORKLOAD_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet'] satisfies readonly WorkloadKind[];
/** Pod owners that are (or belong to) a workload the plan restarts: a ReplicaSet's Deployment, a StatefulSet, a DaemonSet. */
const WORKLOAD_OWNER_KINDS = new Set(['ReplicaSet', 'StatefulSet', 'DaemonSet']);

function unusable(source: string, why: string): CliError {
  return new CliError(`${source} is not a usable cluster snapshot: ${why}`, 1, `take one with: ${SNAPSHOT_COMMAND} > ${source === 'stdin' ? 'snapshot.yaml' : source}`);
}

/** Every object of the stream, Lists unpacked; refuses what is not a Kubernetes object, saying where. */
function objectsOf(docs: unknown[], source: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const take = (obj: unknown, where: string) => {
    if (!isPlainObject(obj) || typeof obj['kind'] !== 'string' || typeof obj['apiVersion'] !== 'string') {
      throw unusable(source, `${where} is not a Kubernetes object (a mapping with apiVersion and kind)`);
    }
    out.push(obj);
  };
  docs.forEach((doc, d) => {
    const items = isPlainObject(doc) && typeof doc['kind'] === 'string' && doc['kind'].endsWith('List') ? doc['items'] : undefined;
    if (items === undefined) return take(doc, `document ${d + 1}`);
    if (!Array.isArray(items)) throw unusable(source, `document ${d + 1} is a ${String(doc && (doc as Record<string, unknown>)['kind'])} whose items are not a list`);
    items.forEach((item, i) => take(item, `document ${d + 1}, item ${i + 1}`));
  });
  return out;
}

/** The first pod owned by a workload's ReplicaSet, StatefulSet or DaemonSet, as "namespace/name". */
function podOwnedByWorkload(pods: readonly V1Pod[]): string | undefined {
  const p = pods.find((x) => x.metadata?.ownerReferences?.some((o) => WORKLOAD_OWNER_KINDS.has(o.kind)));
  return p ? `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}` : undefined;
}

/**
 * Reads a snapshot (see the file comment). Throws a CliError (exit 1) when
 * it is not YAML, holds something that is not an object, holds no
 * Namespace, or holds pods of workloads but no workload at all (taken
 * without deployments,statefulsets,daemonsets: the plan would restart nothing).
 */
export function readSnapshot(text: string, source: string): ClusterSnapshot {
  const snap: ClusterSnapshot = { namespaces: [], pods: [], workloads: [], meshRevisions: [], webhooks: [], ignored: {} };
  for (const obj of objectsOf(parseYamlDocuments(text, source, 1), source)) {
    const kind = obj['kind'] as string;
    if (kind === 'Namespace') snap.namespaces.push(obj);
    else if (kind === 'Pod') snap.pods.push(obj);
    else if (WORKLOAD_KINDS.includes(kind)) snap.workloads.push(obj as unknown as Workload);
    else if (kind === KIND) snap.meshRevisions.push(obj as unknown as MeshRevision);
    else if (kind === 'MutatingWebhookConfiguration' && (obj as V1MutatingWebhookConfiguration).metadata?.labels?.[LABEL_ISTIO_REV] !== undefined) {
      snap.webhooks.push(obj);
    } else snap.ignored[kind] = (snap.ignored[kind] ?? 0) + 1;
  }
  if (snap.namespaces.length === 0) throw unusable(source, 'it holds no Namespace');
  const owned = podOwnedByWorkload(snap.pods);
  if (owned !== undefined && snap.workloads.length === 0) {
    throw unusable(source, `it holds pods of workloads (e.g. ${owned}) but no Deployment, StatefulSet or DaemonSet, so the plan could not say what restarts`);
  }
  return snap;
}

/** One line for the plan's notes: what the snapshot held. */
export function snapshotNote(snap: ClusterSnapshot, source: string): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const ignored = Object.entries(snap.ignored).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${n} ${k}`);
  return `Planned offline from ${source}: ${count(snap.namespaces.length, 'namespace')}, ${count(snap.workloads.length, 'workload')}, ` +
    `${count(snap.pods.length, 'pod')}, ${count(snap.meshRevisions.length, 'MeshRevision')}` +
    `${ignored.length > 0 ? ` (left out: ${ignored.join(', ')})` : ''}; the cluster may have changed since.`;
}
