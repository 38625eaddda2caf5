// The migration's decision as a table (policy/migration-decide): one row per
// direction × gate × pause/suspend/block × onFailure situation, each stating
// what one reconcile decides — phase, namespace patches, restarts, events,
// what it still needs to observe, when to look again. No cluster, no I/O:
// every object is a literal built by the factories below. The same flows run
// against the real API server in test/e2e/.
import type { V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { CheckState, HealthChecksSpec, Measurement } from '../../../src/api/health.js';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import type { MigrationFailurePolicy, MigrationSpec, MigrationStatus, NamespaceMigrationStatus, NamespaceOrigin } from '../../../src/api/migration.js';
import type { Workload } from '../../../src/api/workload.js';
import { decide, listedNamespaces, type AdmissionMemo, type AdmissionResult, type MigrationDecision } from '../../../src/policy/migration-decide.js';
import { MAX_LISTED_NAMESPACES } from '../../../src/api/migration.js';
import { MAX_LISTED_CHECK_STATES } from '../../../src/api/health.js';

const MREV = 'canary';
const TARGET = '1-21';
const OLD = '1-20';
const GEN = 3;
const NOW = new Date('2026-12-02T10:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------
// The world: namespaces a, b (step 1) and c, d (step 2), each with a Deployment "web".

type Where =
  /** istio-injection=enabled, untouched. */
  | 'pending'
  /** Relabelled to the target 60 s ago. */
  | 'moved'
  /** Relabelled just now (within the settle time). */
  | 'justMoved'
  /** Origin labels restored 60 s ago (rolling back). */
  | 'returning'
  /** Fully back, recorded rolledBackAt. */
  | 'returned';

type Web =
  /** Pods on the old revision, never restarted. */
  | 'old'
  /** Restarted for the target 10 s ago, rollout running. */
  | 'rolling'
  /** Restarted for the target, complete, pods on the target. */
  | 'done'
  /** Restarted for the target; its new pods crash-loop. */
  | 'crash'
  /** Restarted for the target 700 s ago (past the 600 s deadline), rollout running. */
  | 'overdue'
  /** Restarted for the target 700 s ago, done; then its owners changed the template (an app deploy), rollout running. */
  | 'appDeploy'
  /** Restarted back to the old revision, complete. */
  | 'back'
  /** Stamped for the target by an earlier generation (900 s ago, before this relabel) whose new pods were never created; complete, pods on the old revision. */
  | 'staleStamp';

interface NsSpec {
  where: Where;
  web: Web;
  /** rollbackReason recorded by a failed gate (for generation GEN unless `gen`). */
  sentBack?: string;
  gen?: number;
  /** Injection labels someone else set after meshrev's relabel. */
  labels?: Record<string, string>;
  /** The MeshRevision uid the origin record names (a record copied from elsewhere names another). */
  uid?: string;
  /** The step recorded in the origin (records written before bounded status have none). */
  step?: number;
}

function origin(s: NsSpec): NamespaceOrigin {
  const o: NamespaceOrigin = { meshRevision: MREV, revision: TARGET, labels: { 'istio-injection': 'enabled' }, movedAt: ago(s.where === 'justMoved' ? 1 : s.web === 'overdue' || s.web === 'appDeploy' ? 800 : 60) };
  if (s.where === 'returning' || s.where === 'returned') o.returnedAt = ago(50);
  if (s.where === 'returned') o.rolledBackAt = ago(40);
  if (s.uid !== undefined) o.uid = s.uid;
  if (s.step !== undefined) o.step = s.step;
  if (s.sentBack !== undefined) {
    o.rollbackReason = s.sentBack;
    o.rollbackGeneration = s.gen ?? GEN;
  }
  return o;
}

function namespace(name: string, s: NsSpec): V1Namespace {
  if (s.where === 'pending') return { metadata: { name, resourceVersion: '5', labels: { 'istio-injection': 'enabled' } } };
  const back = s.where === 'returning' || s.where === 'returned';
  return {
    metadata: {
      name,
      resourceVersion: '6',
      labels: s.labels ?? (back ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': TARGET }),
      annotations: { 'meshrev.io/origin': JSON.stringify(origin(s)) },
    },
  };
}

function web(ns: string, w: Web): { workload: Workload; pods: V1Pod[] } {
  const stampFor = w === 'old' ? undefined : w === 'back' ? OLD : TARGET;
  const restartedAgo = w === 'overdue' || w === 'appDeploy' ? 700 : w === 'staleStamp' ? 900 : 10;
  const complete = w === 'done' || w === 'back' || w === 'old' || w === 'staleStamp';
  const podRev = w === 'old' || w === 'back' || w === 'rolling' || w === 'overdue' || w === 'staleStamp' ? OLD : TARGET;
  const d: V1Deployment = {
    metadata: { name: 'web', namespace: ns, generation: 2, resourceVersion: '20' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: {
          labels: { app: 'web' },
          ...(stampFor ? { annotations: { 'meshrev.io/restarted-for': stampFor, 'kubectl.kubernetes.io/restartedAt': ago(restartedAgo) } } : {}),
        },
        spec: { containers: [{ name: 'app', image: w === 'appDeploy' ? 'app:2' : 'app:1' }] },
      },
    },
    status: complete
      ? { observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }
      : { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
  const pod: V1Pod = {
    metadata: { name: 'web-1', namespace: ns, labels: { app: 'web' }, annotations: { 'istio.io/rev': podRev } },
    status: {
      phase: 'Running',
      ...(w === 'crash' ? { containerStatuses: [{ name: 'app', image: 'app:1', imageID: '', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } : {}),
    },
  };
  return { workload: { ...d, kind: 'Deployment' }, pods: [pod] };
}

interface World {
  ns: Record<string, NsSpec>;
  spec?: Partial<MigrationSpec> | null;
  status?: MigrationStatus;
  healthChecks?: HealthChecksSpec;
  checkStates?: CheckState[];
  deleting?: boolean;
  generation?: number;
  admission?: Record<string, AdmissionResult>;
  memo?: Record<string, AdmissionMemo>;
  /** undefined: not gathered; null: reachable; a string: blocked. */
  injector?: string | null;
  measurements?: Record<string, Measurement>;
  /** What this process decided last, "name=State" (MigrationObservation.known), for generation GEN. */
  known?: string[];
  /** Every check state of step 1 as this process decided it last (MigrationObservation.knownChecks), for generation GEN. */
  knownChecks?: CheckState[];
}

const STEPS = [{ namespaces: 2, pause: '1m' }];

function run(w: World): MigrationDecision | undefined {
  const names = Object.keys(w.ns);
  const parts = new Map(names.map((n) => [n, web(n, w.ns[n]!.web)]));
  const spec: MigrationSpec | undefined = w.spec === null ? undefined : { from: ['default'], steps: STEPS, ...(w.spec ?? {}) };
  const mrev: MeshRevision = {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: MREV, uid: 'u1', generation: w.generation ?? GEN },
    spec: {
      revision: TARGET,
      injector: { url: 'https://127.0.0.1:1/inject' },
      ...(spec ? { migration: spec } : {}),
      ...(w.healthChecks ? { healthChecks: w.healthChecks } : {}),
    },
    ...(w.status || w.checkStates ? { status: { ...(w.status ? { migration: w.status } : {}), ...(w.checkStates ? { healthChecks: { step: 1, checks: w.checkStates } } : {}) } } : {}),
  };
  return decide({
    mrev,
    now: NOW,
    deleting: w.deleting ?? false,
    resolve: (v) => (v === 'default' ? OLD : v),
    view: {
      namespaces: names.map((n) => namespace(n, w.ns[n]!)),
      workloads: (n) => (parts.get(n) ? [parts.get(n)!.workload] : []),
      pods: (n) => parts.get(n)?.pods ?? [],
    },
    memo: new Map(Object.entries(w.memo ?? {})),
    ...(w.known
      ? { known: { generation: GEN, entries: new Map(w.known.map((k) => { const [name, state] = k.split('=') as [string, NamespaceMigrationStatus['state']]; return [name, { name, state, step: 1 }]; })) } }
      : {}),
    ...(w.knownChecks ? { knownChecks: { generation: GEN, step: 1, states: w.knownChecks } } : {}),
    admission: new Map(Object.entries(w.admission ?? {})),
    ...(w.injector !== undefined ? { injector: w.injector === null ? {} : { blocked: w.injector } } : {}),
    measurements: new Map(Object.entries(w.measurements ?? {})),
  });
}

// ---------------------------------------------------------------------------
// Shorthands for worlds

const pending: NsSpec = { where: 'pending', web: 'old' };
const migrated: NsSpec = { where: 'moved', web: 'done' };
const rolling: NsSpec = { where: 'moved', web: 'rolling' };
const crashing: NsSpec = { where: 'moved', web: 'crash' };
const heldForAdmission: NsSpec = { where: 'justMoved', web: 'old' };
const returnedBack: NsSpec = { where: 'returning', web: 'back' };
const fullyReturned: NsSpec = { where: 'returned', web: 'back' };

/** Step 1 (a, b) verified `s` seconds ago, per the last status. */
function step1DoneAgo(s: number, phase = 'Progressing'): MigrationStatus {
  return {
    generation: GEN,
    phase: phase as MigrationStatus['phase'],
    steps: [{ index: 1, target: 2, completedAt: ago(s) }, { index: 2, target: 4 }],
    namespaces: [
      { name: 'a', state: 'Migrated', step: 1 },
      { name: 'b', state: 'Migrated', step: 1 },
    ],
  };
}

const allMigrated = { a: migrated, b: migrated, c: migrated, d: migrated };
const succeeded: MigrationStatus = {
  generation: GEN,
  phase: 'Succeeded',
  steps: [{ index: 1, target: 2, completedAt: ago(900) }, { index: 2, target: 4, completedAt: ago(800) }],
  namespaces: ['a', 'b', 'c', 'd'].map((n, i) => ({ name: n, state: 'Migrated' as const, step: i < 2 ? 1 : 2 })),
  finishedAt: ago(800),
};

const errorRate: HealthChecksSpec = { prometheus: [{ name: 'error-rate', address: 'http://127.0.0.1:9090', query: 'x', max: 0.01, failureThreshold: 1, interval: '10s' }] };
const checkKey = 'prometheus/error-rate';
const checkPending: CheckState[] = [{ name: 'error-rate', kind: 'prometheus', phase: 'Pending', consecutiveFailures: 0 }];

// ---------------------------------------------------------------------------
// Expectations

interface Expect {
  phase?: string;
  /** "namespace:patchKind", sorted. */
  patches?: string[];
  /** "namespace/web→revision", sorted. */
  restarts?: string[];
  started?: string[];
  /** Event reasons, in order. */
  events?: string[];
  /** Their types (Normal / Warning), in order. */
  eventTypes?: string[];
  /** Patterns some event message must match. */
  eventMessages?: RegExp[];
  needs?: { admission?: string[]; checks?: string[]; injector?: boolean };
  /** Every namespace's state as decided (MigrationDecision.entries), "name=State". */
  states?: string[];
  /** The namespaces status.migration lists (moving, failed, returned), "name=State". */
  listed?: string[];
  /** status.migration.counts.migrated */
  migrated?: number;
  /** NamespaceMigrated / NamespaceRolledBack arrivals reported for the metrics. */
  arrivals?: number;
  requeueAfterMs?: number | 'none';
  blocked?: RegExp;
  rollbackReason?: RegExp;
  /** status.migration.rollbackRequested: who asked for the rollback (a person, or a failed gate). */
  rollbackRequested?: boolean;
  allReturned?: boolean;
  currentStep?: number;
  /** decide returns undefined: no migration and nothing moved. */
  nothing?: true;
  /** The uid recorded in the origin of the first relabelToTarget patch. */
  originUid?: string;
  /** The step recorded in the origin of the first relabelToTarget patch. */
  originStep?: number;
}

interface Row {
  name: string;
  world: World;
  want: Expect;
}

const POLICIES: MigrationFailurePolicy[] = ['rollbackNamespace', 'rollbackStep', 'rollbackAll', 'pause'];

/** What each onFailure policy sends back when `a` fails in step 1 (a, b moved) and c is pending. */
const SENT_BACK_BY_POLICY: Record<MigrationFailurePolicy, { phase: string; patches: string[] }> = {
  rollbackNamespace: { phase: 'Failed', patches: ['a:markSentBack'] },
  rollbackStep: { phase: 'Failed', patches: ['a:markSentBack', 'b:markSentBack'] },
  rollbackAll: { phase: 'RollingBack', patches: ['a:restoreOrigin', 'b:restoreOrigin'] },
  pause: { phase: 'Failed', patches: [] },
};

const rows: Row[] = [
  // ---- forward, no gate involved
  { name: 'starts the first namespace of step 1 once the injector answers', world: { ns: { a: pending, b: pending, c: pending, d: pending }, injector: null }, want: { phase: 'Progressing', patches: ['a:relabelToTarget'], started: ['a'], restarts: [], needs: {}, currentStep: 1, states: ['a=Migrating', 'b=Pending', 'c=Pending', 'd=Pending'] } },
  { name: 'asks for the injector gate before starting anything', world: { ns: { a: pending, b: pending } }, want: { needs: { injector: true } } },
  { name: 'starts as many namespaces as maxConcurrentNamespaces allows, within the step', world: { ns: { a: pending, b: pending, c: pending, d: pending }, spec: { maxConcurrentNamespaces: 3 }, injector: null }, want: { started: ['a', 'b'], patches: ['a:relabelToTarget', 'b:relabelToTarget'] } },
  { name: 'asks for a dry run before restarting the workloads of a namespace just relabelled', world: { ns: { a: heldForAdmission, b: pending }, injector: null }, want: { needs: { admission: ['a'] }, restarts: [], requeueAfterMs: 250, states: ['a=Migrating', 'b=Pending'] } },
  { name: 'restarts a relabelled namespace\'s workloads once a dry-run pod is injected by the target', world: { ns: { a: heldForAdmission, b: pending }, injector: null, admission: { a: { revision: TARGET } } }, want: { restarts: ['a/web→1-21'], needs: {}, phase: 'Progressing' } },
  { name: 'holds the restarts while a dry-run pod is still injected by the old revision', world: { ns: { a: heldForAdmission, b: pending }, injector: null, admission: { a: { revision: OLD } } }, want: { restarts: [], requeueAfterMs: 250, phase: 'Progressing' } },
  { name: 'falls back to the settle time when the dry run itself fails', world: { ns: { a: { where: 'moved', web: 'old' }, b: pending }, injector: null, admission: { a: { error: 'quota' } } }, want: { restarts: ['a/web→1-21'] } },
  { name: 'restarts without a dry run when this relabel was already confirmed', world: { ns: { a: heldForAdmission, b: pending }, injector: null, memo: { a: { confirmed: { since: ago(1), expected: TARGET } } } }, want: { restarts: ['a/web→1-21'], needs: {} } },
  { name: 'keeps restarts within maxConcurrentRestarts less the rollouts running', world: { ns: { a: rolling, b: { where: 'moved', web: 'old' } }, spec: { maxConcurrentRestarts: 1, maxConcurrentNamespaces: 2 }, injector: null, memo: { b: { confirmed: { since: ago(60), expected: TARGET } } } }, want: { restarts: [], states: ['a=Migrating', 'b=Migrating'] } },
  { name: 'waits for step 1 to complete while its rollouts run', world: { ns: { a: rolling, b: migrated, c: pending, d: pending }, spec: { maxConcurrentNamespaces: 2 }, injector: null }, want: { phase: 'Progressing', started: [], patches: [], requeueAfterMs: 2000, currentStep: 1 } },
  { name: 'soaks in a timed pause after step 1 and looks again when it ends', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, status: step1DoneAgo(30), injector: null }, want: { phase: 'Paused', started: [], requeueAfterMs: 30_000, currentStep: 1 } },
  { name: 'starts step 2 when the pause is over', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, status: step1DoneAgo(61), injector: null }, want: { phase: 'Progressing', started: ['c'], currentStep: 2 } },
  { name: 'awaits promotion after a step with an indefinite pause', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { steps: [{ namespaces: 2, pause: 'indefinite' }] }, status: step1DoneAgo(5), injector: null }, want: { phase: 'AwaitingPromotion', started: [], currentStep: 1, requeueAfterMs: 'none' } },
  { name: 'goes on once the step is promoted', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { steps: [{ namespaces: 2, pause: 'indefinite' }], promotedStep: 1 }, status: step1DoneAgo(5), injector: null }, want: { phase: 'Progressing', started: ['c'] } },
  { name: 'is Suspended while spec.migration.paused, starting nothing', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { paused: true }, status: step1DoneAgo(600) }, want: { phase: 'Suspended', started: [], needs: {} } },
  { name: 'finishes what is in flight while suspended', world: { ns: { a: { where: 'moved', web: 'old' }, b: pending }, spec: { paused: true }, memo: { a: { confirmed: { since: ago(60), expected: TARGET } } } }, want: { phase: 'Suspended', restarts: ['a/web→1-21'] } },
  { name: 'succeeds when every namespace is verified on the target', world: { ns: allMigrated, status: { ...step1DoneAgo(120), namespaces: [...step1DoneAgo(120).namespaces!, { name: 'c', state: 'Migrating', step: 2 }, { name: 'd', state: 'Migrating', step: 2 }] }, injector: null }, want: { phase: 'Succeeded', started: [], patches: [], restarts: [], events: ['NamespaceMigrated', 'NamespaceMigrated', 'StepCompleted', 'MigrationSucceeded'], states: ['a=Migrated', 'b=Migrated', 'c=Migrated', 'd=Migrated'] } },
  { name: 'a succeeded migration with nothing to do writes nothing and needs nothing', world: { ns: allMigrated, status: succeeded }, want: { phase: 'Succeeded', patches: [], restarts: [], events: [], needs: {}, requeueAfterMs: 'none' } },
  { name: 'has succeeded at once when no namespace is eligible (0/0)', world: { ns: {}, injector: null }, want: { phase: 'Succeeded', patches: [], started: [] } },
  { name: 'puts back the target label when someone points a migrated namespace at another revision', world: { ns: { a: { ...migrated, labels: { 'istio.io/rev': OLD } }, b: migrated }, injector: null }, want: { phase: 'Progressing', patches: ['a:relabelToTarget'], states: ['a=Migrating', 'b=Migrated'] } },

  // ---- the injector gate
  { name: 'blocks new namespaces while the target injector cannot answer', world: { ns: { a: pending, b: pending }, injector: 'connection refused' }, want: { phase: 'Progressing', started: [], patches: [], events: ['InjectorUnreachable'], blocked: /connection refused/, requeueAfterMs: 5000 } },
  { name: 'holds released restarts while the target injector cannot answer', world: { ns: { a: heldForAdmission, b: pending }, injector: 'connection refused', admission: { a: { revision: TARGET } } }, want: { restarts: [], blocked: /connection refused/ } },
  { name: 'does not probe the injector for a migration going back', world: { ns: { a: migrated }, spec: { rollback: { all: true } } }, want: { needs: {}, phase: 'RollingBack', patches: ['a:restoreOrigin'] } },
  { name: 'does not probe the injector while suspended with nothing in flight', world: { ns: { a: migrated, b: pending }, spec: { paused: true } }, want: { needs: {}, phase: 'Suspended' } },

  // ---- the built-in workload gate, per onFailure
  ...POLICIES.map((p): Row => ({
    name: `a crash-looping workload in step 1 under onFailure ${p}`,
    world: { ns: { a: crashing, b: migrated, c: pending, d: pending }, spec: { onFailure: p, maxConcurrentNamespaces: 2 }, injector: null },
    want: { phase: SENT_BACK_BY_POLICY[p].phase, patches: SENT_BACK_BY_POLICY[p].patches, started: [], events: [...(p === 'pause' ? ['NamespaceFailed'] : ['HealthGateFailed']), p === 'rollbackAll' ? 'MigrationRollingBack' : 'MigrationFailed'], rollbackReason: p === 'pause' ? undefined : /CrashLoopBackOff/, ...(p === 'pause' ? {} : { rollbackRequested: false }) },
  })),
  ...POLICIES.map((p): Row => ({
    name: `a rollout past its deadline under onFailure ${p}`,
    world: { ns: { a: { where: 'moved', web: 'overdue' }, b: migrated, c: pending, d: pending }, spec: { onFailure: p, maxConcurrentNamespaces: 2 }, injector: null },
    want: { phase: SENT_BACK_BY_POLICY[p].phase, patches: SENT_BACK_BY_POLICY[p].patches, started: [] },
  })),
  ...POLICIES.map((p): Row => ({
    name: `a namespace the admission chain keeps injecting with another revision past the deadline under onFailure ${p}`,
    world: { ns: { a: { where: 'moved', web: 'old' }, b: migrated, c: pending }, spec: { onFailure: p, maxConcurrentNamespaces: 2 }, injector: null, admission: { a: { revision: null } }, memo: { a: { mismatch: { since: ago(60), expected: TARGET, firstAt: NOW.getTime() - 31_000 } } } },
    want: { phase: SENT_BACK_BY_POLICY[p].phase, patches: SENT_BACK_BY_POLICY[p].patches, restarts: p === 'rollbackAll' ? [] : [] },
  })),

  // ---- user-defined checks gate the step after it completed, per onFailure
  { name: 'asks for the checks that are due during a step\'s soak', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, status: step1DoneAgo(5), healthChecks: errorRate, checkStates: checkPending, injector: null }, want: { needs: { checks: [checkKey] }, phase: 'Paused' } },
  { name: 'holds the next step until the checks pass', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, status: step1DoneAgo(61), healthChecks: { prometheus: [{ ...errorRate.prometheus![0]!, failureThreshold: 3 }] }, checkStates: checkPending, injector: null, measurements: { [checkKey]: { kind: 'value', value: 0.5 } } }, want: { phase: 'Paused', started: [], blocked: /waiting for health checks/ } },
  { name: 'starts the next step once the checks pass', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, status: step1DoneAgo(61), healthChecks: errorRate, checkStates: checkPending, injector: null, measurements: { [checkKey]: { kind: 'value', value: 0 } } }, want: { phase: 'Progressing', started: ['c'] } },
  ...POLICIES.map((p): Row => ({
    name: `a failed check after step 1 under onFailure ${p}`,
    world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { onFailure: p }, status: step1DoneAgo(61), healthChecks: errorRate, checkStates: checkPending, injector: null, measurements: { [checkKey]: { kind: 'value', value: 0.5 } } },
    want: {
      phase: p === 'rollbackAll' ? 'RollingBack' : 'Failed',
      patches: p === 'pause' ? [] : p === 'rollbackAll' ? ['a:restoreOrigin', 'b:restoreOrigin'] : ['a:markSentBack', 'b:markSentBack'],
      events: ['HealthCheckFailed', p === 'rollbackAll' ? 'MigrationRollingBack' : 'MigrationFailed'],
      started: [],
      rollbackReason: /health check failed/,
      rollbackRequested: false,
    },
  })),
  { name: 'runs no checks once the migration succeeded', world: { ns: allMigrated, status: succeeded, healthChecks: errorRate, checkStates: checkPending }, want: { needs: {}, phase: 'Succeeded' } },

  // ---- going back
  { name: 'restores the origin labels of every moved namespace on rollback.all', world: { ns: { a: migrated, b: migrated, c: pending }, spec: { rollback: { all: true } } }, want: { phase: 'RollingBack', patches: ['a:restoreOrigin', 'b:restoreOrigin'], rollbackReason: /rollback.all is true/, rollbackRequested: true, states: ['a=RollingBack', 'b=RollingBack'], events: ['MigrationRollingBack'] } },
  { name: 'asks for a dry run before restarting a returned namespace\'s workloads back', world: { ns: { a: { where: 'returning', web: 'done' } }, spec: { rollback: { all: true } } }, want: { needs: { admission: ['a'] }, restarts: [] } },
  { name: 'restarts a returned namespace\'s workloads back to the origin revision once confirmed', world: { ns: { a: { where: 'returning', web: 'done' } }, spec: { rollback: { all: true } }, admission: { a: { revision: OLD } } }, want: { restarts: ['a/web→1-20'], phase: 'RollingBack' } },
  { name: 'records a namespace as returned once its workloads run the origin revision', world: { ns: { a: returnedBack }, spec: { rollback: { all: true } } }, want: { patches: ['a:markReturned'], phase: 'RolledBack', allReturned: true, events: ['NamespaceRolledBack', 'MigrationRolledBack'], rollbackRequested: true } },
  { name: 'is RolledBack, writing nothing, when every namespace is recorded back', world: { ns: { a: fullyReturned, b: fullyReturned }, spec: { rollback: { all: true } } }, want: { phase: 'RolledBack', patches: [], allReturned: true } },
  { name: 'returns only the namespaces listed in rollback.namespaces, starting nothing new while one is in flight', world: { ns: { a: migrated, b: migrated, c: pending }, spec: { rollback: { namespaces: ['a'] } }, status: step1DoneAgo(120), injector: null }, want: { phase: 'Progressing', patches: ['a:restoreOrigin'], started: [], states: ['a=RollingBack', 'b=Migrated', 'c=Pending'], rollbackRequested: true } },
  { name: 'goes on with the others once a listed namespace is back', world: { ns: { a: fullyReturned, b: migrated, c: pending }, spec: { rollback: { namespaces: ['a'] } }, status: step1DoneAgo(120), injector: null }, want: { phase: 'Progressing', patches: ['c:relabelToTarget'], started: ['c'] } },
  { name: 'returns everything when spec.migration is removed', world: { ns: { a: migrated }, spec: null }, want: { phase: 'RollingBack', patches: ['a:restoreOrigin'], rollbackReason: /spec.migration was removed/, rollbackRequested: true } },
  { name: 'decides nothing without a migration when nothing was moved', world: { ns: { a: pending }, spec: null }, want: { nothing: true } },
  { name: 'returns every namespace while the MeshRevision is deleted', world: { ns: { a: migrated, b: returnedBack }, deleting: true }, want: { patches: ['a:restoreOrigin', 'b:forgetOrigin'], rollbackReason: /being deleted/, rollbackRequested: true, allReturned: false } },
  { name: 'forgets its records on returned namespaces while the MeshRevision is deleted', world: { ns: { a: fullyReturned }, deleting: true }, want: { patches: ['a:forgetOrigin'], allReturned: true } },
  { name: 'keeps going back after an automatic rollback recorded for this generation, whatever the spec says', world: { ns: { a: { ...migrated, sentBack: 'health gate failed: x' }, b: pending }, injector: null }, want: { phase: 'Failed', patches: ['a:restoreOrigin'], started: [], rollbackReason: /health gate failed: x/, rollbackRequested: false } },
  { name: 'a rollback recorded for an older generation does not stop a new one from moving forward', world: { ns: { a: { ...fullyReturned, sentBack: 'old failure', gen: GEN - 1 }, b: pending }, injector: null, status: { generation: GEN - 1, phase: 'RolledBack' } }, want: { phase: 'Progressing', started: ['a'], patches: ['a:relabelToTarget'] } },
  { name: 'stays Failed for this generation, still saying why: nothing new starts', world: { ns: { a: migrated, b: pending }, status: { generation: GEN, phase: 'Failed', rollbackReason: 'health gate failed: z' } }, want: { phase: 'Failed', started: [], needs: {}, rollbackReason: /health gate failed: z/, rollbackRequested: false, events: [] } },
  // ---- issue 17: gates judge only what the migration is doing, while it is doing it
  { name: 'an app deploy after a succeeded migration rolls back nothing (17.1)', world: { ns: { a: { where: 'moved', web: 'appDeploy' }, b: migrated, c: migrated, d: migrated }, status: succeeded }, want: { phase: 'Succeeded', patches: [], restarts: [], events: [], states: ['a=Migrated', 'b=Migrated', 'c=Migrated', 'd=Migrated'] } },
  // ---- issue 16: bounded status. Only namespaces moving, failed or returned are listed; the rest are
  // counted, and a namespace's state survives in what this process decided (known) and on the cluster.
  { name: 'lists only the namespaces moving in status; counts the migrated and leaves the pending out (16.3)', world: { ns: { a: migrated, b: rolling, c: pending, d: pending }, status: { generation: GEN, phase: 'Progressing', steps: [{ index: 1, target: 2 }, { index: 2, target: 4 }] }, known: ['a=Migrated', 'b=Migrating'], injector: null }, want: { phase: 'Progressing', listed: ['b=Migrating'], migrated: 1, states: ['a=Migrated', 'b=Migrating', 'c=Pending', 'd=Pending'], events: [] } },
  { name: 'announces a namespace verified since the last decision once, from what this process decided (16.3)', world: { ns: { a: migrated, b: rolling, c: pending, d: pending }, status: { generation: GEN, phase: 'Progressing' }, known: ['a=Migrating', 'b=Migrating'], injector: null }, want: { events: ['NamespaceMigrated'], arrivals: 1, listed: ['b=Migrating'] } },
  { name: 'keeps a namespace verified in the current step Migrated through an app deploy, from what this process decided (16.3, 17.1)', world: { ns: { a: { where: 'moved', web: 'appDeploy' }, b: rolling, c: pending, d: pending }, status: { generation: GEN, phase: 'Progressing' }, known: ['a=Migrated', 'b=Migrating'], injector: null }, want: { phase: 'Progressing', restarts: [], patches: [], events: [], states: ['a=Migrated', 'b=Migrating', 'c=Pending', 'd=Pending'] } },
  { name: 'after a restart keeps a namespace of a completed step Migrated from the step its origin records (16.3, 17.1)', world: { ns: { a: { where: 'moved', web: 'appDeploy', step: 1 }, b: { ...migrated, step: 1 }, c: { ...rolling, step: 2 }, d: pending }, status: { ...step1DoneAgo(900), namespaces: [{ name: 'c', state: 'Migrating', step: 2 }] }, injector: null }, want: { phase: 'Progressing', restarts: [], patches: [], events: [], states: ['a=Migrated', 'b=Migrated', 'c=Migrating', 'd=Pending'], listed: ['c=Migrating'] } },
  { name: 'reads a status written before bounded status (every namespace listed) and writes only the moving ones (16.3)', world: { ns: { a: { where: 'moved', web: 'appDeploy' }, b: migrated, c: rolling, d: pending }, status: { ...step1DoneAgo(900), namespaces: [{ name: 'a', state: 'Migrated', step: 1 }, { name: 'b', state: 'Migrated', step: 1 }, { name: 'c', state: 'Migrating', step: 2 }, { name: 'd', state: 'Pending', step: 2 }] }, injector: null }, want: { phase: 'Progressing', restarts: [], patches: [], events: [], states: ['a=Migrated', 'b=Migrated', 'c=Migrating', 'd=Pending'], listed: ['c=Migrating'], migrated: 2 } },
  { name: 'names at most 10 failed namespaces in a failed gate reason and counts the rest: it goes into status and every returned namespace (16.3)', world: { ns: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`n${String(i).padStart(2, '0')}`, crashing])), spec: { steps: [{ percent: 100 }], maxConcurrentNamespaces: 20 }, injector: null }, want: { phase: 'Failed', rollbackReason: /CrashLoopBackOff.*; and 2 more failed namespace\(s\)$/ } },
  { name: 'records the step a namespace moves in on the namespace, with its origin (16.3)', world: { ns: { a: pending, b: pending }, injector: null }, want: { patches: ['a:relabelToTarget'], originStep: 1 } },
  { name: 'does not announce a namespace found Migrated whose last state nothing records (a restarted operator) (16.3)', world: { ns: { a: migrated, b: rolling, c: pending, d: pending }, status: { generation: GEN, phase: 'Progressing', counts: { eligible: 4, migrated: 0, inProgress: 2, failed: 0, rolledBack: 0 } }, injector: null }, want: { events: [], arrivals: 0, states: ['a=Migrated', 'b=Migrating', 'c=Pending', 'd=Pending'] } },
  { name: 'an app deploy in a namespace verified in step 1 does not fail step 2 (17.1)', world: { ns: { a: { where: 'moved', web: 'appDeploy' }, b: migrated, c: rolling, d: pending }, status: { ...step1DoneAgo(900), namespaces: [{ name: 'a', state: 'Migrated', step: 1 }, { name: 'b', state: 'Migrated', step: 1 }, { name: 'c', state: 'Migrating', step: 2 }] }, injector: null }, want: { phase: 'Progressing', patches: [], events: [], states: ['a=Migrated', 'b=Migrated', 'c=Migrating', 'd=Pending'] } },
  { name: 'a crash-looping workload in a namespace verified earlier is its owners\' business (17.1)', world: { ns: { a: crashing, b: migrated, c: migrated, d: migrated }, status: succeeded }, want: { phase: 'Succeeded', patches: [], events: [] } },
  { name: 'a namespace still moving is judged: the same app deploy fails it while the migration moves it (17.1)', world: { ns: { a: { where: 'moved', web: 'appDeploy' }, b: migrated, c: pending, d: pending }, spec: { maxConcurrentNamespaces: 2 }, injector: null }, want: { phase: 'Failed', events: ['HealthGateFailed', 'MigrationFailed'] } },
  { name: 'a retry after a rollback restarts a workload stamped by the earlier generation (17.2)', world: { ns: { a: { where: 'moved', web: 'staleStamp' }, b: pending }, generation: GEN + 1, status: { generation: GEN, phase: 'RolledBack' }, injector: null, memo: { a: { confirmed: { since: ago(60), expected: TARGET } } } }, want: { phase: 'Progressing', restarts: ['a/web→1-21'], events: ['MigrationStarted'], states: ['a=Migrating', 'b=Pending'] } },
  { name: 'respects istio-injection=disabled set on a migrated namespace: forgets its record instead of relabelling (17.5a)', world: { ns: { a: { ...migrated, labels: { 'istio-injection': 'disabled' } }, b: migrated }, status: succeeded }, want: { phase: 'Succeeded', patches: ['a:forgetOrigin'], restarts: [], events: ['NamespaceOptedOut'], states: ['b=Migrated'] } },
  { name: 'does not return a namespace the user disabled on rollback (17.5a)', world: { ns: { a: { ...migrated, labels: { 'istio-injection': 'disabled' } }, b: migrated }, spec: { rollback: { all: true } } }, want: { patches: ['a:forgetOrigin', 'b:restoreOrigin'], states: ['b=RollingBack'] } },
  { name: 'leaves a disabled namespace carrying a copied origin record of another MeshRevision object alone (17.5b)', world: { ns: { a: { ...migrated, labels: { 'istio-injection': 'disabled' }, uid: 'restored-from-backup' }, b: pending }, injector: null }, want: { patches: ['b:relabelToTarget'], started: ['b'], restarts: [], states: ['b=Migrating'] } },
  { name: 'does not trust an origin record written for another MeshRevision object of the same name (17.5b)', world: { ns: { a: { where: 'moved', web: 'old', uid: 'copied' }, b: pending }, spec: { from: ['1-19'] }, injector: null }, want: { patches: [], started: [], restarts: [], states: [] } },
  { name: 'records the MeshRevision uid with a namespace\'s origin', world: { ns: { a: pending }, injector: null }, want: { patches: ['a:relabelToTarget'], originUid: 'u1' } },
  { name: 'stays RolledBack for this generation after an automatic rollback', world: { ns: { a: fullyReturned, b: pending }, status: { generation: GEN, phase: 'RolledBack', rollbackReason: 'health gate failed: y' } }, want: { phase: 'RolledBack', started: [], rollbackReason: /health gate failed: y/, rollbackRequested: false, events: [] } },
  // ---- who asked for a rollback (the status contract), and the migration-level Events, once per transition
  { name: 'keeps a rollback forced by a failed gate automatic while it goes on', world: { ns: { a: { where: 'returning', web: 'done' }, b: returnedBack }, status: { generation: GEN, phase: 'RollingBack', rollbackReason: 'health check failed: error-rate', rollbackRequested: false } }, want: { phase: 'RollingBack', rollbackReason: /health check failed/, rollbackRequested: false } },
  { name: 'announces a rollback forced by a failed gate that completed as a Warning', world: { ns: { a: returnedBack }, status: { generation: GEN, phase: 'RollingBack', rollbackReason: 'health check failed: error-rate', rollbackRequested: false } }, want: { phase: 'RolledBack', rollbackRequested: false, events: ['NamespaceRolledBack', 'MigrationRolledBack'], eventTypes: ['Normal', 'Warning'] } },
  { name: 'keeps a requested rollback requested while it goes on', world: { ns: { a: { where: 'returning', web: 'done' }, b: returnedBack }, status: { generation: GEN, phase: 'RollingBack', rollbackReason: 'spec.migration.rollback.all is true', rollbackRequested: true } }, want: { phase: 'RollingBack', rollbackRequested: true, events: ['NamespaceRolledBack'] } },
  { name: 'judges a rollback carried over from a status written before rollbackRequested by its reason', world: { ns: { a: { where: 'returning', web: 'done' } }, status: { generation: GEN, phase: 'RollingBack', rollbackReason: 'health gate failed: a: crash' } }, want: { rollbackRequested: false } },
  { name: 'announces the start of a migration once its first namespace is relabelled, even after the injector blocked it', world: { ns: { a: heldForAdmission, b: pending }, status: { generation: GEN, phase: 'Progressing', namespaces: [{ name: 'a', state: 'Pending', step: 1 }, { name: 'b', state: 'Pending', step: 1 }] }, injector: null }, want: { phase: 'Progressing', events: ['MigrationStarted'] } },
  { name: 'does not announce the start again while the migration moves', world: { ns: { a: rolling, b: pending }, status: { generation: GEN, phase: 'Progressing', namespaces: [{ name: 'a', state: 'Migrating', step: 1 }, { name: 'b', state: 'Pending', step: 1 }] }, injector: null }, want: { phase: 'Progressing', events: [] } },
  { name: 'announces a completed step, and the promotion it awaits, once', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { steps: [{ namespaces: 2, pause: 'indefinite' }] }, status: { generation: GEN, phase: 'Progressing', steps: [{ index: 1, target: 2 }, { index: 2, target: 4 }], namespaces: [{ name: 'a', state: 'Migrated', step: 1 }, { name: 'b', state: 'Migrating', step: 1 }] }, injector: null }, want: { phase: 'AwaitingPromotion', events: ['NamespaceMigrated', 'StepCompleted', 'MigrationAwaitingPromotion'], eventMessages: [/step 1\/2 completed: 2\/4 namespaces migrated/, /promotedStep: 1/] } },
  { name: 'announces nothing while it keeps awaiting promotion', world: { ns: { a: migrated, b: migrated, c: pending, d: pending }, spec: { steps: [{ namespaces: 2, pause: 'indefinite' }] }, status: step1DoneAgo(5, 'AwaitingPromotion'), injector: null }, want: { phase: 'AwaitingPromotion', events: [] } },
  { name: 'announces a requested rollback as Normal, with how many namespaces go back', world: { ns: { a: migrated, b: migrated }, spec: { rollback: { all: true } }, status: step1DoneAgo(5, 'AwaitingPromotion') }, want: { phase: 'RollingBack', events: ['MigrationRollingBack'], eventTypes: ['Normal'], eventMessages: [/rolling back 2 namespaces to their origin as requested \(spec.migration.rollback.all is true\)/] } },
];

function sorted(xs: readonly string[]): string[] {
  return [...xs].sort();
}

describe('migration decide (table)', () => {
  it('has at least 40 rows', () => {
    expect(rows.length).to.be.at.least(40);
  });

  for (const row of rows) {
    it(row.name, () => {
      const d = run(row.world);
      const w = row.want;
      if (w.nothing) {
        expect(d).to.equal(undefined);
        return;
      }
      expect(d, 'a decision').to.not.equal(undefined);
      const s = d!.result.status;
      if (w.phase !== undefined) expect(s.phase, 'phase').to.equal(w.phase);
      if (w.patches !== undefined) expect(sorted(d!.namespacePatches.map((p) => `${p.namespace}:${p.kind}`)), 'patches').to.deep.equal(sorted(w.patches));
      if (w.restarts !== undefined) expect(sorted(d!.restarts.map((r) => `${r.ref.namespace}/${r.ref.name}→${r.expected}`)), 'restarts').to.deep.equal(sorted(w.restarts));
      if (w.started !== undefined) expect(d!.started, 'started').to.deep.equal(w.started);
      if (w.events !== undefined) expect(d!.events.map((e) => e.reason), 'events').to.deep.equal(w.events);
      if (w.eventTypes !== undefined) expect(d!.events.map((e) => e.type), 'event types').to.deep.equal(w.eventTypes);
      for (const m of w.eventMessages ?? []) expect(d!.events.map((e) => e.message).join('\n'), 'event messages').to.match(m);
      if (w.needs !== undefined) {
        expect(d!.needs.admission.map((a) => a.namespace), 'needs.admission').to.deep.equal(w.needs.admission ?? []);
        expect(d!.needs.checks.map((c) => c.key), 'needs.checks').to.deep.equal(w.needs.checks ?? []);
        expect(d!.needs.injector, 'needs.injector').to.equal(w.needs.injector ?? false);
      }
      if (w.listed !== undefined) expect((s.namespaces ?? []).map((e) => `${e.name}=${e.state}`), 'listed').to.deep.equal(w.listed);
      if (w.migrated !== undefined) expect(s.counts?.migrated, 'counts.migrated').to.equal(w.migrated);
      if (w.arrivals !== undefined) expect(d!.arrivals, 'arrivals').to.have.length(w.arrivals);
      if (w.states !== undefined) expect(d!.entries.map((e) => `${e.name}=${e.state}`), 'states').to.deep.equal(w.states);
      if (w.requeueAfterMs === 'none') expect(d!.result.requeueAfterMs, 'requeueAfterMs').to.equal(undefined);
      else if (w.requeueAfterMs !== undefined) expect(d!.result.requeueAfterMs, 'requeueAfterMs').to.equal(w.requeueAfterMs);
      if (w.blocked !== undefined) expect(s.blocked ?? '', 'blocked').to.match(w.blocked);
      if ('rollbackReason' in w) {
        if (w.rollbackReason === undefined) expect(s.rollbackReason, 'rollbackReason').to.equal(undefined);
        else expect(s.rollbackReason ?? '', 'rollbackReason').to.match(w.rollbackReason);
      }
      if (w.rollbackRequested !== undefined) expect(s.rollbackRequested, 'rollbackRequested').to.equal(w.rollbackRequested);
      if (w.allReturned !== undefined) expect(d!.result.allReturned, 'allReturned').to.equal(w.allReturned);
      if (w.currentStep !== undefined) expect(s.currentStep, 'currentStep').to.equal(w.currentStep);
      if (w.originStep !== undefined) {
        const patch = d!.namespacePatches.find((p) => p.kind === 'relabelToTarget');
        const annotations = (patch?.body.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
        expect((JSON.parse(annotations['meshrev.io/origin'] ?? '{}') as { step?: number }).step, 'origin step').to.equal(w.originStep);
      }
      if (w.originUid !== undefined) {
        const patch = d!.namespacePatches.find((p) => p.kind === 'relabelToTarget');
        const annotations = (patch?.body.metadata as { annotations?: Record<string, string> } | undefined)?.annotations ?? {};
        expect((JSON.parse(annotations['meshrev.io/origin'] ?? '{}') as { uid?: string }).uid, 'origin uid').to.equal(w.originUid);
      }
    });
  }
});

describe('migration decide: bounded status (issue 16)', () => {
  const entry = (i: number, state: NamespaceMigrationStatus['state'], message?: string): NamespaceMigrationStatus => ({ name: `ns-${String(i).padStart(4, '0')}`, state, step: 1, ...(message ? { message } : {}) });

  it('lists at most 100 namespaces, the failed first, then those moving, then those back, and counts the rest', () => {
    const all = [
      ...Array.from({ length: 500 }, (_, i) => entry(i, 'Migrated')),
      ...Array.from({ length: 60 }, (_, i) => entry(1000 + i, 'RolledBack')),
      ...Array.from({ length: 50 }, (_, i) => entry(2000 + i, 'Migrating')),
      ...Array.from({ length: 30 }, (_, i) => entry(3000 + i, 'Failed')),
      ...Array.from({ length: 400 }, (_, i) => entry(4000 + i, 'Pending')),
    ];
    const { namespaces, unlisted } = listedNamespaces(all);
    expect(namespaces).to.have.length(MAX_LISTED_NAMESPACES);
    const by = (st: string) => namespaces.filter((e) => e.state === st).length;
    expect([by('Failed'), by('Migrating'), by('RolledBack'), by('Migrated'), by('Pending')]).to.deep.equal([30, 50, 20, 0, 0]);
    expect(unlisted).to.equal(40);
    expect(namespaces.map((e) => e.name)).to.deep.equal([...namespaces.map((e) => e.name)].sort());
  });

  it('cuts a listed namespace message to 1 KiB, so 100 entries stay far below the object limit', () => {
    const { namespaces } = listedNamespaces([entry(1, 'Failed', 'x'.repeat(40_000))]);
    expect(namespaces[0]!.message!.length).to.be.at.most(1024);
    expect(namespaces[0]!.message).to.match(/truncated\)$/);
  });

  it('keeps a status of 10,000 namespaces with 100 failing under 256 KiB', () => {
    const all = [...Array.from({ length: 9900 }, (_, i) => entry(i, 'Migrated')), ...Array.from({ length: 100 }, (_, i) => entry(20_000 + i, 'Failed', 'y'.repeat(5000)))];
    const { namespaces } = listedNamespaces(all);
    expect(JSON.stringify(namespaces).length).to.be.below(256 * 1024);
  });
});

describe('migration decide: bounded health-check status (issue 16)', () => {
  // Step 1 moved 150 namespaces and completed 61 s ago; a check that uses {{namespace}} has a
  // state for each of them; z waits for step 2.
  const moved = Array.from({ length: 150 }, (_, i) => `n${String(i).padStart(3, '0')}`);
  const perNamespace: HealthChecksSpec = {
    prometheus: [{ name: 'errors', address: 'http://127.0.0.1:9090', query: 'x{namespace="{{namespace}}"}', max: 0.01, failureThreshold: 3, interval: '10s' }],
  };
  const key = (ns: string) => `prometheus/errors/${ns}`;
  const world = (o: Partial<World> = {}): World => ({
    ns: { ...Object.fromEntries(moved.map((n) => [n, { ...migrated, step: 1 }])), z: pending },
    spec: { steps: [{ namespaces: moved.length, pause: '1m' }] },
    status: { generation: GEN, phase: 'Paused', steps: [{ index: 1, target: moved.length, completedAt: ago(61) }, { index: 2, target: moved.length + 1 }], namespaces: [] },
    healthChecks: perNamespace,
    injector: null,
    ...o,
  });
  const measured = (value: (ns: string) => number): Record<string, Measurement> => Object.fromEntries(moved.map((n) => [key(n), { kind: 'value', value: value(n) }]));

  it('lists at most 100 check states, the failing first, and keeps them all in the decision', () => {
    const d = run(world({ measurements: measured((n) => (n === 'n140' ? 0.5 : 0)) }))!;
    const listed = d.result.healthChecks!;
    expect(listed.checks).to.have.length(MAX_LISTED_CHECK_STATES);
    expect(listed.unlistedChecks).to.equal(moved.length - MAX_LISTED_CHECK_STATES);
    expect(listed.checks!.find((c) => c.namespace === 'n140')).to.deep.include({ phase: 'Failing', consecutiveFailures: 1 });
    expect(listed.checks!.map((c) => c.namespace)).to.deep.equal([...listed.checks!.map((c) => c.namespace)].sort(), 'check and namespace order');
    expect(d.checks!.states).to.have.length(moved.length);
    expect(d.checks!.step).to.equal(1);
    expect(d.started).to.deep.equal([], 'the failing check holds step 2');
    expect(JSON.stringify(listed).length).to.be.below(32 * 1024);
  });

  it('passes the gate from the states this process kept, though status lists only some', () => {
    const first = run(world({ measurements: measured(() => 0) }))!;
    // Every state Passing now, measured this instant: none is due again.
    const second = run(world({ knownChecks: first.checks!.states, measurements: {} }))!;
    expect(second.needs.checks).to.deep.equal([]);
    expect(second.started).to.deep.equal(['z']);
  });

  it('after a restart, measures again the states status did not list (they start from Pending), and only those', () => {
    const first = run(world({ measurements: measured(() => 0) }))!;
    const restarted = run(world({ checkStates: first.result.healthChecks!.checks!, measurements: {} }))!;
    expect(restarted.needs.checks.map((c) => c.namespace)).to.have.length(moved.length - MAX_LISTED_CHECK_STATES);
    const listed = new Set(first.result.healthChecks!.checks!.map((c) => c.namespace));
    expect(restarted.needs.checks.every((c) => !listed.has(c.namespace))).to.equal(true);
    expect(restarted.started).to.deep.equal([], 'the gate waits for them');
  });
});
