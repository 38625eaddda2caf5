// The migration scenarios against real istiods (Istio's pilot-discovery, one
// per revision, built from the Go module proxy: test/support/istiod.ts):
// injection through the default, a revision and a tag; a stepped migration
// that survives SIGKILLs of the operator; meshrev's server-side apply next to
// istiod's own caBundle patching; a requested rollback; deletion held by the
// finalizer while the revision is in use. Istio itself decides what is
// injected here — nothing in these tests imitates it.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND } from '../../src/api/meshrevision.js';
import { main } from '../../src/cli/main.js';
import { E2E_KUBECONFIG_ENV, clients, comparablePod, eventually, type Clients } from '../support/kube.js';
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
import type { RealIstiod } from '../support/istiod.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a real istiod leaves on a pod it injected: the revision, its proxy image, and its two containers. */
async function injection(c: Clients, namespace: string): Promise<{ name: string; revision?: string; proxies: number; inits: number; image?: string }[]> {
  const pods = await c.core.listNamespacedPod({ namespace });
  return pods.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => {
      const proxy = (p.spec?.containers ?? []).filter((x) => x.name === 'istio-proxy');
      return {
        name: p.metadata?.name ?? '',
        ...(p.metadata?.annotations?.['istio.io/rev'] !== undefined ? { revision: p.metadata.annotations['istio.io/rev'] } : {}),
        proxies: proxy.length,
        inits: (p.spec?.initContainers ?? []).filter((x) => x.name === 'istio-init').length,
        ...(proxy[0]?.image !== undefined ? { image: proxy[0].image } : {}),
      };
    });
}

/** The fields of a webhook configuration two writers could fight over. */
function ownership(mwc: k8s.V1MutatingWebhookConfiguration) {
  return {
    generation: mwc.metadata?.generation,
    managers: (mwc.metadata?.managedFields ?? []).map((f) => ({ manager: f.manager, operation: f.operation, fields: JSON.stringify(f.fieldsV1) })),
    caBundles: (mwc.webhooks ?? []).map((w) => w.clientConfig.caBundle ?? ''),
  };
}

/** controller_runtime_reconcile_total of the MeshRevision controller, scraped from the operator process's metrics endpoint. */
async function reconcileTotal(proc: OperatorProcess): Promise<number> {
  const port = /"message":"serving probes and metrics".*?"port":(\d+)/.exec(proc.output())?.[1];
  if (!port) throw new Error(`the operator logged no metrics port:\n${proc.output().slice(-500)}`);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^controller_runtime_reconcile_total\{[^}]*controller="meshrevision"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('real istiod: migration, tags, default, SIGKILL, caBundle, rollback, deletion', function () {
  this.timeout(300_000);
  let c: Clients;
  let dir: string;
  let kubeconfig: string;
  let proc: OperatorProcess | undefined;
  let mesh: Mesh | undefined;
  let tag: string;
  let tagNs: string;
  const eligible: string[] = [];
  const origins = new Map<string, Record<string, string>>();
  const podCount = new Map<string, number>();

  const respawn = () => {
    proc = spawnOperator(kubeconfig);
  };

  before(async function () {
    c = clients();
    await installOperatorManifests(c);
    dir = mkdtempSync(join(tmpdir(), 'meshrev-real-istiod-'));
    kubeconfig = writeKubeConfig(await serviceAccountKubeConfig(c), dir);
    respawn();
    mesh = await startMesh(c, { real: true });
    tag = `canary-${mesh.selectorLabel.value}`;
    for (let i = 0; i < 4; i++) {
      const labels: Record<string, string> = i < 2 ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': mesh.oldRev };
      const ns = await createAppNamespace(c, mesh, `real${i}`, labels, { deployments: [{ name: 'web' }], ...(i === 0 ? { statefulSet: 'db' } : {}) });
      eligible.push(ns);
      origins.set(ns, labels);
      podCount.set(ns, i === 0 ? 4 : 2);
    }
    for (const ns of eligible) await waitSettled(c, ns, podCount.get(ns)!);
  });

  after(async function () {
    this.timeout(120_000);
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) respawn();
    if (c) await stopMesh(c, mesh);
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('injects through real istiods: the default, a revision and a tag, with istiod filling in caBundle', async function () {
    const m = mesh!;
    for (const ns of eligible) {
      for (const p of await injection(c, ns)) {
        expect(p, `${ns}/${p.name}`).to.include({ revision: m.oldRev, proxies: 1, inits: 1 });
      }
    }
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { tags: [tag] }));
    const mwc = await eventually('istiod filled in caBundle', async () => {
      const w = await c.admission.readMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${m.newRev}` });
      return (w.webhooks ?? []).length > 0 && (w.webhooks ?? []).every((x) => (x.clientConfig.caBundle ?? '') !== '') ? w : false;
    }, { timeoutMs: 30_000 });
    expect((mwc.metadata?.managedFields ?? []).map((f) => f.manager)).to.include('pilot-discovery');
    tagNs = await createAppNamespace(c, m, 'real-tag', { 'istio.io/rev': tag }, { deployments: [{ name: 'web' }] }, false);
    await waitSettled(c, tagNs, 2);
    const viaTag = await injection(c, tagNs);
    for (const p of viaTag) expect(p, `${tagNs}/${p.name}`).to.include({ revision: m.newRev, proxies: 1 });
    console.log(`      injected by istiod ${(m.newInjector as RealIstiod).version}: ${viaTag[0]?.image ?? '?'}`);
  });

  it("kube-inject through istiod's own webhook produces what istiod does to a real pod from the same template", async function () {
    const m = mesh!;
    const plain = await createAppNamespace(c, m, 'real-ki-plain', {}, {}, false);
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      `metadata: {name: ki, namespace: ${tagNs}, labels: {app: ki}}`,
      'spec:',
      '  containers:',
      // protocol given: the API server defaults it before calling the webhook; kube-inject sends the template as written.
      '  - {name: app, image: registry.invalid/app:1, ports: [{containerPort: 8080, protocol: TCP}]}',
      '',
    ].join('\n');
    const file = join(dir, 'ki.yaml');
    writeFileSync(file, text);
    let out = '';
    let err = '';
    const code = await main(['kube-inject', '-f', file, '--revision', tag, '--kubeconfig', process.env[E2E_KUBECONFIG_ENV] ?? ''], {
      writeOut: (t) => (out += t), writeErr: (t) => (err += t),
    });
    expect(code, err).to.equal(0);
    expect(err).to.contain(`meshrev-sidecar-injector-${m.newRev}`).and.not.contain('OFFLINE');
    const injected = parseAllDocuments(out).map((d) => d.toJS() as k8s.V1Pod).find((d) => d.kind === 'Pod')!;
    const template = parseAllDocuments(text).map((d) => d.toJS() as k8s.V1Pod)[0]!;
    const real = await c.core.createNamespacedPod({ namespace: tagNs, body: template });
    const manual = await c.core.createNamespacedPod({ namespace: plain, body: { ...injected, metadata: { ...injected.metadata, namespace: plain } } });
    expect(real.metadata?.annotations?.['istio.io/rev']).to.equal(m.newRev);
    expect(comparablePod(manual)).to.deep.equal(comparablePod(real));
    // Both pods carry istio.io/rev of the new revision: they would hold its deletion (in use) later.
    await c.core.deleteNamespacedPod({ name: 'ki', namespace: tagNs });
    await c.core.deleteNamespacedPod({ name: 'ki', namespace: plain });
  });

  it('migrates in steps while the operator is SIGKILLed, restarting each workload exactly once', async function () {
    const m = mesh!;
    await patchMigration(c, m.newRev, migrationFor(m, { steps: [{ namespaces: 1 }, { percent: 100 }], maxConcurrentNamespaces: 2 }) as unknown as Record<string, unknown>);
    const seen: string[] = [];
    for (const delay of [700, 1800, 1200]) {
      await sleep(delay);
      const s = (await getMeshRevision(c, m.newRev))?.status?.migration;
      seen.push(`${s?.phase ?? 'none'} ${s?.summary ?? ''}`);
      await proc!.kill();
      respawn();
    }
    console.log(`      killed at: ${seen.join(' | ')}`);
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
    expect(done.status?.migration?.counts).to.include({ eligible: 4, migrated: 4, failed: 0 });
    for (const ns of eligible) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
      await waitSettled(c, ns, podCount.get(ns)!);
      for (const p of await injection(c, ns)) expect(p, `${ns}/${p.name}`).to.include({ revision: m.newRev, proxies: 1, inits: 1 });
      for (const [w, n] of Object.entries(await rolloutCounts(c, ns))) expect(n, `${ns} ${w} restarted exactly once`).to.equal(2);
    }
  });

  it("keeps meshrev's server-side apply and istiod's caBundle patching apart over 50 reconciles", async function () {
    const m = mesh!;
    const read = () => c.admission.readMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${m.newRev}` });
    const before = ownership(await read());
    expect(before.caBundles.every((b) => b !== '')).to.equal(true);
    await sleep(2000); // let the respawned operator sync and publish its metrics port
    const reconcilesBefore = await reconcileTotal(proc!);
    for (let i = 0; i < 50; i++) {
      // An annotation is not spec: no generation change, but every update is a reconcile.
      await c.objects.patch(
        { apiVersion: API_VERSION, kind: KIND, metadata: { name: m.newRev, annotations: { 'e2e.meshrev.io/nudge': String(i) } } },
        undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
      );
      await sleep(60);
    }
    await eventually('50 reconciles', async () => (await reconcileTotal(proc!)) - reconcilesBefore >= 50, { timeoutMs: 30_000 });
    await sleep(1500);
    const after = ownership(await read());
    expect(after, 'generation, managedFields and caBundle unchanged').to.deep.equal(before);
  });

  it('rolls back on request: every namespace to its origin, its pods injected by the old istiod again', async function () {
    const m = mesh!;
    await patchMigration(c, m.newRev, { rollback: { all: true } });
    await waitMigrationPhase(c, m.newRev, 'RolledBack', 180_000);
    for (const ns of eligible) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal(origins.get(ns));
      await eventually(`${ns} back on ${m.oldRev}`, async () => {
        const pods = await injection(c, ns);
        return pods.length === podCount.get(ns) && pods.every((p) => p.revision === m.oldRev && p.proxies === 1);
      }, { timeoutMs: 60_000 });
    }
  });

  it('holds deletion while a tag namespace still uses the revision, then completes and removes only its own webhook', async function () {
    const m = mesh!;
    await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name: m.newRev } });
    const blocked = await eventually('DeletionBlocked', async () => {
      const mr = await getMeshRevision(c, m.newRev);
      return mr?.status?.conditions?.find((x) => x.type === 'Ready')?.reason === 'DeletionBlocked' ? mr : false;
    });
    expect(blocked.status?.inUse?.namespaces).to.include(tagNs);
    await c.core.deleteNamespace({ name: tagNs });
    await eventually(`${m.newRev} deleted`, async () => (await getMeshRevision(c, m.newRev)) === undefined, { timeoutMs: 120_000 });
    const names = (await c.admission.listMutatingWebhookConfiguration()).items.map((w) => w.metadata?.name);
    expect(names).not.to.include(`meshrev-sidecar-injector-${m.newRev}`);
    expect(names).to.include(`meshrev-sidecar-injector-${m.oldRev}`);
  });
});
