// The migration executor, called by the MeshRevision reconcile: observe the
// namespaces and workloads, plan with policy/migration, act (relabel, restart,
// restore), and return the migration status to write.
//
// Everything it needs to resume lives in the cluster: a namespace's origin
// annotation (written with its relabel, in one request), the workloads'
// restarted-for stamps, and status.migration (step completion times, rolled
// back namespaces, the phase). An operator killed at any point recomputes the
// same plan and goes on; a stamped workload is never restarted twice.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import PQueue from 'p-queue';
import { ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../api/labels.js';
import type { MeshRevision } from '../api/meshrevision.js';
import {
  ANNOTATION_ORIGIN,
  ANNOTATION_RESTARTED_FOR,
  DEFAULT_MAX_CONCURRENT_NAMESPACES,
  DEFAULT_MAX_CONCURRENT_RESTARTS,
  DEFAULT_MIGRATION_FAILURE_POLICY,
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
  ADMISSION_PROBE_DEADLINE_MS,
  ADMISSION_PROBE_RETRY_MS,
  RELABEL_SETTLE_MS,
  type MigrationPhase,
  type MigrationStatus,
  type NamespaceMigrationStatus,
  type NamespaceOrigin,
  type StepStatus,
} from '../api/migration.js';
import { formatTime } from '../policy/conditions.js';
import {
  classifyNamespaces,
  hasOriginLabels,
  hasTargetLabels,
  originOf,
  planSteps,
  planWorkloads,
  readOrigin,
  returnedNamespaces,
  sourceOf,
  type RevisionResolver,
  type Workload,
  type WorkloadAction,
  type WorkloadRef,
} from '../policy/migration.js';
import type { KubeWriter } from '../kube/apply.js';
import type { InjectionProbe } from '../kube/admission-probe.js';
import type { EventRecorder } from '../kube/events.js';
import type { Logger } from '../runtime/logger.js';
import type { MigrationMetrics } from '../health/metrics.js';
import type { CheckInstance, HealthChecksStatus, Measurement } from '../api/health.js';
import { expandChecks, gateVerdict, isDue, nextCheckState, nextDueInMs, planFailureResponse, resolveChecks, syncCheckStates } from '../policy/analysis.js';

/** While namespaces move, look again this often even without watch events. */
const PROGRESS_RECHECK_MS = 2000;

/**
 * Restart requests in flight at once (maxConcurrentRestarts bounds the rollouts, not the requests):
 * every request in flight holds a TLS connection and its buffers, so 300 at once cost the operator
 * about 60 MB of memory it never gives back, for no gain in time.
 */
const RESTART_REQUEST_CONCURRENCY = 10;

/** Namespace writes (relabels, restores, records) sent at once. */
const NAMESPACE_WRITE_CONCURRENCY = 10;

/** Dry-run pods sent at once (one per namespace waiting to restart its workloads). */
const ADMISSION_PROBE_CONCURRENCY = 10;

/**
 * Runs `tasks` at most `concurrency` at a time. After the first failure it starts no more, waits for
 * those running, and rethrows it: a failed reconcile leaves nothing of its own still writing.
 */
export async function runBounded(tasks: readonly (() => Promise<unknown>)[], concurrency: number): Promise<void> {
  const q = new PQueue({ concurrency });
  let failure: { err: unknown } | undefined;
  for (const task of tasks) {
    void q.add(async () => {
      if (failure) return;
      try {
        await task();
      } catch (err) {
        if (!failure) failure = { err };
        q.clear();
      }
    });
  }
  await q.onIdle();
  if (failure) throw failure.err;
}

/** Key of the admission-probe memos: per MeshRevision and namespace (two MeshRevisions can move one namespace in turn). */
const probeKey = (mrevName: string, namespace: string): string => `${mrevName}/${namespace}`;

export interface Stores {
  namespaces: { list(): V1Namespace[]; get(name: string): V1Namespace | undefined };
  pods: {
    list(namespace?: string): V1Pod[];
    /** The pod cache's LastSyncResourceVersion: a workload newer than it is not judged on its pods yet. */
    resourceVersion?(): string | undefined;
  };
  workloads(namespace: string): Workload[];
}

export interface MigrationDeps {
  stores: Stores;
  writer: Pick<KubeWriter, 'mergePatch'>;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  metrics?: MigrationMetrics;
  /** Built-in gate: undefined when the target revision's injector is reachable, else why not. */
  probeInjector?: (mrev: MeshRevision) => Promise<string | undefined>;
  /** Takes one measurement of a user-defined check (src/gates/*); never throws. */
  runCheck?: (instance: CheckInstance) => Promise<Measurement>;
  /**
   * Dry-runs a pod of a workload's template in a namespace (kube/admission-probe): which revision
   * would inject it now. Without it, restarts wait RELABEL_SETTLE_MS after a relabel instead.
   */
  probeAdmission?: InjectionProbe;
}

export interface MigrationInput {
  mrev: MeshRevision;
  now: Date;
  /** The real revision behind a `from` value ("default", a tag, a revision), for rollbacks. */
  resolve: RevisionResolver;
  /** The MeshRevision is being deleted: return every namespace it moved. */
  deleting: boolean;
  log: Logger;
}

export interface MigrationResult {
  status: MigrationStatus;
  /** The user-defined checks' analysis of the step being gated (status.healthChecks). */
  healthChecks?: HealthChecksStatus;
  /** Every namespace this migration moved is back at its origin (the finalizer may go on). */
  allReturned: boolean;
  requeueAfterMs?: number;
}

/**
 * The one entry point for an automatic rollback (health gates): the status
 * to write so the next reconcile returns every moved namespace to its origin
 * and the migration stays rolled back until the spec changes.
 */
export function requestRollback(status: MigrationStatus | undefined, generation: number | undefined, reason: string): MigrationStatus {
  return { ...(status ?? {}), generation, phase: MIGRATION_PHASE_ROLLING_BACK, rollbackReason: reason };
}

function eventRef(mrev: MeshRevision) {
  return { apiVersion: mrev.apiVersion ?? 'meshrev.io/v1alpha1', kind: mrev.kind ?? 'MeshRevision', metadata: { name: mrev.metadata.name, uid: mrev.metadata.uid } };
}

function nsRef(name: string) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}


interface NsOutcome {
  entry: NamespaceMigrationStatus;
  restarts: WorkloadRef[];
  /** Restarts held until the admission chain is seen to inject `expected` here (see confirmAdmission). */
  held?: { restarts: WorkloadRef[]; expected: string; since: string; forward: boolean };
  rolling: number;
  /** A write to make for this namespace (relabel, restore, forget the origin). */
  write?: () => Promise<void>;
}

export class MigrationExecutor {
  constructor(private readonly d: MigrationDeps) {}

  /** `forcedRollback`: a failed gate under onFailure rollbackAll — go back now, for this reason. */
  async reconcile(input: MigrationInput, forcedRollback?: string): Promise<MigrationResult | undefined> {
    const { mrev, now, log } = input;
    const spec = mrev.spec.migration;
    const name = mrev.metadata.name!;
    const target = mrev.spec.revision;
    const generation = mrev.metadata.generation;
    const prev: MigrationStatus = mrev.status?.migration ?? {};
    const sameGeneration = prev.generation === generation;

    const namespaces = this.d.stores.namespaces.list();
    const byName = new Map(namespaces.map((n) => [n.metadata?.name ?? '', n]));
    const classes = classifyNamespaces({
      meshRevision: name,
      revision: target,
      migration: spec ?? { from: [] },
      namespaces,
    });
    const moved = classes.filter((c) => c.kind === 'moved');
    if (!spec && moved.length === 0) return undefined;

    // Which direction: back to origin for everything (deletion, spec, an automatic rollback
    // recorded in status for this generation), for listed namespaces, or forward.
    const rollbackAll =
      forcedRollback !== undefined ||
      input.deleting ||
      !spec ||
      spec.rollback?.all === true ||
      (sameGeneration && (prev.phase === MIGRATION_PHASE_ROLLING_BACK || prev.phase === MIGRATION_PHASE_ROLLED_BACK));
    const rollbackListed = new Set(spec?.rollback?.namespaces ?? []);
    // A failed gate of this generation, as recorded on the namespaces it sent back (survives a lost status write).
    const gateFailure = [...moved.map((c) => (c.kind === 'moved' ? c.origin : undefined)), ...returnedNamespaces(name, namespaces).map((r) => r.origin)].find(
      (o) => o?.rollbackReason !== undefined && o.rollbackGeneration === generation,
    )?.rollbackReason;
    const terminal = (sameGeneration && prev.phase === MIGRATION_PHASE_FAILED) || gateFailure !== undefined;
    const rollbackReason = forcedRollback ?? (rollbackAll
      ? input.deleting
        ? `MeshRevision ${name} is being deleted`
        : !spec
          ? 'spec.migration was removed'
          : spec.rollback?.all
            ? 'spec.migration.rollback.all is true'
            : (prev.rollbackReason ?? 'rollback requested')
      : rollbackListed.size > 0
        ? `spec.migration.rollback.namespaces lists ${[...rollbackListed].join(', ')}`
        : gateFailure);

    const plan = planSteps(classes, spec?.steps);
    const outcomes = new Map<string, NsOutcome>();
    const prevByName = new Map((prev.namespaces ?? []).map((e) => [e.name, e]));
    const position = new Map(plan.order.map((n, i) => [n, i]));
    const maxRestarts = spec?.maxConcurrentRestarts ?? DEFAULT_MAX_CONCURRENT_RESTARTS;

    for (const c of moved) {
      if (c.kind !== 'moved') continue;
      const ns = byName.get(c.name)!;
      const back = rollbackAll || rollbackListed.has(c.name) || c.origin.rollbackReason !== undefined;
      // The step a namespace moved in, as recorded: while going back the plan's order changes under it.
      const step = prevByName.get(c.name)?.step ?? plan.stepOf.get(c.name) ?? 0;
      outcomes.set(c.name, back ? this.returnNamespace(ns, c.origin, input, step) : this.advanceNamespace(ns, c.origin, input, step, spec?.rolloutTimeoutSeconds));
    }

    // Namespaces already returned by this migration (recorded on them, so no lost status write can drop them).
    for (const r of returnedNamespaces(name, namespaces)) {
      const byGate = r.origin.rollbackReason !== undefined && r.origin.rollbackGeneration === generation;
      if (outcomes.has(r.name) || !(rollbackAll || rollbackListed.has(r.name) || byGate)) continue;
      const prevEntry = prevByName.get(r.name);
      const ns = byName.get(r.name)!;
      const outcome: NsOutcome = { entry: { name: r.name, state: NS_ROLLED_BACK, step: prevEntry?.step ?? 0, from: sourceOf(r.origin.labels) ?? 'none' }, restarts: [], rolling: 0 };
      // Deleting the MeshRevision: its records on namespaces go with it.
      if (input.deleting) outcome.write = () => this.forget(ns);
      outcomes.set(r.name, outcome);
    }

    // Restarts wait until a dry-run pod shows the admission chain injecting the expected revision there.
    let awaitingAdmission = await this.confirmAdmission(name, outcomes, now, log, terminal);
    const startedNow: string[] = [];

    // Forward: start the next namespaces of the current step, within the gates.
    const entries = (): NamespaceMigrationStatus[] => [...outcomes.values()].map((o) => o.entry);
    const migratedNow = new Set(entries().filter((e) => e.state === NS_MIGRATED).map((e) => e.name));
    const stepsStatus: StepStatus[] = plan.steps.map((s) => {
      const done = plan.order.slice(0, s.target).every((n) => migratedNow.has(n));
      const before = prev.steps?.find((p) => p.index === s.index && p.target === s.target);
      const completedAt = done ? (sameGeneration && before?.completedAt ? before.completedAt : formatTime(now)) : undefined;
      return { index: s.index, target: s.target, ...(completedAt ? { completedAt } : {}) };
    });
    // A failed gate — built in (a workload that does not roll out, crash-loops, keeps restarting) or a
    // user-defined check — acts per spec.migration.onFailure, recording the decision on the namespaces
    // it sends back (rollbackReason in their origin annotation) so it survives a lost status write.
    const policy = spec?.onFailure ?? DEFAULT_MIGRATION_FAILURE_POLICY;
    let gateReason = gateFailure;
    const sendBack = (names: ReadonlySet<string>, reason: string, why: (e: NamespaceMigrationStatus) => string) => {
      for (const o of [...outcomes.values()]) {
        const e = o.entry;
        const ns = byName.get(e.name);
        const origin = ns ? readOrigin(ns) : undefined;
        if (!names.has(e.name) || e.state === NS_ROLLED_BACK || e.state === NS_ROLLING_BACK || !ns || !origin) continue;
        const marked: NamespaceOrigin = { ...origin, rollbackReason: reason, ...(generation !== undefined ? { rollbackGeneration: generation } : {}) };
        outcomes.set(e.name, {
          entry: { ...e, state: NS_ROLLING_BACK, message: `sent back: ${why(e)}` },
          restarts: [],
          rolling: 0,
          write: async () => {
            await this.d.writer.mergePatch(nsRef(e.name), {
              metadata: { resourceVersion: ns.metadata?.resourceVersion, annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(marked) } },
            });
          },
        });
      }
    };
    const failing = entries().filter((e) => e.state === NS_FAILED);
    if (failing.length > 0 && !rollbackAll && policy !== 'pause') {
      const reason = `health gate failed: ${failing.map((e) => `${e.name}: ${e.message ?? 'failed'}`).join('; ')}`;
      void this.d.events.warning(eventRef(mrev), 'HealthGateFailed', `${reason}; onFailure: ${policy}`);
      log.warn('health gate failed', { reason, onFailure: policy });
      this.d.metrics?.gateFailed(name, 'workload', policy);
      if (policy === 'rollbackAll') return this.reconcile(input, reason);
      const failedSteps = new Set(failing.map((e) => e.step));
      const hit = new Set(entries().filter((e) => (policy === 'rollbackNamespace' ? e.state === NS_FAILED : failedSteps.has(e.step))).map((e) => e.name));
      sendBack(hit, reason, (e) => (e.state === NS_FAILED ? (e.message ?? 'failed') : `its step ${e.step} failed`));
      gateReason = reason;
    }

    // User-defined checks (Prometheus, HTTP) gate the step after the one just completed: they run
    // over its namespaces during its soak, and the next step (or Succeeded) waits for them to pass.
    let healthChecks: HealthChecksStatus | undefined;
    let requeueAfterMsChecks: number | undefined;
    let checksHold: string | undefined;
    const checks = resolveChecks(mrev.spec.healthChecks);
    const nextPending = plan.order.find((n) => !outcomes.has(n));
    const gatedStep = nextPending !== undefined ? (plan.stepOf.get(nextPending) ?? 1) - 1 : plan.steps.length;
    const gated = plan.steps[gatedStep - 1];
    const finished = sameGeneration && prev.phase === MIGRATION_PHASE_SUCCEEDED;
    if (checks.length > 0 && gated && stepsStatus[gatedStep - 1]?.completedAt && !rollbackAll && gateReason === undefined && !terminal && !finished && this.d.runCheck) {
      const instances = expandChecks(checks, { revision: target, namespaces: [...gated.namespaces].sort() });
      const prevChecks = mrev.status?.healthChecks;
      // syncCheckStates returns one state per instance, in the instances' order.
      const states = syncCheckStates(sameGeneration && prevChecks?.step === gatedStep ? prevChecks.checks : undefined, instances);
      await Promise.all(
        instances.map(async (inst, idx) => {
          if (!isDue(states[idx], inst, now)) return;
          states[idx] = nextCheckState(states[idx], await this.d.runCheck!(inst), now, inst);
        }),
      );
      healthChecks = { step: gatedStep, checks: states };
      const result = gateVerdict(states, instances);
      const dueIn = nextDueInMs(states, instances, now);
      if (result.verdict === 'wait') {
        checksHold = result.message;
        if (dueIn !== undefined) requeueAfterMsChecks = Math.max(250, dueIn);
      } else if (result.verdict === 'fail') {
        const response = planFailureResponse(result, policy, {
          stepNamespaces: [...gated.namespaces],
          movedNamespaces: entries().filter((e) => e.state !== NS_ROLLED_BACK).map((e) => e.name),
        });
        const reason = `health check failed: ${result.message}`;
        void this.d.events.warning(eventRef(mrev), 'HealthCheckFailed', `${reason}; onFailure: ${policy}`);
        log.warn('health check failed', { reason, onFailure: policy });
        this.d.metrics?.gateFailed(name, 'check', policy);
        if (response.action === 'rollback' && response.scope === 'all') return this.reconcile(input, reason);
        if (response.action === 'rollback') sendBack(new Set(response.namespaces), reason, () => result.message);
        gateReason = reason;
      }
    }

    // Built-in gate: nothing moves towards an injector that cannot answer (with failurePolicy Fail the
    // restarted pods would be refused). Rollbacks go to the old injector and are not held.
    let blocked: string | undefined;
    const forwardWork =
      !rollbackAll && !terminal && gateReason === undefined && spec !== undefined && !spec.paused &&
      (plan.order.some((n) => !outcomes.has(n)) || [...outcomes.values()].some((o) => o.entry.state === NS_MIGRATING && o.restarts.length > 0));
    if (forwardWork && this.d.probeInjector) {
      blocked = await this.d.probeInjector(mrev);
      if (blocked !== undefined) {
        void this.d.events.warning(eventRef(mrev), 'InjectorUnreachable', `${blocked}; no namespace moves until it answers`);
        for (const o of outcomes.values()) if (o.entry.state === NS_MIGRATING) o.restarts = [];
      }
    }

    const failed = entries().some((e) => e.state === NS_FAILED);
    let phase: MigrationPhase = MIGRATION_PHASE_PROGRESSING;
    let requeueAfterMs: number | undefined;
    let currentStep = plan.steps.find((s) => !stepsStatus[s.index - 1]?.completedAt)?.index ?? plan.steps.length;

    if (rollbackAll) {
      phase = entries().every((e) => e.state === NS_ROLLED_BACK) ? MIGRATION_PHASE_ROLLED_BACK : MIGRATION_PHASE_ROLLING_BACK;
    } else if (failed || terminal || gateReason !== undefined) {
      phase = MIGRATION_PHASE_FAILED;
    } else if (spec) {
      const inFlight = entries().filter((e) => e.state === NS_MIGRATING || e.state === NS_ROLLING_BACK).length;
      const pending = plan.order.filter((n) => !outcomes.has(n));
      const next = pending[0];
      const nextStep = next ? (plan.stepOf.get(next) ?? 1) : undefined;
      if (nextStep === undefined) {
        // The last step's checks must pass too before the migration counts as done.
        phase = inFlight > 0 || checksHold !== undefined ? MIGRATION_PHASE_PROGRESSING : MIGRATION_PHASE_SUCCEEDED;
      } else if (spec.paused) {
        phase = MIGRATION_PHASE_SUSPENDED;
      } else {
        // The previous step must be complete and its pause over.
        const prevStep = plan.steps[nextStep - 2];
        const prevDone = prevStep ? stepsStatus[prevStep.index - 1]?.completedAt : formatTime(now);
        let gateOpen = prevDone !== undefined;
        if (gateOpen && prevStep) {
          if (prevStep.pause.kind === 'indefinite' && (spec.promotedStep ?? 0) < prevStep.index) {
            gateOpen = false;
            phase = MIGRATION_PHASE_AWAITING_PROMOTION;
            currentStep = prevStep.index;
          } else if (prevStep.pause.kind === 'duration') {
            const until = Date.parse(prevDone!) + prevStep.pause.ms;
            if (now.getTime() < until) {
              gateOpen = false;
              phase = MIGRATION_PHASE_PAUSED;
              currentStep = prevStep.index;
              requeueAfterMs = until - now.getTime();
            }
          }
        }
        if (gateOpen && checksHold !== undefined) {
          gateOpen = false;
          phase = MIGRATION_PHASE_PAUSED;
          currentStep = prevStep?.index ?? nextStep;
        }
        if (gateOpen && blocked !== undefined) {
          currentStep = nextStep;
          requeueAfterMs = 5000;
        } else if (gateOpen) {
          currentStep = nextStep;
          const stepEnd = plan.steps[nextStep - 1]!.target;
          const room = Math.max(0, (spec.maxConcurrentNamespaces ?? DEFAULT_MAX_CONCURRENT_NAMESPACES) - inFlight);
          const startable = pending.filter((n) => (position.get(n) ?? Infinity) < stepEnd).slice(0, room);
          startedNow.push(...startable);
          for (const n of startable) {
            const ns = byName.get(n)!;
            const origin: NamespaceOrigin = { ...originOf(ns, name, target), movedAt: formatTime(now) };
            outcomes.set(n, {
              entry: { name: n, state: NS_MIGRATING, step: nextStep, from: sourceOf(origin.labels) ?? 'none', message: 'relabelled; restarting workloads' },
              restarts: [],
              rolling: 0,
              write: async () => {
                log.info('moving namespace', { namespace: n, from: origin.labels, to: target });
                await this.d.writer.mergePatch(nsRef(n), {
                  metadata: {
                    resourceVersion: ns.metadata?.resourceVersion,
                    labels: { [LABEL_ISTIO_INJECTION]: null, [LABEL_ISTIO_REV]: target },
                    annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) },
                  },
                });
              },
            });
          }
        }
      }
    }

    // Act: namespace writes first (a few at a time: one per namespace, independent), then workload
    // restarts within the restart budget.
    await runBounded([...outcomes.values()].flatMap((o) => (o.write ? [o.write] : [])), NAMESPACE_WRITE_CONCURRENCY);
    // Namespaces relabelled just now (the cache holds our writes, Informer.assume): probe them at once
    // instead of on the next reconcile, and restart what the probe releases in this one.
    if (startedNow.length > 0 && this.d.probeAdmission && !spec?.paused) {
      const fresh = new Map<string, NsOutcome>();
      for (const n of startedNow) {
        const ns = this.d.stores.namespaces.get(n);
        const origin = ns ? readOrigin(ns) : undefined;
        if (!ns || !origin || origin.meshRevision !== name || !hasTargetLabels(ns, target)) continue;
        const o = this.advanceNamespace(ns, origin, input, outcomes.get(n)!.entry.step, spec?.rolloutTimeoutSeconds);
        if (o.held && o.entry.state === NS_MIGRATING) fresh.set(n, o);
      }
      if (await this.confirmAdmission(name, fresh, now, log, terminal)) awaitingAdmission = true;
      for (const [n, o] of fresh) outcomes.set(n, o);
    }
    const rolling = [...outcomes.values()].reduce((n, o) => n + o.rolling, 0);
    const budget = Math.max(0, maxRestarts - rolling);
    const restarts = [...outcomes.values()].flatMap((o) => o.restarts).slice(0, budget);
    if (restarts.length > 0) {
      const stamp = formatTime(now);
      await runBounded(
        restarts.map((ref) => async () => {
          const expected = this.expectedRevisionFor(ref.namespace, outcomes, input, target);
          log.info('restarting workload', { workload: `${ref.kind} ${ref.namespace}/${ref.name}`, revision: expected });
          await this.d.writer.mergePatch(
            { apiVersion: 'apps/v1', kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } },
            {
              metadata: { resourceVersion: ref.resourceVersion },
              spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: stamp, [ANNOTATION_RESTARTED_FOR]: expected } } } },
            },
          );
        }),
        Math.min(maxRestarts, RESTART_REQUEST_CONCURRENCY),
      );
    }

    // Status: moved namespaces, the pending ones of the plan, and those already returned (kept from before).
    const list: NamespaceMigrationStatus[] = [...entries()];
    if (!rollbackAll) {
      const fromOf = new Map(classes.flatMap((c) => (c.kind === 'pending' ? [[c.name, c.from] as const] : [])));
      for (const n of plan.order) {
        if (!outcomes.has(n)) list.push({ name: n, state: NS_PENDING, step: plan.stepOf.get(n) ?? 0, from: fromOf.get(n) });
      }
    }
    list.sort((a, b) => a.step - b.step || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.announce(mrev, prev.namespaces ?? [], list, byName, now);
    this.forgetProbes(name, outcomes);

    const count = (s: string) => list.filter((e) => e.state === s).length;
    const eligible = rollbackAll ? list.length : plan.order.length;
    const migrated = count(NS_MIGRATED);
    const status: MigrationStatus = {
      generation,
      phase,
      currentStep,
      steps: stepsStatus,
      namespaces: list,
      counts: {
        eligible,
        migrated,
        inProgress: count(NS_MIGRATING) + count(NS_ROLLING_BACK),
        failed: count(NS_FAILED),
        rolledBack: count(NS_ROLLED_BACK),
      },
      startedAt: sameGeneration && prev.startedAt ? prev.startedAt : formatTime(now),
      // "x/y" for `kubectl get mrev`; while going back, how many are back.
      summary: rollbackAll ? `${count(NS_ROLLED_BACK)}/${eligible} rolled back` : `${migrated}/${eligible}`,
    };
    if (phase === MIGRATION_PHASE_SUCCEEDED || phase === MIGRATION_PHASE_ROLLED_BACK || phase === MIGRATION_PHASE_FAILED) {
      status.finishedAt = sameGeneration && prev.finishedAt && prev.phase === phase ? prev.finishedAt : formatTime(now);
    }
    if (rollbackReason ?? gateReason) status.rollbackReason = (rollbackReason ?? gateReason)!;
    if (blocked !== undefined) status.blocked = blocked;
    else if (checksHold !== undefined && phase !== MIGRATION_PHASE_SUCCEEDED) status.blocked = `waiting for health checks: ${checksHold}`;
    if (list.length === 0 && spec && phase === MIGRATION_PHASE_PROGRESSING) status.phase = MIGRATION_PHASE_PENDING;
    const byState: Record<string, number> = {};
    for (const e of list) byState[e.state] = (byState[e.state] ?? 0) + 1;
    this.d.metrics?.observe(name, status.phase, byState);
    if (status.counts!.inProgress > 0) requeueAfterMs = Math.min(requeueAfterMs ?? PROGRESS_RECHECK_MS, PROGRESS_RECHECK_MS);
    if (blocked !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? 5000, 5000);
    if (requeueAfterMsChecks !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? requeueAfterMsChecks, requeueAfterMsChecks);
    if (awaitingAdmission) requeueAfterMs = Math.min(requeueAfterMs ?? ADMISSION_PROBE_RETRY_MS, ADMISSION_PROBE_RETRY_MS);

    return {
      status,
      ...(healthChecks ? { healthChecks } : {}),
      allReturned: list.every((e) => e.state === NS_ROLLED_BACK),
      ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    };
  }

  /** The revision a namespace's pods must carry in the direction it is going. */
  private expectedRevisionFor(namespace: string, outcomes: Map<string, NsOutcome>, input: MigrationInput, target: string): string {
    const o = outcomes.get(namespace);
    if (o?.entry.state === NS_ROLLING_BACK && o.entry.from) return input.resolve(o.entry.from) ?? target;
    return target;
  }

  /** A moved namespace going forward: keep its target labels, restart what must move, verify. */
  private advanceNamespace(ns: V1Namespace, origin: NamespaceOrigin, input: MigrationInput, step: number, timeout?: number): NsOutcome {
    const name = ns.metadata!.name!;
    const target = input.mrev.spec.revision;
    const from = sourceOf(origin.labels) ?? 'none';
    if (!hasTargetLabels(ns, target)) {
      // Someone changed the labels after the move: converge back to the target (level-triggered).
      return {
        entry: { name, state: NS_MIGRATING, step, from, message: `labels changed outside meshrev; setting ${LABEL_ISTIO_REV}=${target} again` },
        restarts: [],
        rolling: 0,
        write: async () => {
          await this.d.writer.mergePatch(nsRef(name), {
            metadata: { resourceVersion: ns.metadata?.resourceVersion, labels: { [LABEL_ISTIO_INJECTION]: null, [LABEL_ISTIO_REV]: target } },
          });
        },
      };
    }
    return this.workloadOutcome(name, step, from, target, input, timeout, origin.movedAt, NS_MIGRATING, NS_MIGRATED);
  }

  /** A moved namespace going back: restore its origin labels, restart what must move back, verify, forget the origin. */
  private returnNamespace(ns: V1Namespace, origin: NamespaceOrigin, input: MigrationInput, step: number): NsOutcome {
    const name = ns.metadata!.name!;
    const from = sourceOf(origin.labels) ?? 'none';
    if (!hasOriginLabels(ns, origin) || !origin.returnedAt) {
      const back: NamespaceOrigin = { ...origin, returnedAt: formatTime(input.now) };
      return {
        entry: { name, state: NS_ROLLING_BACK, step, from, message: 'restoring its origin labels' },
        restarts: [],
        rolling: 0,
        write: async () => {
          input.log.info('returning namespace to its origin', { namespace: name, labels: origin.labels });
          await this.d.writer.mergePatch(nsRef(name), {
            metadata: {
              resourceVersion: ns.metadata?.resourceVersion,
              labels: { [LABEL_ISTIO_INJECTION]: origin.labels['istio-injection'] ?? null, [LABEL_ISTIO_REV]: origin.labels['istio.io/rev'] ?? null },
              annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(back) },
            },
          });
        },
      };
    }
    const expected = input.resolve(from);
    if (expected === undefined) {
      // No revision serves the origin any more (e.g. no default revision): pods would come back uninjected.
      return this.markReturned(ns, origin, input, step, from, `origin labels restored; no MeshRevision serves ${from}, so its pods were left as they are`);
    }
    const o = this.workloadOutcome(name, step, from, expected, input, undefined, origin.returnedAt, NS_ROLLING_BACK, NS_ROLLED_BACK);
    if (o.entry.state === NS_ROLLED_BACK) {
      // Deleting the MeshRevision: the namespace is back, and its record goes with the MeshRevision now —
      // the finalizer may be released in this very reconcile, and no later one would remove it.
      return this.markReturned(ns, origin, input, step, from, o.entry.message);
    }
    return o;
  }

  /**
   * Records on the namespace that it is fully back (rolledBackAt): the record survives any lost status
   * write. While the MeshRevision is being deleted the record goes instead: the finalizer may be
   * released in this very reconcile, and no later one would remove it.
   */
  private markReturned(ns: V1Namespace, origin: NamespaceOrigin, input: MigrationInput, step: number, from: string, message?: string): NsOutcome {
    const name = ns.metadata!.name!;
    const entry: NamespaceMigrationStatus = { name, state: NS_ROLLED_BACK, step, from, ...(message ? { message } : {}) };
    if (input.deleting) return { entry, restarts: [], rolling: 0, write: () => this.forget(ns) };
    const done: NamespaceOrigin = { ...origin, rolledBackAt: formatTime(input.now) };
    return {
      entry,
      restarts: [],
      rolling: 0,
      write: async () => {
        await this.d.writer.mergePatch(nsRef(name), {
          metadata: { resourceVersion: ns.metadata?.resourceVersion, annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(done) } },
        });
      },
    };
  }

  /** Removes this migration's record from a returned namespace (when the MeshRevision is deleted). */
  private async forget(ns: V1Namespace): Promise<void> {
    await this.d.writer.mergePatch(nsRef(ns.metadata!.name!), {
      metadata: { resourceVersion: ns.metadata?.resourceVersion, annotations: { [ANNOTATION_ORIGIN]: null } },
    });
  }

  /**
   * Plans a namespace's workloads toward `expected`. Restarts wait until the
   * admission chain is known to see the namespace's new labels: confirmed by
   * a dry-run pod (held here, probed by confirmAdmission), or, without a
   * probe, RELABEL_SETTLE_MS after the relabel (`relabelledAt`).
   */
  private workloadOutcome(
    name: string,
    step: number,
    from: string,
    expected: string,
    input: MigrationInput,
    timeout: number | undefined,
    relabelledAt: string | undefined,
    moving: typeof NS_MIGRATING | typeof NS_ROLLING_BACK,
    arrived: typeof NS_MIGRATED | typeof NS_ROLLED_BACK,
  ): NsOutcome {
    const wp = planWorkloads({
      expectedRevision: expected,
      workloads: this.d.stores.workloads(name),
      pods: this.d.stores.pods.list(name),
      now: input.now,
      ...(this.d.stores.pods.resourceVersion?.() !== undefined ? { podsResourceVersion: this.d.stores.pods.resourceVersion()! } : {}),
      ...(timeout !== undefined ? { rolloutTimeoutSeconds: timeout } : {}),
    });
    const is = (k: WorkloadAction['kind']) => wp.actions.filter((a) => a.kind === k);
    const timeSettled = relabelledAt === undefined || input.now.getTime() - Date.parse(relabelledAt) >= RELABEL_SETTLE_MS;
    const known = this.confirmed.get(probeKey(input.mrev.metadata.name!, name));
    const confirmed = relabelledAt === undefined || (known?.since === relabelledAt && known.expected === expected);
    const candidates = is('restart').map((a) => a.ref);
    const release = confirmed || (timeSettled && !this.d.probeAdmission);
    const failures = is('failed') as Extract<WorkloadAction, { kind: 'failed' }>[];
    const counted = wp.actions.filter((a) => a.kind !== 'skipped');
    const verified = is('done').length;
    const notes = [
      ...failures.map((f) => `${f.ref.kind} ${f.ref.name}: ${f.reason}`),
      ...(is('skipped') as Extract<WorkloadAction, { kind: 'skipped' }>[]).map((s) => `${s.ref.kind} ${s.ref.name} left alone: ${s.reason}`),
      ...wp.reported.map((p) => `pod ${p.name} ${p.reason}`),
    ];
    let state: NamespaceMigrationStatus['state'] = moving;
    if (moving === NS_MIGRATING && failures.length > 0) state = NS_FAILED;
    else if (verified === counted.length && (confirmed || timeSettled)) state = arrived;
    return {
      entry: {
        name,
        state,
        step,
        from,
        workloads: counted.length,
        verified,
        ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
      },
      restarts: release ? candidates : [],
      ...(!release && candidates.length > 0 ? { held: { restarts: candidates, expected, since: relabelledAt, forward: moving === NS_MIGRATING } } : {}),
      rolling: is('rolling').length,
    };
  }

  /** Per "MeshRevision/namespace": the relabel (movedAt / returnedAt) and revision a dry-run pod confirmed. */
  private readonly confirmed = new Map<string, { since: string; expected: string }>();
  /** Per "MeshRevision/namespace": since when (this process has seen) dry-run pods name another revision for this relabel. */
  private readonly mismatched = new Map<string, { since: string; expected: string; firstAt: number }>();

  /**
   * Releases held restarts where a dry-run pod of the first workload to
   * restart is injected by the revision expected. Until then they wait;
   * if the probe cannot run (quota, pod security...), the relabel's
   * RELABEL_SETTLE_MS stands in for it. A namespace going forward whose
   * probes keep naming another revision for ADMISSION_PROBE_DEADLINE_MS
   * (after the relabel, and since the first such probe of this process)
   * fails before any of its workloads is restarted; one going back is
   * restarted anyway. `stopped`: the migration failed, so nothing goes
   * forward (namespaces going back still do). Returns whether any namespace
   * is still waiting.
   */
  private async confirmAdmission(mrevName: string, outcomes: Map<string, NsOutcome>, now: Date, log: Logger, stopped: boolean): Promise<boolean> {
    const probe = this.d.probeAdmission;
    const held = [...outcomes.entries()].filter(([, o]) => o.held && o.entry.state !== NS_FAILED && !(stopped && o.held.forward));
    if (!probe || held.length === 0) return false;
    let waiting = false;
    await runBounded(
      held.map(([ns, o]) => async () => {
        const h = o.held!;
        const key = probeKey(mrevName, ns);
        const first = h.restarts[0]!;
        const template = this.d.stores.workloads(ns).find((w) => w.kind === first.kind && w.metadata?.name === first.name)?.spec?.template;
        const result = await probe(ns, template);
        const elapsed = now.getTime() - Date.parse(h.since);
        if (result.error === undefined && result.revision === h.expected) {
          this.confirmed.set(key, { since: h.since, expected: h.expected });
          this.mismatched.delete(key);
          o.restarts = h.restarts;
          return;
        }
        if (result.error !== undefined) {
          log.debug('admission probe failed; falling back to the settle time', { namespace: ns, error: result.error });
          if (elapsed >= RELABEL_SETTLE_MS) o.restarts = h.restarts;
          else waiting = true;
          return;
        }
        const seen = result.revision ?? 'no revision (not injected)';
        const m = this.mismatched.get(key);
        const firstAt = m && m.since === h.since && m.expected === h.expected ? m.firstAt : now.getTime();
        this.mismatched.set(key, { since: h.since, expected: h.expected, firstAt });
        const persisted = Math.min(elapsed, now.getTime() - firstAt);
        if (persisted < ADMISSION_PROBE_DEADLINE_MS) {
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
      }),
      ADMISSION_PROBE_CONCURRENCY,
    );
    return waiting;
  }

  /**
   * Drops what this process remembers of namespaces this MeshRevision no longer moves. A namespace that
   * arrived keeps its confirmation: it is what lets it count as arrived before RELABEL_SETTLE_MS.
   */
  private forgetProbes(mrevName: string, outcomes: Map<string, NsOutcome>): void {
    const prefix = probeKey(mrevName, '');
    for (const map of [this.confirmed, this.mismatched]) {
      for (const key of map.keys()) {
        if (key.startsWith(prefix) && !outcomes.has(key.slice(prefix.length))) map.delete(key);
      }
    }
  }

  /** Events (and duration metrics) for namespaces that reached Migrated, RolledBack or Failed since the last status. */
  private announce(
    mrev: MeshRevision,
    before: readonly NamespaceMigrationStatus[],
    after: readonly NamespaceMigrationStatus[],
    namespaces: Map<string, V1Namespace>,
    now: Date,
  ): void {
    const prev = new Map(before.map((e) => [e.name, e.state]));
    const since = (name: string, key: 'movedAt' | 'returnedAt') => {
      const ns = namespaces.get(name);
      const at = ns ? readOrigin(ns)?.[key] : undefined;
      return at ? (now.getTime() - Date.parse(at)) / 1000 : undefined;
    };
    const ref = eventRef(mrev);
    for (const e of after) {
      if (prev.get(e.name) === e.state) continue;
      const took = e.state === NS_MIGRATED ? since(e.name, 'movedAt') : e.state === NS_ROLLED_BACK ? since(e.name, 'returnedAt') : undefined;
      if (took !== undefined && took >= 0) this.d.metrics?.namespaceDone(e.state === NS_MIGRATED ? 'forward' : 'rollback', took);
      if (e.state === NS_MIGRATED) void this.d.events.normal(ref, 'NamespaceMigrated', `namespace ${e.name} moved from ${e.from} to ${mrev.spec.revision}; ${e.verified ?? 0} workload(s) verified`);
      if (e.state === NS_ROLLED_BACK) void this.d.events.normal(ref, 'NamespaceRolledBack', `namespace ${e.name} returned to ${e.from}`);
      if (e.state === NS_FAILED) void this.d.events.warning(ref, 'NamespaceFailed', `namespace ${e.name}: ${e.message ?? 'failed'}`);
    }
  }
}
