// The sidecar injector against a real API server: two loopback injectors (one
// per revision), registered with upstream Istio's selectors, inject the pods
// the API server sends them; KWOK makes the injected pods Ready.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { main } from '../../src/cli/main.js';
import { parseSidecarStatus } from '../../src/injector/inject.js';
import { makeServingCert } from '../support/certs.js';
import { startInjector, type LoopbackInjector } from '../support/injector.js';
import { istioWebhookConfiguration } from '../support/istio-webhooks.js';
import {
  clients,
  createNamespace,
  deleteNamespaceQuietly,
  E2E_KUBECONFIG_ENV,
  eventually,
  isPodReady,
  uniqueName,
  type Clients,
} from '../support/kube.js';

function deployment(name: string, replicas: number, template: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): k8s.V1Deployment {
  const selector = { app: name };
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector, ...template.labels }, ...(template.annotations ? { annotations: template.annotations } : {}) },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

async function readyPods(c: Clients, namespace: string, name: string, replicas: number): Promise<k8s.V1Pod[]> {
  return eventually(`deployment ${namespace}/${name} with ${replicas} Ready pods`, async () => {
    const d = await c.apps.readNamespacedDeployment({ name, namespace });
    if (d.status?.readyReplicas !== replicas || d.status.updatedReplicas !== replicas) return false;
    const pods = (await c.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === replicas && pods.every(isPodReady) ? pods : false;
  }, { timeoutMs: 90_000 });
}

function names(list: Array<{ name: string }> | undefined): string[] {
  return (list ?? []).map((x) => x.name);
}

function expectInjectedBy(pod: k8s.V1Pod, inj: LoopbackInjector): void {
  const where = pod.metadata?.name ?? '';
  expect(names(pod.spec?.containers), where).to.deep.equal(['app', 'istio-proxy']);
  expect(names(pod.spec?.initContainers), where).to.deep.equal(['istio-init']);
  expect(pod.metadata?.annotations?.['istio.io/rev'], where).to.equal(inj.revision);
  expect(parseSidecarStatus(pod.metadata?.annotations?.['sidecar.istio.io/status'])?.revision, where).to.equal(inj.revision);
  expect(pod.spec?.containers[1]?.image, where).to.equal(inj.config.proxy.image);
  expect(names(pod.spec?.volumes), where).to.include.members(['istio-envoy', 'istio-token', 'istiod-ca-cert']);
}

function expectNotInjected(pod: k8s.V1Pod): void {
  expect(names(pod.spec?.containers)).to.deep.equal(['app']);
  expect(pod.spec?.initContainers ?? []).to.deep.equal([]);
  expect(pod.metadata?.annotations?.['sidecar.istio.io/status']).to.equal(undefined);
}

describe('sidecar injector e2e: two revisions behind upstream-shaped webhooks', function () {
  let c: Clients;
  // Unique revision names: webhooks are cluster-wide, and other suites may use 1-20 / 1-21.
  const suffix = uniqueName('x').slice(2);
  const rev20 = `1-20-${suffix}`;
  const rev21 = `1-21-${suffix}`;
  const ns20 = uniqueName('e2e-inj-a');
  const ns21 = uniqueName('e2e-inj-b');
  const nsPlain = uniqueName('e2e-inj-plain');
  const mwcNames: string[] = [];
  let inj20: LoopbackInjector | undefined;
  let inj21: LoopbackInjector | undefined;

  before(async function () {
    c = clients();
    const cert = makeServingCert();
    inj20 = await startInjector({ revision: rev20, cert, config: { proxy: { image: 'docker.io/istio/proxyv2:1.20.8' } } });
    inj21 = await startInjector({ revision: rev21, cert, config: { proxy: { image: 'docker.io/istio/proxyv2:1.21.6' } } });
    for (const inj of [inj20, inj21]) {
      const name = `e2e-sidecar-injector-${inj.revision}`;
      mwcNames.push(name);
      await c.admission.createMutatingWebhookConfiguration({
        body: istioWebhookConfiguration({ name, revision: inj.revision, url: inj.url, caBundle: inj.caBundle, labels: { 'e2e.meshrev.io/suite': 'injector' } }),
      });
    }
    await Promise.all([
      createNamespace(c, ns20, { 'istio.io/rev': rev20 }),
      createNamespace(c, ns21, { 'istio.io/rev': rev21 }),
      createNamespace(c, nsPlain),
    ]);
  });

  after(async function () {
    if (!c) return;
    // Webhooks first: with failurePolicy Fail, a webhook whose injector is gone would block pod creation.
    for (const name of mwcNames) {
      try {
        await c.admission.deleteMutatingWebhookConfiguration({ name });
      } catch {
        // already gone
      }
    }
    await Promise.all([ns20, ns21, nsPlain].map((ns) => deleteNamespaceQuietly(c, ns)));
  });

  after(async function () {
    // A separate hook, so the injectors stop even if the cleanup above failed.
    await Promise.all([inj20?.stop(), inj21?.stop()]);
  });

  it('injects pods of a Deployment in an istio.io/rev namespace with that revision, and they become Ready', async function () {
    const before21 = inj21!.requests();
    await c.apps.createNamespacedDeployment({ namespace: ns20, body: deployment('web', 2) });
    const pods = await readyPods(c, ns20, 'web', 2);
    for (const p of pods) expectInjectedBy(p, inj20!);
    expect(inj20!.requests()).to.be.at.least(2);
    expect(inj21!.requests()).to.equal(before21);
  });

  it('injects with the other revision in the other revision\'s namespace', async function () {
    const before20 = inj20!.requests();
    await c.apps.createNamespacedDeployment({ namespace: ns21, body: deployment('web', 1) });
    const [pod] = await readyPods(c, ns21, 'web', 1);
    expectInjectedBy(pod!, inj21!);
    expect(inj20!.requests()).to.equal(before20);
  });

  it('leaves pods opted out with the sidecar.istio.io/inject: "false" label alone (the webhook is not even called)', async function () {
    const before = inj21!.requests();
    await c.apps.createNamespacedDeployment({ namespace: ns21, body: deployment('optout-label', 1, { labels: { 'sidecar.istio.io/inject': 'false' } }) });
    const [pod] = await readyPods(c, ns21, 'optout-label', 1);
    expectNotInjected(pod!);
    expect(inj21!.requests()).to.equal(before);
  });

  it('leaves pods opted out with the sidecar.istio.io/inject: "false" annotation alone (the injector declines)', async function () {
    const before = inj21!.requests();
    await c.apps.createNamespacedDeployment({ namespace: ns21, body: deployment('optout-annotation', 1, { annotations: { 'sidecar.istio.io/inject': 'false' } }) });
    const [pod] = await readyPods(c, ns21, 'optout-annotation', 1);
    expectNotInjected(pod!);
    expect(inj21!.requests()).to.be.above(before);
    expect(inj21!.events.some((e) => e.outcome === 'skipped' && e.namespace === ns21 && e.decision?.code === 'PodOptedOut')).to.equal(true);
  });

  it('injects a pod labelled istio.io/rev in an unlabelled namespace through the rev.object entry', async function () {
    await c.core.createNamespacedPod({
      namespace: nsPlain,
      body: { metadata: { name: 'pinned', labels: { 'istio.io/rev': rev21 } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
    });
    const pod = await eventually('pod pinned Ready', async () => {
      const p = await c.core.readNamespacedPod({ name: 'pinned', namespace: nsPlain });
      return isPodReady(p) ? p : false;
    });
    expectInjectedBy(pod, inj21!);
  });

  it('does not inject pods in an unlabelled namespace', async function () {
    await c.apps.createNamespacedDeployment({ namespace: nsPlain, body: deployment('plain', 1) });
    const [pod] = await readyPods(c, nsPlain, 'plain', 1);
    expectNotInjected(pod!);
  });

  it('rejects a pod with an invalid proxyCPU annotation, naming the annotation', async function () {
    let message = '';
    try {
      await c.core.createNamespacedPod({
        namespace: ns20,
        body: {
          metadata: { name: 'bad-cpu', annotations: { 'sidecar.istio.io/proxyCPU': 'abc' } },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
        },
      });
    } catch (err) {
      message = err instanceof k8s.ApiException ? String(err.body) : String(err);
    }
    expect(message).to.contain('denied the request').and.contain('sidecar.istio.io/proxyCPU').and.contain('abc');
  });

  it('check-inject reads the namespace and webhooks from the cluster and names the injecting revision', async function () {
    let out = '';
    let err = '';
    const saved = process.exitCode;
    const code = await main(['check-inject', '-n', ns20, '--kubeconfig', process.env[E2E_KUBECONFIG_ENV] ?? ''], {
      writeOut: (t) => { out += t; },
      writeErr: (t) => { err += t; },
    });
    process.exitCode = saved;
    expect(code, err).to.equal(0);
    expect(out).to.contain(`e2e-sidecar-injector-${rev20}/rev.namespace.sidecar-injector.istio.io`);
    expect(out).to.contain(`=> injected by revision ${rev20}`);
  });
});
