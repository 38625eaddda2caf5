// `meshrev status --watch` on the real local cluster while the operator (as
// its ServiceAccount) carries out a migration with a human gate: the CLI's
// frames follow the migration from watch events alone — no LIST after its
// first sync, counted at the API server — show the hint at the gate, and the
// watch ends by itself when the migration succeeds.
//
// Counting: kube-apiserver's apiserver_request_total has no label for the
// client (the local cluster runs without API Priority and Fairness and
// without an audit log), so the test counts every client's cluster-wide
// LISTs of the four resources the CLI reads. The CLI's first sync must add
// one LIST of each (the metric sees it), and from then until the watch ends
// the count must not move at all: zero for every client is zero for the CLI.
// The operator's informers, synced before, LIST nothing either; the test
// itself only GETs, creates and patches. The CLI's open watches show in the
// apiserver_longrunning_requests gauge, and are gone once it has ended.
import { expect } from 'chai';
import { getText, parseProm } from '../../bench/migration-support.js';
import { main } from '../../src/cli/main.js';
import type { MigrationRow, StatusReport } from '../../src/cli/status-view.js';
import type { RunningOperator } from '../../src/operator.js';
import { clients, E2E_KUBECONFIG_ENV, eventually, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  meshRevisionObject,
  migrationFor,
  patchMigration,
  startMesh,
  stopMesh,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

/** The cluster-scoped resources `status --watch` lists once and then watches (group-qualified as the metric names them). */
const WATCHED = ['meshrevisions.meshrev.io', 'namespaces', 'pods', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'];

/** For each watched resource: cluster-wide LISTs served so far (all clients), and WATCH requests open now. */
async function apiserverCounts(c: Clients): Promise<{ lists: Record<string, number>; watches: Record<string, number> }> {
  const text = await getText(`${c.kc.getCurrentCluster()!.server}/metrics`, c.kc);
  const lists: Record<string, number> = Object.fromEntries(WATCHED.map((r) => [r, 0]));
  const watches: Record<string, number> = Object.fromEntries(WATCHED.map((r) => [r, 0]));
  for (const s of parseProm(text, (n) => n === 'apiserver_request_total' || n === 'apiserver_longrunning_requests')) {
    const { verb, resource = '', group = '', scope, subresource = '' } = s.labels;
    const key = group ? `${resource}.${group}` : resource;
    if (!(key in lists) || scope !== 'cluster' || subresource !== '') continue;
    if (s.name === 'apiserver_request_total' && verb === 'LIST') lists[key]! += s.value;
    if (s.name === 'apiserver_longrunning_requests' && verb === 'WATCH') watches[key]! += s.value;
  }
  return { lists, watches };
}

function minus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - (b[k] ?? 0)]));
}

describe('cli: meshrev status --watch follows a migration from watch events', function () {
  this.timeout(240_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let mesh: Mesh | undefined;
  const names: string[] = [];

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-status-watch');
    mesh = await startMesh(c);
    for (let i = 0; i < 3; i++) names.push(await createAppNamespace(c, mesh, `watch${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
    for (const ns of names) await waitSettled(c, ns, 1);
    // kube-controller-manager's garbage collector and quota controller find a new CRD by discovery (every 30 s)
    // and then LIST it once: wait for that watch next to the operator's, so it cannot land in the window.
    await eventually('kube-controller-manager watching MeshRevisions next to the operator', async () =>
      (await apiserverCounts(c)).watches['meshrevisions.meshrev.io']! >= 2, { timeoutMs: 90_000, intervalMs: 1000 });
  });

  after(async function () {
    this.timeout(120_000);
    await stopMesh(c, mesh);
    await op?.stop();
  });

  it('redraws each step, shows the promote hint at the gate, makes no LIST after its first sync, and ends when the migration succeeds', async function () {
    const m = mesh!;
    const kubeconfig = process.env[E2E_KUBECONFIG_ENV]!;
    const before = await apiserverCounts(c);

    // The CLI in-process, JSON Lines: one report per frame.
    let out = '';
    let err = '';
    const frames = (): StatusReport[] => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as StatusReport);
    const row = (f: StatusReport): MigrationRow | undefined => f.migrations.find((x) => x.meshRevision === m.newRev);
    const saved = process.exitCode;
    const watching = main(['status', '--watch', '-o', 'json', '--interval', '200ms', '--kubeconfig', kubeconfig], {
      writeOut: (t) => { out += t; },
      writeErr: (t) => { err += t; },
    });
    let ended: number | undefined;
    void watching.then((code) => { ended = code; });

    await eventually('the first frame (caches synced)', () => Promise.resolve(frames().length >= 1), { timeoutMs: 30_000, intervalMs: 50 });
    expect(row(frames()[0]!), 'no migration of this mesh yet').to.equal(undefined);
    expect(ended, 'started before the migration, it waits for one').to.equal(undefined);
    const synced = await apiserverCounts(c);
    const syncLists = minus(synced.lists, before.lists);
    // The metric sees the CLI: its first sync is one LIST of each resource, and it holds one watch on each.
    expect(syncLists, 'LISTs of the first sync').to.deep.equal(Object.fromEntries(WATCHED.map((r) => [r, 1])));
    // Other clients' watches come and go too (client-node reopens a watch quiet for 30 s): at least one more of each.
    await eventually('the CLI\'s four watches open', async () => {
      const opened = minus((await apiserverCounts(c)).watches, before.watches);
      return WATCHED.every((r) => opened[r]! >= 1) ? opened : false;
    }, { timeoutMs: 10_000, intervalMs: 100 });

    // A migration that stops after step 1 until promoted; the CLI keeps watching while it waits.
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
      migration: migrationFor(m, { steps: [{ namespaces: 1, pause: 'indefinite' }, { percent: 100 }] }),
    }));
    const gate = await eventually('a frame at the gate', () => Promise.resolve(frames().map(row).find((r) => r?.phase === 'AwaitingPromotion')), { timeoutMs: 90_000, intervalMs: 100 });
    expect(gate.hint).to.equal(`${m.newRev} finished step 1 of 2 and awaits promotion: run "meshrev promote ${m.newRev}" to start step 2, or "meshrev rollback ${m.newRev}"`);
    expect(gate.counts.migrated).to.equal(1);
    expect(ended, 'still watching at the gate').to.equal(undefined);

    await patchMigration(c, m.newRev, { promotedStep: 1 });
    const code = await watching;
    process.exitCode = saved;
    expect(code, err).to.equal(0);
    const after = await apiserverCounts(c);

    const rows = frames().map(row).filter((r): r is MigrationRow => r !== undefined);
    const last = rows.at(-1)!;
    expect(last).to.deep.include({ phase: 'Succeeded', outcome: 'succeeded', hint: null, progress: '[####################] 3/3' });
    // Frames follow the migration as it goes: moving, the gate, moving again, done.
    const phases = rows.map((r) => r.phase ?? '(no status yet)').filter((p, i, all) => p !== all[i - 1]);
    expect(phases.indexOf('AwaitingPromotion'), `phases seen: ${phases.join(' → ')}`).to.be.greaterThan(0);
    expect(phases.at(-1)).to.equal('Succeeded');
    expect(new Set(rows.map((r) => r.counts.migrated)), 'every count drawn').to.include.members([0, 1, 3]);
    console.log(`      status --watch: ${frames().length} frames (${phases.join(' → ')}); LISTs at sync ${JSON.stringify(syncLists)}, after sync ${JSON.stringify(minus(after.lists, synced.lists))}`);

    expect(minus(after.lists, synced.lists), 'cluster-wide LISTs of the watched resources after the first sync, by any client').to.deep.equal(Object.fromEntries(WATCHED.map((r) => [r, 0])));
    await eventually('the CLI\'s watches closed', async () => {
      const now = await apiserverCounts(c);
      return WATCHED.every((r) => now.watches[r]! <= before.watches[r]!);
    }, { timeoutMs: 10_000, intervalMs: 200 });
  });
});
