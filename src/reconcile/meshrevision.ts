// The MeshRevision controller: observe → plan → apply → status.
//
// For each MeshRevision it serves one MutatingWebhookConfiguration with
// Istio's entries for the revision, its tags and (when it holds it) the
// default, decided across all MeshRevisions by policy/webhooks.resolveClaims —
// or, with spec.webhooks.management External, adopts the ones istiod's chart
// or istioctl wrote (policy/adoption): reads them, never writes them.
// Deletion goes through a finalizer that waits while the revision is in use.
// Status is computed from what was observed (policy/revision-status) and
// written only when it changed — also when applying failed.
import type { KubernetesObject, V1MutatingWebhookConfiguration, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_ISTIO_REV, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV, LABEL_MANAGED_BY_MESHREVISION } from '../api/labels.js';
import {
  API_VERSION,
  FINALIZER,
  GROUP,
  KIND,
  PLURAL,
  REASON_DELETION_BLOCKED,
  REASON_WEBHOOK_CONFIGURED,
  REASON_WEBHOOK_HANDED_OVER,
  VERSION,
  webhooksExternal,
  type InjectorSpec,
  type MeshRevision,
  type MeshRevisionStatus,
} from '../api/meshrevision.js';
import { progressOnly, statusChanged } from '../policy/conditions.js';
import { computeInUse, computeRevisionStatus, describeInUse, type RevisionObservation } from '../policy/revision-status.js';
import { validateMeshRevision, webhookConfigurationDiff } from '../policy/validation/index.js';
import { desiredWebhookConfiguration, foreignWebhookConflicts, resolveClaims, webhookConfigurationName } from '../policy/webhooks.js';
import type { KubeWriter } from '../kube/apply.js';
import type { InjectionProbe } from '../kube/admission-probe.js';
import { apiErrorMessage, isConflict, isNotFound } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import type { ReconcileContext, ReconcileResult } from '../runtime/workqueue.js';
import type { Store } from '../kube/informer.js';
import type { Workload } from '../api/workload.js';
import { readOrigin } from '../policy/migration.js';
import { resolverFrom, type RevisionResolver } from '../policy/routing.js';
import type { ClaimDecision } from '../policy/webhooks.js';
import { adoptedDecision, externalServing, handoverFailurePolicy, type ExternalServing } from '../policy/adoption.js';
import { MigrationExecutor, type Observers } from './migration.js';
import { RevisionMemos } from './memo.js';
import type { MigrationMetrics } from '../health/metrics.js';

/** How long an injector probe result is reused. */
const PROBE_CACHE_MS = 3000;

export const CONTROLLER_NAME = 'meshrevision';

const MESHREVISION_RESOURCE = { group: GROUP, version: VERSION, plural: PLURAL };

/** Status changes that are only progress (see progressOnly) are written at most this often per MeshRevision. */
export const STATUS_PROGRESS_INTERVAL_MS = 5000;

/** While deletion waits on users of the revision, look again this often even without a watch event. */
const DELETION_RECHECK_MS = 60_000;

export interface MeshRevisionReconcilerDeps {
  meshRevisions: Store<MeshRevision>;
  /** MWCs labelled istio.io/rev: ours, istiod's chart's, istioctl's tag MWCs. */
  webhooks: Store<V1MutatingWebhookConfiguration>;
  namespaces: Store<V1Namespace>;
  pods: Store<V1Pod>;
  writer: Pick<KubeWriter, 'apply' | 'applyStatus' | 'delete' | 'fieldManager' | 'mergePatch'>;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  /** Deployments, StatefulSets and DaemonSets of a namespace (for migrations). */
  workloads: (namespace: string) => Workload[];
  migrationMetrics: MigrationMetrics;
  /** The injector gate and the user-defined checks (src/gates, wired by operator.ts). */
  gates: Pick<Observers, 'runCheck'> & { probeInjector(injector: InjectorSpec | undefined): Promise<string | undefined> };
  /** Dry-run pod creation: which revision would inject a pod in a namespace now (kube/admission-probe). */
  probeAdmission: InjectionProbe;
  now?: () => Date;
}

/** What an Event's involvedObject needs. */
function eventRef(mrev: MeshRevision): KubernetesObject {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: mrev.metadata.name, uid: mrev.metadata.uid } };
}

export class MeshRevisionReconciler {
  private readonly now: () => Date;
  private readonly migrations: MigrationExecutor;
  /** Everything remembered per MeshRevision, forgotten in one place (reconcile, when it is gone). */
  private readonly memos = new RevisionMemos();

  constructor(private readonly d: MeshRevisionReconcilerDeps) {
    this.now = d.now ?? (() => new Date());
    this.migrations = new MigrationExecutor({
      stores: { namespaces: d.namespaces, pods: d.pods, workloads: d.workloads },
      writer: d.writer,
      events: d.events,
      metrics: d.migrationMetrics,
      memos: this.memos,
      probeInjector: (mrev) => this.probe(mrev),
      runCheck: d.gates.runCheck,
      probeAdmission: d.probeAdmission,
    });
  }

  /** The injector gate, remembered for a few seconds: reconciles during a migration come many times a second. */
  private probe(mrev: MeshRevision): Promise<string | undefined> {
    const memo = this.memos.of(mrev);
    const now = this.now().getTime();
    const cached = memo.injectorProbe;
    if (cached && cached.generation === mrev.metadata.generation && now - cached.at < PROBE_CACHE_MS) return cached.result;
    const injector = mrev.spec.injector ?? (webhooksExternal(mrev.spec) ? this.external(mrev).injector : undefined);
    const result = this.d.gates.probeInjector(injector);
    memo.injectorProbe = { generation: mrev.metadata.generation, at: now, result };
    return result;
  }

  /**
   * The real revision behind a `from` value: MeshRevision claims first, then the webhooks meshrev
   * does not own (istiod's chart, istioctl tags) — the same answer `meshrev plan` and `status` give.
   */
  private resolver(claims: Map<string, ClaimDecision>): RevisionResolver {
    return resolverFrom(claims, this.d.webhooks.list());
  }

  /** With External webhooks: the configurations istiod's chart or istioctl wrote for this revision. */
  private external(mrev: MeshRevision): ExternalServing {
    return externalServing(mrev.spec.revision, this.d.webhooks.list());
  }

  /** The reconcile function for the work queue: key = MeshRevision name. */
  readonly reconcile = async (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const cached = this.d.meshRevisions.get(key);
    // Gone: its finalizer already removed the webhook (and ownerReferences cover a bypassed finalizer).
    if (!cached) {
      this.memos.forget(key);
      return {};
    }
    // A status computed but not written yet (coalesced progress) is the newest status there is.
    const pending = this.memos.of(cached).pendingStatus;
    const mrev = pending ? { ...cached, status: pending } : cached;
    const log = ctx.log;
    const claims = resolveClaims(this.d.meshRevisions.list());
    const external = webhooksExternal(mrev.spec) ? this.external(mrev) : undefined;
    // With adopted webhooks the tags and the default are whatever istiod's chart and istioctl made them.
    const decision = adoptedDecision(claims.get(key), external);
    const inUse = computeInUse(mrev.spec.revision, decision, this.d.namespaces.list(), this.d.pods.list());
    const obs: RevisionObservation = {
      mrev,
      now: this.now(),
      decision,
      invalid: [],
      webhookConfiguration: mrev.status?.webhookConfiguration,
      foreign: [],
      inUse,
      ...(external ? { external } : {}),
    };

    if (mrev.metadata.deletionTimestamp) {
      try {
        return await this.finalize(mrev, cached, obs, claims, ctx);
      } catch (err) {
        if (isConflict(err)) return { requeue: true };
        throw err;
      }
    }

    let failure: Error | undefined;
    let requeueAfter: number | undefined;
    try {
      if (!(mrev.metadata.finalizers ?? []).includes(FINALIZER)) {
        // A merge patch with resourceVersion: never creates (the object may be gone) and never drops others' finalizers.
        await this.d.writer.mergePatch(eventRef(mrev), {
          metadata: { resourceVersion: mrev.metadata.resourceVersion, finalizers: [...(mrev.metadata.finalizers ?? []), FINALIZER] },
        });
      }
      obs.invalid = this.validate(mrev);
      if (obs.invalid.length === 0 && decision) {
        if (external) await this.adoptWebhooks(mrev, decision, external, obs, log);
        else await this.serveWebhook(mrev, decision, obs, log);
      }
      // Namespaces move only while this revision's webhook is served as declared; a conflict or an
      // invalid spec holds the migration where it is (nothing new starts, nothing is undone).
      const servable = obs.invalid.length === 0 && obs.webhookConfiguration !== undefined && (decision?.conflicts.length ?? 0) === 0 && obs.foreign.length === 0;
      if (servable || !mrev.spec.migration) {
        const m = await this.migrations.reconcile({ mrev, now: obs.now, resolve: this.resolver(claims), deleting: false, log });
        if (m) {
          obs.migration = m.status;
          obs.healthChecks = m.healthChecks ?? mrev.status?.healthChecks;
          requeueAfter = m.requeueAfterMs;
        }
      } else if (mrev.status?.migration) {
        obs.migration = mrev.status.migration;
      }
    } catch (err) {
      if (isConflict(err)) {
        // A write raced a change our cache has not seen yet (resourceVersion precondition): nothing is
        // wrong, so no APIError on status; retry once the cache catches up.
        log.debug('conflict; retrying with a fresh cache', { error: apiErrorMessage(err) });
        return { requeue: true };
      }
      failure = err instanceof Error ? err : new Error(String(err));
      obs.apiError = apiErrorMessage(err);
    }
    if (failure !== undefined && mrev.status?.migration && !obs.migration) obs.migration = mrev.status.migration;
    if (!obs.healthChecks && mrev.spec.healthChecks && mrev.status?.healthChecks) obs.healthChecks = mrev.status.healthChecks;
    const flushIn = await this.writeStatus(cached, computeRevisionStatus(obs), ctx, { coalesce: true });
    if (failure !== undefined) throw failure;
    if (flushIn !== undefined) requeueAfter = Math.min(requeueAfter ?? flushIn, flushIn);
    return requeueAfter !== undefined ? { requeueAfter } : {};
  };

  /** Applies the MWC this MeshRevision serves when it differs from the live one; records it (and foreign conflicts) in `obs`. */
  private async serveWebhook(mrev: MeshRevision, decision: ClaimDecision, obs: RevisionObservation, log: ReconcileContext['log']): Promise<void> {
    obs.foreign = foreignWebhookConflicts(decision, this.d.webhooks.list());
    const declared = desiredWebhookConfiguration(mrev, decision);
    if (!declared) {
      obs.webhookConfiguration = undefined;
      return;
    }
    const name = declared.metadata!.name!;
    const existing = this.d.webhooks.get(name);
    // Taking over from istiod's chart: no rejected pod while istiod has not filled in our caBundle yet.
    const desired = handoverFailurePolicy(declared, existing, externalServing(mrev.spec.revision, this.d.webhooks.list()).main);
    const diff = webhookConfigurationDiff(existing, desired, { fieldManager: this.d.writer.fieldManager });
    if (diff.length > 0) {
      log.info('applying webhook configuration', { webhookConfiguration: name, changes: diff });
      await this.d.writer.apply(desired);
      const entries = (desired.webhooks ?? []).map((w) => w.name);
      const message =
        existing === undefined
          ? `created MutatingWebhookConfiguration ${name} with ${entries.length} webhook${entries.length === 1 ? '' : 's'} (${entries.join(', ')})`
          : `updated MutatingWebhookConfiguration ${name}: ${diff.join('; ')}`;
      void this.d.events.normal(eventRef(mrev), REASON_WEBHOOK_CONFIGURED, message);
    }
    obs.webhookConfiguration = name;
  }

  /**
   * External webhooks: the chart's configuration for the revision is what serves it. meshrev's own
   * configuration for the revision (left from Managed mode) is deleted once the chart's serves the
   * revision, never before: pods are never left without an injector.
   */
  private async adoptWebhooks(mrev: MeshRevision, decision: ClaimDecision, external: ExternalServing, obs: RevisionObservation, log: ReconcileContext['log']): Promise<void> {
    obs.webhookConfiguration = decision.servesRevision ? external.main : undefined;
    if (obs.webhookConfiguration === undefined) return;
    const own = this.d.webhooks.get(webhookConfigurationName(mrev.spec.revision));
    if (!own || own.metadata?.labels?.[LABEL_MANAGED_BY_MESHREVISION] !== mrev.metadata.name) return;
    log.info('handing the revision over to the external webhook configuration', { deleting: own.metadata?.name, adopted: external.main });
    await this.d.writer.delete(own, { preconditionUID: own.metadata?.uid });
    void this.d.events.normal(
      eventRef(mrev),
      REASON_WEBHOOK_HANDED_OVER,
      `deleted MutatingWebhookConfiguration ${own.metadata?.name}: ${external.main} (written outside meshrev) serves revision ${mrev.spec.revision}`,
    );
  }

  /** `mrev` with any coalesced status applied; `cached` as the API server has it (status writes compare with it). */
  private async finalize(mrev: MeshRevision, cached: MeshRevision, obs: RevisionObservation, claims: Map<string, ClaimDecision>, ctx: ReconcileContext): Promise<ReconcileResult> {
    const name = mrev.metadata.name!;
    if (!(mrev.metadata.finalizers ?? []).includes(FINALIZER)) return {};
    // First return every namespace this revision's migration moved, so a `git revert` undoes an upgrade.
    const m = await this.migrations.reconcile({ mrev, now: obs.now, resolve: this.resolver(claims), deleting: true, log: ctx.log });
    if (m && !m.allReturned) {
      obs.migration = m.status;
      obs.deleting = { blocked: false, returning: true };
      await this.writeStatus(cached, computeRevisionStatus(obs), ctx);
      return { requeueAfter: m.requeueAfterMs ?? 2000 };
    }
    if (m) obs.migration = m.status;
    if (obs.inUse.namespaces.length > 0 || obs.inUse.podCount > 0) {
      obs.deleting = { blocked: true };
      const before = mrev.status;
      const next = computeRevisionStatus(obs);
      await this.writeStatus(cached, next, ctx);
      if (statusChanged(before, next)) {
        void this.d.events.warning(eventRef(mrev), REASON_DELETION_BLOCKED, `waiting: revision ${mrev.spec.revision} is still used by ${describeInUse(obs.inUse)}`);
      }
      return { requeueAfter: DELETION_RECHECK_MS };
    }
    // Only our own MWC: a MeshRevision that lost its revision name must not remove the holder's.
    const mwcName = webhookConfigurationName(mrev.spec.revision);
    const live = this.d.webhooks.get(mwcName);
    if (live && live.metadata?.labels?.[LABEL_MANAGED_BY_MESHREVISION] === name) {
      ctx.log.info('deleting webhook configuration', { webhookConfiguration: mwcName });
      await this.d.writer.delete(live, { preconditionUID: live.metadata?.uid });
    }
    // Release the finalizer. resourceVersion makes a stale cache fail with 409 (retried) instead of
    // writing an old list; a merge patch on an object already gone is a 404, never a re-creation.
    try {
      await this.d.writer.mergePatch(eventRef(mrev), {
        metadata: { resourceVersion: mrev.metadata.resourceVersion, finalizers: (mrev.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) },
      });
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
    ctx.log.info('finalizer released');
    return {};
  }

  /** Validation of a MeshRevision's spec, once per generation (it parses CA bundles: not for every reconcile). */
  private validate(mrev: MeshRevision): ReturnType<typeof validateMeshRevision> {
    const memo = this.memos.of(mrev);
    const generation = mrev.metadata.generation;
    if (memo.validated && generation !== undefined && memo.validated.generation === generation) return memo.validated.errors;
    const errors = validateMeshRevision(mrev);
    if (generation !== undefined) memo.validated = { generation, errors };
    return errors;
  }

  /**
   * Writes `next` if it differs from the status `mrev` has. With `coalesce`,
   * a change that is only progress (policy/conditions.progressOnly, against
   * the status last written) waits until STATUS_PROGRESS_INTERVAL_MS after
   * the last write: returns in how many ms to reconcile again to flush it.
   * Phases, steps, conditions and failures are always written at once.
   */
  private async writeStatus(
    cached: MeshRevision,
    next: MeshRevisionStatus,
    ctx: ReconcileContext,
    opts: { coalesce?: boolean } = {},
  ): Promise<number | undefined> {
    const key = cached.metadata.name!;
    const memo = this.memos.of(cached);
    // Compared with the status the object has (not a coalesced one): equal means nothing is left to write.
    if (!statusChanged(cached.status, next)) {
      delete memo.pendingStatus;
      return undefined;
    }
    const sinceLast = this.now().getTime() - (memo.lastStatusWrite ?? -Infinity);
    if (opts.coalesce && sinceLast < STATUS_PROGRESS_INTERVAL_MS && progressOnly(cached.status, next)) {
      memo.pendingStatus = next;
      return Math.max(1, STATUS_PROGRESS_INTERVAL_MS - sinceLast);
    }
    ctx.log.debug('writing status', { phase: next.phase });
    await this.d.writer.applyStatus(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: key }, status: next } as KubernetesObject,
      MESHREVISION_RESOURCE,
    );
    memo.lastStatusWrite = this.now().getTime();
    delete memo.pendingStatus;
    return undefined;
  }

  // ---- watch mappings: objects → MeshRevision keys (handlers only map) ----

  /**
   * Any MeshRevision change can move a claim (default, tag): every MeshRevision re-resolves — the
   * changed one first, so a spec change reaches its webhook before the others are looked at again.
   */
  readonly mapMeshRevision = (m: KubernetesObject): string[] => {
    const own = m.metadata?.name ?? '';
    return [own, ...this.d.meshRevisions.keys().filter((k) => k !== own)];
  };

  /**
   * Our MWC → its owner. A foreign one (istiod's chart, istioctl tags) may
   * overlap a revision, a tag or the default of any MeshRevision: all re-check.
   */
  readonly mapWebhook = (mwc: V1MutatingWebhookConfiguration): string[] => {
    const owner = mwc.metadata?.labels?.[LABEL_MANAGED_BY_MESHREVISION];
    return owner ? [owner] : this.d.meshRevisions.keys();
  };

  /**
   * A namespace → the MeshRevisions its labels select (revision or tag, declared or, with adopted
   * webhooks, reported in status), the default's when istio-injection=enabled, the one migrating it (origin
   * annotation), and every MeshRevision with a migration (it may have become eligible).
   */
  readonly mapNamespace = (ns: V1Namespace): string[] => {
    const labels = ns.metadata?.labels ?? {};
    const rev = labels[LABEL_ISTIO_REV];
    const enabled = labels[LABEL_ISTIO_INJECTION] === 'enabled';
    const mover = readOrigin(ns)?.meshRevision;
    return this.d.meshRevisions
      .list()
      .filter(
        (m) =>
          (rev !== undefined && (m.spec.revision === rev || (m.spec.tags ?? []).includes(rev) || (m.status?.activeTags ?? []).includes(rev))) ||
          (enabled && (m.spec.default === true || m.status?.defaultRevision === true)) ||
          m.metadata.name === mover ||
          m.spec.migration !== undefined,
      )
      .map((m) => m.metadata.name!);
  };

  /** The MeshRevision migrating a namespace (its origin annotation), if any. */
  private moverOf(namespace: string | undefined): string[] {
    if (!namespace) return [];
    const ns = this.d.namespaces.get(namespace);
    const mover = ns ? readOrigin(ns)?.meshRevision : undefined;
    return mover ? [mover] : [];
  }

  /** A pod → the MeshRevisions of the revision that injected it, and the one migrating its namespace. */
  readonly mapPod = (pod: V1Pod): string[] => {
    const rev = pod.metadata?.annotations?.[ANNOTATION_ISTIO_REV];
    const keys = rev === undefined ? [] : this.d.meshRevisions.list().filter((m) => m.spec.revision === rev).map((m) => m.metadata.name!);
    return [...new Set([...keys, ...this.moverOf(pod.metadata?.namespace)])];
  };

  /** A Deployment, StatefulSet or DaemonSet → the MeshRevision migrating its namespace. */
  readonly mapWorkload = (w: KubernetesObject): string[] => this.moverOf(w.metadata?.namespace);
}
