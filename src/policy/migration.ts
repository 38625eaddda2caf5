// Pure: the migration plan (DESIGN.md §3). Which namespaces are eligible,
// which step each belongs to, where each one is, and which of its workloads
// must be restarted — computed from what is in the cluster, so the operator
// and `meshrev plan` use the same function, and a restarted operator derives
// the same answer. No I/O; `now` comes in as an argument.
import type { V1LabelSelector, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { Workload, WorkloadKind } from '../api/workload.js';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV, LABEL_SIDECAR_INJECT } from '../api/labels.js';
import {
  ANNOTATION_ORIGIN,
  ANNOTATION_RESTARTED_FOR,
  DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
  FROM_DEFAULT,
  PAUSE_INDEFINITE,
  SYSTEM_NAMESPACES,
  type MigrationSpec,
  type MigrationStep,
  type NamespaceOrigin,
} from '../api/migration.js';
import { isLivePod } from './pods.js';
import { sourceOfLabels } from './routing.js';
import { matchesLabelSelector } from './selectors.js';
import { parseDuration } from './validation/index.js';

// ---------------------------------------------------------------------------
// Origins

/**
 * Parsed origin records by annotation text: a reconcile reads every namespace's record, and the
 * text changes only when the namespace is written, so each distinct text is parsed once. Bounded:
 * cleared when it outgrows the namespaces a cluster has (a record per namespace, a few per write).
 */
const parsedOrigins = new Map<string, NamespaceOrigin | undefined>();
const PARSED_ORIGINS_MAX = 50_000;

/** Reads a namespace's origin annotation; undefined when absent or unreadable (never throws on user data). */
export function readOrigin(ns: V1Namespace): NamespaceOrigin | undefined {
  const raw = ns.metadata?.annotations?.[ANNOTATION_ORIGIN];
  if (raw === undefined) return undefined;
  if (parsedOrigins.has(raw)) {
    const known = parsedOrigins.get(raw);
    // A copy: callers build records from it ({...origin, returnedAt}) but must not share nested labels.
    return known && { ...known, labels: { ...known.labels } };
  }
  const parsed = parseOrigin(raw);
  if (parsedOrigins.size >= PARSED_ORIGINS_MAX) parsedOrigins.clear();
  parsedOrigins.set(raw, parsed);
  return parsed && { ...parsed, labels: { ...parsed.labels } };
}

function parseOrigin(raw: string): NamespaceOrigin | undefined {
  try {
    const o = JSON.parse(raw) as Partial<NamespaceOrigin>;
    if (typeof o.meshRevision !== 'string' || typeof o.revision !== 'string' || typeof o.labels !== 'object' || o.labels === null) return undefined;
    return {
      meshRevision: o.meshRevision,
      ...(typeof o.uid === 'string' ? { uid: o.uid } : {}),
      revision: o.revision,
      labels: o.labels,
      ...(typeof o.step === 'number' && Number.isInteger(o.step) && o.step > 0 ? { step: o.step } : {}),
      ...(typeof o.movedAt === 'string' ? { movedAt: o.movedAt } : {}),
      ...(typeof o.returnedAt === 'string' ? { returnedAt: o.returnedAt } : {}),
      ...(typeof o.rolledBackAt === 'string' ? { rolledBackAt: o.rolledBackAt } : {}),
      ...(typeof o.rollbackReason === 'string' ? { rollbackReason: o.rollbackReason } : {}),
      ...(typeof o.rollbackGeneration === 'number' ? { rollbackGeneration: o.rollbackGeneration } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The origin to record before a namespace's first change: its injection labels as they are now. */
export function originOf(ns: V1Namespace, meshRevision: string, revision: string, uid?: string): NamespaceOrigin {
  const labels = ns.metadata?.labels ?? {};
  const o: NamespaceOrigin = { meshRevision, ...(uid !== undefined ? { uid } : {}), revision, labels: {} };
  if (labels[LABEL_ISTIO_INJECTION] !== undefined) o.labels['istio-injection'] = labels[LABEL_ISTIO_INJECTION];
  if (labels[LABEL_ISTIO_REV] !== undefined) o.labels['istio.io/rev'] = labels[LABEL_ISTIO_REV];
  return o;
}

/** Whether the namespace's labels are exactly the migration's target labels. */
export function hasTargetLabels(ns: V1Namespace, revision: string): boolean {
  const labels = ns.metadata?.labels ?? {};
  return labels[LABEL_ISTIO_INJECTION] === undefined && labels[LABEL_ISTIO_REV] === revision;
}

/** Whether the namespace's injection labels are exactly those recorded in its origin. */
export function hasOriginLabels(ns: V1Namespace, origin: NamespaceOrigin): boolean {
  const labels = ns.metadata?.labels ?? {};
  return labels[LABEL_ISTIO_INJECTION] === origin.labels['istio-injection'] && labels[LABEL_ISTIO_REV] === origin.labels['istio.io/rev'];
}

// ---------------------------------------------------------------------------
// Eligibility

export type NamespaceClass =
  /** On a `from` revision, selected, not yet changed. */
  | { kind: 'pending'; name: string; from: string }
  /** Carries this migration's origin annotation: relabelled (or being returned). */
  | { kind: 'moved'; name: string; from: string; origin: NamespaceOrigin }
  /**
   * Never touched, with the reason in words. `forget`: it carries this migration's record but its
   * owners set istio-injection=disabled since: the record goes, and the namespace is theirs.
   */
  | { kind: 'skipped'; name: string; reason: string; forget?: true };

export interface ClassifyInput {
  /** metadata.name of the MeshRevision. */
  meshRevision: string;
  /** Its metadata.uid, when known: origin records naming another uid are not this migration's. */
  uid?: string;
  /** Its spec.revision: the migration's target. */
  revision: string;
  migration: Pick<MigrationSpec, 'from' | 'namespaceSelector' | 'rollback'>;
  namespaces: readonly V1Namespace[];
}

function nsLabels(ns: V1Namespace): Record<string, string> {
  // The API server adds kubernetes.io/metadata.name to every namespace; selectors may use it.
  return { 'kubernetes.io/metadata.name': ns.metadata?.name ?? '', ...(ns.metadata?.labels ?? {}) };
}

/**
 * Whether an origin record is this MeshRevision's: its name, and its uid when both are known (a
 * record restored from a backup or copied with a manifest names another object's uid).
 */
export function isOwnOrigin(o: NamespaceOrigin, meshRevision: string, uid?: string): boolean {
  return o.meshRevision === meshRevision && (o.uid === undefined || uid === undefined || o.uid === uid);
}

/** Namespaces this migration moved and fully returned (their origin annotation says rolledBackAt). */
export function returnedNamespaces(meshRevision: string, namespaces: readonly V1Namespace[], uid?: string): { name: string; origin: NamespaceOrigin }[] {
  const out: { name: string; origin: NamespaceOrigin }[] = [];
  for (const ns of namespaces) {
    const o = readOrigin(ns);
    if (o && isOwnOrigin(o, meshRevision, uid) && o.rolledBackAt && ns.metadata?.name) out.push({ name: ns.metadata.name, origin: o });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sorts every namespace into pending / moved / skipped for one migration. */
export function classifyNamespaces(input: ClassifyInput): NamespaceClass[] {
  const from = new Set(input.migration.from);
  const excluded = new Set(input.migration.rollback?.namespaces ?? []);
  const out: NamespaceClass[] = [];
  for (const ns of input.namespaces) {
    const name = ns.metadata?.name;
    if (!name) continue;
    const recorded = readOrigin(ns);
    const own = recorded !== undefined && isOwnOrigin(recorded, input.meshRevision, input.uid);
    if (own && !recorded.rolledBackAt) {
      if (ns.metadata?.labels?.[LABEL_ISTIO_INJECTION] === 'disabled') {
        // Its owners opted it out after the move: that wins over the migration, forward or back.
        out.push({ kind: 'skipped', name, reason: `${LABEL_ISTIO_INJECTION}=disabled set after the move: left alone`, forget: true });
        continue;
      }
      out.push({ kind: 'moved', name, from: sourceOfLabels(recorded.labels) ?? 'none', origin: recorded });
      continue;
    }
    // A namespace this migration already returned is judged by its labels again (a later generation
    // may move it anew); another migration's namespace is left to that migration.
    const origin = recorded && !(recorded.meshRevision === input.meshRevision) ? recorded : undefined;
    const labels = ns.metadata?.labels ?? {};
    const source = sourceOfLabels(labels);
    let reason: string | undefined;
    if (SYSTEM_NAMESPACES.includes(name)) reason = 'system namespace';
    else if (origin && !origin.rolledBackAt) reason = `being migrated by MeshRevision ${origin.meshRevision}`;
    else if (excluded.has(name)) reason = 'listed in spec.migration.rollback.namespaces';
    else if (labels[LABEL_ISTIO_INJECTION] !== undefined && labels[LABEL_ISTIO_INJECTION] !== 'enabled') {
      reason = `${LABEL_ISTIO_INJECTION}=${labels[LABEL_ISTIO_INJECTION]}`;
    } else if (source === undefined) reason = 'no injection label';
    else if (source === input.revision) reason = `already on ${input.revision}`;
    else if (!from.has(source)) reason = `on ${source === FROM_DEFAULT ? 'the default revision' : source}, not in spec.migration.from`;
    else if (input.migration.namespaceSelector && !matchesLabelSelector(input.migration.namespaceSelector, nsLabels(ns))) {
      reason = 'outside spec.migration.namespaceSelector';
    }
    out.push(reason === undefined ? { kind: 'pending', name, from: source! } : { kind: 'skipped', name, reason });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------
// Steps

/** Cumulative namespace targets per step; a final step of 100% is implied if the last one stops short. */
export function stepTargets(steps: readonly MigrationStep[] | undefined, total: number): number[] {
  const list = steps && steps.length > 0 ? steps : [{ percent: 100 }];
  const targets: number[] = [];
  let prev = 0;
  for (const s of list) {
    const raw = s.percent !== undefined ? Math.ceil((s.percent * total) / 100) : (s.namespaces ?? total);
    // Never shrink (a later, smaller step would undo nothing) and never exceed what exists.
    const t = Math.min(total, Math.max(prev, raw));
    targets.push(t);
    prev = t;
  }
  if (prev < total || targets.length === 0) targets.push(total);
  return targets;
}

/** The steps as the user wrote them, plus the implied final one. */
export function effectiveSteps(steps: readonly MigrationStep[] | undefined, total: number): MigrationStep[] {
  const list = steps && steps.length > 0 ? [...steps] : [{ percent: 100 }];
  if (stepTargets(list, total).length > list.length) list.push({ percent: 100 });
  return list;
}

export type PauseKind = { kind: 'none' } | { kind: 'duration'; ms: number } | { kind: 'indefinite' };

/** A step's pause: none, a Go-style duration ("30s", "1h30m"), or indefinite. Undefined when unreadable. */
export function parsePause(pause: string | undefined): PauseKind | undefined {
  if (pause === undefined || pause === '') return { kind: 'none' };
  if (pause === PAUSE_INDEFINITE) return { kind: 'indefinite' };
  const ms = parseDuration(pause);
  return ms === undefined ? undefined : { kind: 'duration', ms };
}

export interface StepPlan {
  /** 1-based. */
  index: number;
  /** Namespaces moved by the end of this step. */
  target: number;
  /** The namespaces this step adds, in order. */
  namespaces: string[];
  pause: PauseKind;
}

export interface MigrationPlan {
  /** Eligible namespaces in migration order: already moved first, then pending, each by name. */
  order: string[];
  steps: StepPlan[];
  /** Step (1-based) of each eligible namespace. */
  stepOf: Map<string, number>;
  classes: NamespaceClass[];
}

/** Assigns eligible namespaces to steps. Moved ones come first, so progress already made counts toward the earliest steps. */
export function planSteps(classes: readonly NamespaceClass[], steps: readonly MigrationStep[] | undefined): MigrationPlan {
  const moved = classes.filter((c) => c.kind === 'moved').map((c) => c.name);
  const pending = classes.filter((c) => c.kind === 'pending').map((c) => c.name);
  const order = [...moved, ...pending];
  const targets = stepTargets(steps, order.length);
  const eff = effectiveSteps(steps, order.length);
  const stepOf = new Map<string, number>();
  const plans: StepPlan[] = [];
  let prev = 0;
  targets.forEach((t, i) => {
    const names = order.slice(prev, t);
    for (const n of names) stepOf.set(n, i + 1);
    plans.push({ index: i + 1, target: t, namespaces: names, pause: parsePause(eff[i]?.pause) ?? { kind: 'none' } });
    prev = t;
  });
  return { order, steps: plans, stepOf, classes: [...classes] };
}

// ---------------------------------------------------------------------------
// Workloads


export interface WorkloadRef {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** As observed: a restart sent with it fails (409) if the cache was stale, so a workload is never restarted twice. */
  resourceVersion?: string;
}

export type WorkloadAction =
  /** Restart it now (stamp the pod template with the expected revision). */
  | { kind: 'restart'; ref: WorkloadRef }
  /** Restarted for this revision; its rollout is still running. */
  | { kind: 'rolling'; ref: WorkloadRef; since?: string }
  /** Its pods all carry the expected revision and the rollout is complete. */
  | { kind: 'done'; ref: WorkloadRef; restarted: boolean }
  /** Its rollout ran past its deadline. */
  | { kind: 'failed'; ref: WorkloadRef; reason: string }
  /** Left alone, with why. */
  | { kind: 'skipped'; ref: WorkloadRef; reason: string };

export interface ReportedPod {
  name: string;
  reason: string;
}

export interface WorkloadPlan {
  actions: WorkloadAction[];
  /** Pods no restartable workload owns: never deleted, reported. */
  reported: ReportedPod[];
}

function refOf(w: Workload): WorkloadRef {
  const rv = w.metadata?.resourceVersion;
  return { kind: w.kind, namespace: w.metadata?.namespace ?? '', name: w.metadata?.name ?? '', ...(rv ? { resourceVersion: rv } : {}) };
}

function selectorOf(w: Workload): V1LabelSelector | undefined {
  return w.spec?.selector;
}

/** Whether the workload's rollout is complete (every pod updated and ready, no old pods left). */
export function rolloutComplete(w: Workload): boolean {
  const gen = w.metadata?.generation ?? 0;
  const s = w.status;
  if (!s || (s.observedGeneration ?? 0) < gen) return false;
  switch (w.kind) {
    case 'Deployment': {
      const want = w.spec?.replicas ?? 1;
      const st = w.status!;
      return (st.updatedReplicas ?? 0) === want && (st.readyReplicas ?? 0) === want && (st.availableReplicas ?? 0) === want && (st.replicas ?? 0) === want;
    }
    case 'StatefulSet': {
      const want = w.spec?.replicas ?? 1;
      const st = w.status!;
      const revisionsMatch = w.spec?.updateStrategy?.type === 'OnDelete' || st.currentRevision === st.updateRevision;
      return revisionsMatch && (st.updatedReplicas ?? 0) === want && (st.readyReplicas ?? 0) === want;
    }
    case 'DaemonSet': {
      const st = w.status!;
      const want = st.desiredNumberScheduled;
      return (st.updatedNumberScheduled ?? 0) === want && st.numberReady === want && (st.numberAvailable ?? 0) === want;
    }
  }
}

/** The rollout deadline of a workload in ms: its progressDeadlineSeconds (Deployments), else the migration's. */
export function rolloutDeadlineMs(w: Workload, fallbackSeconds = DEFAULT_ROLLOUT_TIMEOUT_SECONDS): number {
  const own = w.kind === 'Deployment' ? w.spec?.progressDeadlineSeconds : undefined;
  return (own ?? fallbackSeconds) * 1000;
}

function deploymentDeadlineExceeded(w: Workload): boolean {
  // Like `kubectl rollout status`: a condition about an older generation says nothing about this rollout.
  if ((w.status?.observedGeneration ?? 0) < (w.metadata?.generation ?? 0)) return false;
  return w.kind === 'Deployment' && (w.status?.conditions ?? []).some((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
}

/** Why Istio would never inject this pod (template), whatever its namespace says; undefined when it would. */
function neverInjected(labels: Record<string, string> | undefined, annotations: Record<string, string> | undefined, hostNetwork: boolean | undefined): string | undefined {
  const optOut = labels?.[LABEL_SIDECAR_INJECT] ?? annotations?.[LABEL_SIDECAR_INJECT];
  if (optOut === 'false') return `opted out (${LABEL_SIDECAR_INJECT}: "false")`;
  if (hostNetwork) return 'hostNetwork pods are never injected';
  return undefined;
}

/** Container restarts after which a pod on the new revision counts as failing even without CrashLoopBackOff. */
const MAX_CONTAINER_RESTARTS = 3;

/** Why one of these pods is unhealthy (CrashLoopBackOff, restarts climbing), or undefined. */
function unhealthyPod(pods: readonly V1Pod[]): string | undefined {
  for (const p of pods) {
    for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const waiting = cs.state?.waiting?.reason;
      if (waiting === 'CrashLoopBackOff' || waiting === 'ImagePullBackOff' || waiting === 'ErrImagePull' || waiting === 'CreateContainerConfigError') {
        return `pod ${p.metadata?.name}: container ${cs.name} is in ${waiting} (${cs.restartCount} restarts)`;
      }
      if (cs.restartCount >= MAX_CONTAINER_RESTARTS) return `pod ${p.metadata?.name}: container ${cs.name} restarted ${cs.restartCount} times`;
    }
  }
  return undefined;
}

export interface WorkloadPlanInput {
  /** The revision the workload's pods must end up carrying (istio.io/rev annotation). */
  expectedRevision: string;
  workloads: readonly Workload[];
  /** Pods of the namespace. */
  pods: readonly V1Pod[];
  now: Date;
  rolloutTimeoutSeconds?: number;
  /**
   * The resourceVersion the pod cache has seen events up to (client-go's
   * LastSyncResourceVersion). Pods and workloads come through separate
   * watches, so a workload's status can report its rollout complete before
   * the pod cache has seen the old pods go: a workload whose resourceVersion
   * is newer than this is not judged on its pods yet. Unknown: judge now.
   */
  podsResourceVersion?: string;
  /**
   * When the namespace was relabelled for this direction (RFC 3339). A
   * restart stamp older than that was made for an earlier move (a rollback
   * that did not need to restart the workload leaves it behind): it does not
   * count, so a retry restarts the workload again.
   */
  relabelledAt?: string;
}

/**
 * True when resourceVersion `a` is known to be older than `b`. Resource
 * versions are opaque, but on every etcd-backed API server they are the etcd
 * revision, an integer (client-go's IntegerResourceVersionMutationCache relies
 * on the same); anything else compares as unknown (false).
 */
export function resourceVersionOlder(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

/** Whether a restart stamp was written before the relabel it would have to serve (both RFC 3339; unknown: no). */
function stampPredates(restartedAt: string | undefined, relabelledAt: string | undefined): boolean {
  if (restartedAt === undefined || relabelledAt === undefined) return false;
  const a = Date.parse(restartedAt);
  const b = Date.parse(relabelledAt);
  return !Number.isNaN(a) && !Number.isNaN(b) && a < b;
}

/**
 * What to do with each workload of a namespace so its pods carry
 * `expectedRevision`: restart exactly those whose pods would change revision
 * and that meshrev has not already restarted for it; leave opted-out and
 * pinned ones alone; report pods no such workload owns.
 */
export function planWorkloads(input: WorkloadPlanInput): WorkloadPlan {
  const live = input.pods.filter(isLivePod);
  const claimed = new Set<V1Pod>();
  const actions: WorkloadAction[] = [];
  const sorted = [...input.workloads].sort((a, b) => `${a.kind}/${a.metadata?.name}` < `${b.kind}/${b.metadata?.name}` ? -1 : 1);
  for (const w of sorted) {
    const ref = refOf(w);
    const sel = selectorOf(w);
    const pods = sel && (sel.matchLabels || sel.matchExpressions) ? live.filter((p) => matchesLabelSelector(sel, p.metadata?.labels)) : [];
    for (const p of pods) claimed.add(p);
    const tmpl = w.spec?.template?.metadata;
    const never = neverInjected(tmpl?.labels, tmpl?.annotations, w.spec?.template?.spec?.hostNetwork);
    if (never !== undefined) {
      actions.push({ kind: 'skipped', ref, reason: never });
      continue;
    }
    const pinned = tmpl?.labels?.[LABEL_ISTIO_REV];
    if (pinned !== undefined) {
      actions.push({ kind: 'skipped', ref, reason: `pinned by its pod template's ${LABEL_ISTIO_REV}=${pinned}` });
      continue;
    }
    const stamped = tmpl?.annotations?.[ANNOTATION_RESTARTED_FOR] === input.expectedRevision && !stampPredates(tmpl?.annotations?.[ANNOTATION_RESTARTED_AT], input.relabelledAt);
    const allOnTarget = pods.every((p) => p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] === input.expectedRevision);
    const complete = rolloutComplete(w);
    if (allOnTarget && (complete || (!stamped && pods.length > 0))) {
      // On target already: a rollout of someone else's still running is not ours to wait for or redo.
      actions.push({ kind: 'done', ref, restarted: stamped });
      continue;
    }
    const since = tmpl?.annotations?.[ANNOTATION_RESTARTED_AT];
    const started = since ? Date.parse(since) : NaN;
    const overdue = !Number.isNaN(started) && input.now.getTime() - started > rolloutDeadlineMs(w, input.rolloutTimeoutSeconds);
    if (stamped && complete && !overdue && resourceVersionOlder(input.podsResourceVersion, w.metadata?.resourceVersion)) {
      // Complete by its status, but the pod cache has not caught up with that status yet: the pods
      // not on the revision may be old ones already gone. Judge once it has (or once the deadline passed).
      actions.push({ kind: 'rolling', ref, ...(since ? { since } : {}) });
      continue;
    }
    if (stamped && complete) {
      // Restarted for this revision, fully rolled out, and still not on it: waiting would not help.
      const seen = [...new Set(pods.map((p) => p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] ?? 'uninjected'))].join(', ');
      actions.push({ kind: 'failed', ref, reason: `restarted for ${input.expectedRevision} but its new pods run ${seen}: check which webhook injects this namespace (meshrev check-inject)` });
      continue;
    }
    if (!stamped) {
      // Pods on the wrong revision (or none injected) and not restarted for this one yet.
      if (pods.length === 0 && complete) actions.push({ kind: 'done', ref, restarted: false });
      else actions.push({ kind: 'restart', ref });
      continue;
    }
    // Pods already on the expected revision that crash-loop or keep restarting: the new sidecar breaks them
    // (the seeds' eShopOnContainers case). Failing now beats waiting out the rollout deadline.
    const sick = unhealthyPod(pods.filter((p) => p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] === input.expectedRevision));
    if (sick !== undefined) {
      actions.push({ kind: 'failed', ref, reason: sick });
      continue;
    }
    if (deploymentDeadlineExceeded(w) || overdue) {
      actions.push({ kind: 'failed', ref, reason: `rollout did not complete within ${rolloutDeadlineMs(w, input.rolloutTimeoutSeconds) / 1000}s of its restart` });
    } else {
      actions.push({ kind: 'rolling', ref, ...(since ? { since } : {}) });
    }
  }
  const reported: ReportedPod[] = [];
  for (const p of live) {
    if (claimed.has(p)) continue;
    if (p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] === input.expectedRevision) continue;
    // Pods that would not move even if recreated are not worth reporting.
    if (neverInjected(p.metadata?.labels, p.metadata?.annotations, p.spec?.hostNetwork) !== undefined) continue;
    if (p.metadata?.labels?.[LABEL_ISTIO_REV] !== undefined) continue;
    const owner = p.metadata?.ownerReferences?.find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
    reported.push({
      name: p.metadata?.name ?? '',
      reason: owner
        ? `owned by ${owner.kind} ${owner.name}, not restarted: recreate it through its controller to move it`
        : 'has no controller, not deleted (it would not come back): recreate it yourself to move it',
    });
  }
  return { actions, reported };
}
