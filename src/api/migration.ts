// The migration part of a MeshRevision (DESIGN.md §2, §3): which namespaces
// move to the revision, in what steps, and how a person steers it — all as
// spec fields so GitOps can drive it — plus the status that records where it
// is, so a restarted operator resumes exactly there. No I/O.
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { Word } from './vocabulary.js';

/** The `from` value meaning "namespaces labelled istio-injection=enabled" (served by the default revision). */
export const FROM_DEFAULT = 'default';

/** The pause value that waits until the user promotes the step (spec.migration.promotedStep). */
export const PAUSE_INDEFINITE = 'indefinite';

export const DEFAULT_MAX_CONCURRENT_NAMESPACES = 1;
export const DEFAULT_MAX_CONCURRENT_RESTARTS = 5;
/** How long a restarted workload may take to roll out when it sets no progressDeadlineSeconds. */
export const DEFAULT_ROLLOUT_TIMEOUT_SECONDS = 600;

// Bounds (the CRD's; src/policy/validation/migration.ts checks the same and
// test/unit/crd.test.ts keeps the two in step).

/** spec.migration.from: at most this many revisions. */
export const MAX_MIGRATION_FROM = 16;
/** spec.migration.steps: at most this many (a final 100% step may be implied on top). */
export const MAX_MIGRATION_STEPS = 20;
export const MIN_CONCURRENT_NAMESPACES = 1;
export const MAX_CONCURRENT_NAMESPACES = 100;
export const MIN_CONCURRENT_RESTARTS = 1;
export const MAX_CONCURRENT_RESTARTS = 500;
export const MIN_ROLLOUT_TIMEOUT_SECONDS = 10;
export const MAX_ROLLOUT_TIMEOUT_SECONDS = 86_400;
/** spec.migration.rollback.namespaces: at most this many. */
export const MAX_ROLLBACK_NAMESPACES = 1000;
/** Bounds on spec.migration.namespaceSelector, which keep the CRD's CEL cost within budget. */
export const MAX_SELECTOR_MATCH_LABELS = 64;
export const MAX_SELECTOR_EXPRESSIONS = 32;
export const MAX_SELECTOR_VALUES = 64;
/** spec.migration.steps[].pause: at most this many characters. */
export const MAX_PAUSE_LENGTH = 64;
/**
 * spec.migration.steps[].pause: at most this long (30 days). A longer soak is a
 * typo, or waiting for a person, which is what "indefinite" is for; without a
 * bound a pause too large to compute (e.g. 3000000000h) was read as no pause.
 */
export const MAX_PAUSE = '720h';
export const MAX_PAUSE_MS = 720 * 3_600_000;


/**
 * What the migration does when a gate (built-in or user-defined) fails — the
 * values of spec.migration.onFailure:
 * - `rollbackNamespace`: returns only the namespaces whose per-namespace checks
 *   failed (a query or URL that uses `{{namespace}}`); a failed check that is
 *   not per namespace cannot name one, so the whole step is returned.
 * - `rollbackStep`: returns every namespace moved in the failing step (default,
 *   as DESIGN.md §4 states).
 * - `rollbackAll`: returns every namespace the migration moved.
 * - `pause`: moves nothing back and holds the migration after the step for a
 *   person: spec.migration.rollback returns namespaces, and a spec change (a
 *   new generation) starts the step's analysis again.
 */
export type MigrationFailurePolicy = 'rollbackNamespace' | 'rollbackStep' | 'rollbackAll' | 'pause';
export const MIGRATION_FAILURE_POLICIES: readonly MigrationFailurePolicy[] = ['rollbackNamespace', 'rollbackStep', 'rollbackAll', 'pause'];
/** DESIGN.md §4: a failed gate rolls back the namespaces of the failing step. */
export const DEFAULT_MIGRATION_FAILURE_POLICY: MigrationFailurePolicy = 'rollbackStep';

/**
 * Namespaces never injected (the reference injector) and never touched by a
 * migration, whatever their labels: upstream skips the Kubernetes system
 * ones, and istio-system runs the control plane.
 */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'istio-system'];

export interface MigrationStep {
  /**
   * Namespaces moved by the end of this step, counted from the start of the
   * migration (cumulative), as a number of namespaces. Exactly one of
   * `namespaces` and `percent`.
   */
  namespaces?: number;
  /** Same, as a percentage (1-100) of the eligible namespaces, rounded up. */
  percent?: number;
  /**
   * What happens once the step's namespaces are migrated and verified: a
   * duration ("30s", "5m", "1h30m") to soak before the next step, or
   * "indefinite" to wait until spec.migration.promotedStep reaches this step.
   * Absent: go on at once.
   */
  pause?: string;
}

export interface RollbackRequest {
  /** Return every namespace this migration moved to its recorded origin. */
  all?: boolean;
  /** Return only these namespaces (they are then left out of the migration). */
  namespaces?: string[];
}

export interface MigrationSpec {
  /**
   * Revisions whose namespaces move: a revision or tag name as it appears in
   * namespaces' istio.io/rev label, or "default" for istio-injection=enabled.
   */
  from: string[];
  /** Only namespaces whose labels match (in addition to being on a `from` revision). */
  namespaceSelector?: V1LabelSelector;
  /**
   * Ordered, cumulative steps. After the last one every eligible namespace has
   * moved (a final 100% step is implied if the last one stops short).
   * Default: one step of 100%.
   */
  steps?: MigrationStep[];
  /** Namespaces being migrated at the same time. Default 1. */
  maxConcurrentNamespaces?: number;
  /** Workload restarts in flight at the same time, across namespaces. Default 5. */
  maxConcurrentRestarts?: number;
  /** Finish what is in flight, start nothing new, until set back to false. */
  paused?: boolean;
  /** The highest step (1-based) the user promoted past an indefinite pause. */
  promotedStep?: number;
  /** Return namespaces to their recorded origin (all, or a list). */
  rollback?: RollbackRequest;
  /** Deadline for a restarted workload's rollout when it sets no progressDeadlineSeconds. Default 600. */
  rolloutTimeoutSeconds?: number;
  /** What a failed gate does (default rollbackStep). */
  onFailure?: MigrationFailurePolicy;
}

// ---------------------------------------------------------------------------
// State recorded on namespaces and workloads (so it survives the operator).

/**
 * Namespace annotation written, in the same request as the relabel, before a
 * namespace's first change: where it came from, as JSON
 * {"meshRevision", "revision" (the migration's target), "labels": {"istio-injection"?, "istio.io/rev"?}, "movedAt", ...}.
 * A rollback restores exactly these labels and marks it rolledBackAt.
 */
export const ANNOTATION_ORIGIN = 'meshrev.io/origin';

/**
 * Pod-template annotation meshrev sets when it restarts a workload: the
 * revision the new pods should get. A reconcile that finds it already equal
 * to its target never restarts the workload again.
 */
export const ANNOTATION_RESTARTED_FOR = 'meshrev.io/restarted-for';

export interface NamespaceOrigin {
  meshRevision: string;
  /**
   * metadata.uid of that MeshRevision. A record naming another uid (restored
   * from a backup, copied with a manifest, left by a MeshRevision deleted
   * without its finalizer) is not this migration's and is not trusted.
   * Records written before uids were recorded have none and are trusted.
   */
  uid?: string;
  /** The revision the namespace was moved to. */
  revision: string;
  /** The injection labels before the first change; absent keys were absent. */
  labels: { 'istio-injection'?: string; 'istio.io/rev'?: string };
  /**
   * The 1-based migration step the namespace was moved in (records written before
   * bounded status have none). status.migration lists only namespaces still moving,
   * failed or returned, so the step of the others is kept here, with the namespace.
   */
  step?: number;
  /** RFC 3339: when the namespace was relabelled to `revision`. */
  movedAt?: string;
  /** RFC 3339: when its origin labels were restored (a rollback in progress). */
  returnedAt?: string;
  /**
   * RFC 3339: when the rollback finished (labels restored, workloads verified
   * on the origin revision). Kept on the namespace so the record survives a
   * lost status write or a killed operator; removed when the MeshRevision is
   * deleted, overwritten if a later generation moves the namespace again.
   */
  rolledBackAt?: string;
  /**
   * Set when a health gate failed and the failure policy returns this
   * namespace: the executor then rolls it back, whatever the spec says, and
   * the migration stays stopped until the spec changes.
   */
  rollbackReason?: string;
  /** metadata.generation of the MeshRevision when rollbackReason was set: the migration stays stopped for that generation. */
  rollbackGeneration?: number;
}

/**
 * Workloads are restarted only this long after their namespace was
 * relabelled: the API server's admission chain reads namespace labels from its
 * own cache, and a pod created before that cache sees the new label would be
 * injected by the old revision.
 */
export const RELABEL_SETTLE_MS = 2000;

/**
 * After a relabel, a dry-run pod shows which revision the admission chain
 * injects in the namespace (kube/admission-probe); its workloads are
 * restarted as soon as that is the revision expected (RELABEL_SETTLE_MS is
 * then the fallback for when the probe cannot run). If it still names
 * another revision this long after the relabel, the namespace fails before
 * any workload is restarted.
 */
export const ADMISSION_PROBE_DEADLINE_MS = 30_000;
/** How soon to probe again while the admission chain still injects another revision. */
export const ADMISSION_PROBE_RETRY_MS = 250;

// ---------------------------------------------------------------------------
// Status

/**
 * status.migration.namespaces lists at most this many namespaces. With every
 * namespace listed (~150 B each) a MeshRevision migrating ~10,000 namespaces
 * reached etcd's 1.5 MiB object limit and every status write failed.
 */
export const MAX_LISTED_NAMESPACES = 100;

/** A word of MigrationStatus.phase (src/api/vocabulary.ts): not interchangeable with a namespace state or a MeshRevision phase. */
type PhaseWord<S extends string> = Word<S, 'MigrationPhase'>;

export const MIGRATION_PHASE_PENDING: PhaseWord<'Pending'> = 'Pending';
export const MIGRATION_PHASE_PROGRESSING: PhaseWord<'Progressing'> = 'Progressing';
/** Soaking after a step for its pause duration. */
export const MIGRATION_PHASE_PAUSED: PhaseWord<'Paused'> = 'Paused';
/** Waiting for spec.migration.promotedStep (indefinite pause). */
export const MIGRATION_PHASE_AWAITING_PROMOTION: PhaseWord<'AwaitingPromotion'> = 'AwaitingPromotion';
/** spec.migration.paused is true. */
export const MIGRATION_PHASE_SUSPENDED: PhaseWord<'Suspended'> = 'Suspended';
export const MIGRATION_PHASE_SUCCEEDED: PhaseWord<'Succeeded'> = 'Succeeded';
export const MIGRATION_PHASE_ROLLING_BACK: PhaseWord<'RollingBack'> = 'RollingBack';
/** Every requested namespace is back at its origin. Terminal until the spec changes (new generation). */
export const MIGRATION_PHASE_ROLLED_BACK: PhaseWord<'RolledBack'> = 'RolledBack';
/** A namespace failed and the migration stopped. */
export const MIGRATION_PHASE_FAILED: PhaseWord<'Failed'> = 'Failed';

export type MigrationPhase =
  | typeof MIGRATION_PHASE_PENDING
  | typeof MIGRATION_PHASE_PROGRESSING
  | typeof MIGRATION_PHASE_PAUSED
  | typeof MIGRATION_PHASE_AWAITING_PROMOTION
  | typeof MIGRATION_PHASE_SUSPENDED
  | typeof MIGRATION_PHASE_SUCCEEDED
  | typeof MIGRATION_PHASE_ROLLING_BACK
  | typeof MIGRATION_PHASE_ROLLED_BACK
  | typeof MIGRATION_PHASE_FAILED;

/** A word of NamespaceMigrationStatus.state (src/api/vocabulary.ts): not interchangeable with a migration phase. */
type NamespaceStateWord<S extends string> = Word<S, 'NamespaceMigrationState'>;

export const NS_PENDING: NamespaceStateWord<'Pending'> = 'Pending';
/** Relabelled; its workloads are restarting or being verified. */
export const NS_MIGRATING: NamespaceStateWord<'Migrating'> = 'Migrating';
export const NS_MIGRATED: NamespaceStateWord<'Migrated'> = 'Migrated';
export const NS_FAILED: NamespaceStateWord<'Failed'> = 'Failed';
export const NS_ROLLING_BACK: NamespaceStateWord<'RollingBack'> = 'RollingBack';
export const NS_ROLLED_BACK: NamespaceStateWord<'RolledBack'> = 'RolledBack';

export type NamespaceMigrationState =
  | typeof NS_PENDING
  | typeof NS_MIGRATING
  | typeof NS_MIGRATED
  | typeof NS_FAILED
  | typeof NS_ROLLING_BACK
  | typeof NS_ROLLED_BACK;
/** Every namespace state, in the order a namespace goes through them (metrics report each). */
export const NAMESPACE_MIGRATION_STATES: readonly NamespaceMigrationState[] = [NS_PENDING, NS_MIGRATING, NS_MIGRATED, NS_FAILED, NS_ROLLING_BACK, NS_ROLLED_BACK];

export interface NamespaceMigrationStatus {
  name: string;
  state: NamespaceMigrationState;
  /** 1-based step the namespace belongs to. */
  step: number;
  /** Where it came from: "default" or a revision/tag. */
  from?: string;
  /** Workloads restarted for the current direction, and how many are verified. */
  workloads?: number;
  verified?: number;
  /** Why it is not progressing, what was reported (pods without a controller, opted out...). */
  message?: string;
}

export interface StepStatus {
  /** 1-based. */
  index: number;
  /** Namespaces moved by the end of this step (cumulative). */
  target: number;
  /** RFC 3339: when every namespace of the step was verified. */
  completedAt?: string;
}

export interface MigrationCounts {
  eligible: number;
  migrated: number;
  inProgress: number;
  failed: number;
  rolledBack: number;
}

export interface MigrationStatus {
  /** metadata.generation the migration last (re)started for. A rolled-back or failed migration resumes only for a newer one. */
  generation?: number;
  phase?: MigrationPhase;
  /** 1-based step being worked on (or paused after). */
  currentStep?: number;
  steps?: StepStatus[];
  /**
   * The namespaces moving, failed or returned: at most MAX_LISTED_NAMESPACES, the failed
   * first (step and name order). Pending and Migrated namespaces are only counted (counts):
   * each moved namespace carries its own record (ANNOTATION_ORIGIN), which `meshrev status`
   * reads, so the object stays small however many namespaces move. Statuses written by
   * versions before 0.2 list every namespace; they are read the same way.
   */
  namespaces?: NamespaceMigrationStatus[];
  /** How many more namespaces are moving, failed or returned than `namespaces` lists ("+N more"). */
  unlistedNamespaces?: number;
  counts?: MigrationCounts;
  /** RFC 3339 */
  startedAt?: string;
  /** RFC 3339 */
  finishedAt?: string;
  /** Why a rollback started (user request, deletion, a failed check). */
  rollbackReason?: string;
  /**
   * Set with rollbackReason: true when a person asked for the rollback
   * (spec.migration.rollback, spec.migration removed — a `git revert` —, the
   * MeshRevision deleted), false when a failed gate forced it. A requested
   * rollback that completed is success (Ready=True); a forced one is a failure
   * (Stalled=True). See the status contract in README.md.
   */
  rollbackRequested?: boolean;
  /** Why nothing moves right now although the migration would (e.g. the target injector is unreachable). */
  blocked?: string;
  /** "x/y" for `kubectl get mrev`. */
  summary?: string;
}

/**
 * Whether the migration's rollback was asked for by a person. Statuses
 * written before rollbackRequested existed are judged by their reason: the
 * gates' reasons start with "health gate failed" / "health check failed".
 */
export function rollbackWasRequested(m: Pick<MigrationStatus, 'rollbackReason' | 'rollbackRequested'>): boolean {
  if (m.rollbackRequested !== undefined) return m.rollbackRequested;
  return !/^health (gate|check) failed/.test(m.rollbackReason ?? '');
}

// ---------------------------------------------------------------------------
// Migration-level Events on the MeshRevision, one per transition (namespace
// Events — NamespaceMigrated, NamespaceRolledBack, NamespaceFailed — come on
// top). Where a condition reason of the same meaning exists, the Event uses it.

/** Normal: the first namespace of the migration (or of a retry) was relabelled. */
export const EVENT_MIGRATION_STARTED = 'MigrationStarted';
/** Normal: every namespace of a step is verified on the target. */
export const EVENT_STEP_COMPLETED = 'StepCompleted';
/** Normal: an indefinite pause was reached; spec.migration.promotedStep goes on. */
export const EVENT_MIGRATION_AWAITING_PROMOTION = 'MigrationAwaitingPromotion';
/** Normal: every eligible namespace is verified on the target. */
export const EVENT_MIGRATION_SUCCEEDED = 'MigrationSucceeded';
/** Normal when requested, Warning when a failed gate forced it. */
export const EVENT_MIGRATION_ROLLING_BACK = 'MigrationRollingBack';
/** Normal when requested, Warning when a failed gate forced it. */
export const EVENT_MIGRATION_ROLLED_BACK = 'MigrationRolledBack';
/** Warning: the migration stopped on a failed namespace or gate. */
export const EVENT_MIGRATION_FAILED = 'MigrationFailed';
