// Pure condition and status helpers, kstatus style: Ready is always present;
// Reconciling and Stalled are "abnormal-true" and present only while True
// (kstatus and Flux read an absent one as False). The clock is injected so a
// reconcile is a function of its input and tests need no fake timers.
import {
  CONDITION_READY,
  CONDITION_RECONCILING,
  CONDITION_STALLED,
  type Condition,
  type ConditionStatus,
  type MeshRevisionStatus,
} from '../api/meshrevision.js';

/** metav1.Time's wire format: RFC 3339 in UTC, whole seconds (what the API server itself writes). */
export function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The part of a condition a reconcile decides; the rest (times, generation) is bookkeeping. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True only when the condition is present and True ("Unknown" is not True). */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new list with `input` set. lastTransitionTime is kept unless the
 * status flips (a new reason or message alone is not a transition), so a
 * resync that observes the same world yields an identical list and no write.
 * Order is kept; a new type is appended.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date,
  observedGeneration?: number,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
    lastTransitionTime: prev !== undefined && prev.status === input.status ? prev.lastTransitionTime : formatTime(now),
    reason: input.reason,
    message: input.message,
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Returns a new list without `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** The three kstatus conditions a reconcile reports. Reconciling/Stalled left out mean "not True": they are removed. */
export interface KstatusInput {
  ready: Omit<ConditionInput, 'type'>;
  reconciling?: { reason: string; message: string };
  stalled?: { reason: string; message: string };
}

/**
 * Sets Ready, and Reconciling / Stalled when given (removing them otherwise),
 * all stamped with `generation`. Other condition types are kept as they are.
 */
export function setKstatusConditions(
  conditions: readonly Condition[] | undefined,
  input: KstatusInput,
  now: Date,
  generation?: number,
): Condition[] {
  let list = setCondition(conditions, { type: CONDITION_READY, ...input.ready }, now, generation);
  list = input.reconciling
    ? setCondition(list, { type: CONDITION_RECONCILING, status: 'True', ...input.reconciling }, now, generation)
    : removeCondition(list, CONDITION_RECONCILING);
  list = input.stalled
    ? setCondition(list, { type: CONDITION_STALLED, status: 'True', ...input.stalled }, now, generation)
    : removeCondition(list, CONDITION_STALLED);
  return list;
}

/** JSON with keys sorted and undefined dropped, so key order never makes two equal statuses differ. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const val = (v as Record<string, unknown>)[k];
      if (val !== undefined) out[k] = canonical(val);
    }
    return out;
  }
  return v;
}

/**
 * Whether `next` differs from the status on the object, so status is written
 * only when it changed. Conditions compare by type (their order is not
 * meaningful); everything else compares structurally.
 */
export function statusChanged(current: MeshRevisionStatus | undefined, next: MeshRevisionStatus): boolean {
  const byType = (s: MeshRevisionStatus | undefined) => {
    const { conditions, ...rest } = s ?? {};
    const sorted = [...(conditions ?? [])].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
    return { ...rest, conditions: sorted.length > 0 ? sorted : undefined };
  };
  return JSON.stringify(canonical(byType(current))) !== JSON.stringify(canonical(byType(next)));
}

/**
 * Whether `current` and `next` differ only in what moves with every pod
 * while a migration runs: each namespace's state and workload counts, the
 * counts and summary, who still uses the revision (inUse), and condition
 * messages quoting them. Phase, step, conditions' status and reason, a
 * block, a rollback or a failure are never "progress". Such changes may be
 * coalesced (written at most every few seconds); the others are written at once.
 */
export function progressOnly(current: MeshRevisionStatus | undefined, next: MeshRevisionStatus): boolean {
  const shape = (s: MeshRevisionStatus | undefined) => {
    const { conditions, inUse: _inUse, migration, ...rest } = s ?? {};
    const { namespaces: _ns, counts: _counts, summary: _summary, ...mig } = migration ?? {};
    return {
      ...rest,
      ...(migration ? { migration: mig } : {}),
      conditions: [...(conditions ?? [])]
        .map((c) => ({ type: c.type, status: c.status, reason: c.reason, observedGeneration: c.observedGeneration }))
        .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
    };
  };
  return JSON.stringify(canonical(shape(current))) === JSON.stringify(canonical(shape(next)));
}
