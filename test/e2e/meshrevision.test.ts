// The MeshRevision controller on the real local cluster, running as its
// ServiceAccount with the RBAC from config/: webhook configurations with
// Istio's exact selectors, routing of real pod CREATEs to the right loopback
// injector, tags, default hand-over, deletion that waits while in use,
// rejection of invalid specs, and no writes on a no-op resync.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_ISTIO_REV } from '../../src/api/labels.js';
import { API_VERSION, KIND, type MeshRevision } from '../../src/api/meshrevision.js';
import type { RunningOperator } from '../../src/operator.js';
import { startInjector, type LoopbackInjector } from '../support/injector.js';
import { clients, createNamespace, createStrict, deleteNamespaceQuietly, errorText, eventually, kubectl, uniqueName, type Clients } from '../support/kube.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

const suffix = uniqueName('x').slice(2);
const revA = `a-${suffix}`;
const revB = `b-${suffix}`;
const tagA = `stable-${suffix}`;
const mwcA = `meshrev-sidecar-injector-${revA}`;
const mwcB = `meshrev-sidecar-injector-${revB}`;

const notFalse = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };
/** DESIGN.md §1, written out literally so the test does not reuse the code it checks. */
function istioSelectors(value: string) {
  return {
    revNamespace: {
      namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: [value] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
      objectSelector: { matchExpressions: [notFalse] },
    },
    revObject: {
      namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
      objectSelector: { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: [value] }] },
    },
  };
}
const defaultSelectors = {
  namespace: {
    namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
    objectSelector: { matchExpressions: [notFalse] },
  },
  object: {
    namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
    objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
  },
};

function meshRevision(name: string, revision: string, inj: LoopbackInjector, extra: Partial<MeshRevision['spec']> = {}): MeshRevision & k8s.KubernetesObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: { revision, injector: { url: inj.url, caBundle: inj.caBundle }, ...extra },
  };
}

async function getMrev(c: Clients, name: string): Promise<MeshRevision | undefined> {
  try {
    return (await c.objects.read({ apiVersion: API_VERSION, kind: KIND, metadata: { name } })) as unknown as MeshRevision;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

async function patchSpec(c: Clients, name: string, spec: Record<string, unknown>): Promise<void> {
  await c.objects.patch(
    { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec } as k8s.KubernetesObject,
    undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
  );
}

function condition(m: MeshRevision | undefined, type: string) {
  return m?.status?.conditions?.find((x) => x.type === type);
}

async function waitCondition(c: Clients, name: string, type: string, status: string, reason?: string): Promise<MeshRevision> {
  return eventually(`${name} ${type}=${status}${reason ? ` (${reason})` : ''}`, async () => {
    const m = await getMrev(c, name);
    const cond = condition(m, type);
    const fresh = m?.status?.observedGeneration === m?.metadata.generation;
    return fresh && cond?.status === status && (reason === undefined || cond.reason === reason) ? m : false;
  });
}

async function readMwc(c: Clients, name: string): Promise<k8s.V1MutatingWebhookConfiguration | undefined> {
  try {
    return await c.admission.readMutatingWebhookConfiguration({ name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

function entry(mwc: k8s.V1MutatingWebhookConfiguration | undefined, name: string) {
  const w = mwc?.webhooks?.find((x) => x.name === name);
  return w ? { namespaceSelector: w.namespaceSelector, objectSelector: w.objectSelector } : undefined;
}

/**
 * Which revision injects a pod created now in `namespace`: a dry-run CREATE
 * goes through the real admission chain and returns the admitted pod.
 */
async function injectedRevision(c: Clients, namespace: string, labels: Record<string, string> = {}): Promise<string | null> {
  const pod = await c.core.createNamespacedPod({
    namespace,
    dryRun: 'All',
    body: { metadata: { generateName: 'probe-', labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
  });
  const injected = pod.spec?.containers.some((x) => x.name === 'istio-proxy');
  return injected ? (pod.metadata?.annotations?.[ANNOTATION_ISTIO_REV] ?? 'injected-without-annotation') : null;
}

async function waitInjected(c: Clients, namespace: string, want: string | null, labels: Record<string, string> = {}): Promise<void> {
  await eventually(`pods in ${namespace} injected by ${want ?? 'nobody'}`, async () => (await injectedRevision(c, namespace, labels)) === want);
}

describe('MeshRevision controller', function () {
  let c: Clients;
  let op: RunningOperator | undefined;
  let injA: LoopbackInjector;
  let injB: LoopbackInjector;
  const ns = {
    revA: uniqueName('e2e-rev-a'),
    tag: uniqueName('e2e-tag'),
    enabled: uniqueName('e2e-enabled'),
    revB: uniqueName('e2e-rev-b'),
    disabled: uniqueName('e2e-disabled'),
  };
  const created: string[] = [];

  before(async function () {
    this.timeout(180_000);
    c = clients();
    op = await startOperatorAsServiceAccount(c);
    [injA, injB] = await Promise.all([startInjector({ revision: revA }), startInjector({ revision: revB })]);
    await createNamespace(c, ns.revA, { 'istio.io/rev': revA });
    await createNamespace(c, ns.tag, { 'istio.io/rev': tagA });
    await createNamespace(c, ns.enabled, { 'istio-injection': 'enabled' });
    await createNamespace(c, ns.revB, { 'istio.io/rev': revB });
    await createNamespace(c, ns.disabled, { 'istio-injection': 'disabled', 'istio.io/rev': revA });
  });

  after(async function () {
    this.timeout(120_000);
    if (!c) return;
    await Promise.all(Object.values(ns).map((n) => deleteNamespaceQuietly(c, n)));
    for (const name of created) {
      await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }).catch(() => undefined);
    }
    // The operator releases the finalizers once nothing uses the revisions.
    for (const name of created) {
      await eventually(`${name} deleted`, async () => (await getMrev(c, name)) === undefined, { timeoutMs: 60_000 }).catch(async (err: Error) => {
        console.error(`cleanup: ${err.message}; removing the finalizer by hand`);
        await patchFinalizersAway(c, name);
      });
    }
    await op?.stop();
    for (const name of [mwcA, mwcB]) await c.admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    await Promise.all([injA?.stop(), injB?.stop()]);
  });

  it('applies a MeshRevision as one webhook configuration with exactly Istio\'s entries and selectors, and reports Ready', async function () {
    await c.objects.create(meshRevision(revA, revA, injA, { default: true, tags: [tagA] }));
    created.push(revA);
    await kubectl(['wait', '--for=condition=Ready', `mrev/${revA}`, '--timeout=60s']);

    const mwc = await readMwc(c, mwcA);
    expect(mwc?.metadata?.labels).to.include({ app: 'sidecar-injector', 'istio.io/rev': revA });
    expect((mwc?.webhooks ?? []).map((w) => w.name).sort()).to.deep.equal([
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      `${tagA}.rev.namespace.sidecar-injector.istio.io`,
      `${tagA}.rev.object.sidecar-injector.istio.io`,
      'default.rev.namespace.sidecar-injector.istio.io',
      'default.rev.object.sidecar-injector.istio.io',
    ].sort());
    expect(entry(mwc, 'rev.namespace.sidecar-injector.istio.io')).to.deep.equal(istioSelectors(revA).revNamespace);
    expect(entry(mwc, 'rev.object.sidecar-injector.istio.io')).to.deep.equal(istioSelectors(revA).revObject);
    expect(entry(mwc, `${tagA}.rev.namespace.sidecar-injector.istio.io`)).to.deep.equal(istioSelectors(tagA).revNamespace);
    expect(entry(mwc, `${tagA}.rev.object.sidecar-injector.istio.io`)).to.deep.equal(istioSelectors(tagA).revObject);
    expect(entry(mwc, 'namespace.sidecar-injector.istio.io')).to.deep.equal(defaultSelectors.namespace);
    expect(entry(mwc, 'object.sidecar-injector.istio.io')).to.deep.equal(defaultSelectors.object);
    for (const w of mwc?.webhooks ?? []) {
      expect(w.clientConfig.url, w.name).to.equal(injA.url);
      expect(w.failurePolicy).to.equal('Fail');
      expect(w.sideEffects).to.equal('None');
      expect(w.admissionReviewVersions).to.deep.equal(['v1']);
      expect(w.rules).to.deep.equal([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }]);
    }
    const m = await getMrev(c, revA);
    expect(m?.status?.defaultRevision).to.equal(true);
    expect(m?.status?.activeTags).to.deep.equal([tagA]);
    expect(m?.metadata.finalizers).to.include('meshrev.io/finalizer');
  });

  it('sends pod CREATEs to the injector of the revision, tag or default their namespace selects, and to none when disabled or opted out', async function () {
    await c.objects.create(meshRevision(revB, revB, injB));
    created.push(revB);
    await waitCondition(c, revB, 'Ready', 'True');

    await waitInjected(c, ns.revA, revA);
    await waitInjected(c, ns.tag, revA);
    await waitInjected(c, ns.enabled, revA);
    await waitInjected(c, ns.revB, revB);
    expect(await injectedRevision(c, ns.disabled)).to.equal(null);
    expect(await injectedRevision(c, ns.revA, { 'sidecar.istio.io/inject': 'false' })).to.equal(null);

    const seenBy = (inj: LoopbackInjector) => new Set(inj.events.map((e) => e.namespace));
    expect([...seenBy(injA)].sort()).to.deep.equal([ns.revA, ns.tag, ns.enabled].sort());
    expect([...seenBy(injB)]).to.deep.equal([ns.revB]);

    // A real Deployment: its pods are injected by the default revision and become Ready (KWOK).
    await c.apps.createNamespacedDeployment({
      namespace: ns.enabled,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/web:1' }] } },
        },
      },
    });
    const pods = await eventually('2 Ready injected pods', async () => {
      const list = await c.core.listNamespacedPod({ namespace: ns.enabled, labelSelector: 'app=web' });
      const ready = list.items.filter((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
      return ready.length === 2 ? ready : false;
    });
    for (const p of pods) {
      expect(p.metadata?.annotations?.[ANNOTATION_ISTIO_REV]).to.equal(revA);
      expect(p.spec?.containers.map((x) => x.name)).to.include('istio-proxy');
    }
  });

  it('refuses a tag held by another revision without changing its webhooks, and takes it once the holder lets go', async function () {
    const before = await readMwc(c, mwcB);
    await patchSpec(c, revB, { tags: [tagA] });
    const loser = await waitCondition(c, revB, 'Ready', 'False', 'TagCollision');
    expect(condition(loser, 'Ready')?.message).to.contain(revA);
    expect(condition(loser, 'Stalled')?.status).to.equal('True');
    expect((await readMwc(c, mwcB))?.metadata?.resourceVersion).to.equal(before?.metadata?.resourceVersion);
    await waitInjected(c, ns.tag, revA);

    await patchSpec(c, revA, { tags: [] });
    await waitCondition(c, revB, 'Ready', 'True');
    await waitInjected(c, ns.tag, revB);
    const a = await readMwc(c, mwcA);
    expect((a?.webhooks ?? []).map((w) => w.name)).to.not.include(`${tagA}.rev.namespace.sidecar-injector.istio.io`);
    expect((await getMrev(c, revB))?.status?.activeTags).to.deep.equal([tagA]);
  });

  it('hands the default over: a second claimant waits with DefaultClaimedElsewhere, then takes it when the holder lets go', async function () {
    const before = await readMwc(c, mwcB);
    await patchSpec(c, revB, { default: true });
    const waiting = await waitCondition(c, revB, 'Ready', 'False', 'DefaultClaimedElsewhere');
    expect(condition(waiting, 'Ready')?.message).to.contain(revA);
    expect((await readMwc(c, mwcB))?.metadata?.resourceVersion).to.equal(before?.metadata?.resourceVersion);
    await waitInjected(c, ns.enabled, revA);

    await patchSpec(c, revA, { default: false });
    await waitCondition(c, revB, 'Ready', 'True');
    await waitInjected(c, ns.enabled, revB);
    expect(entry(await readMwc(c, mwcB), 'namespace.sidecar-injector.istio.io')).to.deep.equal(defaultSelectors.namespace);
    expect(entry(await readMwc(c, mwcA), 'namespace.sidecar-injector.istio.io')).to.equal(undefined);
    expect((await getMrev(c, revA))?.status?.defaultRevision).to.equal(false);
  });

  it('rejects invalid MeshRevisions at the API server or on status, and none of them changes a webhook', async function () {
    const snapshot = async () => {
      const list = await c.admission.listMutatingWebhookConfiguration({ labelSelector: 'app.kubernetes.io/managed-by=meshrev' });
      return Object.fromEntries(list.items.map((m) => [m.metadata!.name!, m.metadata!.resourceVersion]));
    };
    const before = await snapshot();
    const url = injA.url;
    const bad = (name: string, spec: unknown) => ({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec });
    const rejected: [string, unknown, RegExp][] = [
      ['no spec', bad(uniqueName('bad'), undefined), /spec/i],
      ['no revision', bad(uniqueName('bad'), { injector: { url } }), /revision/],
      ['revision with capitals', bad(uniqueName('bad'), { revision: 'Canary', injector: { url } }), /revision/],
      ['revision too long', bad(uniqueName('bad'), { revision: 'r'.repeat(64), injector: { url } }), /revision/],
      ['no injector', bad(uniqueName('bad'), { revision: 'r1' }), /injector/],
      ['both service and url', bad(uniqueName('bad'), { revision: 'r1', injector: { url, service: { name: 'istiod-r1' } } }), /exactly one|service|url/i],
      ['neither service nor url', bad(uniqueName('bad'), { revision: 'r1', injector: {} }), /service|url/i],
      ['http url', bad(uniqueName('bad'), { revision: 'r1', injector: { url: 'http://127.0.0.1/inject' } }), /https/],
      ['port out of range', bad(uniqueName('bad'), { revision: 'r1', injector: { service: { name: 'istiod', port: 70000 } } }), /port/],
      ['timeout too long', bad(uniqueName('bad'), { revision: 'r1', injector: { url, timeoutSeconds: 31 } }), /timeoutSeconds/],
      ['unknown failure policy', bad(uniqueName('bad'), { revision: 'r1', injector: { url, failurePolicy: 'Sometimes' } }), /failurePolicy/],
      ['caBundle not base64', bad(uniqueName('bad'), { revision: 'r1', injector: { url, caBundle: 'not base64!' } }), /caBundle/],
      ['tag equal to its revision', bad(uniqueName('bad'), { revision: 'r1', tags: ['r1'], injector: { url } }), /tag/],
      ['tag named default', bad(uniqueName('bad'), { revision: 'r1', tags: ['default'], injector: { url } }), /default/],
      ['duplicate tags', bad(uniqueName('bad'), { revision: 'r1', tags: ['t', 't'], injector: { url } }), /[Dd]uplicate|unique|t/],
      ['tag with spaces', bad(uniqueName('bad'), { revision: 'r1', tags: ['my tag'], injector: { url } }), /tags/],
      ['name with capitals', bad('Bad-Name', { revision: 'r1', injector: { url } }), /name/i],
    ];
    for (const [what, obj, message] of rejected) {
      let err: unknown;
      try {
        await createStrict(c, obj);
      } catch (e) {
        err = e;
      }
      expect(err, `${what} should be rejected`).to.be.instanceOf(Error);
      expect((err as { code?: number }).code, what).to.be.oneOf([400, 422]);
      expect(errorText(err), what).to.match(message);
    }
    // Unknown fields: rejected with strict field validation (what kubectl apply uses by default).
    let unknownErr: unknown;
    try {
      await createStrict(c, bad(uniqueName('bad'), { revision: 'r1', injector: { url }, tagz: ['x'] }));
    } catch (e) {
      unknownErr = e;
    }
    expect(errorText(unknownErr), 'unknown field').to.match(/unknown field.*tagz/);

    // Changing the revision of an existing MeshRevision is refused.
    let immutableErr: unknown;
    try {
      await patchSpec(c, revB, { revision: 'something-else' });
    } catch (e) {
      immutableErr = e;
    }
    expect(errorText(immutableErr), 'immutable revision').to.match(/immutable/i);

    // Accepted by the API server, refused by the operator on status: a caBundle that is base64 but no PEM,
    // a revision already served by another MeshRevision, a second default.
    const onStatus: [string, MeshRevision & k8s.KubernetesObject, string][] = [
      ['caBundle is not PEM', { ...meshRevision(uniqueName('bad'), uniqueName('r'), injA), spec: { revision: uniqueName('r'), injector: { url, caBundle: Buffer.from('hello').toString('base64') } } }, 'InvalidSpec'],
      ['revision served by another MeshRevision', meshRevision(uniqueName('dup'), revB, injA), 'RevisionCollision'],
    ];
    for (const [what, obj, reason] of onStatus) {
      await c.objects.create(obj);
      created.push(obj.metadata.name!);
      const m = await waitCondition(c, obj.metadata.name!, 'Ready', 'False', reason);
      expect(condition(m, 'Stalled')?.status, what).to.equal('True');
      expect(condition(m, 'Ready')?.message, what).to.not.equal('');
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  it('performs no write requests on 50 forced resyncs when nothing changed', async function () {
    const queue = op!.queue;
    const keys = (await c.objects.list(API_VERSION, KIND)).items.map((m) => m.metadata!.name!);
    // Settle: let in-flight reconciles from earlier changes finish.
    await eventually('a quiet operator', async () => {
      const w = op!.writer.writes;
      await queue.onIdle();
      await new Promise((r) => setTimeout(r, 1500));
      await queue.onIdle();
      return op!.writer.writes === w;
    });
    const writesBefore = op!.writer.writes;
    const reconcilesBefore = await reconcileCount(op!);
    for (let i = 0; i < 50; i++) {
      for (const k of keys) queue.add(k);
      await queue.onIdle();
    }
    expect(await reconcileCount(op!) - reconcilesBefore).to.be.at.least(50);
    expect(op!.writer.writes - writesBefore).to.equal(0);
  });

  it('keeps an in-use revision while namespaces select it, says which, and finishes deleting once they move', async function () {
    const mwcBefore = await readMwc(c, mwcA);
    expect(mwcBefore, 'revision A MWC').to.not.equal(undefined);
    await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name: revA } });
    const blocked = await waitCondition(c, revA, 'Ready', 'False', 'DeletionBlocked');
    expect(condition(blocked, 'Ready')?.message).to.contain(ns.revA);
    expect(blocked.status?.phase).to.equal('Deleting');
    expect(await readMwc(c, mwcA), 'webhook kept while in use').to.not.equal(undefined);

    // Move the namespaces off revision A (the disabled one only carries the label) and delete A's pods.
    for (const n of [ns.revA, ns.disabled]) {
      await c.core.patchNamespace(
        { name: n, body: { metadata: { labels: { 'istio.io/rev': revB } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    await c.apps.deleteNamespacedDeployment({ name: 'web', namespace: ns.enabled });
    await eventually(`MeshRevision ${revA} gone`, async () => (await getMrev(c, revA)) === undefined, { timeoutMs: 90_000 });
    expect(await readMwc(c, mwcA)).to.equal(undefined);
    created.splice(created.indexOf(revA), 1);
  });
});

async function reconcileCount(op: RunningOperator): Promise<number> {
  const text = (await op.metrics.render()).body;
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('controller_runtime_reconcile_total{') && line.includes('controller="meshrevision"')) n += Number(line.split(' ').pop());
  }
  return n;
}

async function patchFinalizersAway(c: Clients, name: string): Promise<void> {
  await c.objects
    .patch({ apiVersion: API_VERSION, kind: KIND, metadata: { name, finalizers: null } } as unknown as k8s.KubernetesObject,
      undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch)
    .catch(() => undefined);
}
