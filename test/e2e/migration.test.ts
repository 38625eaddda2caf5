// Canary migration of namespaces between revisions on the real local cluster:
// real admission through two loopback injectors, real rollouts (KWOK), the
// operator running as its ServiceAccount.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ANNOTATION_ORIGIN } from '../../src/api/migration.js';
import { main } from '../../src/cli/main.js';
import type { PlanJson } from '../../src/cli/plan-view.js';
import { E2E_KUBECONFIG_ENV } from '../support/kube.js';
import type { RunningOperator } from '../../src/operator.js';
import { clients, eventually, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  patchMigration,
  podsIn,
  rolloutCounts,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';
import { captureContractRow } from '../support/contract.js';

describe('canary migration', function () {
  this.timeout(240_000);
  let c: Clients;
  let op: RunningOperator | undefined;

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-migration');
  });

  after(async function () {
    await op?.stop();
  });

  describe('a 3-step migration of 10 namespaces', function () {
    let mesh: Mesh | undefined;
    const eligible: string[] = [];
    const expectedPods = new Map<string, number>();
    const originLabels = new Map<string, Record<string, string>>();
    let disabled: string;
    let outside: string;
    let untouchedBefore: Map<string, string[]>;
    let optedOutBefore: string[];
    let barePodUid: string;

    before(async function () {
      mesh = await startMesh(c);
      for (let i = 0; i < 10; i++) {
        const labels: Record<string, string> = i < 7 ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': mesh.oldRev };
        const apps = {
          deployments: [{ name: 'web' }, ...(i === 2 ? [{ name: 'legacy', optOut: true }] : [])],
          ...(i === 0 ? { statefulSet: 'db' } : {}),
          ...(i === 1 ? { daemonSet: 'agent' } : {}),
          ...(i === 2 ? { barePod: 'manual' } : {}),
        };
        const ns = await createAppNamespace(c, mesh, `mig${i}`, labels, apps);
        eligible.push(ns);
        originLabels.set(ns, labels);
        expectedPods.set(ns, 2 + (i === 0 ? 2 : 0) + (i === 1 ? 1 : 0) + (i === 2 ? 3 : 0));
      }
      disabled = await createAppNamespace(c, mesh, 'mig-disabled', { 'istio-injection': 'disabled' }, { deployments: [{ name: 'web' }] });
      outside = await createAppNamespace(c, mesh, 'mig-outside', { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web' }] }, false);
      for (const ns of eligible) {
        const pods = await waitSettled(c, ns, expectedPods.get(ns)!);
        const injected = pods.filter((p) => p.app !== 'legacy' && p.app !== 'manual');
        expect(injected.every((p) => p.revision === mesh!.oldRev), `${ns} starts on ${mesh.oldRev}`).to.equal(true);
      }
      untouchedBefore = new Map();
      for (const ns of [disabled, outside]) untouchedBefore.set(ns, (await waitSettled(c, ns, 2)).map((p) => p.uid));
      const ns2 = await podsIn(c, eligible[2]!);
      optedOutBefore = ns2.filter((p) => p.app === 'legacy').map((p) => p.uid);
      barePodUid = ns2.find((p) => p.name === 'manual')!.uid;
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('moves every eligible pod to the new revision in 3 steps, restarting each workload exactly once', async function () {
      const m = mesh!;
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { steps: [{ namespaces: 1 }, { percent: 50 }, { percent: 100 }], maxConcurrentNamespaces: 3 }),
      }));
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
      captureContractRow('succeeded', done);
      expect(done.status?.migration?.steps?.map((s) => s.target)).to.deep.equal([1, 5, 10]);
      expect(done.status?.migration?.counts).to.include({ eligible: 10, migrated: 10, failed: 0 });
      expect(done.status?.conditions?.find((x) => x.type === 'Ready')?.status).to.equal('True');
      const metrics = (await op!.metrics.render()).body;
      expect(metrics).to.match(new RegExp(`meshrev_migration_namespaces\\{meshrevision="${m.newRev}",state="Migrated"\\} 10`));
      expect(metrics).to.match(/meshrev_namespace_migration_duration_seconds_count\{direction="forward"\} ([1-9]\d+)/);

      for (const ns of eligible) {
        expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
        const pods = await waitSettled(c, ns, expectedPods.get(ns)!);
        for (const p of pods.filter((x) => x.app !== 'legacy' && x.app !== 'manual')) {
          expect(p.revision, `${ns}/${p.name}`).to.equal(m.newRev);
        }
        const counts = await rolloutCounts(c, ns);
        for (const [w, n] of Object.entries(counts)) {
          expect(n, `${ns} ${w} rollouts`).to.equal(w === 'Deployment/legacy' ? 1 : 2);
        }
        const origin = JSON.parse((await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '{}') as { labels?: unknown };
        expect(origin.labels, `${ns} origin`).to.deep.equal(originLabels.get(ns));
      }
      for (const ns of [disabled, outside]) {
        expect((await podsIn(c, ns)).map((p) => p.uid), `${ns} pods untouched`).to.deep.equal(untouchedBefore.get(ns));
      }
      expect(await namespaceLabels(c, disabled)).to.deep.equal({ 'istio-injection': 'disabled' });
      expect(await namespaceLabels(c, outside)).to.deep.equal({ 'istio-injection': 'enabled' });
      const ns2 = await podsIn(c, eligible[2]!);
      expect(ns2.filter((p) => p.app === 'legacy').map((p) => p.uid), 'opted-out pods untouched').to.deep.equal(optedOutBefore);
      expect(ns2.find((p) => p.name === 'manual')?.uid, 'owner-less pod kept').to.equal(barePodUid);
      // A migrated namespace is counted, not listed, in status: what was reported there is in its NamespaceMigrated event.
      expect(done.status?.migration?.namespaces ?? [], 'status lists no migrated namespace').to.deep.equal([]);
      const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${m.newRev}` });
      const arrived = events.items.filter((e) => e.reason === 'NamespaceMigrated' && (e.message ?? '').startsWith(`namespace ${eligible[2]!} `));
      expect(arrived, 'one NamespaceMigrated event').to.have.length(1);
      expect(arrived[0]!.message).to.match(/pod manual has no controller/);
      expect(arrived[0]!.message).to.match(/legacy left alone: opted out/);
    });

    it('rolls every namespace back to its exact origin labels and re-injects its pods from the old revision', async function () {
      const m = mesh!;
      await patchMigration(c, m.newRev, { rollback: { all: true } });
      const back = await waitMigrationPhase(c, m.newRev, 'RolledBack', 180_000);
      captureContractRow('requested-rolled-back', back);
      expect(back.status?.migration?.counts?.rolledBack).to.equal(10);
      // A rollback the user asked for that completed is success (the status contract in README.md): Ready, no failure.
      expect(back.status?.conditions?.find((x) => x.type === 'Ready')).to.deep.include({ status: 'True', reason: 'MigrationRolledBack' });
      expect(back.status?.conditions?.find((x) => x.type === 'Stalled')).to.equal(undefined);
      expect(back.status?.lastFailure).to.equal(undefined);
      expect(back.status?.migration?.rollbackRequested).to.equal(true);
      expect(back.status?.phase).to.equal('RolledBack');
      expect(back.status?.migration?.summary).to.equal('10/10 rolled back');
      for (const ns of eligible) {
        expect(await namespaceLabels(c, ns), ns).to.deep.equal(originLabels.get(ns));
        const record = JSON.parse((await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '{}') as { rolledBackAt?: string };
        expect(record.rolledBackAt, `${ns} marked rolled back`).to.be.a('string');
        const pods = await waitSettled(c, ns, expectedPods.get(ns)!);
        for (const p of pods.filter((x) => x.app !== 'legacy' && x.app !== 'manual')) expect(p.revision, `${ns}/${p.name}`).to.equal(m.oldRev);
        for (const [w, n] of Object.entries(await rolloutCounts(c, ns))) expect(n, `${ns} ${w} rollouts`).to.equal(w === 'Deployment/legacy' ? 1 : 3);
      }
      // Rolled back stays rolled back: nothing moves again without a spec change.
      await new Promise((r) => setTimeout(r, 3000));
      for (const ns of eligible) expect(await namespaceLabels(c, ns)).to.deep.equal(originLabels.get(ns));
    });
  });

  describe('pauses and promotion', function () {
    let mesh: Mesh | undefined;
    const names: string[] = [];

    before(async function () {
      mesh = await startMesh(c);
      for (let i = 0; i < 3; i++) names.push(await createAppNamespace(c, mesh, `pause${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
      for (const ns of names) await waitSettled(c, ns, 1);
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('soaks after step 1 for its pause, waits indefinitely after step 2 until promoted, and holds while suspended', async function () {
      const m = mesh!;
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
        migration: migrationFor(m, { steps: [{ namespaces: 1, pause: '4s' }, { namespaces: 2, pause: 'indefinite' }, { percent: 100 }] }),
      }));
      const paused = await waitMigrationPhase(c, m.newRev, 'Paused');
      captureContractRow('soaking', paused);
      expect(paused.status?.migration?.counts?.migrated).to.equal(1);
      expect(paused.status?.conditions?.find((x) => x.type === 'Reconciling')?.status).to.equal('True');

      const waiting = await waitMigrationPhase(c, m.newRev, 'AwaitingPromotion');
      captureContractRow('awaiting-promotion', waiting);
      expect(waiting.status?.migration?.counts?.migrated).to.equal(2);
      expect(waiting.status?.conditions?.find((x) => x.type === 'Ready')?.message).to.match(/promotedStep: 2/);
      // A planned human gate is not convergence: Ready=True, no Reconciling (kstatus Current; Argo CD Suspended).
      expect(waiting.status?.conditions?.find((x) => x.type === 'Ready')).to.deep.include({ status: 'True', reason: 'MigrationAwaitingPromotion' });
      expect(waiting.status?.conditions?.find((x) => x.type === 'Reconciling')).to.equal(undefined);
      expect(waiting.status?.phase).to.equal('AwaitingPromotion');
      await new Promise((r) => setTimeout(r, 3000));
      expect((await getMeshRevision(c, m.newRev))?.status?.migration?.counts?.migrated, 'nothing moves while awaiting promotion').to.equal(2);

      // Promote while suspended: still nothing moves until resumed.
      await patchMigration(c, m.newRev, { promotedStep: 2, paused: true });
      captureContractRow('suspended', await waitMigrationPhase(c, m.newRev, 'Suspended'));
      await new Promise((r) => setTimeout(r, 3000));
      expect((await getMeshRevision(c, m.newRev))?.status?.migration?.counts?.migrated, 'nothing moves while suspended').to.equal(2);

      await patchMigration(c, m.newRev, { paused: false });
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded');
      expect(done.status?.migration?.counts?.migrated).to.equal(3);
      for (const ns of names) expect((await waitSettled(c, ns, 1))[0]?.revision).to.equal(m.newRev);
      // Migration-level Events, one per transition (emitted just after the status they follow: give them a moment).
      const want = ['MigrationStarted', 'StepCompleted', 'MigrationAwaitingPromotion', 'MigrationSucceeded'];
      let reasons: string[] = [];
      for (let i = 0; i < 50 && !want.every((r) => reasons.includes(r)); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${m.newRev}` });
        reasons = events.items.map((e) => e.reason ?? '');
      }
      expect(reasons).to.include.members(want);
      expect(reasons.filter((r) => r === 'StepCompleted').length, 'one StepCompleted per step').to.equal(3);
    });
  });

  describe('deleting the MeshRevision', function () {
    let mesh: Mesh | undefined;
    const names: string[] = [];
    const origins: Record<string, string>[] = [];

    before(async function () {
      mesh = await startMesh(c);
      origins.push({ 'istio-injection': 'enabled' }, { 'istio.io/rev': mesh.oldRev });
      for (let i = 0; i < 2; i++) names.push(await createAppNamespace(c, mesh, `del${i}`, origins[i]!, { deployments: [{ name: 'web', replicas: 1 }] }));
      for (const ns of names) await waitSettled(c, ns, 1);
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
    });

    it('returns every migrated namespace to its origin before removing the webhook', async function () {
      const m = mesh!;
      await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { maxConcurrentNamespaces: 2 }) }));
      await waitMigrationPhase(c, m.newRev, 'Succeeded');
      for (const ns of names) expect((await waitSettled(c, ns, 1))[0]?.revision).to.equal(m.newRev);

      await c.objects.delete({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', metadata: { name: m.newRev } });
      await eventually(`${m.newRev} gone`, async () => (await getMeshRevision(c, m.newRev)) === undefined, { timeoutMs: 120_000 });
      m.meshRevisions.splice(m.meshRevisions.indexOf(m.newRev), 1);
      expect(await c.admission.readMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${m.newRev}` }).catch(() => undefined)).to.equal(undefined);
      for (const [i, ns] of names.entries()) {
        expect(await namespaceLabels(c, ns)).to.deep.equal(origins[i]);
        expect((await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN], `${ns} record removed with the MeshRevision`).to.equal(undefined);
        expect((await waitSettled(c, ns, 1))[0]?.revision).to.equal(m.oldRev);
      }
    });
  });

  describe('meshrev plan', function () {
    let mesh: Mesh | undefined;
    let dir: string;
    const names: string[] = [];

    before(async function () {
      mesh = await startMesh(c);
      dir = mkdtempSync(join(tmpdir(), 'meshrev-plan-'));
      for (let i = 0; i < 4; i++) {
        const apps = { deployments: [{ name: 'web' }, ...(i === 1 ? [{ name: 'batch', optOut: true }] : [])], ...(i === 2 ? { daemonSet: 'agent' } : {}), ...(i === 3 ? { barePod: 'manual' } : {}) };
        names.push(await createAppNamespace(c, mesh, `plan${i}`, i % 2 === 0 ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': mesh.oldRev }, apps));
      }
      await createAppNamespace(c, mesh, 'plan-off', { 'istio-injection': 'disabled' }, { deployments: [{ name: 'web' }] });
      for (const [i, ns] of names.entries()) await waitSettled(c, ns, 2 + (i === 1 ? 2 : 0) + (i === 2 ? 1 : 0) + (i === 3 ? 1 : 0));
    });

    after(async function () {
      this.timeout(120_000);
      await stopMesh(c, mesh);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('prints, before the migration, exactly the steps, namespaces and restarts the operator then carries out', async function () {
      const m = mesh!;
      const obj = meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { steps: [{ namespaces: 1 }, { percent: 50 }, { percent: 100 }] }) });
      const file = join(dir, 'mrev.yaml');
      writeFileSync(file, stringify(obj));
      let out = '';
      const code = await main(['plan', '-f', file, '--kubeconfig', process.env[E2E_KUBECONFIG_ENV]!, '-o', 'json'], { writeOut: (t) => (out += t), writeErr: (t) => (out += t) });
      process.exitCode = 0;
      expect(code, out).to.equal(0);
      const plan = JSON.parse(out) as PlanJson;
      const planned = plan.steps.map((s) => s.namespaces.map((n) => n.name).filter((n) => names.includes(n)).sort());
      const restarts = new Map(plan.steps.flatMap((s) => s.namespaces.map((n) => [n.name, [...n.restart].sort()] as const)));
      expect(planned.flat().sort(), 'every eligible namespace is planned').to.deep.equal([...names].sort());

      await createMeshRevision(c, m, obj);
      const done = await waitMigrationPhase(c, m.newRev, 'Succeeded');
      // Each namespace records the step it moved in on itself (status lists only namespaces still moving).
      const stepOf = new Map<string, number | undefined>();
      for (const ns of names) stepOf.set(ns, (JSON.parse((await c.core.readNamespace({ name: ns })).metadata?.annotations?.['meshrev.io/origin'] ?? '{}') as { step?: number }).step);
      const did = plan.steps.map((s) => names.filter((n) => stepOf.get(n) === s.index).sort());
      expect(done.status?.migration?.namespaces ?? [], 'status lists no migrated namespace').to.deep.equal([]);
      expect(did, 'namespaces per step').to.deep.equal(planned);
      for (const ns of names) {
        const restarted = Object.entries(await rolloutCounts(c, ns)).filter(([, n]) => n === 2).map(([w]) => w).sort();
        expect(restarted, `${ns}: workloads restarted`).to.deep.equal(restarts.get(ns));
      }
    });
  });
});
