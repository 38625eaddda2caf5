// Pure: the writes a migration makes, as data. Each builder names one change
// (DESIGN.md §3) and returns the merge patch that makes it; the reconcile only
// sends them. Every namespace patch carries the resourceVersion it was decided
// on, so a decision made on a stale cache fails with 409 instead of writing.
import type { V1Namespace } from '@kubernetes/client-node';
import { ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../api/labels.js';
import { ANNOTATION_ORIGIN, ANNOTATION_RESTARTED_FOR, type NamespaceOrigin } from '../api/migration.js';
import type { WorkloadRef } from './migration.js';

/** Why a namespace is written, for logs and tests. */
export type NamespacePatchKind = 'relabelToTarget' | 'restoreOrigin' | 'markSentBack' | 'markReturned' | 'forgetOrigin';

export interface NamespacePatch {
  kind: NamespacePatchKind;
  namespace: string;
  body: { metadata: Record<string, unknown> };
}

export interface WorkloadRestart {
  ref: WorkloadRef;
  /** The revision its new pods must carry (stamped as meshrev.io/restarted-for). */
  expected: string;
}

function nsPatch(kind: NamespacePatchKind, ns: V1Namespace, metadata: Record<string, unknown>): NamespacePatch {
  return { kind, namespace: ns.metadata?.name ?? '', body: { metadata: { resourceVersion: ns.metadata?.resourceVersion, ...metadata } } };
}

/** Records where the namespace came from and points it at `target` (the seeds' `istio-injection- istio.io/rev=REV`), in one request. */
export function relabelToTarget(ns: V1Namespace, target: string, origin?: NamespaceOrigin): NamespacePatch {
  return nsPatch('relabelToTarget', ns, {
    labels: { [LABEL_ISTIO_INJECTION]: null, [LABEL_ISTIO_REV]: target },
    ...(origin ? { annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) } } : {}),
  });
}

/** Puts the recorded injection labels back and records when (`origin.returnedAt`). */
export function restoreOrigin(ns: V1Namespace, origin: NamespaceOrigin): NamespacePatch {
  return nsPatch('restoreOrigin', ns, {
    labels: { [LABEL_ISTIO_INJECTION]: origin.labels['istio-injection'] ?? null, [LABEL_ISTIO_REV]: origin.labels['istio.io/rev'] ?? null },
    annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) },
  });
}

/** Records on the namespace that a failed gate sends it back (rollbackReason, rollbackGeneration): survives a lost status write. */
export function markSentBack(ns: V1Namespace, origin: NamespaceOrigin): NamespacePatch {
  return nsPatch('markSentBack', ns, { annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) } });
}

/** Records that the namespace is fully back (`origin.rolledBackAt`). */
export function markReturned(ns: V1Namespace, origin: NamespaceOrigin): NamespacePatch {
  return nsPatch('markReturned', ns, { annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) } });
}

/** Removes this migration's record from a namespace that is back (the MeshRevision is being deleted). */
export function forgetOrigin(ns: V1Namespace): NamespacePatch {
  return nsPatch('forgetOrigin', ns, { annotations: { [ANNOTATION_ORIGIN]: null } });
}

/**
 * The restart of a workload: its pod template stamped with the time (the
 * annotation `kubectl rollout restart` uses) and the revision it is restarted
 * for, guarded by the resourceVersion it was planned on — a workload is never
 * restarted twice for one revision.
 */
export function stampRestart(ref: WorkloadRef, expected: string, stamp: string): Record<string, unknown> {
  return {
    metadata: { resourceVersion: ref.resourceVersion },
    spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: stamp, [ANNOTATION_RESTARTED_FOR]: expected } } } },
  };
}
