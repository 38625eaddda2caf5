// The day-2 verbs on the real local cluster, run in-process through main():
// a migration of 3 namespaces with an indefinite pause after each of its
// first two steps is driven only by `meshrev promote / pause / resume /
// rollback / retry`, the operator running as its ServiceAccount. The
// MeshRevision carries Flux's label, so every verb warns that Git would revert it.
import { expect } from 'chai';
import { API_VERSION, KIND } from '../../src/api/meshrevision.js';
import { main } from '../../src/cli/main.js';
import type { RunningOperator } from '../../src/operator.js';
import { clients, E2E_KUBECONFIG_ENV, eventually, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  startMesh,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

describe('cli: steering a migration with the day-2 verbs', function () {
  this.timeout(300_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let mesh: Mesh | undefined;
  let kubeconfig: string;
  const names: string[] = [];
  const origins: Record<string, string>[] = [];
  /** Runs a verb against the test cluster. */
  const verb = (...args: string[]) => run(...args, '--kubeconfig', kubeconfig);

  before(async function () {
    c = clients();
    kubeconfig = process.env[E2E_KUBECONFIG_ENV] ?? '';
    if (!kubeconfig) throw new Error(`${E2E_KUBECONFIG_ENV} is not set`);
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-cli-steering');
    mesh = await startMesh(c);
    origins.push({ 'istio-injection': 'enabled' }, { 'istio.io/rev': mesh.oldRev }, { 'istio-injection': 'enabled' });
    for (let i = 0; i < 3; i++) names.push(await createAppNamespace(c, mesh, `steer${i}`, origins[i]!, { deployments: [{ name: 'web', replicas: 1 }] }));
    for (const ns of names) await waitSettled(c, ns, 1);
  });

  after(async function () {
    this.timeout(120_000);
    await stopMesh(c, mesh);
    await op?.stop();
  });

  it('promote, pause, resume, rollback and retry drive it, each printing its change and Flux\'s drift warning', async function () {
    const m = mesh!;
    const obj = meshRevisionObject(m.newRev, m.newInjector, {
      migration: migrationFor(m, { steps: [{ namespaces: 1, pause: 'indefinite' }, { namespaces: 2, pause: 'indefinite' }, { percent: 100 }] }),
    });
    obj.metadata.labels = { 'kustomize.toolkit.fluxcd.io/name': 'mesh', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };
    await createMeshRevision(c, m, obj);
    const spec = async () => (await getMeshRevision(c, m.newRev))?.spec.migration;

    let waiting = await waitMigrationPhase(c, m.newRev, 'AwaitingPromotion');
    expect(waiting.status?.migration?.currentStep).to.equal(1);

    // --dry-run: validated by the API server, nothing stored.
    const dry = await verb('promote', m.newRev, '--dry-run');
    expect(dry.code, dry.err).to.equal(0);
    expect(dry.out).to.equal(`meshrevision/${m.newRev} promoted (dry run: validated by the API server, nothing changed)\n  spec.migration.promotedStep: (unset) → 1\n`);
    expect((await spec())?.promotedStep).to.equal(undefined);

    const promote1 = await verb('promote', m.newRev);
    expect(promote1.code, promote1.err).to.equal(0);
    expect(promote1.out).to.equal(`meshrevision/${m.newRev} promoted\n  spec.migration.promotedStep: (unset) → 1\n`);
    expect(promote1.err).to.contain('warning: Flux manages this MeshRevision (label kustomize.toolkit.fluxcd.io/name=mesh)')
      .and.contain(`kind: ${KIND}`).and.contain(`apiVersion: ${API_VERSION}`).and.contain('promotedStep: 1');
    waiting = await eventually('step 2 awaiting promotion', async () => {
      const w = await waitMigrationPhase(c, m.newRev, 'AwaitingPromotion');
      return w.status?.migration?.currentStep === 2 ? w : false;
    });
    expect(waiting.status?.migration?.counts?.migrated).to.equal(2);

    const pause = await verb('pause', m.newRev);
    expect(pause.code, pause.err).to.equal(0);
    // The CRD defaults paused to false.
    expect(pause.out).to.contain('spec.migration.paused: false → true');
    await waitMigrationPhase(c, m.newRev, 'Suspended');
    const again = await verb('pause', m.newRev);
    expect(again.out).to.equal(`meshrevision/${m.newRev} unchanged: spec.migration.paused is already true\n`);
    const early = await verb('promote', m.newRev);
    expect(early.code).to.equal(1);
    expect(early.err).to.contain(`MeshRevision ${m.newRev} has no step awaiting promotion (migration phase: Suspended)`);

    const resume = await verb('resume', m.newRev);
    expect(resume.out).to.contain('spec.migration.paused: true → false');
    await waitMigrationPhase(c, m.newRev, 'AwaitingPromotion');
    const promote2 = await verb('promote', m.newRev);
    expect(promote2.out).to.contain('spec.migration.promotedStep: 1 → 2');
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded');
    expect(done.status?.migration?.counts?.migrated).to.equal(3);
    for (const ns of names) expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });

    const one = await verb('rollback', m.newRev, '--namespaces', names[0]!);
    expect(one.code, one.err).to.equal(0);
    expect(one.out, `stdout of rollback --namespaces (stderr: ${one.err})`).to.contain(`spec.migration.rollback: (unset) → {"namespaces":["${names[0]}"]}`);
    await eventually(`${names[0]} back at its origin`, async () =>
      JSON.stringify(await namespaceLabels(c, names[0]!)) === JSON.stringify(origins[0]), { timeoutMs: 120_000 });
    expect(await namespaceLabels(c, names[1]!)).to.deep.equal({ 'istio.io/rev': m.newRev });

    const all = await verb('rollback', m.newRev);
    expect(all.out, `stdout of rollback (stderr: ${all.err})`).to.contain(`spec.migration.rollback: {"namespaces":["${names[0]}"]} → {"all":true}`);
    const back = await waitMigrationPhase(c, m.newRev, 'RolledBack', 180_000);
    expect(back.status?.migration?.counts?.rolledBack).to.equal(3);
    for (const [i, ns] of names.entries()) expect(await namespaceLabels(c, ns), ns).to.deep.equal(origins[i]);

    const generation = back.metadata.generation ?? 0;
    const retry = await verb('retry', m.newRev);
    expect(retry.code, retry.err).to.equal(0);
    expect(retry.out).to.contain('spec.migration.rollback: {"all":true} → (unset)');
    const retried = await eventually('a new generation succeeds', async () => {
      const r = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
      return (r.metadata.generation ?? 0) > generation ? r : false;
    }, { timeoutMs: 180_000 });
    expect(retried.status?.migration?.counts?.migrated).to.equal(3);
    for (const ns of names) expect((await waitSettled(c, ns, 1))[0]?.revision, ns).to.equal(m.newRev);
  });

  it('status -n of a namespace that does not exist says so and exits 1', async function () {
    const r = await run('status', '-n', 'does-not-exist-meshrev', '--kubeconfig', kubeconfig);
    expect(r.code).to.equal(1);
    expect(r.out).to.equal('');
    expect(r.err).to.contain('namespace does-not-exist-meshrev does not exist');
  });

  it('a verb on a MeshRevision that does not exist exits 1 and says how to list them', async function () {
    const r = await verb('pause', 'no-such-meshrevision');
    expect(r.code).to.equal(1);
    expect(r.err).to.equal('error: MeshRevision no-such-meshrevision not found (kubectl get meshrevisions lists them)\n');
  });
});
