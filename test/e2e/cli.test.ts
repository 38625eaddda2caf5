// `meshrev status` and `meshrev plan` against the real local cluster, run
// in-process through main(). No operator runs: the MeshRevisions' status is
// written through the status subresource, and "injected" pods get their
// istio.io/rev annotation from their pod template, so the test controls
// exactly what the CLI sees.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type MeshRevision, type MeshRevisionStatus } from '../../src/api/meshrevision.js';
import { main } from '../../src/cli/main.js';
import type { PlanJson } from '../../src/cli/plan-view.js';
import type { NamespaceRow, StatusReport } from '../../src/cli/status-view.js';
import { clients, createNamespace, deleteNamespaceQuietly, E2E_KUBECONFIG_ENV, eventually, isPodReady, kubectl, uniqueName, type Clients } from '../support/kube.js';
import { installOperatorManifests } from '../support/operator.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

/** Set MESHREV_E2E_SHOW_CLI=1 to see the text output of both commands. */
const show = (title: string, text: string) => {
  if (process.env['MESHREV_E2E_SHOW_CLI']) console.log(`\n--- ${title}\n${text}`);
};

describe('cli: meshrev status and plan on a cluster', function () {
  this.timeout(180_000);
  let c: Clients;
  let kubeconfig: string;
  let dir: string;
  const sfx = uniqueName('c').slice(2);
  const oldRev = `old-${sfx}`;
  const newRev = `new-${sfx}`;
  const tag = `stable-${sfx}`;
  const selector = { key: 'e2e.meshrev.io/cli', value: sfx };
  const nsA = `cli-a-${sfx}`; // istio-injection=enabled (the default revision)
  const nsB = `cli-b-${sfx}`; // istio.io/rev=<tag of old>, pods on old and new
  const nsC = `cli-c-${sfx}`; // istio-injection=disabled
  const nsD = `cli-d-${sfx}`; // already on new
  const namespaces = [nsA, nsB, nsC, nsD];
  let newRevObject: MeshRevision;

  async function deployment(namespace: string, name: string, opts: { rev?: string; optOut?: boolean } = {}): Promise<void> {
    await c.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: {
              labels: { app: name, ...(opts.optOut ? { 'sidecar.istio.io/inject': 'false' } : {}) },
              // What the injector would have stamped: the CLI reads pods' revision from this annotation.
              annotations: opts.rev ? { 'istio.io/rev': opts.rev } : {},
            },
            spec: { containers: [{ name, image: `registry.invalid/${name}:1` }] },
          },
        },
      },
    });
  }

  async function writeStatus(name: string, status: MeshRevisionStatus): Promise<void> {
    const current = (await c.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as MeshRevision;
    await c.custom.replaceClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { ...current, status } });
  }

  before(async function () {
    c = clients();
    const path = process.env[E2E_KUBECONFIG_ENV];
    if (!path) throw new Error(`${E2E_KUBECONFIG_ENV} is not set`);
    kubeconfig = path;
    dir = mkdtempSync(join(tmpdir(), 'meshrev-cli-e2e-'));
    await installOperatorManifests(c);

    const sel = { [selector.key]: selector.value };
    await createNamespace(c, nsA, { ...sel, 'istio-injection': 'enabled' });
    await createNamespace(c, nsB, { ...sel, 'istio.io/rev': tag });
    await createNamespace(c, nsC, { ...sel, 'istio-injection': 'disabled' });
    await createNamespace(c, nsD, { ...sel, 'istio.io/rev': newRev });
    await deployment(nsA, 'web', { rev: oldRev });
    await deployment(nsA, 'legacy', { optOut: true });
    await c.core.createNamespacedPod({
      namespace: nsA,
      body: { metadata: { name: 'manual', annotations: { 'istio.io/rev': oldRev } }, spec: { containers: [{ name: 'm', image: 'registry.invalid/m:1' }] } },
    });
    await deployment(nsB, 'api', { rev: oldRev });
    await deployment(nsB, 'api2', { rev: newRev });
    await deployment(nsC, 'x');
    await deployment(nsD, 'front', { rev: newRev });

    await c.objects.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name: oldRev },
      spec: { revision: oldRev, tags: [tag], injector: { service: { name: `istiod-${oldRev}` } } },
    } as k8s.KubernetesObject);
    newRevObject = {
      apiVersion: API_VERSION, kind: KIND, metadata: { name: newRev },
      spec: {
        revision: newRev,
        injector: { service: { name: `istiod-${newRev}` } },
        migration: { from: ['default', tag], namespaceSelector: { matchLabels: sel }, steps: [{ namespaces: 1, pause: '1m' }] },
      },
    };
    await c.objects.create(newRevObject as unknown as k8s.KubernetesObject);
    const t = '2024-01-01T00:00:00Z';
    await writeStatus(oldRev, {
      observedGeneration: 1, phase: 'Ready', defaultRevision: true, activeTags: [tag],
      conditions: [{ type: 'Ready', status: 'True', reason: 'WebhookConfigured', message: 'webhooks applied', lastTransitionTime: t }],
      inUse: { summary: '2 ns, 3 pods' },
    });
    await writeStatus(newRev, {
      observedGeneration: 1, phase: 'Migrating', defaultRevision: false, activeTags: [],
      conditions: [{ type: 'Ready', status: 'False', reason: 'MigrationProgressing', message: 'moving', lastTransitionTime: t }],
      inUse: { summary: '2 ns, 2 pods' },
      migration: {
        generation: 1, phase: 'Progressing', currentStep: 1, summary: '0/2',
        steps: [{ index: 1, target: 1 }, { index: 2, target: 2 }],
        counts: { eligible: 2, migrated: 0, inProgress: 1, failed: 0, rolledBack: 0 },
        namespaces: [
          { name: nsA, state: 'Migrating', step: 1, from: 'default', message: 'relabelled; restarting workloads' },
          { name: nsB, state: 'Pending', step: 2, from: tag },
        ],
      },
    });

    // Every workload rolled out and its pod Ready, so the planner sees complete rollouts.
    const expected: Record<string, number> = { [nsA]: 3, [nsB]: 2, [nsC]: 1, [nsD]: 1 };
    for (const ns of namespaces) {
      await eventually(`pods and rollouts settled in ${ns}`, async () => {
        const pods = (await c.core.listNamespacedPod({ namespace: ns })).items;
        const deps = (await c.apps.listNamespacedDeployment({ namespace: ns })).items;
        return pods.length === expected[ns] && pods.every(isPodReady) && deps.every((d) => d.status?.availableReplicas === 1 && d.status.updatedReplicas === 1);
      }, { timeoutMs: 90_000 });
    }
  });

  after(async function () {
    await Promise.all(namespaces.map((n) => deleteNamespaceQuietly(c, n)));
    for (const name of [oldRev, newRev]) {
      await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }).catch(() => undefined);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('status', function () {
    let report: StatusReport;
    const row = (name: string): NamespaceRow => {
      const r = report.namespaces.find((n) => n.name === name);
      if (!r) throw new Error(`status lists no namespace ${name}: ${report.namespaces.map((n) => n.name).join(', ')}`);
      return r;
    };

    before(async function () {
      const r = await run('status', '--kubeconfig', kubeconfig, '-o', 'json');
      expect(r.err).to.equal('');
      expect(r.code).to.equal(0);
      report = JSON.parse(r.out) as StatusReport;
    });

    it('lists both MeshRevisions with default, tags, phase, Ready and migration summary from their status', function () {
      const old = report.revisions.find((x) => x.meshRevision === oldRev);
      const next = report.revisions.find((x) => x.meshRevision === newRev);
      expect(old).to.deep.equal({
        meshRevision: oldRev, revision: oldRev, default: true, tags: [tag], phase: 'Ready',
        ready: { status: 'True', reason: 'WebhookConfigured', message: 'webhooks applied' }, inUse: '2 ns, 3 pods', migration: null,
      });
      expect(next).to.include({ default: false, phase: 'Migrating', migration: '0/2 Progressing' });
    });

    it('resolves istio-injection=enabled to the default revision and a tag to its revision, counting pods per revision', function () {
      // Another test's MeshRevision may hold the default in a shared cluster; the CLI must name whoever does.
      const holder = report.revisions.find((x) => x.default && x.meshRevision !== null);
      expect(row(nsA)).to.deep.include({
        labels: { 'istio-injection': 'enabled' }, selects: 'default', revision: holder?.revision ?? null,
        pods: { [oldRev]: 2, uninjected: 1 },
      });
      expect(row(nsB)).to.deep.include({ labels: { 'istio.io/rev': tag }, selects: tag, revision: oldRev });
    });

    it('marks the namespace whose pods run two revisions as out of sync', function () {
      expect(row(nsB)).to.deep.include({ pods: { [newRev]: 1, [oldRev]: 1 }, stalePods: 1, inSync: false });
      expect(row(nsD)).to.deep.include({ revision: newRev, pods: { [newRev]: 1 }, inSync: true });
      expect(row(nsC)).to.deep.include({ selects: null, pods: { uninjected: 1 }, inSync: true });
    });

    it('shows each namespace\'s migration state and the migration\'s progress', function () {
      expect(row(nsA).migration).to.deep.equal({ meshRevision: newRev, state: 'Migrating', step: 1, from: 'default', message: 'relabelled; restarting workloads' });
      expect(row(nsB).migration).to.include({ meshRevision: newRev, state: 'Pending', step: 2 });
      expect(report.migrations.find((m) => m.meshRevision === newRev)).to.deep.equal({
        meshRevision: newRev, revision: newRev, from: ['default', tag], phase: 'Progressing', currentStep: 1, steps: 2,
        counts: { eligible: 2, migrated: 0, inProgress: 1, failed: 0, rolledBack: 0 }, progress: '[--------------------] 0/2',
        outcome: 'running', hint: null,
      });
    });

    it('prints aligned text tables, and only one namespace with -n', async function () {
      const all = await run('status', '--kubeconfig', kubeconfig);
      expect(all.code).to.equal(0);
      show('meshrev status', all.out);
      expect(all.out).to.match(new RegExp(`\\n${nsB}\\s+istio\\.io/rev=${tag}\\s+${tag}\\s+${oldRev}\\s+${newRev}: 1, ${oldRev}: 1\\s+NO \\(1 stale\\)\\s+${newRev}: Pending \\(step 2\\)\\n`));
      const one = await run('status', '--kubeconfig', kubeconfig, '-n', nsB, '-o', 'json');
      expect((JSON.parse(one.out) as StatusReport).namespaces.map((n) => n.name)).to.deep.equal([nsB]);
    });

    it('draws a first --watch frame once synced, one JSON document per line (status-watch.test.ts follows a migration)', async function () {
      // The migration's status here is written by hand and never moves: stop after the first frame.
      const r = await run('status', '--kubeconfig', kubeconfig, '-n', nsD, '-o', 'json', '--watch', '--interval', '200ms', '--max-iterations', '1');
      expect(r.code).to.equal(0);
      const frames = r.out.trim().split('\n').map((l) => JSON.parse(l) as StatusReport);
      expect(frames).to.have.length(1);
      expect(frames.map((f) => f.namespaces.map((n) => n.name))).to.deep.equal([[nsD]]);
    });

    it('fails with exit code 1 and a clear message when the cluster cannot be reached', async function () {
      // A loopback port nothing listens on: connection refused at once.
      const port = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as AddressInfo).port;
          srv.close(() => resolve(p));
        });
      });
      const bad = join(dir, 'unreachable.kubeconfig');
      writeFileSync(bad, stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
        clusters: [{ name: 'x', cluster: { server: `https://127.0.0.1:${port}` } }],
        users: [{ name: 'x', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
      }));
      const r = await run('status', '--kubeconfig', bad);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^error: cannot list \S+: fetch failed \(ECONNREFUSED\) \(is the cluster reachable\? check --kubeconfig \/ --context\)\n$/);
    });
  });

  describe('plan', function () {
    let file: string;
    before(function () {
      file = join(dir, 'mrev.yaml');
      writeFileSync(file, stringify(newRevObject));
    });

    it('prints the steps, the namespaces each moves and the workloads each would restart, as the operator would plan them', async function () {
      const r = await run('plan', '-f', file, '--kubeconfig', kubeconfig, '-o', 'json');
      expect(r.err).to.equal('');
      expect(r.code).to.equal(0);
      const plan = JSON.parse(r.out) as PlanJson;
      expect(plan.steps).to.deep.equal([
        {
          index: 1, target: 1, pause: '1m',
          namespaces: [{
            name: nsA, from: 'default', restart: ['Deployment/web'],
            skipped: [{ name: 'Deployment/legacy', reason: 'opted out (sidecar.istio.io/inject: "false")' }],
            reported: [{ name: 'manual', reason: 'has no controller, not deleted (it would not come back): recreate it yourself to move it' }],
          }],
        },
        {
          index: 2, target: 2, pause: null,
          // api2's pods already carry the target revision: not restarted.
          namespaces: [{ name: nsB, from: tag, restart: ['Deployment/api'], skipped: [], reported: [] }],
        },
      ]);
      const skipped = new Map(plan.skipped.map((s) => [s.namespace, s.reason]));
      expect(skipped.get(nsC)).to.equal('istio-injection=disabled');
      expect(skipped.get(nsD)).to.equal(`already on ${newRev}`);
      expect(skipped.get('kube-system')).to.equal('system namespace');
      expect(plan.skipped.map((s) => s.namespace)).to.deep.equal([...plan.skipped.map((s) => s.namespace)].sort());
    });

    it('prints the same plan as text', async function () {
      const r = await run('plan', '-f', file, '--kubeconfig', kubeconfig);
      expect(r.code).to.equal(0);
      show('meshrev plan', r.out);
      expect(r.out).to.contain(`MeshRevision ${newRev}: move 2 namespaces to revision ${newRev} in 2 steps`);
      expect(r.out).to.contain(`Step 1: 1 namespace (1/2 in all), then soak 1m\n  ${nsA}  from default\n    restart Deployment/web\n`);
      expect(r.out).to.match(new RegExp(`\\n {2}${nsC}\\s+istio-injection=disabled\\n`));
    });

    it('plans the same offline from a kubectl snapshot of the cluster (--namespaces-from) as live', async function () {
      const snapshot = join(dir, 'snapshot.yaml');
      writeFileSync(snapshot, await kubectl(['get', 'namespaces,deployments,statefulsets,daemonsets,pods,meshrevisions,mutatingwebhookconfigurations', '-A', '-o', 'yaml']));
      const live = await run('plan', '-f', file, '--kubeconfig', kubeconfig, '-o', 'json');
      const offline = await run('plan', '-f', file, '--namespaces-from', snapshot, '-o', 'json');
      expect(offline.code, offline.err).to.equal(0);
      expect(JSON.parse(offline.out)).to.deep.equal(JSON.parse(live.out));
    });

    it('stops at a validation error with exit code 1 (bad input, not usage: README "The CLI"), naming the field', async function () {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, stringify({ ...newRevObject, spec: { ...newRevObject.spec, migration: { from: ['default'], steps: [{ percent: 0 }] } } }));
      const r = await run('plan', '-f', bad, '--kubeconfig', kubeconfig, '-o', 'json');
      expect(r.code).to.equal(1);
      expect(r.out).to.equal('');
      expect(r.err).to.match(/spec\.migration\.steps\[0\]\.percent: /);
    });
  });
});
