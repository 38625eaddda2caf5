// The rows of the status contract (README.md, "Status contract") that the
// other e2e tests do not reach, produced by the real operator (as its
// ServiceAccount) on the local cluster and captured for hack/integrations,
// where kstatus, the Argo CD Lua and the Flux CEL judge each one against the
// row's verdicts: a revision serving webhooks with no migration, a migration
// moving namespaces, a spec not yet observed, a requested rollback in
// progress, an automatic rollback after a failed gate (in progress and done),
// an invalid spec, a conflict, and a deletion blocked by a revision in use.
// Transient states are taken from a watch of every MeshRevision version.
import { expect } from 'chai';
import type { RunningOperator } from '../../src/operator.js';
import { captureContractRow, conditionOf, MeshRevisionRecorder, observed } from '../support/contract.js';
import { clients, eventually, uniqueName, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  patchMigration,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';
import { API_VERSION, KIND } from '../../src/api/meshrevision.js';

describe('status contract rows from the real operator', function () {
  this.timeout(240_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let rec: MeshRevisionRecorder | undefined;

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-contract');
    rec = await MeshRevisionRecorder.start(c.kc);
  });

  after(async function () {
    rec?.stop();
    await op?.stop();
  });

  describe('a migration, then a rollback someone asks for', function () {
    let mesh: Mesh | undefined;

    before(async function () {
      mesh = await startMesh(c);
      for (let i = 0; i < 2; i++) {
        const ns = await createAppNamespace(c, mesh, `row${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] });
        await waitSettled(c, ns, 1);
      }
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('captures ready, progressing, not-observed and requested-rolling-back', async function () {
      const m = mesh!;
      const ready = await rec!.waitFor(m.oldRev, 'Ready with webhooks served', (v) => observed(v) && v.status?.phase === 'Ready' && v.status.webhookConfiguration !== undefined);
      expect(conditionOf(ready, 'Ready')).to.deep.include({ status: 'True', reason: 'WebhookConfigured' });
      captureContractRow('ready', ready);

      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { steps: [{ namespaces: 1 }, { percent: 100 }] }) }));
      const moving = await rec!.waitFor(m.newRev, 'moving namespaces', (v) => observed(v) && v.status?.phase === 'Migrating' && v.status.migration?.phase === 'Progressing');
      expect(conditionOf(moving, 'Reconciling')).to.deep.include({ status: 'True', reason: 'MigrationProgressing' });
      captureContractRow('progressing', moving);
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded');

      await patchMigration(c, m.newRev, { rollback: { all: true } });
      const generation = (done.metadata.generation ?? 0) + 1;
      // The spec change as the API server announced it, before the operator wrote anything for it.
      const unseen = await rec!.waitFor(m.newRev, 'with the new spec not yet observed', (v) => v.metadata.generation === generation && v.status?.observedGeneration === generation - 1);
      captureContractRow('not-observed', unseen);
      const back = await rec!.waitFor(m.newRev, 'rolling back as asked', (v) => observed(v) && v.status?.phase === 'RollingBack');
      expect(back.status?.migration?.rollbackRequested).to.equal(true);
      expect(conditionOf(back, 'Stalled')).to.equal(undefined);
      captureContractRow('requested-rolling-back', back);
      await waitMigrationPhase(c, m.newRev, 'RolledBack');
    });
  });

  describe('a failed gate under onFailure: rollbackAll', function () {
    let mesh: Mesh | undefined;

    before(async function () {
      // As in gates.test.ts: the "fragile" template makes the pod unschedulable only under the new revision.
      mesh = await startMesh(c, {
        oldConfig: { templates: { fragile: { metadata: { labels: { fragile: 'tolerated' } } } } },
        newConfig: { templates: { fragile: { spec: { nodeSelector: { 'e2e.meshrev.io/no-such-node': 'true' } } } } },
      });
      for (let i = 0; i < 2; i++) {
        const deployments = [{ name: 'web', replicas: 1 }, ...(i === 1 ? [{ name: 'fragile', replicas: 1, templates: 'sidecar,fragile', progressDeadlineSeconds: 10 }] : [])];
        const ns = await createAppNamespace(c, mesh, `auto${i}`, { 'istio-injection': 'enabled' }, { deployments });
        await waitSettled(c, ns, i === 1 ? 2 : 1);
      }
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('captures automatic-rolling-back and automatic-rolled-back', async function () {
      const m = mesh!;
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { maxConcurrentNamespaces: 2, onFailure: 'rollbackAll' }) }));
      const rolling = await rec!.waitFor(m.newRev, 'rolling back after the failed gate', (v) => observed(v) && v.status?.phase === 'RollingBack', 150_000);
      expect(rolling.status?.migration?.rollbackRequested).to.equal(false);
      expect(conditionOf(rolling, 'Stalled')).to.deep.include({ status: 'True', reason: 'MigrationRollingBack' });
      captureContractRow('automatic-rolling-back', rolling);
      const back = await waitMigrationPhase(c, m.newRev, 'RolledBack', 150_000);
      expect(back.status?.lastFailure).to.not.equal(undefined);
      expect(conditionOf(back, 'Stalled')).to.deep.include({ status: 'True', reason: 'MigrationRolledBack' });
      captureContractRow('automatic-rolled-back', back);
    });
  });

  describe('specs the operator refuses, and a deletion it holds', function () {
    let mesh: Mesh | undefined;
    const extra: string[] = [];

    before(async function () {
      mesh = await startMesh(c);
      const ns = await createAppNamespace(c, mesh, 'inuse', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] });
      await waitSettled(c, ns, 1);
    });

    after(async function () {
      this.timeout(120_000);
      for (const name of extra) await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }).catch(() => undefined);
      await stopMesh(c, mesh);
    });

    it('captures invalid, conflict and deletion-blocked', async function () {
      const m = mesh!;
      // Accepted by the API server, refused by the operator: a caBundle that is base64 but no PEM.
      const invalid = meshRevisionObject(uniqueName('bad'), m.newInjector);
      invalid.spec.injector = { url: m.newInjector.url, caBundle: Buffer.from('hello').toString('base64') };
      await c.objects.create(invalid);
      extra.push(invalid.metadata.name!);
      const refused = await rec!.waitFor(invalid.metadata.name!, 'Invalid', (v) => observed(v) && v.status?.phase === 'Invalid');
      expect(conditionOf(refused, 'Stalled')).to.deep.include({ status: 'True', reason: 'InvalidSpec' });
      captureContractRow('invalid', refused);

      // A second default while the mesh's old revision holds it.
      const second = meshRevisionObject(uniqueName('dflt'), m.newInjector, { default: true });
      await c.objects.create(second);
      extra.push(second.metadata.name!);
      const conflict = await rec!.waitFor(second.metadata.name!, 'Conflict', (v) => observed(v) && v.status?.phase === 'Conflict');
      expect(conditionOf(conflict, 'Stalled')).to.deep.include({ status: 'True', reason: 'DefaultClaimedElsewhere' });
      captureContractRow('conflict', conflict);

      // Deleting the revision the namespace's pods run: held until they move.
      await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name: m.oldRev } });
      const held = await rec!.waitFor(m.oldRev, 'DeletionBlocked', (v) => observed(v) && v.metadata.deletionTimestamp !== undefined && conditionOf(v, 'Ready')?.reason === 'DeletionBlocked');
      expect(held.status?.phase).to.equal('Deleting');
      captureContractRow('deletion-blocked', held);
      expect((await getMeshRevision(c, m.oldRev))?.metadata.deletionTimestamp, 'still there, in use').to.not.equal(undefined);
      await eventually('the revision still held a moment later', async () => (await getMeshRevision(c, m.oldRev)) !== undefined);
    });
  });
});
