// An operator killed at any moment resumes without restarting a workload
// twice: the operator runs as a separate process (`meshrev operator`, as its
// ServiceAccount) and is SIGKILLed several times in the middle of a migration.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANNOTATION_ORIGIN } from '../../src/api/migration.js';
import { clients, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  rolloutCounts,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { installOperatorManifests, serviceAccountKubeConfig, spawnOperator, writeKubeConfig, type OperatorProcess } from '../support/operator.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an operator killed mid-migration', function () {
  this.timeout(300_000);
  let c: Clients;
  let dir: string;
  let kubeconfig: string;
  let proc: OperatorProcess | undefined;
  let mesh: Mesh | undefined;
  const names: string[] = [];
  const origins = new Map<string, Record<string, string>>();
  const podCount = new Map<string, number>();

  before(async function () {
    c = clients();
    await installOperatorManifests(c);
    dir = mkdtempSync(join(tmpdir(), 'meshrev-resume-'));
    kubeconfig = writeKubeConfig(await serviceAccountKubeConfig(c), dir);
    proc = spawnOperator(kubeconfig);
    mesh = await startMesh(c);
    for (let i = 0; i < 6; i++) {
      const labels: Record<string, string> = i % 2 === 0 ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': mesh.oldRev };
      const apps = { deployments: [{ name: 'web' }, { name: 'api', replicas: 1 }], ...(i === 0 ? { statefulSet: 'db' } : {}), ...(i === 1 ? { daemonSet: 'agent' } : {}) };
      const ns = await createAppNamespace(c, mesh, `resume${i}`, labels, apps);
      names.push(ns);
      origins.set(ns, labels);
      podCount.set(ns, 3 + (i === 0 ? 2 : 0) + (i === 1 ? 1 : 0));
    }
    for (const ns of names) await waitSettled(c, ns, podCount.get(ns)!);
  });

  after(async function () {
    this.timeout(120_000);
    if (proc?.child.exitCode !== null || proc.child.signalCode !== null) proc = kubeconfig ? spawnOperator(kubeconfig) : undefined;
    if (c) await stopMesh(c, mesh);
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the same final state after SIGKILLs at several points, restarting no workload twice', async function () {
    const m = mesh!;
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
      migration: migrationFor(m, { steps: [{ namespaces: 2 }, { percent: 100 }], maxConcurrentNamespaces: 2, maxConcurrentRestarts: 3 }),
    }));
    // Kill at different moments of the migration: while relabelling, restarting, verifying, between steps.
    const seen: string[] = [];
    for (const delay of [400, 1500, 2600, 900, 2000, 3200]) {
      await sleep(delay);
      const s = (await getMeshRevision(c, m.newRev))?.status?.migration;
      seen.push(`${s?.phase ?? 'none'} ${s?.summary ?? ''} in-progress=${s?.counts?.inProgress ?? 0}`);
      await proc!.kill();
      proc = spawnOperator(kubeconfig);
    }
    console.log(`      killed at: ${seen.join(' | ')}`);
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
    expect(done.status?.migration?.counts).to.include({ eligible: 6, migrated: 6, failed: 0 });
    expect(seen.some((s) => !s.startsWith('Succeeded')), 'at least one kill landed mid-migration').to.equal(true);

    for (const ns of names) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
      const origin = JSON.parse((await c.core.readNamespace({ name: ns })).metadata?.annotations?.[ANNOTATION_ORIGIN] ?? '{}') as { labels?: unknown };
      expect(origin.labels, `${ns} origin`).to.deep.equal(origins.get(ns));
      const pods = await waitSettled(c, ns, podCount.get(ns)!);
      for (const p of pods) expect(p.revision, `${ns}/${p.name}`).to.equal(m.newRev);
      for (const [w, n] of Object.entries(await rolloutCounts(c, ns))) expect(n, `${ns} ${w} restarted exactly once`).to.equal(2);
    }
  });

  it('shuts down gracefully on SIGTERM with exit code 0', async function () {
    const running = proc!;
    // Let the fresh process finish starting (caches synced) so SIGTERM meets its handler.
    await new Promise((r) => setTimeout(r, 3000));
    const exit = await running.stop();
    expect(exit, `exit of the operator; its last output:\n${running.output().slice(-800)}`).to.deep.equal({ code: 0, signal: null });
    expect(running.output()).to.match(/"message":"stopped"/);
    proc = spawnOperator(kubeconfig);
  });
});
