// Proves the local cluster is real end to end: the API server calls an HTTPS
// admission webhook we serve on loopback for each pod CREATE, the controller
// manager runs Deployments, the scheduler places pods and KWOK makes them
// Ready, and a rollout restart replaces every pod.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeServingCert } from '../support/certs.js';
import { clients, createNamespace, deleteNamespaceQuietly, eventually, isPodReady, uniqueName, type Clients } from '../support/kube.js';

interface Call {
  namespace: string;
  operation: string;
  kind: string;
}

const MUTATED_LABEL = 'e2e.meshrev.io/mutated';

/** A tiny mutating webhook: records every call and labels the pod. */
async function startWebhook(): Promise<{ server: Server; url: string; caBundle: string; calls: Call[] }> {
  const cert = makeServingCert();
  const calls: Call[] = [];
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string; namespace: string; operation: string; kind: { kind: string }; object: k8s.V1Pod };
      };
      const r = review.request;
      calls.push({ namespace: r.namespace, operation: r.operation, kind: r.kind.kind });
      const patch = [
        ...(r.object.metadata?.labels ? [] : [{ op: 'add', path: '/metadata/labels', value: {} }]),
        { op: 'add', path: `/metadata/labels/${MUTATED_LABEL.replace('/', '~1')}`, value: 'true' },
      ];
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: r.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(cert.caPem).toString('base64'), calls };
}

function deployment(name: string, replicas: number): k8s.V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      },
    },
  };
}

async function podsOf(c: Clients, namespace: string, app: string): Promise<k8s.V1Pod[]> {
  const list = await c.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items;
}

async function waitRolledOut(c: Clients, namespace: string, name: string, replicas: number): Promise<k8s.V1Pod[]> {
  return eventually(`deployment ${namespace}/${name} rolled out with ${replicas} Ready pods`, async () => {
    const d = await c.apps.readNamespacedDeployment({ name, namespace });
    const s = d.status;
    const done = s?.observedGeneration === d.metadata?.generation && s?.updatedReplicas === replicas &&
      s?.readyReplicas === replicas && s?.replicas === replicas;
    if (!done) return false;
    const pods = (await podsOf(c, namespace, name)).filter((p) => !p.metadata?.deletionTimestamp);
    return pods.length === replicas && pods.every(isPodReady) ? pods : false;
  }, { timeoutMs: 90_000 });
}

describe('the local cluster', function () {
  let c: Clients;
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  const selected = uniqueName('e2e-hooked');
  const unselected = uniqueName('e2e-plain');
  const mwcName = uniqueName('e2e-recorder');
  const selectorKey = 'e2e.meshrev.io/hooked';

  before(async function () {
    c = clients();
    hook = await startWebhook();
    await c.admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: mwcName },
        webhooks: [{
          name: 'recorder.e2e.meshrev.io',
          clientConfig: { url: hook.url, caBundle: hook.caBundle },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { [selectorKey]: 'yes' } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          failurePolicy: 'Fail',
          timeoutSeconds: 5,
        }],
      },
    });
    await createNamespace(c, selected, { [selectorKey]: 'yes' });
    await createNamespace(c, unselected);
    // The API server picks up new webhook configurations asynchronously: a
    // dry-run pod CREATE (allowed for sideEffects None) shows when it is live.
    await eventually('the webhook configuration to be live', async () => {
      const before = hook.calls.length;
      await c.core.createNamespacedPod({
        namespace: selected,
        dryRun: 'All',
        body: { metadata: { generateName: 'probe-' }, spec: { containers: [{ name: 'p', image: 'registry.invalid/p:1' }] } },
      });
      return hook.calls.length > before;
    });
    hook.calls.length = 0;
  });

  after(async function () {
    if (!c) return;
    await Promise.all([deleteNamespaceQuietly(c, selected), deleteNamespaceQuietly(c, unselected)]);
    await c.admission.deleteMutatingWebhookConfiguration({ name: mwcName }).catch(() => undefined);
    if (hook) {
      // The API server keeps connections to webhooks alive; close() alone would wait for them.
      hook.server.closeAllConnections();
      await new Promise<void>((resolve) => hook.server.close(() => resolve()));
    }
  });

  it('serves a real API with one Ready node', async function () {
    const nodes = await c.core.listNode();
    expect(nodes.items).to.have.length.greaterThanOrEqual(1);
    const ready = nodes.items.filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    expect(ready, 'Ready nodes').to.have.length.greaterThanOrEqual(1);
  });

  it('calls the admission webhook once for each pod a Deployment creates, and the pods carry its mutation and become Ready', async function () {
    await c.apps.createNamespacedDeployment({ namespace: selected, body: deployment('web', 3) });
    const pods = await waitRolledOut(c, selected, 'web', 3);

    const podCreates = hook.calls.filter((x) => x.namespace === selected && x.kind === 'Pod' && x.operation === 'CREATE');
    expect(podCreates).to.have.length(3);
    for (const p of pods) expect(p.metadata?.labels?.[MUTATED_LABEL], `label on ${p.metadata?.name}`).to.equal('true');
  });

  it('is instant by default: a pod is Ready within a second of its creation (API timestamps)', async function () {
    // The suite's cluster runs KWOK's default stages; cluster-lifecycle.test.ts covers the realistic profile.
    const pods = await waitRolledOut(c, selected, 'web', 3);
    for (const p of pods) {
      const ready = p.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'True')?.lastTransitionTime;
      const seconds = (new Date(ready!).getTime() - new Date(p.metadata!.creationTimestamp!).getTime()) / 1000;
      expect(seconds, `${p.metadata?.name} created → Ready`).to.be.at.most(1);
    }
  });

  it('replaces every pod with new Ready, re-admitted pods on a rollout restart', async function () {
    const before = (await podsOf(c, selected, 'web')).map((p) => p.metadata!.name!);
    expect(before).to.have.length(3);
    const callsBefore = hook.calls.length;

    // What `kubectl rollout restart` does: stamp the pod template.
    await c.apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: selected,
        body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    const after = await eventually('every old pod to be gone', async () => {
      const pods = await waitRolledOut(c, selected, 'web', 3);
      const names = pods.map((p) => p.metadata!.name!);
      const all = await podsOf(c, selected, 'web');
      return all.length === 3 && names.every((n) => !before.includes(n)) ? pods : false;
    }, { timeoutMs: 90_000 });

    expect(after.every(isPodReady)).to.equal(true);
    for (const p of after) expect(p.metadata?.labels?.[MUTATED_LABEL]).to.equal('true');
    const newCreates = hook.calls.slice(callsBefore).filter((x) => x.namespace === selected && x.operation === 'CREATE');
    expect(newCreates).to.have.length(3);
  });

  it('never calls the webhook for a namespace its namespaceSelector does not match', async function () {
    await c.apps.createNamespacedDeployment({ namespace: unselected, body: deployment('plain', 2) });
    const pods = await waitRolledOut(c, unselected, 'plain', 2);

    expect(hook.calls.filter((x) => x.namespace === unselected)).to.deep.equal([]);
    for (const p of pods) expect(p.metadata?.labels?.[MUTATED_LABEL]).to.equal(undefined);
  });
});
