// The migration executor, called by the MeshRevision reconcile:
// gather → decide → apply.
//
//   gather  reads the caches and runs the I/O a decision asks for (admission
//           dry runs, the injector probe, the health checks that are due);
//   decide  is policy/migration-decide: pure, table-tested, shared with `meshrev plan`;
//   apply   sends the namespace patches, then the workload restarts, with
//           bounded concurrency, and emits the events and metrics decided.
//
// Everything it needs to resume lives in the cluster (see policy/migration-decide);
// an operator killed at any point decides the same again and goes on; a
// stamped workload is never restarted twice.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import PQueue from 'p-queue';
import type { CheckInstance, Measurement } from '../api/health.js';
import type { MeshRevision } from '../api/meshrevision.js';
import { MIGRATION_PHASE_ROLLING_BACK, type MigrationStatus } from '../api/migration.js';
import type { MigrationMetrics } from '../health/metrics.js';
import type { InjectionProbe } from '../kube/admission-probe.js';
import type { KubeWriter } from '../kube/apply.js';
import type { EventRecorder } from '../kube/events.js';
import type { Store } from '../kube/informer.js';
import { formatTime } from '../policy/conditions.js';
import {
  decide,
  type AdmissionRequest,
  type AdmissionResult,
  type MigrationDecision,
  type MigrationObservation,
  type MigrationResult,
  type Needs,
} from '../policy/migration-decide.js';
import type { Workload } from '../api/workload.js';
import { hasTargetLabels, readOrigin } from '../policy/migration.js';
import type { RevisionResolver } from '../policy/routing.js';
import { stampRestart } from '../policy/migration-patches.js';
import type { Logger } from '../runtime/logger.js';
import type { RevisionMemo, RevisionMemos } from './memo.js';

export type { MigrationResult } from '../policy/migration-decide.js';

/** Namespace writes (relabels, restores, records) sent at once. */
const NAMESPACE_WRITE_CONCURRENCY = 10;

/** Dry-run pods sent at once (one per namespace waiting to restart its workloads). */
const ADMISSION_PROBE_CONCURRENCY = 10;

/**
 * Gather rounds per decision at most: dry runs, then checks and the injector, then the dry runs of
 * namespaces a forced rollback sends back. A decision still lacking something after that waits
 * (it requeues soon).
 */
const MAX_GATHER_ROUNDS = 4;

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

/** The caches a migration reads (informers' read side). */
export interface Stores {
  namespaces: Pick<Store<V1Namespace>, 'list' | 'get'>;
  /** lastSyncResourceVersion: a workload newer than it is not judged on its pods yet. */
  pods: Pick<Store<V1Pod>, 'list'> & Partial<Pick<Store<V1Pod>, 'lastSyncResourceVersion'>>;
  workloads(namespace: string): Workload[];
}

/** The I/O a decision may ask for; src/gates and kube/admission-probe implement them, tests pass fakes. */
export interface Observers {
  /** Built-in gate: undefined when the target revision's injector is reachable, else why not. */
  probeInjector(mrev: MeshRevision): Promise<string | undefined>;
  /** Takes one measurement of a user-defined check; never throws. */
  runCheck(instance: CheckInstance): Promise<Measurement>;
  /** Dry-runs a pod of a workload's template in a namespace: which revision would inject it now. */
  probeAdmission: InjectionProbe;
}

export interface MigrationDeps extends Observers {
  stores: Stores;
  writer: Pick<KubeWriter, 'mergePatch'>;
  events: Pick<EventRecorder, 'normal' | 'warning'>;
  metrics: MigrationMetrics;
  memos: RevisionMemos;
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

/**
 * The status to write so the next reconcile returns every moved namespace to its origin and the
 * migration stays rolled back until the spec changes.
 */
export function requestRollback(status: MigrationStatus | undefined, generation: number | undefined, reason: string): MigrationStatus {
  return { ...(status ?? {}), generation, phase: MIGRATION_PHASE_ROLLING_BACK, rollbackReason: reason };
}

function eventRef(mrev: MeshRevision) {
  return { apiVersion: mrev.apiVersion ?? 'meshrev.io/v1alpha1', kind: mrev.kind ?? 'MeshRevision', metadata: { name: mrev.metadata.name, uid: mrev.metadata.uid } };
}

/** What this reconcile gathered so far; a second decision in the same reconcile reuses it. */
interface Gathered {
  admission: Map<string, AdmissionResult>;
  measurements: Map<string, Measurement>;
  injector?: { blocked?: string };
}

export class MigrationExecutor {
  constructor(private readonly d: MigrationDeps) {}

  async reconcile(input: MigrationInput): Promise<MigrationResult | undefined> {
    const gathered: Gathered = { admission: new Map(), measurements: new Map() };
    let decision = await this.decideObserved(input, gathered);
    if (decision === undefined) return undefined;
    await this.applyNamespacePatches(decision, input.log);
    // Namespaces relabelled just now (the caches hold our writes): decide again at once, so their
    // dry runs run and their restarts go out in this reconcile instead of the next.
    if (decision.started.length > 0 && !input.mrev.spec.migration?.paused && this.reflected(input.mrev, decision.started)) {
      decision = (await this.decideObserved(input, gathered)) ?? decision;
      await this.applyNamespacePatches(decision, input.log);
    }
    await this.applyRestarts(decision, input);
    this.report(input, decision);
    // Only the reconcile's last decision, once applied: the next one announces what changed since.
    const memo = this.d.memos.of(input.mrev);
    memo.known = { generation: input.mrev.metadata.generation, entries: new Map(decision.entries.map((e) => [e.name, e])) };
    if (decision.checks) memo.knownChecks = { generation: input.mrev.metadata.generation, ...decision.checks };
    else delete memo.knownChecks;
    return decision.result;
  }

  /** Decides, gathering what each decision asks for, until it asks for nothing more. */
  private async decideObserved(input: MigrationInput, g: Gathered): Promise<MigrationDecision | undefined> {
    const memo = this.d.memos.of(input.mrev);
    for (let round = 1; ; round++) {
      const d = decide(this.observe(input, g, memo));
      if (d === undefined) return undefined;
      memo.admission = d.memo;
      if (round >= MAX_GATHER_ROUNDS || !lacks(d.needs)) return d;
      // Dry runs first: one that fails a namespace closes the gates the others would open.
      if (d.needs.admission.length > 0) await this.gatherAdmission(d.needs.admission, g, input.log);
      else await this.gatherGates(input.mrev, d.needs, g);
    }
  }

  private observe(input: MigrationInput, g: Gathered, { admission: memo, known, knownChecks }: RevisionMemo): MigrationObservation {
    const { stores } = this.d;
    const podsResourceVersion = stores.pods.lastSyncResourceVersion?.();
    return {
      mrev: input.mrev,
      now: input.now,
      deleting: input.deleting,
      resolve: input.resolve,
      view: {
        namespaces: stores.namespaces.list(),
        workloads: (ns) => stores.workloads(ns),
        pods: (ns) => stores.pods.list(ns),
        ...(podsResourceVersion !== undefined ? { podsResourceVersion } : {}),
      },
      memo,
      ...(known !== undefined ? { known } : {}),
      ...(knownChecks !== undefined ? { knownChecks } : {}),
      admission: g.admission,
      measurements: g.measurements,
      ...(g.injector ? { injector: g.injector } : {}),
    };
  }

  private async gatherAdmission(requests: readonly AdmissionRequest[], g: Gathered, log: Logger): Promise<void> {
    await runBounded(
      requests.map((r) => async () => {
        // The cache holds a projected template (kube/projections); the probe GETs the whole one, this is its fallback.
        const cached = this.d.stores.workloads(r.namespace).find((w) => w.kind === r.workload.kind && w.metadata?.name === r.workload.name)?.spec?.template;
        const result = await this.d.probeAdmission(r.namespace, r.workload, cached);
        if (result.error !== undefined) log.debug('admission probe failed; falling back to the settle time', { namespace: r.namespace, error: result.error });
        g.admission.set(r.namespace, result);
      }),
      ADMISSION_PROBE_CONCURRENCY,
    );
  }

  private async gatherGates(mrev: MeshRevision, needs: Needs, g: Gathered): Promise<void> {
    await Promise.all([
      ...needs.checks.map(async (inst) => g.measurements.set(inst.key, await this.d.runCheck(inst))),
      needs.injector ? this.d.probeInjector(mrev).then((blocked) => (g.injector = blocked === undefined ? {} : { blocked })) : undefined,
    ]);
  }

  /** Whether the caches already show this MeshRevision's relabel of every namespace started. */
  private reflected(mrev: MeshRevision, started: readonly string[]): boolean {
    return started.every((n) => {
      const ns = this.d.stores.namespaces.get(n);
      return ns !== undefined && readOrigin(ns)?.meshRevision === mrev.metadata.name && hasTargetLabels(ns, mrev.spec.revision);
    });
  }

  private async applyNamespacePatches(d: MigrationDecision, log: Logger): Promise<void> {
    await runBounded(
      d.namespacePatches.map((p) => async () => {
        if (p.kind === 'relabelToTarget' || p.kind === 'restoreOrigin') log.info('relabelling namespace', { namespace: p.namespace, change: p.kind });
        await this.d.writer.mergePatch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: p.namespace } }, p.body);
      }),
      NAMESPACE_WRITE_CONCURRENCY,
    );
  }

  private async applyRestarts(d: MigrationDecision, input: MigrationInput): Promise<void> {
    const stamp = formatTime(input.now);
    await runBounded(
      d.restarts.map(({ ref, expected }) => async () => {
        input.log.info('restarting workload', { workload: `${ref.kind} ${ref.namespace}/${ref.name}`, revision: expected });
        await this.d.writer.mergePatch({ apiVersion: 'apps/v1', kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } }, stampRestart(ref, expected, stamp));
      }),
      d.restartConcurrency,
    );
  }

  /** Events, metrics and logs of a decision, once its writes are made. */
  private report(input: MigrationInput, d: MigrationDecision): void {
    const { mrev, log } = input;
    const name = mrev.metadata.name!;
    for (const e of d.events) {
      if (e.type === 'Warning') {
        log.warn(e.message, { reason: e.reason });
        void this.d.events.warning(eventRef(mrev), e.reason, e.message);
      } else {
        void this.d.events.normal(eventRef(mrev), e.reason, e.message);
      }
    }
    for (const f of d.gateFailures) this.d.metrics.gateFailed(name, f.gate, f.action);
    for (const a of d.arrivals) this.d.metrics.namespaceDone(a.direction, a.seconds);
    const byState: Record<string, number> = {};
    for (const e of d.entries) byState[e.state] = (byState[e.state] ?? 0) + 1;
    this.d.metrics.observe(name, d.result.status.phase, byState);
  }
}

function lacks(n: Needs): boolean {
  return n.admission.length > 0 || n.checks.length > 0 || n.injector;
}
