// Upgrading the operator in place in the middle of a migration (issue 16):
// meshrev 0.1.0 — built from this repository's history — runs a migration
// to an indefinite pause after step 1 and writes its status shape, which
// lists every namespace. It is stopped and the current build takes over: it
// reads that status, keeps the migrated namespaces migrated (no workload
// restarted twice), rewrites status in the bounded shape (only namespaces
// moving, failed or returned), and finishes the migration once promoted.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANNOTATION_ORIGIN } from '../../src/api/migration.js';
import { clients, eventually, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  patchMigration,
  rolloutCounts,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { installOperatorManifests, serviceAccountKubeConfig, spawnOperator, writeKubeConfig, type OperatorProcess } from '../support/operator.js';
import { previousReleaseBundle, RELEASE_0_1_0 } from '../support/previous-release.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('upgrading the operator in place mid-migration (0.1.0 → current)', function () {
  this.timeout(600_000);
  let c: Clients;
  let dir: string | undefined;
  let kubeconfig = '';
  let proc: OperatorProcess | undefined;
  let mesh: Mesh | undefined;
  let oldBundle = '';
  const names: string[] = [];

  before(async function () {
    // Built once per commit and cached (about a minute the first time).
    oldBundle = previousReleaseBundle(RELEASE_0_1_0);
    c = clients();
    await installOperatorManifests(c);
    dir = mkdtempSync(join(tmpdir(), 'meshrev-upgrade-'));
    kubeconfig = writeKubeConfig(await serviceAccountKubeConfig(c), dir);
    // 0.1.0 runs the mesh from the start (it serves the old revision too), as before an upgrade.
    proc = spawnOperator(kubeconfig, [], oldBundle);
    mesh = await startMesh(c);
    for (let i = 0; i < 6; i++) names.push(await createAppNamespace(c, mesh, `upgrade${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
    for (const ns of names) await waitSettled(c, ns, 1);
  });

  after(async function () {
    this.timeout(120_000);
    // stopMesh waits for the migration's rollback, which needs an operator.
    if (proc?.child.exitCode !== null || proc.child.signalCode !== null) proc = kubeconfig ? spawnOperator(kubeconfig) : undefined;
    if (c) await stopMesh(c, mesh);
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the old status shape, keeps what was migrated, writes the bounded shape and finishes', async function () {
    const m = mesh!;
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
      migration: migrationFor(m, { steps: [{ namespaces: 2, pause: 'indefinite' }, { percent: 100 }], maxConcurrentNamespaces: 2 }),
    }));
    const paused = await waitMigrationPhase(c, m.newRev, 'AwaitingPromotion', 180_000);
    const oldShape = paused.status?.migration?.namespaces ?? [];
    const ours = oldShape.filter((e) => names.includes(e.name));
    // 0.1.0 lists every namespace: the two migrated and the four pending.
    expect(ours.map((e) => e.state).sort(), 'the old status lists every namespace').to.deep.equal(['Migrated', 'Migrated', 'Pending', 'Pending', 'Pending', 'Pending']);
    const moved = ours.filter((e) => e.state === 'Migrated').map((e) => e.name);
    const countsBefore = new Map<string, Record<string, number>>();
    for (const ns of names) countsBefore.set(ns, await rolloutCounts(c, ns));
    expect((await proc!.stop()).code, 'the old operator stops cleanly').to.equal(0);

    proc = spawnOperator(kubeconfig);
    const rewritten = await eventually('status rewritten in the bounded shape', async () => {
      const s = (await getMeshRevision(c, m.newRev))?.status?.migration;
      return (s?.namespaces ?? []).length === 0 && s?.counts?.migrated === 2 ? s : false;
    }, { timeoutMs: 60_000 });
    expect(rewritten.phase, 'still waiting for the promotion').to.equal('AwaitingPromotion');
    expect(rewritten.unlistedNamespaces, 'nothing beyond the list').to.equal(undefined);
    // A few more reconciles: the namespaces the old operator migrated are not judged or restarted again.
    await sleep(5000);
    for (const ns of names) expect(await rolloutCounts(c, ns), `${ns}: nothing restarted by the upgrade`).to.deep.equal(countsBefore.get(ns));

    await patchMigration(c, m.newRev, { promotedStep: 1 });
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
    expect(done.status?.migration?.counts).to.include({ eligible: 6, migrated: 6, failed: 0 });
    expect(done.status?.migration?.namespaces ?? [], 'a succeeded migration lists no namespace').to.deep.equal([]);
    for (const ns of names) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
      for (const [w, n] of Object.entries(await rolloutCounts(c, ns))) expect(n, `${ns} ${w} restarted exactly once`).to.equal(2);
      const origin = JSON.parse((await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '{}') as { step?: number };
      // 0.1.0 did not record the step on the namespace; the current version does for those it moves.
      expect(origin.step, `${ns} origin step`).to.equal(moved.includes(ns) ? undefined : 2);
    }
  });
});
