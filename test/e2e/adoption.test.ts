// Adoption of an existing Istio install: a cluster whose webhooks were made by
// istiod's Helm chart and istioctl-style revision tags — rendered by Istio's
// own renderer, never by hand — with real istiods behind them and no meshrev
// webhooks. MeshRevisions with spec.webhooks.management External migrate and
// roll back namespaces there without touching those webhooks; then the
// documented switch to Managed runs while pods are created throughout, and no
// pod is left uninjected, injected twice, or refused.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, type MeshRevision } from '../../src/api/meshrevision.js';
import type { RunningOperator } from '../../src/operator.js';
import { clients, createNamespace, eventually, kubectl, testKubeConfig, uniqueName, type Clients } from '../support/kube.js';
import { createAppNamespace, createMeshRevision, getMeshRevision, namespaceLabels, stopMesh, waitMigrationPhase, waitSettled, type Mesh } from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';
import { renderChartWebhooks, startIstiod } from '../support/istiod.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function externalMeshRevision(revision: string, extra: Partial<MeshRevision['spec']> = {}): MeshRevision & k8s.KubernetesObject {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: revision }, spec: { revision, webhooks: { management: 'External' }, ...extra } };
}

/** Everything of a webhook configuration that someone else's writes could change. */
async function snapshot(c: Clients, names: readonly string[]): Promise<string> {
  const out: unknown[] = [];
  for (const name of names) {
    const w = await c.admission.readMutatingWebhookConfiguration({ name });
    out.push({ name, generation: w.metadata?.generation, labels: w.metadata?.labels, annotations: w.metadata?.annotations, webhooks: w.webhooks });
  }
  return JSON.stringify(out);
}

/** Revision and sidecar count of every pod of a namespace. */
async function injected(c: Clients, namespace: string): Promise<{ name: string; revision?: string; proxies: number }[]> {
  return (await c.core.listNamespacedPod({ namespace })).items.map((p) => ({
    name: p.metadata?.name ?? '',
    ...(p.metadata?.annotations?.['istio.io/rev'] !== undefined ? { revision: p.metadata.annotations['istio.io/rev'] } : {}),
    proxies: (p.spec?.containers ?? []).filter((x) => x.name === 'istio-proxy').length,
  }));
}

describe('adoption of webhooks made by istiod\'s chart and istioctl tags (spec.webhooks.management External)', function () {
  this.timeout(300_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let mesh: Mesh | undefined;
  let chartWebhooks: string[] = [];
  let chartBefore = '';
  const eligible: string[] = [];
  const origins = new Map<string, Record<string, string>>();

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-adoption');
    const sfx = uniqueName('a').slice(2);
    const [oldI, newI] = await Promise.all([startIstiod(`1-30-${sfx}`), startIstiod(`1-31-${sfx}`)]);
    mesh = {
      oldRev: oldI.revision, newRev: newI.revision, oldInjector: oldI, newInjector: newI,
      selectorLabel: { key: 'e2e.meshrev.io/mesh', value: sfx }, namespaces: [], meshRevisions: [],
    };
    // As `helm install istiod --set revision=… --set revisionTags={default}` would have left them.
    const yaml = renderChartWebhooks(oldI.revision, oldI.url, ['default']) + renderChartWebhooks(newI.revision, newI.url);
    chartWebhooks = parseAllDocuments(yaml).map((d) => (d.toJS() as k8s.KubernetesObject | null)?.metadata?.name).filter((n): n is string => !!n).sort();
    expect(chartWebhooks).to.deep.equal(['istio-revision-tag-default', `istio-sidecar-injector-${oldI.revision}`, `istio-sidecar-injector-${newI.revision}`]);
    await kubectl(['apply', '-f', '-'], { input: yaml });
    await eventually('istiod filled in the chart webhooks\' caBundle', async () => {
      for (const name of chartWebhooks) {
        const w = await c.admission.readMutatingWebhookConfiguration({ name });
        if (!(w.webhooks ?? []).every((e) => (e.clientConfig.caBundle ?? '') !== '')) return false;
      }
      return true;
    }, { timeoutMs: 30_000 });
    for (let i = 0; i < 10; i++) {
      const labels: Record<string, string> = i < 7 ? { 'istio-injection': 'enabled' } : { 'istio.io/rev': oldI.revision };
      const ns = await createAppNamespace(c, mesh, `adopt${i}`, labels, { deployments: [{ name: 'web' }] });
      eligible.push(ns);
      origins.set(ns, labels);
    }
    for (const ns of eligible) await waitSettled(c, ns, 2);
    await sleep(1000); // istiod's patching has settled
    chartBefore = await snapshot(c, chartWebhooks);
  });

  after(async function () {
    this.timeout(120_000);
    if (c) {
      await stopMesh(c, mesh);
      for (const name of chartWebhooks) await c.admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    }
    await op?.stop();
  });

  it('reports what the chart and the tags serve, and writes no webhook', async function () {
    const m = mesh!;
    for (const ns of eligible) for (const p of await injected(c, ns)) expect(p, `${ns}/${p.name}`).to.include({ revision: m.oldRev, proxies: 1 });
    await createMeshRevision(c, m, externalMeshRevision(m.oldRev));
    const old = await eventually('old revision Ready', async () => {
      const mr = await getMeshRevision(c, m.oldRev);
      return mr?.status?.phase === 'Ready' ? mr : false;
    });
    expect(old.status).to.deep.include({
      webhookConfiguration: `istio-sidecar-injector-${m.oldRev}`,
      defaultRevision: true,
      externalWebhookConfigurations: ['istio-revision-tag-default', `istio-sidecar-injector-${m.oldRev}`],
    });
    expect(old.status?.inUse?.namespaceCount).to.be.at.least(10);
    const names = (await c.admission.listMutatingWebhookConfiguration()).items.map((w) => w.metadata?.name ?? '');
    expect(names.filter((n) => n.startsWith('meshrev-'))).to.deep.equal([]);
  });

  it('migrates 10 namespaces in two steps and rolls them back, the chart\'s webhooks byte-identical', async function () {
    const m = mesh!;
    await createMeshRevision(c, m, externalMeshRevision(m.newRev, {
      migration: {
        from: ['default', m.oldRev],
        namespaceSelector: { matchLabels: { [m.selectorLabel.key]: m.selectorLabel.value } },
        steps: [{ percent: 50 }, { percent: 100 }],
        maxConcurrentNamespaces: 3,
      },
    }));
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
    expect(done.status?.migration?.counts).to.include({ eligible: 10, migrated: 10, failed: 0 });
    expect(done.status?.webhookConfiguration).to.equal(`istio-sidecar-injector-${m.newRev}`);
    for (const ns of eligible) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
      await waitSettled(c, ns, 2);
      for (const p of await injected(c, ns)) expect(p, `${ns}/${p.name}`).to.include({ revision: m.newRev, proxies: 1 });
    }
    await c.objects.patch(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: m.newRev }, spec: { migration: { rollback: { all: true } } } } as k8s.KubernetesObject,
      undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
    );
    await waitMigrationPhase(c, m.newRev, 'RolledBack', 180_000);
    for (const ns of eligible) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal(origins.get(ns));
      await eventually(`${ns} back on ${m.oldRev}`, async () => {
        const pods = await injected(c, ns);
        return pods.length === 2 && pods.every((p) => p.revision === m.oldRev && p.proxies === 1);
      }, { timeoutMs: 60_000 });
    }
    expect(await snapshot(c, chartWebhooks), 'the chart\'s webhooks are exactly as before').to.equal(chartBefore);
    const names = (await c.admission.listMutatingWebhookConfiguration()).items.map((w) => w.metadata?.name ?? '');
    expect(names.filter((n) => n.startsWith('meshrev-'))).to.deep.equal([]);
  });

  it('switches External → Managed with pods created throughout: none refused, uninjected or injected twice', async function () {
    const m = mesh!;
    const ns = uniqueName('adopt-switch');
    await createNamespace(c, ns, { 'istio.io/rev': m.newRev });
    m.namespaces.push(ns);
    const refused: string[] = [];
    let created = 0;
    let stop = false;
    const creating = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await c.core.createNamespacedPod({ namespace: ns, body: { metadata: { name: `p${i}` }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } });
          created++;
        } catch (err) {
          refused.push(`p${i}: ${(err as Error).message.slice(0, 200)}`);
        }
        await sleep(100);
      }
    })();
    // Every version of meshrev's new configuration, from its creation on (a watch misses none).
    const versions: { caBundles: boolean; policies: string[] }[] = [];
    const watch = await new k8s.Watch(testKubeConfig()).watch(
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      { fieldSelector: `metadata.name=meshrev-sidecar-injector-${m.newRev}` },
      (_type: string, w: k8s.V1MutatingWebhookConfiguration) => {
        versions.push({ caBundles: (w.webhooks ?? []).every((e) => (e.clientConfig.caBundle ?? '') !== ''), policies: (w.webhooks ?? []).map((e) => e.failurePolicy ?? '') });
      },
      () => undefined,
    );
    try {
      await sleep(1500);
      // 1. meshrev adds its own configuration next to the chart's (the chart's still injects first).
      await c.objects.patch(
        { apiVersion: API_VERSION, kind: KIND, metadata: { name: m.newRev }, spec: { webhooks: { management: 'Managed' }, injector: { url: m.newInjector.url }, migration: null } } as unknown as k8s.KubernetesObject,
        undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
      );
      await eventually('meshrev serves the revision next to the chart, failurePolicy Fail once istiod filled caBundle', async () => {
        const w = await c.admission.readMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${m.newRev}` }).catch(() => undefined);
        return (w?.webhooks ?? []).length > 0 && (w?.webhooks ?? []).every((e) => (e.clientConfig.caBundle ?? '') !== '' && e.failurePolicy === 'Fail');
      }, { timeoutMs: 30_000 });
      const during = await getMeshRevision(c, m.newRev);
      expect(during?.status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'two injection paths are reported while both exist').to.equal('ChartWebhookConflict');
      await sleep(1500);
      // 2. The chart's configuration goes (helm upgrade --set global.operatorManageWebhooks=true).
      await c.admission.deleteMutatingWebhookConfiguration({ name: `istio-sidecar-injector-${m.newRev}` });
      chartWebhooks = chartWebhooks.filter((n) => n !== `istio-sidecar-injector-${m.newRev}`);
      await eventually('Ready on its own webhook', async () => (await getMeshRevision(c, m.newRev))?.status?.phase === 'Ready', { timeoutMs: 30_000 });
      await sleep(1500);
    } finally {
      stop = true;
      await creating;
      watch.abort();
    }
    // Until istiod has filled in the caBundle the API server could not call meshrev's entries: Ignore then, never Fail.
    const early = versions.filter((v) => !v.caBundles);
    expect(early.length, 'the configuration was created before istiod filled in its caBundle').to.be.greaterThan(0);
    for (const v of early) expect(v.policies.every((p) => p === 'Ignore'), JSON.stringify(versions)).to.equal(true);
    expect(versions.at(-1)?.policies.every((p) => p === 'Fail')).to.equal(true);
    expect(refused, 'no pod CREATE refused during the switch').to.deep.equal([]);
    const pods = await injected(c, ns);
    expect(pods.length).to.equal(created);
    expect(created).to.be.greaterThan(20);
    const wrong = pods.filter((p) => p.revision !== m.newRev || p.proxies !== 1);
    expect(wrong, 'every pod injected exactly once by the new revision').to.deep.equal([]);
    console.log(`      ${created} pods created during the switch: all injected once, none refused`);
  });
});
