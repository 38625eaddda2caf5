// The differential test, with istiod as the oracle: for every combination of
// namespace labels × pod labels/annotations below, a pod is created on the
// local cluster behind meshrev's webhooks with real istiods as the injectors,
// and what happened (which revision injected it, or none) is compared with
// what `meshrev check-inject` predicted for the same namespace and pod. Every
// disagreement fails, listed with both answers.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { RunningOperator } from '../../src/operator.js';
import { E2E_KUBECONFIG_ENV, clients, createNamespace, eventually, uniqueName, type Clients } from '../support/kube.js';
import { createMeshRevision, meshRevisionObject, startMesh, stopMesh, type Mesh } from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

interface PodVariant {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
}

interface Combination {
  nsVariant: string;
  namespace: string;
  pod: PodVariant;
}

/** What check-inject says: the revision whose injector would inject, or "none". */
async function predict(namespace: string, file: string): Promise<string> {
  let out = '';
  let err = '';
  const kubeconfig = process.env[E2E_KUBECONFIG_ENV] ?? '';
  const code = await main(['check-inject', '-n', namespace, '-f', file, '-o', 'json', '--kubeconfig', kubeconfig], { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
  if (code !== 0 && out === '') throw new Error(`check-inject exited ${code}: ${err}`);
  const parsed = JSON.parse(out) as { namespaces: { pods: { injectors: { revision?: string }[] }[] }[] };
  const injectors = parsed.namespaces[0]?.pods[0]?.injectors ?? [];
  // The API server calls configurations in name order; the first injector injects, any later one sees an injected pod.
  return injectors[0]?.revision ?? 'none';
}

describe('differential: meshrev check-inject against real istiods', function () {
  this.timeout(300_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let mesh: Mesh | undefined;
  let dir: string;

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-differential');
    dir = mkdtempSync(join(tmpdir(), 'meshrev-differential-'));
    mesh = await startMesh(c, { real: true });
  });

  after(async function () {
    this.timeout(120_000);
    if (c) await stopMesh(c, mesh);
    await op?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('agrees with istiod on every combination', async function () {
    const m = mesh!;
    const tag = `canary-${m.selectorLabel.value}`;
    // Old revision: the default (startMesh). New revision: a tag.
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { tags: [tag] }));
    await eventually('istiod filled in caBundle of both configurations', async () => {
      for (const rev of [m.oldRev, m.newRev]) {
        const w = await c.admission.readMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${rev}` });
        if (!(w.webhooks ?? []).every((e) => (e.clientConfig.caBundle ?? '') !== '')) return false;
      }
      return true;
    }, { timeoutMs: 30_000 });

    const nsVariants: Record<string, Record<string, string>> = {
      unlabelled: {},
      enabled: { 'istio-injection': 'enabled' },
      disabled: { 'istio-injection': 'disabled' },
      'rev-old': { 'istio.io/rev': m.oldRev },
      'rev-new': { 'istio.io/rev': m.newRev },
      'rev-tag': { 'istio.io/rev': tag },
      'rev-default': { 'istio.io/rev': 'default' },
      'rev-unknown': { 'istio.io/rev': 'nonexistent' },
      'enabled+rev-new': { 'istio-injection': 'enabled', 'istio.io/rev': m.newRev },
      'disabled+rev-new': { 'istio-injection': 'disabled', 'istio.io/rev': m.newRev },
    };
    const podVariants: PodVariant[] = [
      { name: 'plain' },
      { name: 'inject-true', labels: { 'sidecar.istio.io/inject': 'true' } },
      { name: 'inject-false', labels: { 'sidecar.istio.io/inject': 'false' } },
      { name: 'inject-yes', labels: { 'sidecar.istio.io/inject': 'yes' } },
      { name: 'ann-false', annotations: { 'sidecar.istio.io/inject': 'false' } },
      { name: 'ann-true', annotations: { 'sidecar.istio.io/inject': 'true' } },
      { name: 'pod-rev-new', labels: { 'istio.io/rev': m.newRev } },
      { name: 'pod-rev-tag', labels: { 'istio.io/rev': tag } },
      { name: 'pod-rev-default', labels: { 'istio.io/rev': 'default' } },
      { name: 'host-network', hostNetwork: true },
      { name: 'inject-true-rev-new', labels: { 'sidecar.istio.io/inject': 'true', 'istio.io/rev': m.newRev } },
    ];
    const combos: Combination[] = [];
    for (const [nsVariant, labels] of Object.entries(nsVariants)) {
      const namespace = uniqueName(`diff-${nsVariant.replace(/[^a-z0-9-]/g, '-')}`).slice(0, 63);
      await createNamespace(c, namespace, labels);
      m.namespaces.push(namespace);
      for (const pod of podVariants) combos.push({ nsVariant, namespace, pod });
    }
    expect(combos.length).to.be.at.least(60);

    const disagreements: string[] = [];
    let injected = 0;
    for (const k of combos) {
      const body = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: k.pod.name, namespace: k.namespace, ...(k.pod.labels ? { labels: k.pod.labels } : {}), ...(k.pod.annotations ? { annotations: k.pod.annotations } : {}) },
        spec: { ...(k.pod.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      };
      const file = join(dir, `${k.namespace}-${k.pod.name}.json`);
      // JSON (a subset of YAML): the file means exactly the object created below, in YAML 1.1 and 1.2 alike.
      writeFileSync(file, JSON.stringify(body));
      const predicted = await predict(k.namespace, file);
      let actual: string;
      try {
        const pod = await c.core.createNamespacedPod({ namespace: k.namespace, body });
        const proxies = (pod.spec?.containers ?? []).filter((x) => x.name === 'istio-proxy').length;
        actual = proxies === 0 ? 'none' : (pod.metadata?.annotations?.['istio.io/rev'] ?? 'injected-without-rev');
        if (proxies > 1) actual = `${actual} (${proxies} proxies)`;
      } catch (err) {
        actual = `refused: ${((err as { body?: string }).body ?? (err as Error).message).slice(0, 200)}`;
      }
      if (actual !== 'none') injected++;
      if (predicted !== actual) disagreements.push(`ns ${k.nsVariant} × pod ${k.pod.name}: check-inject says ${predicted}, istiod did ${actual}`);
    }
    console.log(`      ${combos.length} combinations, ${injected} injected by istiod, ${disagreements.length} disagreements`);
    expect(disagreements, disagreements.join('\n')).to.deep.equal([]);
    expect(injected, 'the matrix exercises injection, not only its absence').to.be.greaterThan(20);
  });
});
