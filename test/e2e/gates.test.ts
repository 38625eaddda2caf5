// Built-in health gates on the real local cluster: a workload that fails only
// when injected by the new revision is sent back automatically, and an
// unreachable injector holds the migration before any namespace moves.
import { expect } from 'chai';
import type { RunningOperator } from '../../src/operator.js';
import { clients, eventually, kubectl, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  podsIn,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';
import { startInjector } from '../support/injector.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureContractRow } from '../support/contract.js';

describe('health gates', function () {
  this.timeout(240_000);
  let c: Clients;
  let op: RunningOperator | undefined;

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-gates');
  });

  after(async function () {
    await op?.stop();
  });

  describe('a workload that breaks only under the new revision', function () {
    let mesh: Mesh | undefined;
    const names: string[] = [];

    before(async function () {
      // The "fragile" template is harmless in the old revision; in the new one it makes the pod
      // unschedulable, so its rollout never completes — what a sidecar that breaks the app looks like.
      mesh = await startMesh(c, {
        oldConfig: { templates: { fragile: { metadata: { labels: { fragile: 'tolerated' } } } } },
        newConfig: { templates: { fragile: { spec: { nodeSelector: { 'e2e.meshrev.io/no-such-node': 'true' } } } } },
      });
      for (let i = 0; i < 3; i++) {
        const deployments = [{ name: 'web', replicas: 1 }, ...(i === 1 ? [{ name: 'fragile', replicas: 1, templates: 'sidecar,fragile', progressDeadlineSeconds: 10 }] : [])];
        names.push(await createAppNamespace(c, mesh, `gate${i}`, { 'istio-injection': 'enabled' }, { deployments }));
      }
      for (const [i, ns] of names.entries()) await waitSettled(c, ns, i === 1 ? 2 : 1);
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('returns only the failing namespace to its origin (onFailure: rollbackNamespace), says why, and stays stopped', async function () {
      const m = mesh!;
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { maxConcurrentNamespaces: 3, onFailure: 'rollbackNamespace' }),
      }));
      const failed = await waitMigrationPhase(c, m.newRev, 'Failed', 120_000);
      captureContractRow('failed', failed);
      const [ok0, bad, ok2] = names as [string, string, string];
      await eventually(`${bad} back on its origin`, async () => {
        const s = (await getMeshRevision(c, m.newRev))?.status?.migration;
        return s?.namespaces?.find((n) => n.name === bad)?.state === 'RolledBack' ? s : false;
      }, { timeoutMs: 90_000 });

      expect(await namespaceLabels(c, bad)).to.deep.equal({ 'istio-injection': 'enabled' });
      const back = await waitSettled(c, bad, 2);
      for (const p of back) expect(p.revision, `${bad}/${p.name}`).to.equal(m.oldRev);
      for (const ns of [ok0, ok2]) {
        expect(await namespaceLabels(c, ns), `${ns} keeps the new revision`).to.deep.equal({ 'istio.io/rev': m.newRev });
        for (const p of await podsIn(c, ns)) expect(p.revision).to.equal(m.newRev);
      }

      const mrev = await getMeshRevision(c, m.newRev);
      const stalled = mrev?.status?.conditions?.find((x) => x.type === 'Stalled');
      expect(stalled?.reason).to.equal('MigrationFailed');
      expect(stalled?.message).to.match(/fragile/);
      expect(failed.status?.migration?.rollbackReason).to.match(/health gate failed/);
      const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${m.newRev}` });
      expect(events.items.map((e) => e.reason)).to.include('HealthGateFailed');
      expect((await op!.metrics.render()).body).to.match(new RegExp(`meshrev_health_gate_failures_total\\{meshrevision="${m.newRev}",gate="workload",action="rollbackNamespace"\\} 1`));

      // For GitOps and scripts: Ready never comes, and the reason is in the YAML.
      let waitErr: unknown;
      try {
        await kubectl(['wait', '--for=condition=Ready', `mrev/${m.newRev}`, '--timeout=3s']);
      } catch (err) {
        waitErr = err;
      }
      expect(String(waitErr)).to.match(/timed out/);
      expect(await kubectl(['get', 'mrev', m.newRev, '-o', 'yaml'])).to.match(/reason: MigrationFailed/);

      // A failed migration does not start again on the next resync.
      await new Promise((r) => setTimeout(r, 4000));
      expect(await namespaceLabels(c, bad)).to.deep.equal({ 'istio-injection': 'enabled' });
    });
  });

  describe('an unreachable injector', function () {
    let mesh: Mesh | undefined;
    const names: string[] = [];

    before(async function () {
      mesh = await startMesh(c);
      for (let i = 0; i < 2; i++) names.push(await createAppNamespace(c, mesh, `dead${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
      for (const ns of names) await waitSettled(c, ns, 1);
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('holds the migration before any namespace is relabelled and says why', async function () {
      const m = mesh!;
      // An injector that was there and is gone: its port now refuses connections.
      const gone = await startInjector({ revision: m.newRev });
      await gone.stop();
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, gone, { migration: migrationFor(m) }));
      const held = await eventually('the migration blocked', async () => {
        const mrev = await getMeshRevision(c, m.newRev);
        return mrev?.status?.migration?.blocked ? mrev : false;
      });
      expect(held.status?.migration?.blocked).to.match(/unreachable|TLS/);
      captureContractRow('blocked', held);
      expect(held.status?.conditions?.find((x) => x.type === 'Ready')?.reason).to.equal('MigrationBlocked');
      await new Promise((r) => setTimeout(r, 4000));
      for (const ns of names) expect(await namespaceLabels(c, ns), `${ns} untouched`).to.deep.equal({ 'istio-injection': 'enabled' });
      expect((await getMeshRevision(c, m.newRev))?.status?.migration?.counts?.migrated).to.equal(0);
    });
  });

  describe('user-defined checks', function () {
    let prom: TestPrometheus | undefined;
    let http: Server | undefined;
    let httpStatus = 200;
    let httpUrl = '';

    before(async function () {
      prom = await startPrometheus();
      http = createServer((_req, res) => {
        res.statusCode = httpStatus;
        res.end(httpStatus === 200 ? 'ok' : 'unhealthy');
      });
      await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
      httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/healthz`;
    });

    after(async function () {
      await prom?.stop();
      if (http) {
        http.closeAllConnections();
        await new Promise<void>((resolve) => http!.close(() => resolve()));
      }
    });

    /** The namespaces among `names` no migration moved (no origin record). */
    async function unmoved(names: readonly string[]): Promise<string[]> {
      const out: string[] = [];
      for (const n of names) if ((await c.core.readNamespace({ name: n })).metadata?.annotations?.['meshrev.io/origin'] === undefined) out.push(n);
      return out;
    }

    async function meshWith(n: number): Promise<{ mesh: Mesh; names: string[] }> {
      const mesh = await startMesh(c);
      const names: string[] = [];
      for (let i = 0; i < n; i++) names.push(await createAppNamespace(c, mesh, `chk${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
      for (const ns of names) await waitSettled(c, ns, 1);
      return { mesh, names };
    }

    it('lets the migration go on while a Prometheus gate is healthy, and records the analysis in status', async function () {
      const { mesh, names } = await meshWith(2);
      try {
        prom!.exporter.set('meshrev_e2e_error_rate', 0.01, { revision: mesh.newRev });
        await prom!.waitForValue(`max(meshrev_e2e_error_rate{revision="${mesh.newRev}"})`, 0.01);
        await createMeshRevision(c, mesh, meshRevisionObject(mesh.newRev, mesh.newInjector, {
          migration: migrationFor(mesh, { steps: [{ namespaces: 1 }, { percent: 100 }] }),
          healthChecks: { prometheus: [{ name: 'errors', address: prom!.address, query: 'max(meshrev_e2e_error_rate{revision="{{revision}}"})', max: 0.1, interval: '1s', failureThreshold: 2 }] },
        }));
        const done = await waitMigrationPhase(c, mesh.newRev, 'Succeeded', 120_000);
        expect(done.status?.healthChecks?.checks?.[0]).to.include({ name: 'errors', phase: 'Passing' });
        for (const ns of names) expect(await namespaceLabels(c, ns)).to.deep.equal({ 'istio.io/rev': mesh.newRev });
      } finally {
        await stopMesh(c, mesh);
      }
    });

    it('rolls back the step a bad Prometheus value fails, and never starts the next one', async function () {
      const { mesh, names } = await meshWith(2);
      try {
        prom!.exporter.set('meshrev_e2e_error_rate', 0.5, { revision: mesh.newRev });
        await prom!.waitForValue(`max(meshrev_e2e_error_rate{revision="${mesh.newRev}"})`, 0.5);
        await createMeshRevision(c, mesh, meshRevisionObject(mesh.newRev, mesh.newInjector, {
          migration: migrationFor(mesh, { steps: [{ namespaces: 1 }, { percent: 100 }], onFailure: 'rollbackStep' }),
          healthChecks: { prometheus: [{ name: 'errors', address: prom!.address, query: 'max(meshrev_e2e_error_rate{revision="{{revision}}"})', max: 0.1, interval: '1s', failureThreshold: 2 }] },
        }));
        const failed = await waitMigrationPhase(c, mesh.newRev, 'Failed', 120_000);
        expect(failed.status?.migration?.rollbackReason).to.match(/health check failed.*errors/);
        await eventually('step 1 back at its origin', async () => {
          const s = (await getMeshRevision(c, mesh.newRev))?.status?.migration;
          return s?.namespaces?.filter((n) => n.state === 'RolledBack').length === 1;
        }, { timeoutMs: 60_000 });
        for (const ns of names) expect(await namespaceLabels(c, ns), `${ns} on its origin`).to.deep.equal({ 'istio-injection': 'enabled' });
        expect((await getMeshRevision(c, mesh.newRev))?.status?.conditions?.find((x) => x.type === 'Stalled')?.reason).to.equal('MigrationFailed');
      } finally {
        await stopMesh(c, mesh);
      }
    });

    it('holds the next step while a query has no data under noData: wait', async function () {
      const { mesh, names } = await meshWith(2);
      try {
        await createMeshRevision(c, mesh, meshRevisionObject(mesh.newRev, mesh.newInjector, {
          migration: migrationFor(mesh, { steps: [{ namespaces: 1 }, { percent: 100 }] }),
          healthChecks: { prometheus: [{ name: 'absent', address: prom!.address, query: 'max(meshrev_e2e_never_exported)', max: 1, interval: '1s', noData: 'wait' }] },
        }));
        await eventually('step 1 done and the gate waiting', async () => {
          const m = await getMeshRevision(c, mesh.newRev);
          return m?.status?.migration?.counts?.migrated === 1 && /waiting for health checks/.test(m.status.migration.blocked ?? '') ? m : false;
        }, { timeoutMs: 60_000 });
        await new Promise((r) => setTimeout(r, 3000));
        const m = await getMeshRevision(c, mesh.newRev);
        expect(m?.status?.migration?.counts?.migrated, 'step 2 not started').to.equal(1);
        // Pending namespaces are counted, not listed: the one not moved has no origin record and its old labels.
        expect(m?.status?.migration?.counts?.eligible, 'eligible').to.equal(2);
        expect(await unmoved(names), 'namespaces not moved').to.have.length(1);
      } finally {
        await stopMesh(c, mesh);
      }
    });

    it('stops the migration when an HTTP check fails mid-soak (onFailure: pause), leaving the next step unstarted', async function () {
      const { mesh, names } = await meshWith(2);
      httpStatus = 200;
      try {
        await createMeshRevision(c, mesh, meshRevisionObject(mesh.newRev, mesh.newInjector, {
          migration: migrationFor(mesh, { steps: [{ namespaces: 1, pause: '20s' }, { percent: 100 }], onFailure: 'pause' }),
          healthChecks: { http: [{ name: 'app', url: httpUrl, interval: '1s', failureThreshold: 2 }] },
        }));
        await eventually('soaking after step 1 with the check passing', async () => {
          const m = await getMeshRevision(c, mesh.newRev);
          return m?.status?.migration?.phase === 'Paused' && m.status.healthChecks?.checks?.[0]?.phase === 'Passing' ? m : false;
        }, { timeoutMs: 60_000 });
        httpStatus = 503;
        const failed = await waitMigrationPhase(c, mesh.newRev, 'Failed', 60_000);
        expect(failed.status?.healthChecks?.checks?.[0]?.phase).to.equal('Failed');
        expect(failed.status?.migration?.counts?.migrated).to.equal(1);
        expect(failed.status?.migration?.namespaces ?? [], 'nothing listed as moving or sent back').to.deep.equal([]);
        expect(await unmoved(names), 'step 1 stays moved (onFailure: pause)').to.have.length(names.length - 1);
        await new Promise((r) => setTimeout(r, 3000));
        expect((await getMeshRevision(c, mesh.newRev))?.status?.migration?.counts?.migrated, 'step 2 never starts').to.equal(1);
      } finally {
        httpStatus = 200;
        await stopMesh(c, mesh);
      }
    });
  });
});
