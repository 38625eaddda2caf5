// The MeshRevision resource (DESIGN.md §2): its TypeScript shape, the names
// the API server knows it by, and the vocabulary of its status. The CRD in
// crds/meshrev.io_meshrevisions.yaml is the schema the API server enforces;
// these types must stay in step with it (test/unit/crd.test.ts checks the
// field names). No I/O here.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { MESHREV_GROUP } from './labels.js';
import type { HealthChecksSpec, HealthChecksStatus } from './health.js';
import type { MigrationSpec, MigrationStatus } from './migration.js';
import type { Word } from './vocabulary.js';

export const GROUP = MESHREV_GROUP;
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MeshRevision';
export const PLURAL = 'meshrevisions';
export const SHORT_NAME = 'mrev';
/** Name of the CustomResourceDefinition. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/**
 * Finalizer meshrev puts on every MeshRevision: deletion first returns the
 * namespaces it migrated to their origin and waits while the revision is still
 * in use, and only then removes its webhook configuration (DESIGN.md §3).
 */
export const FINALIZER = 'meshrev.io/finalizer';

// Defaults. The CRD applies the same ones at the API server; code applies them
// again so objects read from files (CLI, dry runs) behave identically.
export const DEFAULT_INJECTOR_NAMESPACE = 'istio-system';
export const DEFAULT_INJECTOR_PORT = 443;
export const DEFAULT_INJECTOR_PATH = '/inject';
export const DEFAULT_FAILURE_POLICY: FailurePolicy = 'Fail';
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** The API server's own bounds for an admission webhook timeout. */
export const MIN_TIMEOUT_SECONDS = 1;
export const MAX_TIMEOUT_SECONDS = 30;
/** Upper bound on tags per MeshRevision: keeps the MWC small and the CRD's CEL cost bounded. */
export const MAX_TAGS = 16;
/**
 * A tag may not be called `default`: upstream's `default` tag is what
 * `spec.default: true` expresses here (the `istio-injection=enabled` webhooks).
 * Nor may a revision: `istio.io/rev=default` selects the default revision.
 */
export const RESERVED_TAG_DEFAULT = 'default';

export type FailurePolicy = 'Fail' | 'Ignore';
export const FAILURE_POLICIES: readonly FailurePolicy[] = ['Fail', 'Ignore'];

/** An in-cluster Service serving the revision's injector, e.g. `istiod-1-20.istio-system:443/inject`. */
export interface InjectorServiceRef {
  name: string;
  /** Default `istio-system`. */
  namespace?: string;
  /** Default 443. */
  port?: number;
  /** Default `/inject`. */
  path?: string;
}

/** Where the API server sends the revision's AdmissionReviews, and how. Exactly one of `service` or `url`. */
export interface InjectorSpec {
  service?: InjectorServiceRef;
  /** `https://` URL of an injector outside the cluster. */
  url?: string;
  /**
   * Base64 of a PEM CA bundle. When absent meshrev never writes the field, so
   * istiod's own caBundle patching is never fought (DESIGN.md §1).
   */
  caBundle?: string;
  /** Default `Fail`. */
  failurePolicy?: FailurePolicy;
  /** Default 10; 1..30. */
  timeoutSeconds?: number;
}

/**
 * Who writes this revision's MutatingWebhookConfigurations.
 * - `Managed` (default): meshrev writes `meshrev-sidecar-injector-<revision>`
 *   from spec.injector, spec.tags and spec.default.
 * - `External`: istiod's Helm chart or istioctl wrote them (the chart's
 *   `istio-sidecar-injector-<revision>`, istioctl's `istio-revision-tag-<tag>`).
 *   meshrev writes, edits and deletes no webhook; it reads which of the
 *   existing ones serve this revision, its tags and the default, reports them,
 *   and migrates and rolls back namespaces exactly as in Managed mode.
 */
export type WebhookManagement = 'Managed' | 'External';
export const WEBHOOKS_MANAGED: WebhookManagement = 'Managed';
export const WEBHOOKS_EXTERNAL: WebhookManagement = 'External';
export const WEBHOOK_MANAGEMENTS: readonly WebhookManagement[] = [WEBHOOKS_MANAGED, WEBHOOKS_EXTERNAL];

export interface WebhooksSpec {
  /** Default `Managed`. */
  management?: WebhookManagement;
}

/** Whether a MeshRevision adopts webhooks written by istiod's chart or istioctl instead of writing its own. */
export function webhooksExternal(spec: Pick<MeshRevisionSpec, 'webhooks'>): boolean {
  return spec.webhooks?.management === WEBHOOKS_EXTERNAL;
}

export interface MeshRevisionSpec {
  /** The `istio.io/rev` value of the control plane. Immutable. */
  revision: string;
  /** Whether this revision serves `istio-injection=enabled` namespaces. At most one MeshRevision holds it. */
  default?: boolean;
  /** Revision tags: aliases whose webhooks point at this revision's injector. */
  tags?: string[];
  /**
   * Where the API server sends this revision's injection requests. Required
   * with Managed webhooks; with External ones optional (the injector gate then
   * probes what the adopted webhook calls).
   */
  injector?: InjectorSpec;
  /** Who writes the webhooks (default Managed: meshrev). */
  webhooks?: WebhooksSpec;
  /**
   * Upstream's `sidecarInjectorWebhook.enableNamespacesByDefault`: while this
   * revision holds the default, its webhooks also inject pods in namespaces
   * with no injection label (upstream's `auto.` entry; never kube-system,
   * kube-public, kube-node-lease, local-path-storage), unless the pod has a
   * `sidecar.istio.io/inject` or `istio.io/rev` label. Needs `default: true`.
   */
  enableNamespacesByDefault?: boolean;
  /** Namespaces to move to this revision, in steps (src/api/migration.ts). */
  migration?: MigrationSpec;
  /** Checks that gate each migration step, and what a failure does (src/api/health.ts). */
  healthChecks?: HealthChecksSpec;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition as it appears in JSON (times are RFC 3339 strings). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  /** The generation this condition was computed for. */
  observedGeneration?: number;
  /** RFC 3339; changes only when `status` flips. */
  lastTransitionTime: string;
  /** CamelCase, machine-readable; one of the Reason constants below. */
  reason: string;
  /** What happened and what to do about it. */
  message: string;
}

/**
 * At most this many namespaces are named in status.inUse.namespaces (the first, sorted);
 * namespaceCount counts them all. A revision every namespace of a 10,000-namespace cluster
 * used would otherwise carry them all in its status (about 300 KiB with its managedFields
 * for short names, over 1 MiB for 63-character ones) and approach etcd's object limit.
 */
export const MAX_IN_USE_LISTED = 100;

export interface InUseStatus {
  /**
   * Namespaces whose labels select this revision or one of its tags, or that run pods it
   * injected: the first MAX_IN_USE_LISTED, sorted (namespaceCount counts all of them).
   */
  namespaces?: string[];
  /** How many namespaces use this revision (all of them, listed or not). */
  namespaceCount?: number;
  /** Running pods whose `istio.io/rev` annotation names this revision. */
  podCount?: number;
  /** Human summary for `kubectl get` (see inUseSummary). */
  summary?: string;
}

export interface LastFailure {
  reason: string;
  message: string;
  /** RFC 3339. */
  time: string;
}

export interface MeshRevisionStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  phase?: Phase;
  /** Name of the MutatingWebhookConfiguration meshrev applied for this revision; absent while none is served. */
  webhookConfiguration?: string;
  /**
   * With spec.webhooks.management External: the configurations written by
   * istiod's chart or istioctl that serve this revision, its tags or the
   * default (sorted). meshrev reads them and never changes them.
   */
  externalWebhookConfigurations?: string[];
  /** Whether this MeshRevision currently holds the default (its MWC carries the istio-injection entries). */
  defaultRevision?: boolean;
  /** Tags whose webhook entries are in this revision's MWC (sorted); may be fewer than spec.tags after a collision. */
  activeTags?: string[];
  inUse?: InUseStatus;
  lastFailure?: LastFailure;
  /** Where the migration is (src/api/migration.ts); absent without spec.migration. */
  migration?: MigrationStatus;
  /** The health checks' analysis for the step being gated (src/api/health.ts); absent without spec.healthChecks. */
  healthChecks?: HealthChecksStatus;
}

/**
 * Object metadata as it arrives from the API (or a file): custom objects are
 * plain JSON, so timestamps are RFC 3339 strings, not Dates.
 */
export type MeshRevisionMeta = Omit<V1ObjectMeta, 'creationTimestamp' | 'deletionTimestamp'> & {
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
};

export interface MeshRevision {
  apiVersion?: string;
  kind?: string;
  metadata: MeshRevisionMeta;
  spec: MeshRevisionSpec;
  status?: MeshRevisionStatus;
}

// ---------------------------------------------------------------------------
// Condition types (kstatus: https://github.com/kubernetes-sigs/cli-utils/tree/master/pkg/kstatus)

/** True when everything the spec declares is in effect for the current generation. `kubectl wait --for=condition=Ready`. */
export const CONDITION_READY = 'Ready';
/** True while meshrev is still converging (webhooks being applied, a migration step moving). Absent otherwise. */
export const CONDITION_RECONCILING = 'Reconciling';
/**
 * True when meshrev cannot make progress without a person: invalid spec, a
 * claim held by another MeshRevision, a chart-made webhook for the same
 * revision, or a migration stopped by a failed gate (and its automatic
 * rollback). A rollback a person asked for is not a failure: never Stalled.
 * Absent otherwise. kstatus and Flux report the object as Failed right away;
 * Argo CD does through the health check in config/integrations/argocd.
 */
export const CONDITION_STALLED = 'Stalled';

// ---------------------------------------------------------------------------
// Reasons (stable, CamelCase; used in conditions, lastFailure and Events)

/** Ready=True: the revision's MWC matches the spec (revision, tags, default entries). */
export const REASON_WEBHOOK_CONFIGURED = 'WebhookConfigured';
/** Reconciling=True: the MWC is being created or brought in line with the spec. */
export const REASON_APPLYING_WEBHOOK = 'ApplyingWebhook';
/**
 * Ready=False, Stalled=True: spec.default is set but another MeshRevision
 * holds the default. This object's webhooks are left as they were (its own
 * revision and tag entries; no default entries); the message names the holder.
 */
export const REASON_DEFAULT_CLAIMED_ELSEWHERE = 'DefaultClaimedElsewhere';
/**
 * Ready=False, Stalled=True: a tag in spec.tags is another MeshRevision's tag
 * or revision name, held by the earlier claimant; this object serves its other
 * entries without it.
 */
export const REASON_TAG_COLLISION = 'TagCollision';
/**
 * Ready=False, Stalled=True: spec.revision is already served by another
 * MeshRevision (same revision, or a tag of that name); this object gets no
 * webhooks at all until the other lets go.
 */
export const REASON_REVISION_COLLISION = 'RevisionCollision';
/** Ready=False, Stalled=True: the spec fails semantic validation; nothing was changed. */
export const REASON_INVALID_SPEC = 'InvalidSpec';
/**
 * Ready=False, Stalled=True: a MutatingWebhookConfiguration for the same
 * revision exists that meshrev does not manage (typically istiod's Helm chart
 * installed without `global.operatorManageWebhooks=true`), so pods would be
 * injected through two paths (DESIGN.md §1). meshrev reports it and does not
 * delete someone else's object.
 */
export const REASON_CHART_WEBHOOK_CONFLICT = 'ChartWebhookConflict';
/**
 * Ready=False, Reconciling=True: spec.webhooks.management is External but no
 * MutatingWebhookConfiguration labelled istio.io/rev=<revision> (istiod's
 * chart's) serves the revision yet; nothing moves until one does.
 */
export const REASON_EXTERNAL_WEBHOOK_MISSING = 'ExternalWebhookMissing';
/** Normal Event: with External webhooks adopted, meshrev deleted its own configuration for the revision (the switch from Managed). */
export const REASON_WEBHOOK_HANDED_OVER = 'WebhookHandedOver';
/** Deletion waits: namespaces or pods still use this revision; the message lists them. */
export const REASON_DELETION_BLOCKED = 'DeletionBlocked';
/** Reconciling=True: the finalizer is returning namespaces and removing the webhooks. */
export const REASON_DELETING = 'Deleting';
/** Ready=Unknown: a call to the API server failed; retried with backoff. A check that could not run is Unknown, not False. */
export const REASON_API_ERROR = 'APIError';
/** Reconciling=True, Ready=False: namespaces are moving (or soaking between steps). */
export const REASON_MIGRATION_PROGRESSING = 'MigrationProgressing';
/**
 * Ready=True, no Reconciling: an indefinite pause, a planned human gate; set
 * spec.migration.promotedStep to go on. Nothing is converging, so kstatus says
 * Current and a Flux `wait` does not time out; the shipped Argo CD health
 * check reports Suspended (as Argo CD does for a paused Argo Rollout).
 */
export const REASON_MIGRATION_AWAITING_PROMOTION = 'MigrationAwaitingPromotion';
/**
 * spec.migration.paused is true. Ready=True without Reconciling once the
 * namespaces in flight are done (Argo CD: Suspended); Reconciling=True while
 * they finish.
 */
export const REASON_MIGRATION_SUSPENDED = 'MigrationSuspended';
/**
 * Namespaces are being returned to their origin. Requested rollback:
 * Reconciling=True, Ready=False. Forced by a failed gate: Stalled=True,
 * Ready=False (a failure; the rollback is meshrev's remedy, not the goal).
 */
export const REASON_MIGRATION_ROLLING_BACK = 'MigrationRollingBack';
/**
 * Every namespace was returned. Requested rollback: Ready=True (the request
 * succeeded). Forced by a failed gate: Stalled=True, Ready=False. A spec change
 * (new generation) starts again.
 */
export const REASON_MIGRATION_ROLLED_BACK = 'MigrationRolledBack';
/** Reconciling=True, Ready=False: nothing moves because a built-in gate does not pass (the target injector is unreachable). */
export const REASON_MIGRATION_BLOCKED = 'MigrationBlocked';
/** Stalled=True, Ready=False: a namespace's workloads failed to roll out; nothing new is started. */
export const REASON_MIGRATION_FAILED = 'MigrationFailed';

// ---------------------------------------------------------------------------
// Phases: a one-word summary for humans (`kubectl get mrev`). Tools should use
// conditions. The migration issue adds its phases here.

/** A word of MeshRevisionStatus.phase (src/api/vocabulary.ts): not interchangeable with status.migration.phase. */
type RevisionPhaseWord<S extends string> = Word<S, 'MeshRevisionPhase'>;

/** Not yet reconciled for this generation. */
export const PHASE_PENDING: RevisionPhaseWord<'Pending'> = 'Pending';
/** Webhooks applied as declared. */
export const PHASE_READY: RevisionPhaseWord<'Ready'> = 'Ready';
/** Serving, but part of the spec is not in effect (a claim held elsewhere, a chart webhook conflict). */
export const PHASE_CONFLICT: RevisionPhaseWord<'Conflict'> = 'Conflict';
/** The spec is invalid; nothing was changed. */
export const PHASE_INVALID: RevisionPhaseWord<'Invalid'> = 'Invalid';
/** Being deleted (possibly waiting while in use). */
export const PHASE_DELETING: RevisionPhaseWord<'Deleting'> = 'Deleting';
/** A migration is moving namespaces, or soaking between steps (see status.migration.phase). */
export const PHASE_MIGRATING: RevisionPhaseWord<'Migrating'> = 'Migrating';
/** The migration waits for a person to raise spec.migration.promotedStep. */
export const PHASE_AWAITING_PROMOTION: RevisionPhaseWord<'AwaitingPromotion'> = 'AwaitingPromotion';
/** spec.migration.paused is true. */
export const PHASE_SUSPENDED: RevisionPhaseWord<'Suspended'> = 'Suspended';
/** Migrated namespaces are being returned to their origin (requested, or after a failed gate). */
export const PHASE_ROLLING_BACK: RevisionPhaseWord<'RollingBack'> = 'RollingBack';
/** The migration was rolled back; a spec change starts it again. */
export const PHASE_ROLLED_BACK: RevisionPhaseWord<'RolledBack'> = 'RolledBack';
/** The migration stopped on a failed namespace. */
export const PHASE_FAILED: RevisionPhaseWord<'Failed'> = 'Failed';

export type Phase =
  | typeof PHASE_PENDING
  | typeof PHASE_READY
  | typeof PHASE_CONFLICT
  | typeof PHASE_INVALID
  | typeof PHASE_DELETING
  | typeof PHASE_MIGRATING
  | typeof PHASE_AWAITING_PROMOTION
  | typeof PHASE_SUSPENDED
  | typeof PHASE_ROLLING_BACK
  | typeof PHASE_ROLLED_BACK
  | typeof PHASE_FAILED;

/** The `IN USE` printer column text, so every writer formats it the same way. */
export function inUseSummary(namespaceCount: number, podCount: number): string {
  if (namespaceCount === 0 && podCount === 0) return 'no';
  return `${namespaceCount} ns, ${podCount} pods`;
}
