// Pure: what a MeshRevision's status should say, from what the reconcile
// observed and did. The reconcile writes the result only when it differs from
// the object's status, so a resync that observes the same world writes nothing.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import {
  PHASE_CONFLICT,
  PHASE_DELETING,
  PHASE_INVALID,
  PHASE_FAILED,
  PHASE_AWAITING_PROMOTION,
  PHASE_MIGRATING,
  PHASE_PENDING,
  PHASE_READY,
  PHASE_ROLLED_BACK,
  PHASE_ROLLING_BACK,
  PHASE_SUSPENDED,
  REASON_API_ERROR,
  REASON_MIGRATION_AWAITING_PROMOTION,
  REASON_MIGRATION_BLOCKED,
  REASON_MIGRATION_FAILED,
  REASON_MIGRATION_PROGRESSING,
  REASON_MIGRATION_ROLLED_BACK,
  REASON_MIGRATION_ROLLING_BACK,
  REASON_MIGRATION_SUSPENDED,
  REASON_APPLYING_WEBHOOK,
  REASON_CHART_WEBHOOK_CONFLICT,
  REASON_DELETING,
  REASON_DELETION_BLOCKED,
  REASON_EXTERNAL_WEBHOOK_MISSING,
  REASON_INVALID_SPEC,
  REASON_WEBHOOK_CONFIGURED,
  inUseSummary,
  MAX_IN_USE_LISTED,
  type LastFailure,
  type MeshRevision,
  type MeshRevisionStatus,
} from '../api/meshrevision.js';
import { ANNOTATION_ISTIO_REV, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../api/labels.js';
import {
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_FAILED,
  MIGRATION_PHASE_PAUSED,
  MIGRATION_PHASE_ROLLED_BACK,
  MIGRATION_PHASE_ROLLING_BACK,
  MIGRATION_PHASE_SUCCEEDED,
  MIGRATION_PHASE_SUSPENDED,
  NS_FAILED,
  NS_ROLLED_BACK,
  NS_ROLLING_BACK,
  rollbackWasRequested,
  type MigrationStatus,
} from '../api/migration.js';
import type { HealthChecksStatus } from '../api/health.js';
import { formatTime, setKstatusConditions, type KstatusInput } from './conditions.js';
import { isLivePod } from './pods.js';
import { namespaceSelection } from './routing.js';
import type { FieldError } from './validation/index.js';
import type { ClaimDecision, ForeignWebhookConflict } from './webhooks.js';
import type { ExternalServing } from './adoption.js';

/** Who still relies on a revision: deletion waits while this is not empty. */
export interface InUse {
  /** Sorted namespace names. */
  namespaces: string[];
  /** Why each namespace counts, for messages: "labelled istio.io/rev=canary", "3 pods". */
  why: Map<string, string[]>;
  podCount: number;
}

/**
 * Namespaces labelled for the revision (its name or a tag it serves, or
 * `istio-injection=enabled` while it holds the default) and live pods whose
 * `istio.io/rev` annotation names it (the real revision, even when injected
 * through a tag). Either would break if its webhook disappeared.
 */
export function computeInUse(
  revision: string,
  decision: Pick<ClaimDecision, 'servesRevision' | 'holdsDefault' | 'tags'> | undefined,
  namespaces: readonly V1Namespace[],
  pods: readonly V1Pod[],
): InUse {
  const why = new Map<string, string[]>();
  const note = (ns: string, reason: string) => {
    const list = why.get(ns) ?? [];
    list.push(reason);
    why.set(ns, list);
  };
  // A MeshRevision that lost its revision claim serves nothing: whoever holds the revision serves
  // its namespaces and pods, and they must not hold this one's deletion (it would never finish).
  if (decision && !decision.servesRevision) return { namespaces: [], why: new Map(), podCount: 0 };
  const values = new Set<string>([revision, ...(decision?.servesRevision ? decision.tags : [])]);
  for (const ns of namespaces) {
    const name = ns.metadata?.name;
    if (!name) continue;
    // istio-injection (any value) overrides istio.io/rev: such a namespace does not depend on this revision's webhook.
    const selection = namespaceSelection(ns.metadata?.labels ?? {});
    if (selection.kind === 'revision' && values.has(selection.value)) note(name, `labelled ${LABEL_ISTIO_REV}=${selection.value}`);
    if (selection.kind === 'default' && decision?.servesRevision && decision.holdsDefault) {
      note(name, `labelled ${LABEL_ISTIO_INJECTION}=enabled (default revision)`);
    }
  }
  let podCount = 0;
  const podsByNs = new Map<string, number>();
  for (const pod of pods) {
    if (pod.metadata?.annotations?.[ANNOTATION_ISTIO_REV] !== revision || !isLivePod(pod)) continue;
    podCount++;
    const ns = pod.metadata.namespace ?? '';
    podsByNs.set(ns, (podsByNs.get(ns) ?? 0) + 1);
  }
  for (const [ns, n] of podsByNs) note(ns, `${n} running pod${n === 1 ? '' : 's'} injected by ${revision}`);
  return { namespaces: [...why.keys()].sort(), why, podCount };
}

/** "ns-a (labelled istio.io/rev=1-20; 2 running pods ...), ns-b (...)", capped so a message stays readable. */
export function describeInUse(inUse: InUse, max = 10): string {
  const shown = inUse.namespaces.slice(0, max).map((ns) => `${ns} (${(inUse.why.get(ns) ?? []).join('; ')})`);
  const more = inUse.namespaces.length - shown.length;
  return shown.join(', ') + (more > 0 ? `, and ${more} more` : '');
}

/** What the reconcile observed and did, as plain data. */
export interface RevisionObservation {
  mrev: MeshRevision;
  now: Date;
  decision: ClaimDecision | undefined;
  /** Semantic validation errors; when any, nothing was changed. */
  invalid: FieldError[];
  /** Name of the MWC serving this revision: meshrev's, or with External webhooks the chart's it adopted. */
  webhookConfiguration: string | undefined;
  foreign: ForeignWebhookConflict[];
  /** Set with spec.webhooks.management External: what istiod's chart and istioctl serve for the revision. */
  external?: ExternalServing;
  inUse: InUse;
  /** Set while the object is being deleted. */
  deleting?: { blocked: boolean; returning?: boolean };
  /** An API call of this reconcile failed; it will be retried with backoff. */
  apiError?: string;
  /** The migration's status, when the MeshRevision has one (or still has namespaces to return). */
  migration?: MigrationStatus;
  /** The health checks' analysis of the step being gated. */
  healthChecks?: HealthChecksStatus;
}

/** The phase for humans and Ready/Reconciling/Stalled of a migration that is not done: undefined when it is done or absent. */
interface MigrationVerdict extends KstatusInput {
  phase: MeshRevisionStatus['phase'];
}

/**
 * The status contract for migrations (README.md, "Status contract"): moving,
 * soaking, blocked and a requested rollback in progress are Reconciling; a
 * planned human gate (AwaitingPromotion) and a suspension with nothing in
 * flight are Ready=True with their own reason and no Reconciling — nothing is
 * converging, so kstatus says Current and Flux's wait does not time out; a
 * requested rollback that completed is Ready=True; a failed gate, and the
 * rollback it forced, are Stalled.
 */
function migrationConditions(m: MigrationStatus | undefined): MigrationVerdict | undefined {
  if (!m?.phase) return undefined;
  const progress = `${m.summary ?? ''} namespaces migrated`;
  const where = m.currentStep ? ` (step ${m.currentStep}/${m.steps?.length ?? '?'})` : '';
  const returned = `${m.counts?.rolledBack ?? 0}/${m.counts?.eligible ?? 0} namespaces returned`;
  switch (m.phase) {
    case MIGRATION_PHASE_SUCCEEDED:
      return undefined;
    case MIGRATION_PHASE_FAILED: {
      const failed = (m.namespaces ?? []).filter((n) => n.state === NS_FAILED).map((n) => `${n.name}: ${n.message ?? 'failed'}`);
      const sentBack = (m.namespaces ?? []).filter((n) => n.state === NS_ROLLING_BACK || n.state === NS_ROLLED_BACK).map((n) => n.name);
      const message =
        `migration stopped, ${progress}: ${failed.join('; ') || m.rollbackReason || 'a namespace failed'}` +
        (sentBack.length > 0 ? `; returned to their origin: ${sentBack.join(', ')}` : '') +
        '; fix the cause and change the spec to try again, or roll back everything with spec.migration.rollback.all: true';
      return { phase: PHASE_FAILED, ready: { status: 'False', reason: REASON_MIGRATION_FAILED, message }, stalled: { reason: REASON_MIGRATION_FAILED, message } };
    }
    case MIGRATION_PHASE_ROLLED_BACK: {
      if (rollbackWasRequested(m)) {
        const message = `migration rolled back as requested (${m.rollbackReason ?? 'requested'}): ${returned}; change the spec to migrate again`;
        return { phase: PHASE_ROLLED_BACK, ready: { status: 'True', reason: REASON_MIGRATION_ROLLED_BACK, message } };
      }
      const message = `migration rolled back after a failed gate (${m.rollbackReason ?? 'unknown'}): ${returned}; fix the cause and change the spec to try again`;
      return { phase: PHASE_ROLLED_BACK, ready: { status: 'False', reason: REASON_MIGRATION_ROLLED_BACK, message }, stalled: { reason: REASON_MIGRATION_ROLLED_BACK, message } };
    }
    case MIGRATION_PHASE_ROLLING_BACK: {
      if (rollbackWasRequested(m)) {
        const message = `rolling back as requested (${m.rollbackReason ?? 'requested'}): ${returned}`;
        return { phase: PHASE_ROLLING_BACK, ready: { status: 'False', reason: REASON_MIGRATION_ROLLING_BACK, message }, reconciling: { reason: REASON_MIGRATION_ROLLING_BACK, message } };
      }
      const message = `rolling back after a failed gate (${m.rollbackReason ?? 'unknown'}): ${returned}; fix the cause and change the spec to try again`;
      return { phase: PHASE_ROLLING_BACK, ready: { status: 'False', reason: REASON_MIGRATION_ROLLING_BACK, message }, stalled: { reason: REASON_MIGRATION_ROLLING_BACK, message } };
    }
    case MIGRATION_PHASE_AWAITING_PROMOTION: {
      const message = `${progress}${where}; awaiting promotion: set spec.migration.promotedStep: ${m.currentStep ?? 1} to go on`;
      return { phase: PHASE_AWAITING_PROMOTION, ready: { status: 'True', reason: REASON_MIGRATION_AWAITING_PROMOTION, message } };
    }
    case MIGRATION_PHASE_SUSPENDED: {
      const inFlight = m.counts?.inProgress ?? 0;
      if (inFlight > 0) {
        const message = `${progress}${where}; suspended by spec.migration.paused: true, finishing ${inFlight} namespace${inFlight === 1 ? '' : 's'} in flight`;
        return { phase: PHASE_SUSPENDED, ready: { status: 'False', reason: REASON_MIGRATION_SUSPENDED, message }, reconciling: { reason: REASON_MIGRATION_SUSPENDED, message } };
      }
      const message = `${progress}${where}; suspended by spec.migration.paused: true, set it to false to go on`;
      return { phase: PHASE_SUSPENDED, ready: { status: 'True', reason: REASON_MIGRATION_SUSPENDED, message } };
    }
    default: {
      if (m.blocked) {
        const message = `${progress}${where}; blocked: ${m.blocked}`;
        return { phase: PHASE_MIGRATING, ready: { status: 'False', reason: REASON_MIGRATION_BLOCKED, message }, reconciling: { reason: REASON_MIGRATION_BLOCKED, message } };
      }
      const message = `${m.phase === MIGRATION_PHASE_PAUSED ? 'soaking after a step' : 'migrating'}: ${progress}${where}`;
      return { phase: PHASE_MIGRATING, ready: { status: 'False', reason: REASON_MIGRATION_PROGRESSING, message }, reconciling: { reason: REASON_MIGRATION_PROGRESSING, message } };
    }
  }
}

/** Keeps lastFailure's time when the same failure is seen again, so repeats write nothing. */
function failure(prev: LastFailure | undefined, reason: string, message: string, now: Date): LastFailure {
  if (prev && prev.reason === reason && prev.message === message) return prev;
  return { reason, message, time: formatTime(now) };
}

/** Deletion: waiting on users of the revision, returning namespaces, or removing the webhook. */
function deletingConditions(o: RevisionObservation, deleting: NonNullable<RevisionObservation['deleting']>): KstatusInput {
  if (deleting.blocked) {
    const message = `deletion waits: revision ${o.mrev.spec.revision} is still in use by ${describeInUse(o.inUse)}; ` +
      'move those namespaces and pods to another revision (or delete them), and deletion completes by itself';
    return {
      ready: { status: 'False', reason: REASON_DELETION_BLOCKED, message },
      reconciling: { reason: REASON_DELETION_BLOCKED, message },
    };
  } else if (deleting.returning) {
    const message = `returning migrated namespaces to their origin before removing the webhook: ${o.migration?.counts?.rolledBack ?? 0}/${o.migration?.counts?.eligible ?? 0} returned`;
    return { ready: { status: 'False', reason: REASON_DELETING, message }, reconciling: { reason: REASON_DELETING, message } };
  } else {
    const message = 'removing the webhook configuration';
    return { ready: { status: 'False', reason: REASON_DELETING, message }, reconciling: { reason: REASON_DELETING, message } };
  }
}

/** Another MeshRevision's claim, or a webhook meshrev does not manage, serves the same pods: why, and what to do. */
function conflictVerdict(o: RevisionObservation): { reason: string; message: string } {
  const d = o.decision;
  const parts: string[] = (d?.conflicts ?? []).map((c) => c.message);
  if (o.foreign.length > 0) {
    parts.push(
      `MutatingWebhookConfiguration ${o.foreign.map((f) => `${f.name} (${f.why})`).join(', ')} not managed by meshrev ` +
        'would also inject these pods (two injection paths): to keep the chart\'s webhooks, set spec.webhooks.management: External ' +
        '(meshrev then adopts them and writes none); to let meshrev manage them, remove that configuration ' +
        '(helm upgrade with global.operatorManageWebhooks=true, or istioctl tag remove)',
    );
  }
  return { reason: d?.conflicts[0]?.reason ?? REASON_CHART_WEBHOOK_CONFLICT, message: parts.join('; ') };
}

/** External webhooks, none of which serves the revision yet: waiting for istiod's chart. */
function externalWebhookMissing(rev: string): KstatusInput {
  const message =
    `spec.webhooks.management is External but no MutatingWebhookConfiguration labelled istio.io/rev=${rev} written outside meshrev ` +
    `serves revision ${rev}: install istiod's chart for revision ${rev} (it writes istio-sidecar-injector-${rev}), or set ` +
    'spec.webhooks.management: Managed with spec.injector for meshrev to write one; nothing moves until a webhook serves the revision';
  return { ready: { status: 'False', reason: REASON_EXTERNAL_WEBHOOK_MISSING, message }, reconciling: { reason: REASON_EXTERNAL_WEBHOOK_MISSING, message } };
}

/** The status the object should have. Pure: same observation, same status. */
export function computeRevisionStatus(o: RevisionObservation): MeshRevisionStatus {
  const prev = o.mrev.status ?? {};
  const generation = o.mrev.metadata.generation;
  const d = o.decision;
  let kstatus: KstatusInput;
  let phase: MeshRevisionStatus['phase'];
  let lastFailure = prev.lastFailure;

  const migration = migrationConditions(o.migration);

  if (o.deleting) {
    phase = PHASE_DELETING;
    kstatus = deletingConditions(o, o.deleting);
  } else if (o.invalid.length > 0) {
    phase = PHASE_INVALID;
    const message = `invalid spec, nothing was changed: ${o.invalid.map((e) => `${e.field}: ${e.message}`).join('; ')}`;
    kstatus = { ready: { status: 'False', reason: REASON_INVALID_SPEC, message }, stalled: { reason: REASON_INVALID_SPEC, message } };
    lastFailure = failure(prev.lastFailure, REASON_INVALID_SPEC, message, o.now);
  } else if (o.apiError !== undefined) {
    phase = prev.phase ?? PHASE_READY;
    const message = `talking to the API server failed, retrying: ${o.apiError}`;
    kstatus = { ready: { status: 'Unknown', reason: REASON_API_ERROR, message }, reconciling: { reason: REASON_APPLYING_WEBHOOK, message } };
    lastFailure = failure(prev.lastFailure, REASON_API_ERROR, message, o.now);
  } else if ((d?.conflicts.length ?? 0) > 0 || o.foreign.length > 0) {
    phase = PHASE_CONFLICT;
    const { reason, message } = conflictVerdict(o);
    kstatus = { ready: { status: 'False', reason, message }, stalled: { reason, message } };
    lastFailure = failure(prev.lastFailure, reason, message, o.now);
  } else if (o.external && o.webhookConfiguration === undefined && d?.servesRevision) {
    phase = PHASE_PENDING;
    kstatus = externalWebhookMissing(o.mrev.spec.revision);
  } else if (migration) {
    const { phase: migrationPhase, ...m } = migration;
    kstatus = m;
    phase = migrationPhase;
    if (m.stalled) lastFailure = failure(prev.lastFailure, m.stalled.reason, m.stalled.message, o.now);
  } else {
    phase = PHASE_READY;
    const served = [o.mrev.spec.revision, ...(d?.tags ?? [])].join(', ');
    kstatus = {
      ready: {
        status: 'True',
        reason: REASON_WEBHOOK_CONFIGURED,
        message:
          `${o.webhookConfiguration}${o.external ? ' (written outside meshrev)' : ''} injects ${served}` +
          `${d?.holdsDefault ? ' and istio-injection=enabled namespaces (default)' : ''}` +
          (o.migration?.phase === MIGRATION_PHASE_SUCCEEDED ? `; migration complete: ${o.migration.summary ?? ''} namespaces` : ''),
      },
    };
  }

  const status: MeshRevisionStatus = {
    observedGeneration: generation,
    conditions: setKstatusConditions(prev.conditions, kstatus, o.now, generation),
    phase,
    defaultRevision: d?.servesRevision === true && d.holdsDefault,
    activeTags: d?.servesRevision ? [...d.tags].sort() : [],
    inUse: {
      namespaces: o.inUse.namespaces.slice(0, MAX_IN_USE_LISTED),
      namespaceCount: o.inUse.namespaces.length,
      podCount: o.inUse.podCount,
      summary: inUseSummary(o.inUse.namespaces.length, o.inUse.podCount),
    },
  };
  if (o.webhookConfiguration !== undefined) status.webhookConfiguration = o.webhookConfiguration;
  if (o.external) status.externalWebhookConfigurations = [...o.external.configurations];
  if (lastFailure !== undefined) status.lastFailure = lastFailure;
  if (o.migration !== undefined) status.migration = o.migration;
  if (o.healthChecks !== undefined) status.healthChecks = o.healthChecks;
  return status;
}
