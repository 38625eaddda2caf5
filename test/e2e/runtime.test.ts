// The operator runtime against a real API server: informers (list, watch,
// relist on 410, restart after a broken watch), leader election on a real
// Lease, server-side apply (spec and status subresource) and Events.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { KubeWriter } from '../../src/kube/apply.js';
import { EventRecorder } from '../../src/kube/events.js';
import { Informer, type WatchLike } from '../../src/kube/informer.js';
import { LeaderElector } from '../../src/runtime/leader.js';
import { clients, createNamespace, deleteNamespaceQuietly, eventually, uniqueName, type Clients } from '../support/kube.js';

const LABEL = 'e2e.meshrev.io/set';

function configMap(ns: string, name: string, data: Record<string, string>, labels: Record<string, string> = { [LABEL]: 'a' }): k8s.V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels }, data };
}

/** client-node's Watch, recording each connection so a test can break it. */
class RecordingWatch implements WatchLike {
  readonly connections: AbortController[] = [];
  readonly queries: Record<string, unknown>[] = [];
  private readonly inner: k8s.Watch;
  constructor(kc: k8s.KubeConfig) {
    this.inner = new k8s.Watch(kc);
  }
  async watch(...args: Parameters<WatchLike['watch']>): Promise<AbortController> {
    this.queries.push({ ...args[1] });
    const c = await this.inner.watch(...args);
    this.connections.push(c);
    return c;
  }
}

describe('operator runtime against a real API server', function () {
  this.timeout(60_000);
  let c: Clients;
  let ns: string;
  const informers: Informer<k8s.KubernetesObject>[] = [];

  before(async () => {
    c = clients();
    ns = uniqueName('rt');
    await createNamespace(c, ns);
  });

  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
  });

  after(async () => {
    await deleteNamespaceQuietly(c, ns);
  });

  function track<T extends k8s.KubernetesObject>(i: Informer<T>): Informer<T> {
    informers.push(i);
    return i;
  }

  describe('Informer', () => {
    it('lists and watches a label-selected ConfigMap set, reflecting adds, updates and deletes', async () => {
      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'pre', { v: '1' }) });
      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'other', { v: '1' }, { [LABEL]: 'b' }) });
      const seen: string[] = [];
      const inf = track(
        new Informer<k8s.V1ConfigMap>({
          kc: c.kc,
          resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespace: ns, labelSelector: `${LABEL}=a` },
        }),
      );
      inf.addHandlers({
        add: (o) => seen.push(`add ${o.metadata?.name}`),
        update: (_old, o) => seen.push(`update ${o.metadata?.name}`),
        delete: (o) => seen.push(`delete ${o.metadata?.name}`),
      });
      inf.start();
      await inf.whenSynced();
      expect(inf.keys()).to.deep.equal([`${ns}/pre`]);
      expect(inf.get(`${ns}/pre`)?.metadata?.creationTimestamp).to.be.instanceOf(Date);

      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'new', { v: '1' }) });
      await eventually('add seen', () => Promise.resolve(inf.get(`${ns}/new`) !== undefined));
      // Watched objects are typed like listed ones.
      expect(inf.get(`${ns}/new`)?.metadata?.creationTimestamp).to.be.instanceOf(Date);

      await c.core.patchNamespacedConfigMap(
        { name: 'new', namespace: ns, body: { data: { v: '2' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await eventually('update seen', () => Promise.resolve(inf.get(`${ns}/new`)?.data?.v === '2'));

      // Leaving the selector is a delete for a selector-filtered watch.
      await c.core.patchNamespacedConfigMap(
        { name: 'pre', namespace: ns, body: { metadata: { labels: { [LABEL]: 'b' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await c.core.deleteNamespacedConfigMap({ name: 'new', namespace: ns });
      await eventually('deletes seen', () => Promise.resolve(inf.keys().length === 0));
      expect(seen).to.include.members(['add pre', 'add new', 'update new', 'delete pre', 'delete new']);
      expect(seen).not.to.include('add other');
    });

    it('relists when it watches from a resourceVersion the API server no longer has (410 Gone)', async () => {
      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'gone-a', {}, { [LABEL]: 'gone' }) });
      const objects = k8s.KubernetesObjectApi.makeApiClient(c.kc);
      let lists = 0;
      const inf = track(
        new Informer<k8s.V1ConfigMap>({
          kc: c.kc,
          resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespace: ns, labelSelector: `${LABEL}=gone` },
          backoff: { initialMs: 100 },
          list: async () => {
            const list = await objects.list<k8s.V1ConfigMap>('v1', 'ConfigMap', ns, undefined, undefined, undefined, undefined, `${LABEL}=gone`);
            // The first list claims an ancient resourceVersion, so the watch that follows gets 410 Expired.
            if (lists++ === 0) list.metadata = { ...list.metadata, resourceVersion: '1' };
            return list;
          },
        }),
      );
      inf.start();
      await inf.whenSynced();
      await eventually('a relist after 410', () => Promise.resolve(lists >= 2), { timeoutMs: 20_000 });
      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'gone-b', {}, { [LABEL]: 'gone' }) });
      await eventually('watch working after the relist', () => Promise.resolve(inf.get(`${ns}/gone-b`) !== undefined));
      expect(inf.keys().sort()).to.deep.equal([`${ns}/gone-a`, `${ns}/gone-b`]);
    });

    it('restarts its watch after the connection breaks, without missing changes made meanwhile', async () => {
      const watch = new RecordingWatch(c.kc);
      let restarts = 0;
      const inf = track(
        new Informer<k8s.V1ConfigMap>({
          kc: c.kc,
          watch,
          resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespace: ns, labelSelector: `${LABEL}=broken` },
          backoff: { initialMs: 500 },
          onRestart: () => restarts++,
        }),
      );
      inf.start();
      await inf.whenSynced();
      await eventually('watch connected', () => Promise.resolve(watch.connections.length === 1));
      watch.connections[0]!.abort(new Error('connection reset by test'));
      // Written while no watch is open: the restarted watch resumes from its resourceVersion and still sees it.
      await c.core.createNamespacedConfigMap({ namespace: ns, body: configMap(ns, 'during-outage', {}, { [LABEL]: 'broken' }) });
      await eventually('restarted watch sees the change', () => Promise.resolve(inf.get(`${ns}/during-outage`) !== undefined));
      expect(restarts).to.be.greaterThan(0);
      expect(watch.connections.length).to.be.greaterThan(1);
    });
  });

  describe('LeaderElector', () => {
    it('lets exactly one of two replicas lead, and the other takes over at once when the leader releases', async () => {
      const coord = c.kc.makeApiClient(k8s.CoordinationV1Api);
      const leading = new Set<string>();
      let both = false;
      const make = (id: string) =>
        new LeaderElector({
          api: coord,
          namespace: ns,
          name: 'rt-leader',
          identity: id,
          leaseDurationSeconds: 4,
          renewDeadlineMs: 3_000,
          retryPeriodMs: 300,
          onStartedLeading: () => {
            leading.add(id);
            if (leading.size > 1) both = true;
          },
          onStoppedLeading: () => leading.delete(id),
        });
      const a = make('replica-a');
      const b = make('replica-b');
      void a.run();
      void b.run();
      const first = await eventually('a leader', () => Promise.resolve(leading.size === 1 ? [...leading][0] : undefined));
      // Watch them for several renew periods: never two leaders.
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        expect([a.isLeader(), b.isLeader()].filter(Boolean)).to.have.length(1);
      }
      const [leader, standby] = first === 'replica-a' ? [a, b] : [b, a];
      const lease = await coord.readNamespacedLease({ name: 'rt-leader', namespace: ns });
      expect(lease.spec?.holderIdentity).to.equal(first);

      const released = Date.now();
      await leader.stop();
      // Released: emptied by the old leader, or already taken by the standby (its retry may land first).
      const standbyId = first === 'replica-a' ? 'replica-b' : 'replica-a';
      expect((await coord.readNamespacedLease({ name: 'rt-leader', namespace: ns })).spec?.holderIdentity).to.be.oneOf(['', standbyId]);
      await eventually('standby takes over', () => Promise.resolve(standby.isLeader()), { intervalMs: 20 });
      const takeoverMs = Date.now() - released;
      // Released, not expired: far sooner than the 4 s lease duration.
      expect(takeoverMs).to.be.lessThan(2_000);
      expect(both).to.be.false;
      const after = await coord.readNamespacedLease({ name: 'rt-leader', namespace: ns });
      expect(after.spec?.holderIdentity).to.equal(standby.identity);
      expect(after.spec?.leaseTransitions).to.equal(1);
      await standby.stop();
    });
  });

  describe('server-side apply', () => {
    it('writes the first apply, leaves resourceVersion alone on an identical second one, and removes a field meshrev stops sending', async () => {
      const writer = new KubeWriter({ kc: c.kc });
      const desired = configMap(ns, 'ssa', { mode: 'canary' }, { 'app.kubernetes.io/managed-by': 'meshrev' });
      const first = await writer.apply(desired);
      expect(writer.writes).to.equal(1);
      const rv1 = first.metadata?.resourceVersion;
      expect(first.metadata?.managedFields?.some((m) => m.manager === 'meshrev' && m.operation === 'Apply')).to.be.true;

      const second = await writer.apply(desired);
      expect(second.metadata?.resourceVersion).to.equal(rv1);

      // A change is applied, and a field meshrev stops sending is removed.
      const changed = configMap(ns, 'ssa', { other: 'x' }, { 'app.kubernetes.io/managed-by': 'meshrev' });
      const r = await writer.apply(changed);
      expect(r.data).to.deep.equal({ other: 'x' });
    });

    it('leaves fields owned by another manager alone', async () => {
      const writer = new KubeWriter({ kc: c.kc });
      await writer.apply(configMap(ns, 'shared', { ours: '1' }, {}));
      // Someone else (think istiod patching caBundle) adds a field.
      await c.core.patchNamespacedConfigMap(
        { name: 'shared', namespace: ns, body: { data: { theirs: '1' } }, fieldManager: 'istiod' },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const again = await writer.apply(configMap(ns, 'shared', { ours: '2' }, {}));
      expect(again.data).to.deep.equal({ ours: '2', theirs: '1' });
    });

    describe('status subresource of a custom resource', () => {
      const group = 'rt-e2e.meshrev.io';
      const plural = 'widgets';
      let ext: k8s.ApiextensionsV1Api;

      before(async () => {
        ext = c.kc.makeApiClient(k8s.ApiextensionsV1Api);
        await ext.createCustomResourceDefinition({
          body: {
            metadata: { name: `${plural}.${group}` },
            spec: {
              group,
              scope: 'Cluster',
              names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
              versions: [
                {
                  name: 'v1',
                  served: true,
                  storage: true,
                  subresources: { status: {} },
                  schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true }, status: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } } },
                },
              ],
            },
          },
        });
        await eventually('CRD established', async () => {
          const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
          return crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ?? false;
        });
      });

      after(async () => {
        await ext.deleteCustomResourceDefinition({ name: `${plural}.${group}` }).catch(() => undefined);
      });

      it('applies status through /status with the meshrev field manager, without touching spec, and no-ops when unchanged', async () => {
        const writer = new KubeWriter({ kc: c.kc });
        const name = uniqueName('w');
        const crd = { group, version: 'v1', plural };
        await eventually('CR create accepted', async () => {
          await writer.apply({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, spec: { size: 1 } } as k8s.KubernetesObject);
          return true;
        });
        const status: k8s.KubernetesObject & { status: unknown } = {
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name },
          status: { phase: 'Ready', observedGeneration: 1 },
        };
        const first = await writer.applyStatus(status, crd);
        expect((first as { status?: unknown }).status).to.deep.equal({ phase: 'Ready', observedGeneration: 1 });
        expect((first as { spec?: unknown }).spec).to.deep.equal({ size: 1 });
        const statusEntry = first.metadata?.managedFields?.find((m) => m.manager === 'meshrev' && m.subresource === 'status');
        expect(statusEntry?.operation).to.equal('Apply');
        const second = await writer.applyStatus(status, crd);
        expect(second.metadata?.resourceVersion).to.equal(first.metadata?.resourceVersion);
      });
    });
  });

  describe('EventRecorder', () => {
    it('records an event about a cluster-scoped object in "default", where kubectl describe finds it, and folds repeats', async () => {
      const core = c.core;
      const namespace = await core.readNamespace({ name: ns });
      const rec = new EventRecorder({ core, minPatchIntervalMs: 0 });
      await rec.warning({ apiVersion: 'v1', kind: 'Namespace', metadata: namespace.metadata }, 'RuntimeE2E', 'first message');
      await rec.warning({ apiVersion: 'v1', kind: 'Namespace', metadata: namespace.metadata }, 'RuntimeE2E', 'first message');
      // kubectl describe's query for a cluster-scoped object: all namespaces, involvedObject.namespace empty.
      const fieldSelector = `involvedObject.name=${ns},involvedObject.namespace=,involvedObject.kind=Namespace,involvedObject.uid=${namespace.metadata?.uid}`;
      const found = await eventually('event listed', async () => {
        const list = await core.listEventForAllNamespaces({ fieldSelector });
        return list.items.length > 0 ? list.items : undefined;
      });
      expect(found).to.have.length(1);
      expect(found[0]?.metadata?.namespace).to.equal('default');
      expect(found[0]).to.deep.include({ type: 'Warning', reason: 'RuntimeE2E', message: 'first message', count: 2 });
      const eventName = found[0]?.metadata?.name ?? '';
      await core.deleteNamespacedEvent({ name: eventName, namespace: 'default' }).catch(() => undefined);
    });
  });
});
