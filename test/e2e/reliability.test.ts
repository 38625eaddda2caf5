// Reliability regressions from issue 17, on the real local cluster (operator
// as its ServiceAccount, loopback injectors, KWOK pods). Each test pins a
// behaviour DESIGN.md §3/§4 promises and today's code breaks:
//  - a health gate judges only what the migration is doing while it is doing
//    it: once Succeeded, the owners' own deploys and namespace deletions are
//    none of its business (defect 1);
//  - a retry after a rollback (a new generation) starts clean (defect 2);
//  - a user's istio-injection=disabled on a migrated namespace is respected
//    and reported, not reverted (defect 5a).
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_RESTARTED_AT } from '../../src/api/labels.js';
import { ANNOTATION_ORIGIN, ANNOTATION_RESTARTED_FOR } from '../../src/api/migration.js';
import type { RunningOperator } from '../../src/operator.js';
import { clients, eventually, kubectl, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  patchMigration,
  podsIn,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Events a migration must not emit about a healthy, finished migration. */
const ALARM_REASONS = ['HealthGateFailed', 'HealthCheckFailed', 'NamespaceFailed', 'NamespaceRolledBack'];

/** Reasons (with their messages) of the Events about a MeshRevision that are among ALARM_REASONS. */
async function alarmEvents(c: Clients, mrev: string): Promise<string[]> {
  const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${mrev}` });
  return events.items.filter((e) => ALARM_REASONS.includes(e.reason ?? '')).map((e) => `${e.reason}: ${e.message}`);
}

/** Per workload of a namespace ("Kind/name"): the restart stamps on its pod template (meshrev's and kubectl's). */
async function restartStamps(c: Clients, namespace: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const add = (kind: string, list: { metadata?: k8s.V1ObjectMeta; spec?: { template?: k8s.V1PodTemplateSpec } }[]) => {
    for (const w of list) {
      const a = w.spec?.template?.metadata?.annotations ?? {};
      out[`${kind}/${w.metadata?.name}`] = `${ANNOTATION_RESTARTED_FOR}=${a[ANNOTATION_RESTARTED_FOR] ?? '-'} ${ANNOTATION_RESTARTED_AT}=${a[ANNOTATION_RESTARTED_AT] ?? '-'}`;
    }
  };
  add('Deployment', (await c.apps.listNamespacedDeployment({ namespace })).items);
  add('StatefulSet', (await c.apps.listNamespacedStatefulSet({ namespace })).items);
  add('DaemonSet', (await c.apps.listNamespacedDaemonSet({ namespace })).items);
  return out;
}

/** The latest restart time meshrev stamped on any workload of these namespaces (ms since the epoch). */
async function latestRestart(c: Clients, namespaces: readonly string[]): Promise<number> {
  let latest = 0;
  for (const ns of namespaces) {
    for (const d of (await c.apps.listNamespacedDeployment({ namespace: ns })).items) {
      latest = Math.max(latest, Date.parse(d.spec?.template?.metadata?.annotations?.[ANNOTATION_RESTARTED_AT] ?? '') || 0);
    }
    for (const s of (await c.apps.listNamespacedStatefulSet({ namespace: ns })).items) {
      latest = Math.max(latest, Date.parse(s.spec?.template?.metadata?.annotations?.[ANNOTATION_RESTARTED_AT] ?? '') || 0);
    }
  }
  return latest;
}

/** Why a Deployment's current rollout is not complete, or undefined when it is (as `kubectl rollout status` judges it). */
function deploymentRolloutPending(d: k8s.V1Deployment): string | undefined {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return undefined; // not observed yet: unknown
  if ((s.updatedReplicas ?? 0) < want) return `${s.updatedReplicas ?? 0}/${want} updated${d.spec?.paused ? ' (paused)' : ''}`;
  if ((s.replicas ?? 0) > want) return `${(s.replicas ?? 0) - want} old replica(s) pending termination`;
  if ((s.availableReplicas ?? 0) < want) return `${s.availableReplicas ?? 0}/${want} available`;
  return undefined;
}

function statefulSetRolloutPending(s: k8s.V1StatefulSet): string | undefined {
  const st = s.status;
  if (!st || (st.observedGeneration ?? 0) < (s.metadata?.generation ?? 0)) return undefined;
  if (st.currentRevision !== st.updateRevision) return `partitioned: ${st.updatedReplicas ?? 0}/${s.spec?.replicas ?? 1} updated`;
  return undefined;
}

/**
 * Polls `violation` for `ms`: it returns undefined while all is well, or what is wrong.
 * Fails at the first violation, saying how long after the start it appeared.
 */
async function holdsFor(what: string, ms: number, violation: () => Promise<string | undefined>): Promise<void> {
  const start = Date.now();
  for (;;) {
    const v = await violation();
    if (v !== undefined) throw new Error(`${what}: broken ${((Date.now() - start) / 1000).toFixed(1)}s into the ${ms / 1000}s window: ${v}`);
    if (Date.now() - start >= ms) return;
    await sleep(500);
  }
}

/** What is wrong with a migration that must still be Succeeded with every namespace in `onTarget` on `rev`; undefined when nothing. */
async function succeededViolation(c: Clients, mrevName: string, generation: number | undefined, rev: string, onTarget: readonly string[]): Promise<string | undefined> {
  const m = await getMeshRevision(c, mrevName);
  const mig = m?.status?.migration;
  if (mig?.phase !== 'Succeeded') return `migration phase ${mig?.phase} (${mig?.summary ?? ''}; rollbackReason: ${mig?.rollbackReason ?? '-'})`;
  if (m?.metadata.generation !== generation) return `generation changed to ${m?.metadata.generation}`;
  if ((mig.counts?.failed ?? 0) > 0 || (mig.counts?.rolledBack ?? 0) > 0 || (mig.counts?.inProgress ?? 0) > 0) return `counts ${JSON.stringify(mig.counts)}`;
  for (const ns of onTarget) {
    const labels = await namespaceLabels(c, ns);
    if (labels['istio.io/rev'] !== rev || labels['istio-injection'] !== undefined) return `namespace ${ns} relabelled to ${JSON.stringify(labels)}`;
  }
  return undefined;
}

describe('reliability (issue 17)', function () {
  this.timeout(240_000);
  let c: Clients;
  let op: RunningOperator | undefined;

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-reliability');
  });

  after(async function () {
    await op?.stop();
  });

  describe('after a migration succeeded (defect 1)', function () {
    let mesh: Mesh | undefined;

    afterEach(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
      mesh = undefined;
    });

    it('an app deploy after a succeeded migration rolls back nothing, more than rolloutTimeoutSeconds after the restarts', async function () {
      this.timeout(150_000);
      const m = (mesh = await startMesh(c));
      // Deployments set a 10 s progressDeadlineSeconds: meshrev takes a Deployment's own deadline before
      // rolloutTimeoutSeconds (which the API server would otherwise default to 600 s); the StatefulSet
      // uses rolloutTimeoutSeconds (10 s, the schema minimum).
      const paused = await createAppNamespace(c, m, 'rel-paused', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 2, progressDeadlineSeconds: 10 }] });
      const pending = await createAppNamespace(c, m, 'rel-pending', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 2, progressDeadlineSeconds: 10 }] });
      const staged = await createAppNamespace(c, m, 'rel-staged', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1, progressDeadlineSeconds: 10 }], statefulSet: 'db' });
      const plain = await createAppNamespace(c, m, 'rel-plain', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1, progressDeadlineSeconds: 10 }] });
      const names = [paused, pending, staged, plain];
      const podCount: Record<string, number> = { [paused]: 2, [pending]: 2, [staged]: 3, [plain]: 1 };
      for (const ns of names) await waitSettled(c, ns, podCount[ns]!);

      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { steps: [{ namespaces: 2 }, { percent: 100 }], maxConcurrentNamespaces: 2, rolloutTimeoutSeconds: 10 }),
      }));
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 90_000);
      expect(done.status?.migration?.counts).to.include({ eligible: 4, migrated: 4, failed: 0 });
      for (const ns of names) for (const p of await waitSettled(c, ns, podCount[ns]!)) expect(p.revision, `${ns}/${p.name}`).to.equal(m.newRev);
      const generation = done.metadata.generation;

      // Let every restart meshrev made grow older than its deadline (10 s) before the owners deploy.
      const wait = (await latestRestart(c, names)) + 12_000 - Date.now();
      if (wait > 0) await sleep(wait);
      expect(await succeededViolation(c, m.newRev, generation, m.newRev, names), 'still Succeeded before the app deploys').to.equal(undefined);
      const stampsBefore = new Map<string, Record<string, string>>();
      for (const ns of names) stampsBefore.set(ns, await restartStamps(c, ns));
      expect(await alarmEvents(c, m.newRev), 'no alarm before the app deploys').to.deep.equal([]);

      // The owners deploy new versions, as they do every day:
      //  - paused: `kubectl rollout pause`, then `kubectl set image` (rolled out later by hand);
      //  - pending: a new image that asks for more CPU than any node has: its surge pod stays Pending;
      //  - staged: a StatefulSet canary held by a partition, then `kubectl set env`;
      //  - plain: `kubectl set image`, which completes (KWOK pods are Ready at once).
      await kubectl(['-n', paused, 'rollout', 'pause', 'deployment/web']);
      await kubectl(['-n', paused, 'set', 'image', 'deployment/web', 'web=registry.invalid/web:2']);
      await kubectl(['-n', pending, 'patch', 'deployment/web', '--type=strategic', '-p',
        JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'web', image: 'registry.invalid/web:2', resources: { requests: { cpu: '128' } } }] } } } })]);
      await kubectl(['-n', staged, 'patch', 'statefulset/db', '--type=merge', '-p', JSON.stringify({ spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } } })]);
      await kubectl(['-n', staged, 'set', 'env', 'statefulset/db', 'APP_VERSION=2']);
      await kubectl(['-n', plain, 'set', 'image', 'deployment/web', 'web=registry.invalid/web:2']);

      // The app's own rollouts are really in progress (and stay so: checked again at the end).
      const held = async (): Promise<string | undefined> => {
        const p = deploymentRolloutPending(await c.apps.readNamespacedDeployment({ name: 'web', namespace: paused }));
        const q = deploymentRolloutPending(await c.apps.readNamespacedDeployment({ name: 'web', namespace: pending }));
        const s = statefulSetRolloutPending(await c.apps.readNamespacedStatefulSet({ name: 'db', namespace: staged }));
        return p && q && s ? `${paused}/web ${p}; ${pending}/web ${q}; ${staged}/db ${s}` : undefined;
      };
      const holding = await eventually('the app rollouts observed in progress', held, { timeoutMs: 15_000 });

      await holdsFor('the migration stays Succeeded while its owners deploy', 15_000, async () => {
        const v = await succeededViolation(c, m.newRev, generation, m.newRev, names);
        if (v) return v;
        const alarms = await alarmEvents(c, m.newRev);
        if (alarms.length > 0) return `events: ${alarms.join(' | ')}`;
        for (const ns of names) {
          const now = await restartStamps(c, ns);
          const before = stampsBefore.get(ns)!;
          for (const [w, s] of Object.entries(before)) if (now[w] !== s) return `${ns} ${w} restarted by meshrev: ${s} -> ${now[w]}`;
          const origin = (await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '';
          if (/rollbackReason/.test(origin)) return `${ns} marked for rollback: ${origin}`;
        }
        return undefined;
      });
      expect(await held(), `the app rollouts were still in progress at the end of the window (at its start: ${holding})`).to.be.a('string');
    });

    it('deleting a migrated namespace after a succeeded migration leaves it Succeeded', async function () {
      this.timeout(120_000);
      const m = (mesh = await startMesh(c));
      const names: string[] = [];
      // A Deployment, a StatefulSet and a DaemonSet each: while the namespace terminates its pods go
      // before (or with) their controllers, whose status then shows replicas missing.
      const apps = { deployments: [{ name: 'web', replicas: 3, progressDeadlineSeconds: 10 }], statefulSet: 'db', daemonSet: 'agent' };
      for (let i = 0; i < 3; i++) names.push(await createAppNamespace(c, m, `rel-del${i}`, { 'istio-injection': 'enabled' }, apps));
      for (const ns of names) await waitSettled(c, ns, 6);
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { maxConcurrentNamespaces: 3, rolloutTimeoutSeconds: 10 }),
      }));
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 60_000);
      expect(done.status?.migration?.counts).to.include({ eligible: 3, migrated: 3, failed: 0 });
      const generation = done.metadata.generation;
      const [gone, ...kept] = names as [string, ...string[]];
      // As in a real cluster, the namespace goes long after the migration: its restart is past its deadline (10 s).
      const wait = (await latestRestart(c, names)) + 12_000 - Date.now();
      if (wait > 0) await sleep(wait);
      expect(await succeededViolation(c, m.newRev, generation, m.newRev, names), 'still Succeeded before the deletion').to.equal(undefined);

      // The team that owned it decommissions its namespace.
      await c.core.deleteNamespace({ name: gone });
      const check = async (): Promise<string | undefined> => {
        const v = await succeededViolation(c, m.newRev, generation, m.newRev, kept);
        if (v) return v;
        const mig = (await getMeshRevision(c, m.newRev))?.status?.migration;
        const counts = mig?.counts;
        if (!counts || counts.migrated !== counts.eligible || counts.eligible < kept.length) return `counts ${JSON.stringify(counts)} (summary ${mig?.summary})`;
        for (const ns of kept) {
          // A succeeded migration lists no namespace (status lists only those moving, failed or returned).
          const listed = mig?.namespaces?.find((e) => e.name === ns);
          if (listed) return `${ns} is listed as ${listed.state}`;
          const origin = (await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '';
          if (!origin || /returnedAt|rollbackReason/.test(origin)) return `${ns} origin record: ${origin || 'missing'}`;
        }
        const alarms = await alarmEvents(c, m.newRev);
        return alarms.length > 0 ? `events: ${alarms.join(' | ')}` : undefined;
      };
      // While it terminates (its workloads and pods go first) and after it is gone.
      const start = Date.now();
      await holdsFor(`the migration stays Succeeded while ${gone} terminates`, 60_000, async () => {
        const v = await check();
        if (v) return v;
        try {
          await c.core.readNamespace({ name: gone });
        } catch {
          throw new StopWindow();
        }
        return undefined;
      }).catch((err) => {
        if (!(err instanceof StopWindow)) throw err;
      });
      expect(Date.now() - start, `${gone} deleted within 60 s`).to.be.below(60_000);
      await holdsFor(`the migration stays Succeeded after ${gone} is gone`, 10_000, check);
    });
  });

  describe('a retry after a rollback (defect 2)', function () {
    let mesh: Mesh | undefined;

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('a retry after a rollback whose new pods were never created migrates the namespace', async function () {
      this.timeout(150_000);
      const m = (mesh = await startMesh(c));
      const ns = await createAppNamespace(c, m, 'rel-retry', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 2, progressDeadlineSeconds: 10 }] });
      await waitSettled(c, ns, 2);
      // A quota of exactly the pods running: admission rejects the restart's surge pod, so the
      // restarted Deployment never gets a new pod, misses its deadline, and the gate rolls it back.
      await c.core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'pods' }, spec: { hard: { pods: '2' } } } });
      await eventually('the quota counting the 2 pods', async () => {
        const q = await c.core.readNamespacedResourceQuota({ name: 'pods', namespace: ns });
        return q.status?.used?.['pods'] === '2';
      }, { timeoutMs: 30_000 });

      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { rolloutTimeoutSeconds: 10 }),
      }));
      const failed = await waitMigrationPhase(c, m.newRev, 'Failed', 90_000);
      expect(failed.status?.migration?.rollbackReason, 'the first attempt failed on the rollout of web').to.match(/web/);
      const rejected = (await c.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'FailedCreate' && /exceeded quota/.test(e.message ?? ''));
      expect(rejected, 'the restart\'s new pods were rejected by admission').to.not.be.empty;
      await eventually(`${ns} relabelled to its origin`, async () => JSON.stringify(await namespaceLabels(c, ns)) === JSON.stringify({ 'istio-injection': 'enabled' }), { timeoutMs: 30_000 });

      // The owner lifts the quota (once the namespace is back on its origin labels); the app settles on the old revision.
      await c.core.deleteNamespacedResourceQuota({ name: 'pods', namespace: ns });
      await eventually(`${ns} rolled back`, async () => {
        const s = (await getMeshRevision(c, m.newRev))?.status?.migration;
        return s?.namespaces?.find((n) => n.name === ns)?.state === 'RolledBack';
      }, { timeoutMs: 60_000 });
      const stamp = (await c.apps.readNamespacedDeployment({ name: 'web', namespace: ns })).spec?.template?.metadata?.annotations?.[ANNOTATION_RESTARTED_FOR];
      console.log(`      after the rollback: ${ns}/web ${ANNOTATION_RESTARTED_FOR}=${stamp ?? '(none)'}`);
      await eventually(`${ns}/web rolled out again`, async () => {
        const d = await c.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
        return deploymentRolloutPending(d) === undefined && (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
      }, { timeoutMs: 60_000, intervalMs: 500 });
      for (const p of await waitSettled(c, ns, 2)) expect(p.revision, `${ns}/${p.name} on the origin before the retry`).to.equal(m.oldRev);

      // Retry: a new generation (more time for rollouts), with a healthy injector and no quota.
      await patchMigration(c, m.newRev, { rolloutTimeoutSeconds: 60 });
      const retried = await eventually('the retry finished', async () => {
        const mr = await getMeshRevision(c, m.newRev);
        const s = mr?.status?.migration;
        const ours = mr && mr.status?.observedGeneration === mr.metadata.generation && s?.generation === mr.metadata.generation;
        return ours && ['Succeeded', 'Failed', 'RolledBack'].includes(s?.phase ?? '') ? mr : false;
      }, { timeoutMs: 60_000 });
      const s = retried.status?.migration;
      const entry = s?.namespaces?.find((n) => n.name === ns);
      expect(s?.phase, `retry phase (rollbackReason: ${s?.rollbackReason ?? '-'}; ${ns}: ${entry?.state} ${entry?.message ?? ''})`).to.equal('Succeeded');
      expect(await namespaceLabels(c, ns)).to.deep.equal({ 'istio.io/rev': m.newRev });
      for (const p of await waitSettled(c, ns, 2)) expect(p.revision, `${ns}/${p.name}`).to.equal(m.newRev);
    });
  });

  describe('a user opting a migrated namespace out (defect 5a)', function () {
    let mesh: Mesh | undefined;

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it("a user's istio-injection=disabled on a migrated namespace is kept and reported", async function () {
      this.timeout(120_000);
      const m = (mesh = await startMesh(c));
      const names: string[] = [];
      for (let i = 0; i < 2; i++) names.push(await createAppNamespace(c, m, `rel-optout${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
      for (const ns of names) await waitSettled(c, ns, 1);
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { maxConcurrentNamespaces: 2 }) }));
      await waitMigrationPhase(c, m.newRev, 'Succeeded', 60_000);
      const [off, on] = names as [string, string];
      const stampsBefore = await restartStamps(c, off);
      const podsBefore = (await podsIn(c, off)).map((p) => p.uid);

      // `kubectl label namespace X istio-injection=disabled`: never inject here again.
      await kubectl(['label', 'namespace', off, 'istio-injection=disabled']);
      await holdsFor(`${off} keeps istio-injection=disabled`, 10_000, async () => {
        const labels = await namespaceLabels(c, off);
        if (labels['istio-injection'] !== 'disabled') return `labels now ${JSON.stringify(labels)}`;
        const stamps = await restartStamps(c, off);
        if (JSON.stringify(stamps) !== JSON.stringify(stampsBefore)) return `workloads restarted: ${JSON.stringify(stamps)}`;
        const other = await namespaceLabels(c, on);
        if (other['istio.io/rev'] !== m.newRev) return `${on} relabelled to ${JSON.stringify(other)}`;
        return undefined;
      });
      expect((await podsIn(c, off)).map((p) => p.uid), `${off} pods untouched`).to.deep.equal(podsBefore);
      // Reported: an Event says it is left alone, the namespace no longer carries meshrev's record (a
      // rollback will not touch it), and the migration no longer counts it.
      const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${m.newRev}` });
      const optedOut = events.items.filter((e) => e.reason === 'NamespaceOptedOut' && (e.message ?? '').includes(off));
      expect(optedOut.map((e) => e.message), `${off} reported as opted out`).to.have.length(1);
      expect(optedOut[0]!.message).to.match(/istio-injection=disabled/);
      const ns = await c.core.readNamespace({ name: off });
      expect(ns.metadata?.annotations?.[ANNOTATION_ORIGIN], `${off} has no meshrev record left`).to.equal(undefined);
      const mig = (await getMeshRevision(c, m.newRev))?.status?.migration;
      expect(mig?.namespaces?.find((n) => n.name === off), `${off} left the migration`).to.equal(undefined);
      expect(mig?.counts).to.include({ eligible: 1, migrated: 1 });
      expect(mig?.phase, 'an opt-out is no failure').to.not.be.oneOf(['Failed', 'RollingBack', 'RolledBack']);
    });
  });
});

/** Ends a holdsFor window early (the namespace it watched is gone). */
class StopWindow extends Error {}
