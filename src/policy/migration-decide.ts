// Pure: one reconcile's decision for a MeshRevision's migration (DESIGN.md
// §3–4). `decide` takes what the reconcile observed — the cluster as the
// caches hold it, the admission dry runs, the injector probe and the health
// measurements it gathered — and `now`, and returns data: the namespace
// patches and workload restarts to make, the events to emit, the status to
// write and when to look again. It does no I/O. When a decision needs an
// observation the reconcile has not gathered yet (a dry run for a namespace
// whose restarts wait on admission, a check that is due, the injector gate),
// it says so in `needs`; the reconcile gathers exactly that and decides again.
//
// Everything a restarted operator needs is in the cluster: the namespaces'
// origin annotations (with rollbackReason/rolledBackAt), the workloads'
// restarted-for stamps and status.migration. The one thing kept in process
// memory (`memo`) is what the admission dry runs showed: a confirmation lets
// a namespace count as arrived before RELABEL_SETTLE_MS, and a mismatch is
// given ADMISSION_PROBE_DEADLINE_MS from when this process first saw it —
// a restarted operator looks again before it fails a namespace.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { REASON_HEALTH_CHECK_FAILED, type CheckInstance, type CheckState, type HealthChecksStatus, type Measurement } from '../api/health.js';
import type { MeshRevision } from '../api/meshrevision.js';
import type { Workload } from '../api/workload.js';
import {
  ADMISSION_PROBE_DEADLINE_MS,
  ADMISSION_PROBE_RETRY_MS,
  DEFAULT_MAX_CONCURRENT_NAMESPACES,
  DEFAULT_MAX_CONCURRENT_RESTARTS,
  DEFAULT_MIGRATION_FAILURE_POLICY,
  MAX_LISTED_NAMESPACES,
  EVENT_MIGRATION_AWAITING_PROMOTION,
  EVENT_MIGRATION_FAILED,
  EVENT_MIGRATION_ROLLED_BACK,
  EVENT_MIGRATION_ROLLING_BACK,
  EVENT_MIGRATION_STARTED,
  EVENT_MIGRATION_SUCCEEDED,
  EVENT_STEP_COMPLETED,
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_FAILED,
  MIGRATION_PHASE_PAUSED,
  MIGRATION_PHASE_PENDING,
  MIGRATION_PHASE_PROGRESSING,
  MIGRATION_PHASE_ROLLED_BACK,
  MIGRATION_PHASE_ROLLING_BACK,
  MIGRATION_PHASE_SUCCEEDED,
  MIGRATION_PHASE_SUSPENDED,
  NS_FAILED,
  NS_MIGRATED,
  NS_MIGRATING,
  NS_PENDING,
  NS_ROLLED_BACK,
  NS_ROLLING_BACK,
  RELABEL_SETTLE_MS,
  rollbackWasRequested,
  type MigrationFailurePolicy,
  type MigrationPhase,
  type MigrationSpec,
  type MigrationStatus,
  type NamespaceMigrationStatus,
  type NamespaceOrigin,
  type StepStatus,
} from '../api/migration.js';
import { expandChecks, gateVerdict, isDue, listedCheckStates, nextCheckState, nextDueInMs, planFailureResponse, resolveChecks, syncCheckStates } from './analysis.js';
import { formatTime } from './conditions.js';
import {
  classifyNamespaces,
  hasOriginLabels,
  hasTargetLabels,
  originOf,
  planSteps,
  planWorkloads,
  readOrigin,
  returnedNamespaces,
  type MigrationPlan,
  type NamespaceClass,
  type WorkloadAction,
  type WorkloadRef,
} from './migration.js';
import {
  forgetOrigin,
  markReturned,
  markSentBack,
  relabelToTarget,
  restoreOrigin,
  type NamespacePatch,
  type WorkloadRestart,
} from './migration-patches.js';
import { sourceOfLabels, type RevisionResolver } from './routing.js';

/** While namespaces move, look again this often even without watch events. */
export const PROGRESS_RECHECK_MS = 2000;
/** While the injector gate blocks the migration, probe it again this often. */
export const BLOCKED_RECHECK_MS = 5000;

// ---------------------------------------------------------------------------
// Input

/** What a dry-run pod showed: the revision that injected it (null: none), or why the dry run failed. */
export interface AdmissionResult {
  revision?: string | null;
  error?: string;
}

/** What this process remembers of one namespace's dry runs since its last relabel (see the file comment). */
export interface AdmissionMemo {
  /** The relabel (movedAt / returnedAt) and revision a dry-run pod confirmed. */
  confirmed?: { since: string; expected: string };
  /** Since when (ms) this process has seen dry-run pods name another revision for this relabel. */
  mismatch?: { since: string; expected: string; firstAt: number };
}

/** The caches' view of the cluster. Read-only. */
export interface MigrationView {
  namespaces: readonly V1Namespace[];
  /** Deployments, StatefulSets and DaemonSets of a namespace. */
  workloads(namespace: string): readonly Workload[];
  pods(namespace: string): readonly V1Pod[];
  /** The pod cache's LastSyncResourceVersion: a workload newer than it is not judged on its pods yet. */
  podsResourceVersion?: string;
}

export interface MigrationObservation {
  mrev: MeshRevision;
  now: Date;
  /** The MeshRevision is being deleted: return every namespace it moved. */
  deleting: boolean;
  /** The real revision behind a `from` value ("default", a tag, a revision), for rollbacks. */
  resolve: RevisionResolver;
  view: MigrationView;
  /** Per namespace, for this MeshRevision. */
  memo: ReadonlyMap<string, AdmissionMemo>;
  /** Dry runs gathered for this reconcile, per namespace. */
  admission: ReadonlyMap<string, AdmissionResult>;
  /** The injector gate, when gathered: `blocked` says why the target's injector cannot answer. */
  injector?: { blocked?: string };
  /** Measurements of the checks that were due, by CheckInstance.key. */
  measurements: ReadonlyMap<string, Measurement>;
  /**
   * Every namespace as this process last decided it (MigrationDecision.entries), for the
   * generation it decided for: status.migration lists only the namespaces still moving, failed
   * or returned, so this is where a namespace verified in a step not yet complete stays
   * Migrated. Absent after a restart: the namespaces' origin records and the completed steps
   * in status stand in for it (see `previousEntry`).
   */
  known?: { generation: number | undefined; entries: ReadonlyMap<string, NamespaceMigrationStatus> };
  /**
   * Every check state of the gated step as this process last decided it (MigrationDecision.checks),
   * for the generation it decided for: status.healthChecks lists at most MAX_LISTED_CHECK_STATES.
   * Absent after a restart: the listed states stand in, the others start again from Pending.
   */
  knownChecks?: { generation: number | undefined; step: number; states: readonly CheckState[] };
}

// ---------------------------------------------------------------------------
// Output

export interface AdmissionRequest {
  namespace: string;
  /** The workload whose pod template the dry run uses (the first to restart). */
  workload: WorkloadRef;
}

export interface Needs {
  admission: AdmissionRequest[];
  checks: CheckInstance[];
  injector: boolean;
}

export interface DecidedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface MigrationResult {
  status: MigrationStatus;
  /** The user-defined checks' analysis of the step being gated (status.healthChecks). */
  healthChecks?: HealthChecksStatus;
  /** Every namespace this migration moved is back at its origin (the finalizer may go on). */
  allReturned: boolean;
  requeueAfterMs?: number;
}

export interface MigrationDecision {
  /** Observations this decision lacked; empty when it is final. */
  needs: Needs;
  namespacePatches: NamespacePatch[];
  /** Namespaces relabelled by this decision: their restarts can be released once the patches are applied. */
  started: string[];
  /** Within the restart budget. */
  restarts: WorkloadRestart[];
  /** Restart requests in flight at once. */
  restartConcurrency: number;
  events: DecidedEvent[];
  /** Gate failures, for meshrev_health_gate_failures_total. */
  gateFailures: { gate: 'workload' | 'check'; action: MigrationFailurePolicy }[];
  /** Namespaces that reached their destination since the last status, and how long it took. */
  arrivals: { direction: 'forward' | 'rollback'; seconds: number }[];
  /** The memo to keep for this MeshRevision (namespaces it no longer moves are gone from it). */
  memo: Map<string, AdmissionMemo>;
  /** Every namespace of the migration, as decided (status.migration.namespaces lists only some): metrics, `known`, `meshrev plan`. */
  entries: NamespaceMigrationStatus[];
  /** Every check state of the gated step (status.healthChecks lists only some): `knownChecks`. */
  checks?: { step: number; states: CheckState[] };
  result: MigrationResult;
}

/**
 * Restart requests in flight at once (maxConcurrentRestarts bounds the rollouts, not the requests):
 * every request in flight holds a TLS connection and its buffers, so 300 at once cost the operator
 * about 60 MB of memory it never gives back, for no gain in time.
 */
const RESTART_REQUEST_CONCURRENCY = 10;

// ---------------------------------------------------------------------------
// The decision

/**
 * The migration's decision for this reconcile; undefined when there is no
 * migration and nothing this MeshRevision moved. A failed gate under
 * onFailure rollbackAll decides a second time, going back.
 */
export function decide(obs: MigrationObservation): MigrationDecision | undefined {
  const first = decidePass(obs, undefined);
  if (first === undefined || first.kind === 'decided') return first?.decision;
  const second = decidePass(obs, first.reason);
  if (second?.kind !== 'decided') throw new Error('a forced rollback cannot force another');
  const d = second.decision;
  return { ...d, events: [...first.events, ...d.events], gateFailures: [...first.gateFailures, ...d.gateFailures] };
}

type Pass =
  | { kind: 'decided'; decision: MigrationDecision }
  /** A failed gate under rollbackAll: decide again, going back for `reason`. */
  | { kind: 'rollbackAll'; reason: string; events: DecidedEvent[]; gateFailures: MigrationDecision['gateFailures'] };

interface NsOutcome {
  entry: NamespaceMigrationStatus;
  restarts: WorkloadRef[];
  /** Restarts held until the admission chain is seen to inject `expected` here. */
  held?: { restarts: WorkloadRef[]; expected: string; since: string; forward: boolean };
  rolling: number;
  patch?: NamespacePatch;
}

/** Everything one pass derives before it looks at gates. */
interface Scene {
  obs: MigrationObservation;
  spec: MigrationSpec | undefined;
  name: string;
  target: string;
  generation: number | undefined;
  prev: MigrationStatus;
  sameGeneration: boolean;
  /** Where each namespace was at the last decision, as far as it is known (see previousEntry). */
  prevByName: Map<string, NamespaceMigrationStatus>;
  byName: Map<string, V1Namespace>;
  classes: NamespaceClass[];
  plan: MigrationPlan;
  direction: Direction;
  policy: MigrationFailurePolicy;
  outcomes: Map<string, NsOutcome>;
  memo: Map<string, AdmissionMemo>;
  /** Records to forget on namespaces their owners opted out (istio-injection=disabled) after the move. */
  released: NamespacePatch[];
  needs: Needs;
  events: DecidedEvent[];
  gateFailures: MigrationDecision['gateFailures'];
}

interface Direction {
  /** Everything goes back: deletion, spec, an automatic rollback recorded in status for this generation. */
  rollbackAll: boolean;
  rollbackListed: ReadonlySet<string>;
  /** A failed gate of this generation, as recorded on the namespaces it sent back (survives a lost status write). */
  gateFailure: string | undefined;
  /** Nothing goes forward any more for this generation. */
  terminal: boolean;
  rollbackReason: string | undefined;
  /** A person asked for the rollback (spec, deletion); false when a failed gate forced it. */
  rollbackRequested: boolean;
}

function decidePass(obs: MigrationObservation, forcedRollback: string | undefined): Pass | undefined {
  const scene = sceneOf(obs, forcedRollback);
  if (scene === undefined) return undefined;
  const waiting = settleAdmission(scene, scene.direction.terminal);
  const steps = stepsStatusOf(scene);
  const workloadGate = builtInGate(scene);
  if (workloadGate?.rollbackAll) return { kind: 'rollbackAll', reason: workloadGate.reason, events: scene.events, gateFailures: scene.gateFailures };
  let gateReason = workloadGate?.reason ?? scene.direction.gateFailure;
  const checks = checksGate(scene, steps, gateReason);
  if (checks.rollbackAll) return { kind: 'rollbackAll', reason: checks.rollbackAll, events: scene.events, gateFailures: scene.gateFailures };
  gateReason = checks.failed ?? gateReason;
  const blocked = injectorGate(scene, gateReason);
  const fwd = phaseOf(scene, steps, { gateReason, checksHold: checks.hold, blocked });
  const restarts = budgetedRestarts(scene);
  const { entries: all, ...result } = statusOf(scene, steps, fwd, { gateReason, checksHold: checks.hold, blocked, checksRequeue: checks.requeueAfterMs, waiting });
  return {
    kind: 'decided',
    decision: {
      needs: scene.needs,
      namespacePatches: [...scene.released, ...[...scene.outcomes.values()].flatMap((o) => (o.patch ? [o.patch] : []))],
      started: fwd.started,
      restarts,
      restartConcurrency: Math.min(scene.spec?.maxConcurrentRestarts ?? DEFAULT_MAX_CONCURRENT_RESTARTS, RESTART_REQUEST_CONCURRENCY),
      events: [...scene.events, ...announce(scene, all), ...transitions(scene, result.status, all)],
      gateFailures: scene.gateFailures,
      arrivals: arrivals(scene, all),
      memo: new Map([...scene.memo].filter(([ns]) => scene.outcomes.has(ns))),
      entries: all,
      ...(checks.states ? { checks: checks.states } : {}),
      result: { ...(checks.status ? { healthChecks: checks.status } : {}), ...result },
    },
  };
}

function sceneOf(obs: MigrationObservation, forcedRollback: string | undefined): Scene | undefined {
  const { mrev } = obs;
  const spec = mrev.spec.migration;
  const name = mrev.metadata.name!;
  const target = mrev.spec.revision;
  const generation = mrev.metadata.generation;
  const prev: MigrationStatus = mrev.status?.migration ?? {};
  const namespaces = obs.view.namespaces;
  const uid = mrev.metadata.uid;
  const classes = classifyNamespaces({ meshRevision: name, ...(uid !== undefined ? { uid } : {}), revision: target, migration: spec ?? { from: [] }, namespaces });
  const moved = classes.filter((c): c is Extract<NamespaceClass, { kind: 'moved' }> => c.kind === 'moved');
  if (!spec && moved.length === 0) return undefined;
  const returned = returnedNamespaces(name, namespaces, uid);
  const sameGeneration = prev.generation === generation;
  const prevByName = previousEntries(obs, prev, sameGeneration, [...moved, ...returned]);
  const scene: Scene = {
    obs,
    spec,
    name,
    target,
    generation,
    prev,
    sameGeneration,
    prevByName,
    byName: new Map(namespaces.map((n) => [n.metadata?.name ?? '', n])),
    classes,
    plan: planSteps(classes, spec?.steps),
    direction: directionOf(obs, prev, [...moved.map((c) => c.origin), ...returned.map((r) => r.origin)], forcedRollback),
    policy: spec?.onFailure ?? DEFAULT_MIGRATION_FAILURE_POLICY,
    outcomes: new Map(),
    memo: new Map(obs.memo),
    released: [],
    needs: { admission: [], checks: [], injector: false },
    events: [],
    gateFailures: [],
  };
  const { rollbackAll, rollbackListed } = scene.direction;
  for (const c of classes) {
    if (c.kind !== 'skipped' || !c.forget) continue;
    scene.released.push(forgetOrigin(scene.byName.get(c.name)!));
    scene.events.push({ type: 'Normal', reason: 'NamespaceOptedOut', message: `namespace ${c.name}: ${c.reason}; meshrev forgets its record and will not relabel, restart or return it` });
  }
  for (const c of moved) {
    const ns = scene.byName.get(c.name)!;
    const back = rollbackAll || rollbackListed.has(c.name) || c.origin.rollbackReason !== undefined;
    // The step a namespace moved in, as recorded: while going back the plan's order changes under it.
    const step = prevByName.get(c.name)?.step ?? c.origin.step ?? scene.plan.stepOf.get(c.name) ?? 0;
    const arrived = scene.sameGeneration ? prevByName.get(c.name) : undefined;
    scene.outcomes.set(
      c.name,
      back ? returnNamespace(scene, ns, c.origin, step) : arrived?.state === NS_MIGRATED ? stayMigrated(scene, ns, c.origin, arrived) : advanceNamespace(scene, ns, c.origin, step),
    );
  }
  // Namespaces already returned by this migration (recorded on them, so no lost status write can drop them).
  for (const r of returned) {
    const byGate = r.origin.rollbackReason !== undefined && r.origin.rollbackGeneration === generation;
    if (scene.outcomes.has(r.name) || !(rollbackAll || rollbackListed.has(r.name) || byGate)) continue;
    const entry: NamespaceMigrationStatus = { name: r.name, state: NS_ROLLED_BACK, step: prevByName.get(r.name)?.step ?? r.origin.step ?? 0, from: sourceOfLabels(r.origin.labels) ?? 'none' };
    // Deleting the MeshRevision: its records on namespaces go with it.
    scene.outcomes.set(r.name, { entry, restarts: [], rolling: 0, ...(obs.deleting ? { patch: forgetOrigin(scene.byName.get(r.name)!) } : {}) });
  }
  return scene;
}

/**
 * Where each namespace this migration moved or returned stood at the last decision. status.migration
 * lists only namespaces still moving, failed or returned (bounded; statuses written before that list
 * every namespace, and are read the same way). For the others, in order: what this process decided
 * last (`known`), then what the cluster records: a namespace moved in a step that status says was
 * completed (this generation) was verified then, and stays Migrated; one whose origin record says
 * rolledBackAt is back. A namespace none of these places is left out: its state is then decided
 * afresh (its workloads judged again), and no event announces it.
 */
function previousEntries(
  obs: MigrationObservation,
  prev: MigrationStatus,
  sameGeneration: boolean,
  recorded: readonly { name: string; origin: NamespaceOrigin }[],
): Map<string, NamespaceMigrationStatus> {
  const out = new Map((prev.namespaces ?? []).map((e) => [e.name, e]));
  const known = obs.known !== undefined && obs.known.generation === obs.mrev.metadata.generation ? obs.known.entries : undefined;
  const completed = new Set(sameGeneration ? (prev.steps ?? []).filter((s) => s.completedAt !== undefined).map((s) => s.index) : []);
  for (const { name, origin } of recorded) {
    if (out.has(name)) continue;
    const mine = known?.get(name);
    const from = sourceOfLabels(origin.labels) ?? 'none';
    if (mine !== undefined) out.set(name, mine);
    else if (origin.rolledBackAt !== undefined) out.set(name, { name, state: NS_ROLLED_BACK, step: origin.step ?? 0, from });
    else if (origin.step !== undefined && origin.returnedAt === undefined && completed.has(origin.step)) out.set(name, { name, state: NS_MIGRATED, step: origin.step, from });
  }
  return out;
}

function directionOf(
  obs: MigrationObservation,
  prev: MigrationStatus,
  /** The origin records of the namespaces this migration moved or returned. */
  origins: readonly NamespaceOrigin[],
  forcedRollback: string | undefined,
): Direction {
  const { mrev } = obs;
  const spec = mrev.spec.migration;
  const generation = mrev.metadata.generation;
  const sameGeneration = prev.generation === generation;
  const asked = obs.deleting || !spec || spec.rollback?.all === true;
  const carried = sameGeneration && (prev.phase === MIGRATION_PHASE_ROLLING_BACK || prev.phase === MIGRATION_PHASE_ROLLED_BACK);
  const rollbackAll = forcedRollback !== undefined || asked || carried;
  const rollbackListed = new Set(spec?.rollback?.namespaces ?? []);
  const gateFailure = origins.find(
    (o) => o.rollbackReason !== undefined && o.rollbackGeneration === generation,
  )?.rollbackReason;
  const terminal = (sameGeneration && prev.phase === MIGRATION_PHASE_FAILED) || gateFailure !== undefined;
  const why = (): string =>
    obs.deleting
      ? `MeshRevision ${mrev.metadata.name} is being deleted`
      : !spec
        ? 'spec.migration was removed'
        : spec.rollback?.all
          ? 'spec.migration.rollback.all is true'
          : (prev.rollbackReason ?? 'rollback requested');
  const rollbackReason =
    forcedRollback ??
    (rollbackAll
      ? why()
      : rollbackListed.size > 0
        ? `spec.migration.rollback.namespaces lists ${[...rollbackListed].join(', ')}`
        : // A failed migration keeps saying why for as long as it stays failed.
          (gateFailure ?? (terminal && sameGeneration ? prev.rollbackReason : undefined)));
  // A rollback carried over from the previous status keeps who asked for it.
  const rollbackRequested =
    forcedRollback === undefined &&
    (asked || (carried ? rollbackWasRequested(prev) : rollbackListed.size > 0));
  return { rollbackAll, rollbackListed, gateFailure, terminal, rollbackReason, rollbackRequested };
}

// ---------------------------------------------------------------------------
// One namespace

/**
 * A namespace this generation already verified on the target: the migration's work there is done.
 * Its owners' deploys, scaling, crash loops and deletion are none of the migration's business and
 * never fail a gate (DESIGN.md §4): its workloads are not judged again and nothing is restarted.
 * It leaves Migrated only by going back, or when its labels stop selecting the target.
 */
function stayMigrated(scene: Scene, ns: V1Namespace, origin: NamespaceOrigin, entry: NamespaceMigrationStatus): NsOutcome {
  if (!hasTargetLabels(ns, scene.target)) return advanceNamespace(scene, ns, origin, entry.step);
  return { entry, restarts: [], rolling: 0 };
}

/** A moved namespace going forward: keep its target labels, restart what must move, verify. */
function advanceNamespace(scene: Scene, ns: V1Namespace, origin: NamespaceOrigin, step: number): NsOutcome {
  const name = ns.metadata!.name!;
  const from = sourceOfLabels(origin.labels) ?? 'none';
  if (!hasTargetLabels(ns, scene.target)) {
    // Someone changed the labels after the move: converge back to the target (level-triggered).
    return {
      entry: { name, state: NS_MIGRATING, step, from, message: `labels changed outside meshrev; setting istio.io/rev=${scene.target} again` },
      restarts: [],
      rolling: 0,
      patch: relabelToTarget(ns, scene.target),
    };
  }
  return workloadOutcome(scene, { name, step, from, expected: scene.target, relabelledAt: origin.movedAt, forward: true });
}

/** A moved namespace going back: restore its origin labels, restart what must move back, verify, forget the origin. */
function returnNamespace(scene: Scene, ns: V1Namespace, origin: NamespaceOrigin, step: number): NsOutcome {
  const name = ns.metadata!.name!;
  const from = sourceOfLabels(origin.labels) ?? 'none';
  if (!hasOriginLabels(ns, origin) || !origin.returnedAt) {
    return {
      entry: { name, state: NS_ROLLING_BACK, step, from, message: 'restoring its origin labels' },
      restarts: [],
      rolling: 0,
      patch: restoreOrigin(ns, { ...origin, returnedAt: formatTime(scene.obs.now) }),
    };
  }
  const expected = scene.obs.resolve(from);
  if (expected === undefined) {
    // No revision serves the origin any more (e.g. no default revision): pods would come back uninjected.
    return returned(scene, ns, origin, { name, state: NS_ROLLED_BACK, step, from, message: `origin labels restored; no MeshRevision serves ${from}, so its pods were left as they are` });
  }
  const o = workloadOutcome(scene, { name, step, from, expected, relabelledAt: origin.returnedAt, forward: false });
  return o.entry.state === NS_ROLLED_BACK ? returned(scene, ns, origin, o.entry) : o;
}

/**
 * A namespace fully back: recorded on it (rolledBackAt), so the record survives any lost status
 * write. While the MeshRevision is being deleted the record goes instead: the finalizer may be
 * released in this very reconcile, and no later one would remove it.
 */
function returned(scene: Scene, ns: V1Namespace, origin: NamespaceOrigin, entry: NamespaceMigrationStatus): NsOutcome {
  const patch = scene.obs.deleting ? forgetOrigin(ns) : markReturned(ns, { ...origin, rolledBackAt: formatTime(scene.obs.now) });
  return { entry, restarts: [], rolling: 0, patch };
}

interface Heading {
  name: string;
  step: number;
  from: string;
  /** The revision the namespace's pods must carry in the direction it is going. */
  expected: string;
  /** When it was relabelled for this direction (movedAt / returnedAt). */
  relabelledAt: string | undefined;
  forward: boolean;
}

/**
 * Plans a namespace's workloads toward `h.expected`. Restarts wait until a
 * dry-run pod shows the admission chain injecting the expected revision after
 * the relabel (held here, settled by settleAdmission).
 */
function workloadOutcome(scene: Scene, h: Heading): NsOutcome {
  const { obs } = scene;
  const wp = planWorkloads({
    expectedRevision: h.expected,
    workloads: obs.view.workloads(h.name),
    pods: obs.view.pods(h.name),
    now: obs.now,
    ...(obs.view.podsResourceVersion !== undefined ? { podsResourceVersion: obs.view.podsResourceVersion } : {}),
    ...(h.relabelledAt !== undefined ? { relabelledAt: h.relabelledAt } : {}),
    ...(h.forward && scene.spec?.rolloutTimeoutSeconds !== undefined ? { rolloutTimeoutSeconds: scene.spec.rolloutTimeoutSeconds } : {}),
  });
  const is = <K extends WorkloadAction['kind']>(k: K) => wp.actions.filter((a): a is Extract<WorkloadAction, { kind: K }> => a.kind === k);
  const timeSettled = h.relabelledAt === undefined || obs.now.getTime() - Date.parse(h.relabelledAt) >= RELABEL_SETTLE_MS;
  const known = scene.memo.get(h.name)?.confirmed;
  const confirmed = h.relabelledAt === undefined || (known?.since === h.relabelledAt && known.expected === h.expected);
  const candidates = is('restart').map((a) => a.ref);
  const failures = is('failed');
  const counted = wp.actions.filter((a) => a.kind !== 'skipped');
  const verified = is('done').length;
  const notes = [
    ...failures.map((f) => `${f.ref.kind} ${f.ref.name}: ${f.reason}`),
    ...is('skipped').map((s) => `${s.ref.kind} ${s.ref.name} left alone: ${s.reason}`),
    ...wp.reported.map((p) => `pod ${p.name} ${p.reason}`),
  ];
  let state: NamespaceMigrationStatus['state'] = h.forward ? NS_MIGRATING : NS_ROLLING_BACK;
  if (h.forward && failures.length > 0) state = NS_FAILED;
  else if (verified === counted.length && (confirmed || timeSettled)) state = h.forward ? NS_MIGRATED : NS_ROLLED_BACK;
  return {
    entry: { name: h.name, state, step: h.step, from: h.from, workloads: counted.length, verified, ...(notes.length > 0 ? { message: notes.join('; ') } : {}) },
    restarts: confirmed ? candidates : [],
    ...(!confirmed && candidates.length > 0 ? { held: { restarts: candidates, expected: h.expected, since: h.relabelledAt!, forward: h.forward } } : {}),
    rolling: is('rolling').length,
  };
}

/**
 * Releases held restarts where a dry-run pod of the first workload to
 * restart is injected by the revision expected; asks for the dry runs it has
 * not got. If the dry run cannot run (quota, pod security...), the relabel's
 * RELABEL_SETTLE_MS stands in for it. A namespace going forward whose dry
 * runs keep naming another revision for ADMISSION_PROBE_DEADLINE_MS (after
 * the relabel, and since this process first saw it) fails before any of its
 * workloads is restarted; one going back is restarted anyway. `stopped`: the
 * migration failed, so nothing goes forward. Returns whether any namespace
 * still waits.
 */
function settleAdmission(scene: Scene, stopped: boolean): boolean {
  const { now } = scene.obs;
  let waiting = false;
  for (const [ns, o] of scene.outcomes) {
    const h = o.held;
    if (!h || o.entry.state === NS_FAILED || (stopped && h.forward)) continue;
    const result = scene.obs.admission.get(ns);
    if (result === undefined) {
      scene.needs.admission.push({ namespace: ns, workload: h.restarts[0]! });
      waiting = true;
      continue;
    }
    const elapsed = now.getTime() - Date.parse(h.since);
    if (result.error === undefined && result.revision === h.expected) {
      scene.memo.set(ns, { confirmed: { since: h.since, expected: h.expected } });
      o.restarts = h.restarts;
      continue;
    }
    if (result.error !== undefined) {
      if (elapsed >= RELABEL_SETTLE_MS) o.restarts = h.restarts;
      else waiting = true;
      continue;
    }
    const seen = result.revision ?? 'no revision (not injected)';
    const m = scene.memo.get(ns)?.mismatch;
    const firstAt = m && m.since === h.since && m.expected === h.expected ? m.firstAt : now.getTime();
    scene.memo.set(ns, { ...scene.memo.get(ns), mismatch: { since: h.since, expected: h.expected, firstAt } });
    if (Math.min(elapsed, now.getTime() - firstAt) < ADMISSION_PROBE_DEADLINE_MS) {
      waiting = true;
      o.entry = { ...o.entry, message: `waiting for the API server's admission to see the new labels: a pod created now would be injected by ${seen}` };
    } else if (h.forward) {
      o.entry = {
        ...o.entry,
        state: NS_FAILED,
        message: `a pod created in it now would be injected by ${seen}, not ${h.expected}, ${Math.round(elapsed / 1000)}s after its relabel; no workload was restarted: check which webhook injects this namespace (meshrev check-inject)`,
      };
    } else {
      o.restarts = h.restarts;
    }
  }
  return waiting;
}

// ---------------------------------------------------------------------------
// Steps and gates

function entries(scene: Scene): NamespaceMigrationStatus[] {
  return [...scene.outcomes.values()].map((o) => o.entry);
}

function stepsStatusOf(scene: Scene): StepStatus[] {
  const { plan, prev, sameGeneration } = scene;
  const migrated = new Set(entries(scene).filter((e) => e.state === NS_MIGRATED).map((e) => e.name));
  return plan.steps.map((s) => {
    const done = plan.order.slice(0, s.target).every((n) => migrated.has(n));
    const before = prev.steps?.find((p) => p.index === s.index && p.target === s.target);
    const completedAt = done ? (sameGeneration && before?.completedAt ? before.completedAt : formatTime(scene.obs.now)) : undefined;
    return { index: s.index, target: s.target, ...(completedAt ? { completedAt } : {}) };
  });
}

/**
 * Sends namespaces back for a failed gate, recording the decision on them (rollbackReason in their
 * origin annotation) so it survives a lost status write.
 */
function sendBack(scene: Scene, names: ReadonlySet<string>, reason: string, why: (e: NamespaceMigrationStatus) => string): void {
  for (const [name, o] of scene.outcomes) {
    const e = o.entry;
    const ns = scene.byName.get(name);
    const origin = ns ? readOrigin(ns) : undefined;
    if (!names.has(name) || e.state === NS_ROLLED_BACK || e.state === NS_ROLLING_BACK || !ns || !origin) continue;
    const marked: NamespaceOrigin = { ...origin, rollbackReason: reason, ...(scene.generation !== undefined ? { rollbackGeneration: scene.generation } : {}) };
    scene.outcomes.set(name, { entry: { ...e, state: NS_ROLLING_BACK, message: `sent back: ${why(e)}` }, restarts: [], rolling: 0, patch: markSentBack(ns, marked) });
  }
}

/**
 * The built-in gate: a workload that does not roll out, crash-loops or keeps restarting (or a
 * namespace the admission chain will not inject) fails it, and onFailure decides what goes back.
 */
function builtInGate(scene: Scene): { reason: string; rollbackAll: boolean } | undefined {
  const failing = entries(scene).filter((e) => e.state === NS_FAILED);
  const { policy } = scene;
  if (failing.length === 0 || scene.direction.rollbackAll || policy === 'pause') return undefined;
  const named = failing.slice(0, GATE_REASON_NAMESPACES).map((e) => `${e.name}: ${clip(e.message ?? 'failed', MAX_LISTED_MESSAGE)}`);
  const more = failing.length > GATE_REASON_NAMESPACES ? `; and ${failing.length - GATE_REASON_NAMESPACES} more failed namespace(s)` : '';
  // Bounded: the reason goes into status and into every returned namespace's origin record.
  const reason = `health gate failed: ${named.join('; ')}${more}`;
  scene.events.push({ type: 'Warning', reason: 'HealthGateFailed', message: `${reason}; onFailure: ${policy}` });
  scene.gateFailures.push({ gate: 'workload', action: policy });
  if (policy === 'rollbackAll') return { reason, rollbackAll: true };
  const failedSteps = new Set(failing.map((e) => e.step));
  const hit = new Set(entries(scene).filter((e) => (policy === 'rollbackNamespace' ? e.state === NS_FAILED : failedSteps.has(e.step))).map((e) => e.name));
  sendBack(scene, hit, reason, (e) => (e.state === NS_FAILED ? (e.message ?? 'failed') : `its step ${e.step} failed`));
  return { reason, rollbackAll: false };
}

interface ChecksOutcome {
  /** What status.healthChecks says (bounded). */
  status?: HealthChecksStatus;
  /** Every state of the gated step. */
  states?: { step: number; states: CheckState[] };
  /** Why the next step waits for the checks. */
  hold?: string;
  requeueAfterMs?: number;
  /** A check failed and sent namespaces back: why. */
  failed?: string;
  /** A check failed under rollbackAll: why. */
  rollbackAll?: string;
}

/**
 * User-defined checks (Prometheus, HTTP) gate the step after the one just completed: they run over
 * its namespaces during its soak, and the next step (or Succeeded) waits for them to pass.
 */
function checksGate(scene: Scene, steps: readonly StepStatus[], gateReason: string | undefined): ChecksOutcome {
  const { obs, plan } = scene;
  const checks = resolveChecks(obs.mrev.spec.healthChecks);
  const nextPending = plan.order.find((n) => !scene.outcomes.has(n));
  const gatedStep = nextPending !== undefined ? (plan.stepOf.get(nextPending) ?? 1) - 1 : plan.steps.length;
  const gated = plan.steps[gatedStep - 1];
  const finished = scene.sameGeneration && scene.prev.phase === MIGRATION_PHASE_SUCCEEDED;
  if (checks.length === 0 || !gated || !steps[gatedStep - 1]?.completedAt || scene.direction.rollbackAll || gateReason !== undefined || scene.direction.terminal || finished) {
    return {};
  }
  const instances = expandChecks(checks, { revision: scene.target, namespaces: [...gated.namespaces].sort() });
  // syncCheckStates returns one state per instance, in the instances' order.
  const states = syncCheckStates(previousCheckStates(scene, gatedStep), instances);
  instances.forEach((inst, idx) => {
    if (!isDue(states[idx], inst, obs.now)) return;
    const m = obs.measurements.get(inst.key);
    if (m === undefined) scene.needs.checks.push(inst);
    else states[idx] = nextCheckState(states[idx], m, obs.now, inst);
  });
  const listed = listedCheckStates(states);
  const status: HealthChecksStatus = { step: gatedStep, checks: listed.checks, ...(listed.unlisted > 0 ? { unlistedChecks: listed.unlisted } : {}) };
  const kept = { status, states: { step: gatedStep, states } };
  const result = gateVerdict(states, instances);
  if (result.verdict === 'wait') {
    const dueIn = nextDueInMs(states, instances, obs.now);
    return { ...kept, hold: result.message, ...(dueIn !== undefined ? { requeueAfterMs: Math.max(250, dueIn) } : {}) };
  }
  if (result.verdict !== 'fail') return kept;
  const response = planFailureResponse(result, scene.policy, {
    stepNamespaces: [...gated.namespaces],
    movedNamespaces: entries(scene).filter((e) => e.state !== NS_ROLLED_BACK).map((e) => e.name),
  });
  const reason = `health check failed: ${result.message}`;
  scene.events.push({ type: 'Warning', reason: REASON_HEALTH_CHECK_FAILED, message: `${reason}; onFailure: ${scene.policy}` });
  scene.gateFailures.push({ gate: 'check', action: scene.policy });
  if (response.action === 'rollback' && response.scope === 'all') return { ...kept, rollbackAll: reason };
  if (response.action === 'rollback') sendBack(scene, new Set(response.namespaces), reason, () => result.message);
  return { ...kept, failed: reason };
}

/**
 * The check states the gated step had at the last decision: this process's own (every state),
 * else what status lists (the rest start again from Pending). A new step or generation starts afresh.
 */
function previousCheckStates(scene: Scene, gatedStep: number): readonly CheckState[] | undefined {
  if (!scene.sameGeneration) return undefined;
  const mine = scene.obs.knownChecks;
  if (mine !== undefined && mine.generation === scene.obs.mrev.metadata.generation && mine.step === gatedStep) return mine.states;
  const listed = scene.obs.mrev.status?.healthChecks;
  return listed?.step === gatedStep ? listed.checks : undefined;
}

/**
 * The injector gate: nothing moves towards an injector that cannot answer (with failurePolicy Fail
 * the restarted pods would be refused). Rollbacks go to the old injector and are not held.
 */
function injectorGate(scene: Scene, gateReason: string | undefined): string | undefined {
  const { spec, plan, direction } = scene;
  const forwardWork =
    !direction.rollbackAll && !direction.terminal && gateReason === undefined && spec !== undefined && !spec.paused &&
    (plan.order.some((n) => !scene.outcomes.has(n)) ||
      // Restarts released, or held for a dry run not gathered yet (it may release them).
      [...scene.outcomes].some(([ns, o]) => o.entry.state === NS_MIGRATING && (o.restarts.length > 0 || (o.held !== undefined && !scene.obs.admission.has(ns)))));
  if (!forwardWork) return undefined;
  if (scene.obs.injector === undefined) {
    scene.needs.injector = true;
    return undefined;
  }
  const blocked = scene.obs.injector.blocked;
  if (blocked !== undefined) {
    scene.events.push({ type: 'Warning', reason: 'InjectorUnreachable', message: `${blocked}; no namespace moves until it answers` });
    for (const o of scene.outcomes.values()) if (o.entry.state === NS_MIGRATING) o.restarts = [];
  }
  return blocked;
}

interface Gates {
  gateReason: string | undefined;
  checksHold: string | undefined;
  blocked: string | undefined;
}

interface Forward {
  phase: MigrationPhase;
  currentStep: number;
  requeueAfterMs?: number;
  /** Namespaces relabelled by this decision. */
  started: string[];
}

/** The migration's phase, the step it is at, and the namespaces to start now (forward only). */
function phaseOf(scene: Scene, steps: readonly StepStatus[], gates: Gates): Forward {
  const { spec, plan, direction } = scene;
  const all = entries(scene);
  const currentStep = plan.steps.find((s) => !steps[s.index - 1]?.completedAt)?.index ?? plan.steps.length;
  if (direction.rollbackAll) {
    return { phase: all.every((e) => e.state === NS_ROLLED_BACK) ? MIGRATION_PHASE_ROLLED_BACK : MIGRATION_PHASE_ROLLING_BACK, currentStep, started: [] };
  }
  if (all.some((e) => e.state === NS_FAILED) || direction.terminal || gates.gateReason !== undefined) {
    return { phase: MIGRATION_PHASE_FAILED, currentStep, started: [] };
  }
  if (!spec) return { phase: MIGRATION_PHASE_PROGRESSING, currentStep, started: [] };
  const inFlight = all.filter((e) => e.state === NS_MIGRATING || e.state === NS_ROLLING_BACK).length;
  const pending = plan.order.filter((n) => !scene.outcomes.has(n));
  const nextStep = pending[0] !== undefined ? (plan.stepOf.get(pending[0]) ?? 1) : undefined;
  if (nextStep === undefined) {
    // The last step's checks must pass too before the migration counts as done.
    const done = inFlight === 0 && gates.checksHold === undefined;
    return { phase: done ? MIGRATION_PHASE_SUCCEEDED : MIGRATION_PHASE_PROGRESSING, currentStep, started: [] };
  }
  if (spec.paused) return { phase: MIGRATION_PHASE_SUSPENDED, currentStep, started: [] };
  const held = stepHold(scene, steps, nextStep, gates.checksHold);
  if (held) return { ...held, started: [] };
  if (gates.blocked !== undefined) return { phase: MIGRATION_PHASE_PROGRESSING, currentStep: nextStep, requeueAfterMs: BLOCKED_RECHECK_MS, started: [] };
  const position = new Map(plan.order.map((n, i) => [n, i]));
  const stepEnd = plan.steps[nextStep - 1]!.target;
  const room = Math.max(0, (spec.maxConcurrentNamespaces ?? DEFAULT_MAX_CONCURRENT_NAMESPACES) - inFlight);
  const started = pending.filter((n) => (position.get(n) ?? Infinity) < stepEnd).slice(0, room);
  for (const n of started) startNamespace(scene, n, nextStep);
  return { phase: MIGRATION_PHASE_PROGRESSING, currentStep: nextStep, started };
}

/** Why the next step may not start yet: the previous one incomplete, its pause, a promotion, its checks. */
function stepHold(scene: Scene, steps: readonly StepStatus[], nextStep: number, checksHold: string | undefined): Omit<Forward, 'started'> | undefined {
  const { plan, spec, obs } = scene;
  const prevStep = plan.steps[nextStep - 2];
  if (!prevStep) return checksHold !== undefined ? { phase: MIGRATION_PHASE_PAUSED, currentStep: nextStep } : undefined;
  const prevDone = steps[prevStep.index - 1]?.completedAt;
  const currentStep = plan.steps.find((s) => !steps[s.index - 1]?.completedAt)?.index ?? plan.steps.length;
  if (prevDone === undefined) return { phase: MIGRATION_PHASE_PROGRESSING, currentStep };
  if (prevStep.pause.kind === 'indefinite' && (spec?.promotedStep ?? 0) < prevStep.index) {
    return { phase: MIGRATION_PHASE_AWAITING_PROMOTION, currentStep: prevStep.index };
  }
  if (prevStep.pause.kind === 'duration') {
    const until = Date.parse(prevDone) + prevStep.pause.ms;
    if (obs.now.getTime() < until) return { phase: MIGRATION_PHASE_PAUSED, currentStep: prevStep.index, requeueAfterMs: until - obs.now.getTime() };
  }
  if (checksHold !== undefined) return { phase: MIGRATION_PHASE_PAUSED, currentStep: prevStep.index };
  return undefined;
}

/** Records a pending namespace's origin and relabels it to the target, in one write. */
function startNamespace(scene: Scene, n: string, step: number): void {
  const ns = scene.byName.get(n)!;
  const origin: NamespaceOrigin = { ...originOf(ns, scene.name, scene.target, scene.obs.mrev.metadata.uid), step, movedAt: formatTime(scene.obs.now) };
  scene.outcomes.set(n, {
    entry: { name: n, state: NS_MIGRATING, step, from: sourceOfLabels(origin.labels) ?? 'none', message: 'relabelled; restarting workloads' },
    restarts: [],
    rolling: 0,
    patch: relabelToTarget(ns, scene.target, origin),
  });
}

/** The restarts released this reconcile, within maxConcurrentRestarts less the rollouts still running. */
function budgetedRestarts(scene: Scene): WorkloadRestart[] {
  const outcomes = [...scene.outcomes.values()];
  const rolling = outcomes.reduce((n, o) => n + o.rolling, 0);
  const budget = Math.max(0, (scene.spec?.maxConcurrentRestarts ?? DEFAULT_MAX_CONCURRENT_RESTARTS) - rolling);
  return outcomes.flatMap((o) => o.restarts.map((ref) => ({ ref, expected: expectedRevisionOf(scene, o) }))).slice(0, budget);
}

/** The revision a namespace's pods must carry in the direction it is going. */
function expectedRevisionOf(scene: Scene, o: NsOutcome): string {
  if (o.entry.state === NS_ROLLING_BACK && o.entry.from) return scene.obs.resolve(o.entry.from) ?? scene.target;
  return scene.target;
}

// ---------------------------------------------------------------------------
// Status

interface StatusInputs extends Gates {
  checksRequeue: number | undefined;
  /** A namespace still waits for a dry run to confirm its relabel. */
  waiting: boolean;
}

/** A namespace's message in status (and in a gate's reason) is cut to this many characters; 100 of them stay well under the object's size limit. */
const MAX_LISTED_MESSAGE = 1024;
/** A failed built-in gate's reason names this many failed namespaces, then counts the rest. */
const GATE_REASON_NAMESPACES = 10;

/** Which namespaces status.migration lists first when more than MAX_LISTED_NAMESPACES qualify: the failed, then those moving, then those back. */
const LISTED_STATES: readonly NamespaceMigrationStatus['state'][] = [NS_FAILED, NS_ROLLING_BACK, NS_MIGRATING, NS_ROLLED_BACK];

/**
 * The namespaces status.migration lists: those moving, failed or returned — at most
 * MAX_LISTED_NAMESPACES of them, the failed first — in step and name order, and how many more
 * there are. Pending and Migrated namespaces are counted, not listed: their record is on the
 * namespace (origin annotation), which `meshrev status` reads.
 */
export function listedNamespaces(all: readonly NamespaceMigrationStatus[]): { namespaces: NamespaceMigrationStatus[]; unlisted: number } {
  const rank = (e: NamespaceMigrationStatus) => LISTED_STATES.indexOf(e.state);
  const candidates = all.filter((e) => rank(e) >= 0);
  const kept = candidates.length <= MAX_LISTED_NAMESPACES ? candidates : [...candidates].sort((a, b) => rank(a) - rank(b)).slice(0, MAX_LISTED_NAMESPACES);
  const clipped = kept.sort(byStepAndName).map((e) => (e.message !== undefined && e.message.length > MAX_LISTED_MESSAGE ? { ...e, message: clip(e.message, MAX_LISTED_MESSAGE) } : e));
  return { namespaces: clipped, unlisted: candidates.length - kept.length };
}

/** `text`, cut to `max` characters with a mark that it was. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 15)}… (truncated)`;
}

function byStepAndName(a: NamespaceMigrationStatus, b: NamespaceMigrationStatus): number {
  return a.step - b.step || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** How many namespaces are in each state. */
function countStates(list: readonly NamespaceMigrationStatus[]): (state: NamespaceMigrationStatus['state']) => number {
  const c = new Map<string, number>();
  for (const e of list) c.set(e.state, (c.get(e.state) ?? 0) + 1);
  return (state) => c.get(state) ?? 0;
}

function statusOf(scene: Scene, steps: StepStatus[], fwd: Forward, g: StatusInputs): Omit<MigrationResult, 'healthChecks'> & { entries: NamespaceMigrationStatus[] } {
  const { plan, prev, sameGeneration, spec, direction, obs } = scene;
  // Moved namespaces, the pending ones of the plan, and those already returned.
  const list: NamespaceMigrationStatus[] = entries(scene);
  if (!direction.rollbackAll) {
    const fromOf = new Map(scene.classes.flatMap((c) => (c.kind === 'pending' ? [[c.name, c.from] as const] : [])));
    for (const n of plan.order) if (!scene.outcomes.has(n)) list.push({ name: n, state: NS_PENDING, step: plan.stepOf.get(n) ?? 0, from: fromOf.get(n) });
  }
  list.sort(byStepAndName);
  const count = countStates(list);
  const eligible = direction.rollbackAll ? list.length : plan.order.length;
  const migrated = count(NS_MIGRATED);
  const listed = listedNamespaces(list);
  const status: MigrationStatus = {
    generation: scene.generation,
    phase: fwd.phase,
    currentStep: fwd.currentStep,
    steps,
    namespaces: listed.namespaces,
    ...(listed.unlisted > 0 ? { unlistedNamespaces: listed.unlisted } : {}),
    counts: { eligible, migrated, inProgress: count(NS_MIGRATING) + count(NS_ROLLING_BACK), failed: count(NS_FAILED), rolledBack: count(NS_ROLLED_BACK) },
    startedAt: sameGeneration && prev.startedAt ? prev.startedAt : formatTime(obs.now),
    // "x/y" for `kubectl get mrev`; while going back, how many are back.
    summary: direction.rollbackAll ? `${count(NS_ROLLED_BACK)}/${eligible} rolled back` : `${migrated}/${eligible}`,
  };
  if (fwd.phase === MIGRATION_PHASE_SUCCEEDED || fwd.phase === MIGRATION_PHASE_ROLLED_BACK || fwd.phase === MIGRATION_PHASE_FAILED) {
    status.finishedAt = sameGeneration && prev.finishedAt && prev.phase === fwd.phase ? prev.finishedAt : formatTime(obs.now);
  }
  const why = direction.rollbackReason ?? g.gateReason;
  if (why) {
    status.rollbackReason = why;
    status.rollbackRequested = direction.rollbackReason !== undefined && direction.rollbackRequested;
  }
  if (g.blocked !== undefined) status.blocked = g.blocked;
  else if (g.checksHold !== undefined && fwd.phase !== MIGRATION_PHASE_SUCCEEDED) status.blocked = `waiting for health checks: ${g.checksHold}`;
  if (list.length === 0 && spec && fwd.phase === MIGRATION_PHASE_PROGRESSING) status.phase = MIGRATION_PHASE_PENDING;
  return { status, entries: list, allReturned: list.every((e) => e.state === NS_ROLLED_BACK), ...requeueOf(fwd.requeueAfterMs, status, g) };
}

/** When to look again: the soonest of a pause's end, progress, a blocked gate, a check due, a dry run to repeat. */
function requeueOf(base: number | undefined, status: MigrationStatus, g: StatusInputs): { requeueAfterMs?: number } {
  const candidates = [
    base,
    status.counts!.inProgress > 0 ? PROGRESS_RECHECK_MS : undefined,
    g.blocked !== undefined ? BLOCKED_RECHECK_MS : undefined,
    g.checksRequeue,
    g.waiting ? ADMISSION_PROBE_RETRY_MS : undefined,
  ].filter((x): x is number => x !== undefined);
  return candidates.length > 0 ? { requeueAfterMs: Math.min(...candidates) } : {};
}

/**
 * Whether a namespace reached its state since the last decision. A namespace found Migrated whose
 * previous state is unknown (a restarted operator, a namespace verified in a step not completed
 * yet) most likely was already: it is not announced again.
 */
function newState(scene: Scene, e: NamespaceMigrationStatus): boolean {
  const before = scene.prevByName.get(e.name);
  if (before === undefined) return e.state !== NS_MIGRATED;
  return before.state !== e.state;
}

/** Events for namespaces that reached Migrated, RolledBack or Failed since the last decision. */
function announce(scene: Scene, after: readonly NamespaceMigrationStatus[]): DecidedEvent[] {
  const target = scene.target;
  return after.flatMap((e): DecidedEvent[] => {
    if (!newState(scene, e)) return [];
    // What was reported there (owner-less pods, opted-out workloads) goes with it: status lists only namespaces still moving.
    if (e.state === NS_MIGRATED) return [{ type: 'Normal', reason: 'NamespaceMigrated', message: `namespace ${e.name} moved from ${e.from} to ${target}; ${e.verified ?? 0} workload(s) verified${e.message ? `; ${clip(e.message, MAX_LISTED_MESSAGE)}` : ''}` }];
    if (e.state === NS_ROLLED_BACK) return [{ type: 'Normal', reason: 'NamespaceRolledBack', message: `namespace ${e.name} returned to ${e.from}` }];
    if (e.state === NS_FAILED) return [{ type: 'Warning', reason: 'NamespaceFailed', message: `namespace ${e.name}: ${e.message ?? 'failed'}` }];
    return [];
  });
}

/**
 * Migration-level Events, one per transition: computed by comparing the
 * status on the object with the one decided, so a reconcile that changes
 * nothing (or decides twice) announces nothing new.
 */
function transitions(scene: Scene, next: MigrationStatus, all: readonly NamespaceMigrationStatus[]): DecidedEvent[] {
  const { prev, target } = scene;
  const out: DecidedEvent[] = [];
  const c = next.counts ?? { eligible: 0, migrated: 0, inProgress: 0, failed: 0, rolledBack: 0 };
  const stepCount = next.steps?.length ?? 0;
  const progress = `${c.migrated}/${c.eligible} namespaces migrated`;
  const changed = next.phase !== prev.phase;
  const was = prev.phase;
  const restarting = was === undefined || was === MIGRATION_PHASE_PENDING || was === MIGRATION_PHASE_SUCCEEDED || was === MIGRATION_PHASE_ROLLED_BACK || was === MIGRATION_PHASE_FAILED;
  const moving = all.some((e) => e.state === NS_MIGRATING);
  const pc = prev.counts;
  const movedBefore =
    (prev.namespaces ?? []).some((e) => e.state !== NS_PENDING) ||
    (pc !== undefined && pc.migrated + pc.inProgress + pc.failed + pc.rolledBack > 0) ||
    [...(scene.obs.known?.entries.values() ?? [])].some((e) => e.state !== NS_PENDING);
  if (next.phase === MIGRATION_PHASE_PROGRESSING && moving && (restarting || !movedBefore)) {
    out.push({ type: 'Normal', reason: EVENT_MIGRATION_STARTED, message: `migration to ${target} started: ${c.eligible} namespace${c.eligible === 1 ? '' : 's'} in ${stepCount} step${stepCount === 1 ? '' : 's'}` });
  }
  if (!scene.direction.rollbackAll) {
    const before = new Set((prev.steps ?? []).filter((s) => s.completedAt !== undefined).map((s) => s.index));
    for (const s of next.steps ?? []) {
      if (s.completedAt !== undefined && !before.has(s.index)) {
        out.push({ type: 'Normal', reason: EVENT_STEP_COMPLETED, message: `step ${s.index}/${stepCount} completed: ${progress}` });
      }
    }
  }
  if (!changed) return out;
  const requested = next.rollbackRequested === true;
  const why = next.rollbackReason ?? 'requested';
  switch (next.phase) {
    case MIGRATION_PHASE_AWAITING_PROMOTION:
      out.push({
        type: 'Normal',
        reason: EVENT_MIGRATION_AWAITING_PROMOTION,
        message: `step ${next.currentStep ?? 1}/${stepCount} done, ${progress}; awaiting promotion: set spec.migration.promotedStep: ${next.currentStep ?? 1} to go on`,
      });
      break;
    case MIGRATION_PHASE_SUCCEEDED:
      // No duration: startedAt restarts with every spec change (a promotion is one), so it would mislead.
      out.push({ type: 'Normal', reason: EVENT_MIGRATION_SUCCEEDED, message: `migration to ${target} succeeded: ${progress} in ${stepCount} step${stepCount === 1 ? '' : 's'}` });
      break;
    case MIGRATION_PHASE_ROLLING_BACK: {
      const n = c.eligible - c.rolledBack;
      const what = `rolling back ${n} namespace${n === 1 ? '' : 's'} to their origin`;
      out.push(requested
        ? { type: 'Normal', reason: EVENT_MIGRATION_ROLLING_BACK, message: `${what} as requested (${why})` }
        : { type: 'Warning', reason: EVENT_MIGRATION_ROLLING_BACK, message: `${what} after a failed gate: ${why}` });
      break;
    }
    case MIGRATION_PHASE_ROLLED_BACK: {
      const what = `migration rolled back: ${c.rolledBack}/${c.eligible} namespaces returned to their origin`;
      out.push(requested
        ? { type: 'Normal', reason: EVENT_MIGRATION_ROLLED_BACK, message: `${what} as requested (${why}); change the spec to migrate again` }
        : { type: 'Warning', reason: EVENT_MIGRATION_ROLLED_BACK, message: `${what} after a failed gate (${why}); fix the cause and change the spec to try again` });
      break;
    }
    case MIGRATION_PHASE_FAILED:
      out.push({
        type: 'Warning',
        reason: EVENT_MIGRATION_FAILED,
        message: `migration stopped: ${next.rollbackReason ?? 'a namespace failed'}; ${progress}, ${c.failed} failed, ${c.rolledBack} returned; fix the cause and change the spec to try again, or roll back everything with spec.migration.rollback.all: true`,
      });
      break;
    default:
      break;
  }
  return out;
}

/** How long namespaces that arrived since the last status took (from their relabel). */
function arrivals(scene: Scene, after: readonly NamespaceMigrationStatus[]): MigrationDecision['arrivals'] {
  const out: MigrationDecision['arrivals'] = [];
  for (const e of after) {
    if (!newState(scene, e) || (e.state !== NS_MIGRATED && e.state !== NS_ROLLED_BACK)) continue;
    const forward = e.state === NS_MIGRATED;
    const ns = scene.byName.get(e.name);
    const at = ns ? readOrigin(ns)?.[forward ? 'movedAt' : 'returnedAt'] : undefined;
    const took = at ? (scene.obs.now.getTime() - Date.parse(at)) / 1000 : undefined;
    if (took !== undefined && took >= 0) out.push({ direction: forward ? 'forward' : 'rollback', seconds: took });
  }
  return out;
}
