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
      expect(held.status?.conditions?.find((x) => x.type === 'Ready')?.reason).to.equal('MigrationBlocked');
      await new Promise((r) => setTimeout(r, 4000));
      for (const ns of names) expect(await namespaceLabels(c, ns), `${ns} untouched`).to.deep.equal({ 'istio-injection': 'enabled' });
      expect((await getMeshRevision(c, m.newRev))?.status?.migration?.counts?.migrated).to.equal(0);
    });
  });
});
