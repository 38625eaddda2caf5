// Least privilege beyond RBAC (issue 17, item 7), against the real API
// server: with the operator's ServiceAccount token (config/rbac) and the
// ValidatingAdmissionPolicies of config/admission, every write meshrev's code
// makes is allowed, and the abuses a leaked token allowed before are denied —
// a real pod in kube-system, Pod Security labels on a namespace, a
// Deployment's image, scaling, a webhook on Secrets, another tool's webhook.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { clients, createNamespace, deleteNamespaceQuietly, errorText, uniqueName, type Clients } from '../support/kube.js';
import { installOperatorManifests, serviceAccountKubeConfig } from '../support/operator.js';

/** Resolves to the error text of a denied write, or undefined when it was allowed. */
async function outcome(write: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await write();
    return undefined;
  } catch (err) {
    return errorText(err);
  }
}

describe('admission policies: the operator\'s ServiceAccount may do only what meshrev does', function () {
  this.timeout(120_000);
  let c: Clients;
  const ns = uniqueName('vap');
  const foreignMwc = uniqueName('other-tool');
  let op: k8s.KubernetesObjectApi;
  const merge = (body: k8s.KubernetesObject) => op.patch(body, undefined, undefined, 'meshrev', undefined, k8s.PatchStrategy.MergePatch);

  before(async function () {
    c = clients();
    // config/default: the RBAC and the admission policies (the whole e2e suite runs the operator under both).
    await installOperatorManifests(c);
    await createNamespace(c, ns, { 'istio-injection': 'enabled' });
    const labels = { app: 'web' };
    await c.apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } } },
    });
    await c.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'agent:1' }] } } } },
    });
    await c.admission.createMutatingWebhookConfiguration({
      body: { metadata: { name: foreignMwc, labels: { 'istio.io/rev': '1-20' } }, webhooks: [] },
    });
    op = k8s.KubernetesObjectApi.makeApiClient(await serviceAccountKubeConfig(c));
    // The policies are enforced once the API server's policy cache has them: wait for a denial.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const denied = await outcome(() => op.create({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'probe-', namespace: ns }, spec: { containers: [{ name: 'c', image: 'x' }] } }));
      if (denied?.includes('dry run')) break;
      if (Date.now() > deadline) throw new Error(`policies not enforced after 30 s: ${denied ?? 'pod created'}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async function () {
    await deleteNamespaceQuietly(c, ns);
    await c.admission.deleteMutatingWebhookConfiguration({ name: foreignMwc }).catch(() => undefined);
  });

  it('allows a dry-run pod (the admission probe) and denies a real pod, also in kube-system', async function () {
    const pod = (namespace: string): k8s.KubernetesObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'probe-', namespace }, spec: { containers: [{ name: 'c', image: 'x' }] } } as k8s.KubernetesObject);
    expect(await outcome(() => op.create(pod(ns), undefined, 'All'))).to.equal(undefined);
    expect(await outcome(() => op.create(pod('kube-system')))).to.contain('only as a server-side dry run');
    expect((await c.core.listNamespacedPod({ namespace: 'kube-system' })).items.filter((p) => p.metadata?.name?.startsWith('probe-'))).to.deep.equal([]);
  });

  it('allows relabelling a namespace for a revision with its origin record, and denies any other label or annotation', async function () {
    const nsPatch = (name: string, metadata: Record<string, unknown>) => merge({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...metadata } });
    expect(await outcome(() => nsPatch(ns, { labels: { 'istio-injection': null, 'istio.io/rev': '1-21' }, annotations: { 'meshrev.io/origin': '{"meshRevision":"x","revision":"1-21","labels":{}}' } }))).to.equal(undefined);
    expect(await outcome(() => nsPatch('kube-system', { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } }))).to.contain('only the istio-injection and istio.io/rev labels');
    expect(await outcome(() => nsPatch(ns, { annotations: { 'scheduler.alpha.kubernetes.io/node-selector': 'x=y' } }))).to.contain('only the meshrev.io/origin annotation');
    expect(await outcome(() => op.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }))).to.match(/forbidden|may not create or delete/i);
  });

  it('allows restarting a Deployment or a DaemonSet, and denies changing its image, its labels or its scale', async function () {
    const deploy = (spec: Record<string, unknown>) => merge({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns }, spec } as k8s.KubernetesObject);
    const restart = { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-03T10:00:00Z', 'meshrev.io/restarted-for': '1-21' } } } };
    expect(await outcome(() => deploy(restart))).to.equal(undefined);
    // A DaemonSet's restart also makes the API server bump its deprecated.daemonset.template.generation annotation.
    expect(await outcome(() => merge({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: ns }, spec: restart } as k8s.KubernetesObject))).to.equal(undefined);
    expect(await outcome(() => deploy({ template: { spec: { containers: [{ name: 'app', image: 'evil:1' }] } } }))).to.contain('only restart it');
    expect(await outcome(() => deploy({ template: { metadata: { annotations: { 'prometheus.io/scrape': 'false' } } } }))).to.contain('only the restart annotations');
    expect(await outcome(() => deploy({ replicas: 0 }))).to.contain('may not scale');
    const live = await c.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(live.spec?.template.spec?.containers[0]?.image).to.equal('app:1');
    expect(live.spec?.replicas).to.equal(1);
  });

  it('allows its own sidecar-injector webhook, and denies another tool\'s webhook or one that intercepts Secrets', async function () {
    const own = uniqueName('meshrev-own');
    const labels = { 'app.kubernetes.io/managed-by': 'meshrev', 'meshrev.io/meshrevision': 'x', 'istio.io/rev': '1-21' };
    const entry = (resources: string[]) => ({
      name: 'rev.namespace.sidecar-injector.istio.io',
      clientConfig: { url: 'https://127.0.0.1:1/inject' },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources }],
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      failurePolicy: 'Ignore',
    });
    const mwc = (name: string, l: Record<string, string>, resources: string[]) =>
      ({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name, labels: l }, webhooks: [entry(resources)] }) as k8s.KubernetesObject;
    try {
      expect(await outcome(() => op.create(mwc(own, labels, ['pods'])))).to.equal(undefined);
      expect(await outcome(() => op.create(mwc(uniqueName('secrets'), labels, ['secrets'])))).to.contain('only intercept pod CREATE');
      expect(await outcome(() => op.create(mwc(uniqueName('unlabelled'), { 'istio.io/rev': '1-21' }, ['pods'])))).to.contain('only its own MutatingWebhookConfigurations');
      // Taking over another tool's webhook by labelling it as meshrev's is an UPDATE of an object it does not own.
      expect(await outcome(() => merge({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: foreignMwc, labels } }))).to.contain('only its own');
      expect(await outcome(() => op.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: foreignMwc } }))).to.contain('only its own');
      expect(await outcome(() => op.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: own } }))).to.equal(undefined);
    } finally {
      await c.admission.deleteMutatingWebhookConfiguration({ name: own }).catch(() => undefined);
    }
  });
});
