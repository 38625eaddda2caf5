// kube-inject through the revision's own injector, against a real API server:
// the output must be what that injector does to a real pod created from the
// same template. The injector is the reference one (`meshrev injector`, on
// loopback), registered with upstream's selectors; the real pod is created
// in a namespace its webhook selects, kube-inject's output in one no webhook
// selects, and the two stored pods are compared.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.js';
import { startInjector, type LoopbackInjector } from '../support/injector.js';
import { istioWebhookConfiguration } from '../support/istio-webhooks.js';
import { clients, comparablePod, createNamespace, deleteNamespaceQuietly, E2E_KUBECONFIG_ENV, uniqueName, type Clients } from '../support/kube.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved = process.exitCode;
  const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
  process.exitCode = saved;
  return { code, out, err };
}

describe('kube-inject e2e: through the revision\'s own injector', function () {
  let c: Clients;
  let inj: LoopbackInjector | undefined;
  const rev = `1-31-${uniqueName('k').slice(2)}`;
  const mwcName = `e2e-kube-inject-${rev}`;
  const nsInjected = uniqueName('e2e-ki-rev');
  const nsPlain = uniqueName('e2e-ki-plain');
  let dir: string;

  const manifest = (ns: string) => [
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: web}',
    'spec: {ports: [{port: 80}]}',
    '---',
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: web, namespace: ${ns}, labels: {app: web}, annotations: {sidecar.istio.io/proxyCPU: 50m, sidecar.istio.io/proxyCPULimit: 500m}}`,
    'spec:',
    '  containers:',
    // protocol given: the API server defaults it before it calls the webhook, and the injector copies the
    // ports into ISTIO_META_POD_PORTS; kube-inject (like istioctl's) sends the template as written.
    '  - {name: app, image: registry.invalid/app:1, ports: [{containerPort: 8080, protocol: TCP}]}',
    '---',
    'apiVersion: apps/v1',
    'kind: Deployment',
    `metadata: {name: batch, namespace: ${ns}}`,
    'spec:',
    '  selector: {matchLabels: {app: batch}}',
    '  template:',
    '    metadata: {labels: {app: batch, sidecar.istio.io/inject: "false"}}',
    '    spec: {containers: [{name: app, image: registry.invalid/batch:1}]}',
    '',
  ].join('\n');

  before(async function () {
    c = clients();
    dir = mkdtempSync(join(tmpdir(), 'meshrev-kube-inject-'));
    inj = await startInjector({ revision: rev, config: { proxy: { image: 'registry.invalid/proxyv2:1.31.0' } } });
    await c.admission.createMutatingWebhookConfiguration({
      body: istioWebhookConfiguration({ name: mwcName, revision: rev, url: inj.url, caBundle: inj.caBundle, labels: { 'e2e.meshrev.io/suite': 'kube-inject' } }),
    });
    await Promise.all([createNamespace(c, nsInjected, { 'istio.io/rev': rev }), createNamespace(c, nsPlain)]);
  });

  after(async function () {
    if (c) {
      await c.admission.deleteMutatingWebhookConfiguration({ name: mwcName }).catch(() => undefined);
      await Promise.all([nsInjected, nsPlain].map((ns) => deleteNamespaceQuietly(c, ns)));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  after(async function () {
    await inj?.stop();
  });

  it('produces exactly what the injector does to a real pod created from the same template', async function () {
    const file = join(dir, 'app.yaml');
    const text = manifest(nsInjected);
    writeFileSync(file, text);
    const before = inj!.requests();
    const r = await run('kube-inject', '-f', file, '--revision', rev, '--kubeconfig', process.env[E2E_KUBECONFIG_ENV] ?? '');
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.contain(`injecting through revision ${rev}'s injector: ${mwcName}/rev.namespace.sidecar-injector.istio.io (${inj!.url})`);
    expect(r.err).to.contain(`skipped Deployment ${nsInjected}/batch: the injector of revision ${rev} left it unchanged`);
    expect(r.err).to.not.contain('OFFLINE');
    // One review per workload, both to the injector itself.
    expect(inj!.requests() - before).to.equal(2);
    // Untouched documents byte for byte.
    expect(r.out.startsWith(text.slice(0, text.indexOf('---\n') + 4))).to.equal(true);
    expect(r.out.endsWith(text.slice(text.lastIndexOf('---\n')))).to.equal(true);

    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as Record<string, unknown>);
    const injected = docs.find((d) => d['kind'] === 'Pod') as k8s.V1Pod;
    expect(injected.spec?.containers.map((x) => x.name)).to.deep.equal(['app', 'istio-proxy']);

    // The real thing: the same template created where the webhook selects it.
    const template = parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>).find((d) => d['kind'] === 'Pod') as k8s.V1Pod;
    const real = await c.core.createNamespacedPod({ namespace: nsInjected, body: template });
    // kube-inject's output, created where no webhook selects it.
    const manual = await c.core.createNamespacedPod({ namespace: nsPlain, body: { ...injected, metadata: { ...injected.metadata, namespace: nsPlain } } });
    expect(real.metadata?.annotations?.['istio.io/rev']).to.equal(rev);
    expect(manual.spec?.containers.map((x) => x.name)).to.deep.equal(['app', 'istio-proxy']);
    expect(comparablePod(manual)).to.deep.equal(comparablePod(real));
    expect(inj!.requests() - before).to.equal(3); // the real pod's review; the manual one was not sent
  });

  it('falls back to the built-in templates, saying so, when the revision has no injector in the cluster', async function () {
    const file = join(dir, 'other.yaml');
    writeFileSync(file, manifest(nsPlain));
    const r = await run('kube-inject', '-f', file, '--revision', 'no-such-rev', '--proxy-image', 'registry.invalid/proxyv2:offline', '--kubeconfig', process.env[E2E_KUBECONFIG_ENV] ?? '');
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.contain('no webhook configuration serves revision or tag "no-such-rev"').and.contain('injecting OFFLINE');
    expect(r.out).to.contain('image: registry.invalid/proxyv2:offline');
    const refused = await run('kube-inject', '-f', file, '--revision', 'no-such-rev', '--kubeconfig', process.env[E2E_KUBECONFIG_ENV] ?? '');
    expect(refused.code).to.equal(2);
    expect(refused.out).to.equal('');
    expect(refused.err).to.contain('never guessed from the revision name');
  });
});
