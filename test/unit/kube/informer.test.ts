import type { KubernetesListObject, V1ConfigMap } from '@kubernetes/client-node';
import { expect } from 'chai';
import { Informer, objectKey, resourcePath, serializationType, toTyped, waitForSync, type Transform, type WatchLike } from '../../../src/kube/informer.js';
import { FakeClock, flush } from '../runtime/fake-clock.js';

interface WatchCall {
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  cb: (phase: string, obj: unknown) => void;
  done: (err: unknown) => void;
  controller: AbortController;
}

class FakeWatch implements WatchLike {
  calls: WatchCall[] = [];
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    cb: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    await Promise.resolve();
    const controller = new AbortController();
    // Like client-node's Watch: done is called once, and aborting ends the stream with an AbortError.
    let ended = false;
    const doneOnce = (err: unknown) => {
      if (ended) return;
      ended = true;
      done(err);
    };
    controller.signal.addEventListener('abort', () => doneOnce(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    this.calls.push({ path, query, cb, done: doneOnce, controller });
    return controller;
  }
  get last(): WatchCall {
    const c = this.calls.at(-1);
    if (!c) throw new Error('no watch opened');
    return c;
  }
}

/** A ConfigMap as the wire (watch events) gives it. */
function cm(name: string, rv: string, data: Record<string, string> = {}, ns = 'shop'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, resourceVersion: rv, creationTimestamp: '2024-05-01T10:00:00Z' },
    data,
  };
}

function setup(lists: (() => Promise<KubernetesListObject<V1ConfigMap>>)[], transform?: Transform) {
  const clock = new FakeClock();
  const watch = new FakeWatch();
  let listCalls = 0;
  const events: string[] = [];
  const restarts: unknown[] = [];
  const informer = new Informer<V1ConfigMap>({
    resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespace: 'shop', labelSelector: 'app=x' },
    list: () => {
      const fn = lists[Math.min(listCalls, lists.length - 1)]!;
      listCalls++;
      return fn();
    },
    watch,
    timers: clock,
    random: () => 0,
    onRestart: (e) => restarts.push(e),
    ...(transform ? { transform } : {}),
  });
  informer.addHandlers({
    add: (o) => events.push(`add ${objectKey(o)}`),
    update: (old, o) => events.push(`update ${objectKey(o)} ${old?.metadata?.resourceVersion}->${o.metadata?.resourceVersion}`),
    delete: (o) => events.push(`delete ${objectKey(o)}`),
  });
  return { clock, watch, informer, events, restarts, listCalls: () => listCalls };
}

const listOf = (rv: string, ...items: Record<string, unknown>[]) => () =>
  Promise.resolve({ apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: rv }, items: items.map((i) => toTyped<V1ConfigMap>(i, 'v1', 'ConfigMap')) } as KubernetesListObject<V1ConfigMap>);

describe('Informer (fake list/watch)', () => {
  it('lists into a cache keyed by namespace/name, then watches from the list resourceVersion', async () => {
    const { watch, informer, events } = setup([listOf('100', cm('a', '90'), cm('b', '95'))]);
    expect(informer.hasSynced()).to.be.false;
    informer.start();
    await flush();
    expect(informer.hasSynced()).to.be.true;
    expect(informer.get('shop/a')?.metadata?.resourceVersion).to.equal('90');
    expect(informer.list('shop').map(objectKey).sort()).to.deep.equal(['shop/a', 'shop/b']);
    expect(events.sort()).to.deep.equal(['add shop/a', 'add shop/b']);
    expect(watch.last.path).to.equal('/api/v1/namespaces/shop/configmaps');
    expect(watch.last.query).to.include({ resourceVersion: '100', labelSelector: 'app=x', allowWatchBookmarks: true });
    await informer.stop();
  });

  it('reflects watch adds, updates (with the old object) and deletes', async () => {
    const { watch, informer, events } = setup([listOf('100', cm('a', '90'))]);
    informer.start();
    await flush();
    events.length = 0;
    watch.last.cb('ADDED', cm('c', '101'));
    watch.last.cb('MODIFIED', cm('a', '102', { k: 'v' }));
    watch.last.cb('DELETED', cm('c', '103'));
    expect(events).to.deep.equal(['add shop/c', 'update shop/a 90->102', 'delete shop/c']);
    expect(informer.get('shop/a')?.data).to.deep.equal({ k: 'v' });
    expect(informer.get('shop/c')).to.equal(undefined);
    await informer.stop();
  });

  it('gives watched objects the same typed shape as listed ones', async () => {
    const { watch, informer } = setup([listOf('100', cm('a', '90'))]);
    informer.start();
    await flush();
    watch.last.cb('ADDED', cm('c', '101'));
    expect(informer.get('shop/a')?.metadata?.creationTimestamp).to.be.instanceOf(Date);
    expect(informer.get('shop/c')?.metadata?.creationTimestamp).to.be.instanceOf(Date);
    await informer.stop();
  });

  it('restarts the watch with backoff after an error, resuming from the last resourceVersion', async () => {
    const { clock, watch, informer, restarts, listCalls } = setup([listOf('100', cm('a', '90'))]);
    informer.start();
    await flush();
    watch.last.cb('MODIFIED', cm('a', '105'));
    watch.last.done(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await flush();
    expect(watch.calls).to.have.length(1);
    expect(restarts).to.have.length(1);
    await clock.advance(999);
    expect(watch.calls).to.have.length(1);
    await clock.advance(1);
    expect(watch.calls).to.have.length(2);
    expect(watch.last.query.resourceVersion).to.equal('105');
    expect(listCalls()).to.equal(1);
    await informer.stop();
  });

  it('retries a failing list with growing, capped backoff and syncs once it succeeds', async () => {
    const fail = () => Promise.reject(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    const { clock, informer, listCalls } = setup([fail, fail, fail, listOf('100', cm('a', '90'))]);
    informer.start();
    await flush();
    expect(informer.hasSynced()).to.be.false;
    expect(informer.lastError()).to.equal('fetch failed (ECONNREFUSED)');
    await clock.advance(1_000);
    expect(listCalls()).to.equal(2);
    await clock.advance(1_999);
    expect(listCalls()).to.equal(2);
    await clock.advance(1);
    expect(listCalls()).to.equal(3);
    await clock.advance(4_000);
    expect(listCalls()).to.equal(4);
    expect(informer.hasSynced()).to.be.true;
    await informer.stop();
  });

  it('relists after a 410 Gone watch event, deleting objects that vanished meanwhile', async () => {
    const { watch, informer, events, listCalls, clock } = setup([listOf('100', cm('a', '90'), cm('b', '95')), listOf('500', cm('a', '450'))]);
    informer.start();
    await flush();
    events.length = 0;
    watch.last.cb('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (400)' });
    // The API server ends the stream after the ERROR event.
    watch.last.done(null);
    await flush();
    await clock.advance(1_000);
    expect(listCalls()).to.equal(2);
    expect(events.sort()).to.deep.equal(['delete shop/b', 'update shop/a 90->450']);
    expect(watch.last.query.resourceVersion).to.equal('500');
    expect(informer.keys()).to.deep.equal(['shop/a']);
    await informer.stop();
  });

  it('opens no watch and schedules no restart after stop()', async () => {
    const { clock, watch, informer } = setup([listOf('100')]);
    informer.start();
    await flush();
    watch.last.done(new Error('boom'));
    await informer.stop();
    await clock.advance(60_000);
    expect(watch.calls).to.have.length(1);
    expect(clock.pending).to.equal(0);
  });

  it('closes a watch that was still being opened when stop() was called', async () => {
    const { watch, informer } = setup([listOf('100')]);
    informer.start();
    // Synced as soon as the list is applied and the watch requested, before the watch is open.
    await informer.whenSynced();
    await informer.stop();
    await flush();
    expect(watch.calls).to.have.length(1);
    expect(watch.last.controller.signal.aborted).to.equal(true);
  });

  it('keeps working when a handler throws', async () => {
    const { watch, informer } = setup([listOf('100')]);
    informer.addHandlers({ add: () => {
      throw new Error('handler bug');
    } });
    informer.start();
    await flush();
    watch.last.cb('ADDED', cm('x', '101'));
    watch.last.cb('ADDED', cm('y', '102'));
    expect(informer.keys().sort()).to.deep.equal(['shop/x', 'shop/y']);
    await informer.stop();
  });

  it('waitForSync resolves once every informer synced, and rejects when aborted', async () => {
    const one = setup([listOf('1')]);
    const two = setup([() => new Promise(() => {})]);
    one.informer.start();
    await flush();
    await waitForSync([one.informer]);
    two.informer.start();
    const ac = new AbortController();
    const waiting = waitForSync([one.informer, two.informer], ac.signal);
    ac.abort(new Error('shutting down'));
    let rejected: unknown;
    await waiting.catch((e: unknown) => (rejected = e));
    expect(rejected).to.be.instanceOf(Error);
    await one.informer.stop();
    await two.informer.stop();
  });
});

describe('Informer: namespaces, our own writes, sync version, transform', () => {
  it('lists one namespace from its index, and follows objects added and deleted there', async () => {
    const { watch, informer } = setup([listOf('100', cm('a', '90'), cm('b', '91', {}, 'cart'), cm('c', '92'))]);
    informer.start();
    await flush();
    expect(informer.list('shop').map(objectKey).sort()).to.deep.equal(['shop/a', 'shop/c']);
    expect(informer.list('cart').map(objectKey)).to.deep.equal(['cart/b']);
    expect(informer.list('nowhere')).to.deep.equal([]);
    watch.last.cb('ADDED', cm('d', '101', {}, 'cart'));
    watch.last.cb('DELETED', cm('b', '102', {}, 'cart'));
    watch.last.cb('DELETED', cm('a', '103'));
    expect(informer.list('cart').map(objectKey)).to.deep.equal(['cart/d']);
    expect(informer.list('shop').map(objectKey)).to.deep.equal(['shop/c']);
    expect(informer.list().map(objectKey).sort()).to.deep.equal(['cart/d', 'shop/c']);
    await informer.stop();
  });

  it('serves the object a write returned until the watch delivers that version, then the cached one', async () => {
    const { watch, informer } = setup([listOf('100', cm('a', '90', { v: 'old' }))]);
    informer.start();
    await flush();
    informer.assume(toTyped<V1ConfigMap>(cm('a', '120', { v: 'mine' }), 'v1', 'ConfigMap'));
    expect(informer.get('shop/a')?.data).to.deep.equal({ v: 'mine' });
    expect(informer.list('shop')[0]?.data).to.deep.equal({ v: 'mine' });
    // An event older than our write changes nothing visible.
    watch.last.cb('MODIFIED', cm('a', '110', { v: 'between' }));
    expect(informer.get('shop/a')?.data).to.deep.equal({ v: 'mine' });
    // Our version (or a newer one) arrives: the cache is current again.
    watch.last.cb('MODIFIED', cm('a', '125', { v: 'after' }));
    expect(informer.get('shop/a')?.data).to.deep.equal({ v: 'after' });
    await informer.stop();
  });

  it('ignores a written object that is older than the cache, not cached at all, or has no integer resourceVersion', async () => {
    const { informer } = setup([listOf('100', cm('a', '90', { v: 'cached' }))]);
    informer.start();
    await flush();
    informer.assume(toTyped<V1ConfigMap>(cm('a', '80', { v: 'stale' }), 'v1', 'ConfigMap'));
    expect(informer.get('shop/a')?.data).to.deep.equal({ v: 'cached' });
    informer.assume(toTyped<V1ConfigMap>(cm('a', 'opaque-1', { v: 'opaque' }), 'v1', 'ConfigMap'));
    expect(informer.get('shop/a')?.data).to.deep.equal({ v: 'cached' });
    informer.assume(toTyped<V1ConfigMap>(cm('gone', '200'), 'v1', 'ConfigMap'));
    expect(informer.get('shop/gone')).to.equal(undefined);
    await informer.stop();
  });

  it('forgets a written object once the object is deleted', async () => {
    const { watch, informer } = setup([listOf('100', cm('a', '90'))]);
    informer.start();
    await flush();
    informer.assume(toTyped<V1ConfigMap>(cm('a', '120', { v: 'mine' }), 'v1', 'ConfigMap'));
    watch.last.cb('DELETED', cm('a', '130'));
    expect(informer.get('shop/a')).to.equal(undefined);
    expect(informer.list('shop')).to.deep.equal([]);
    await informer.stop();
  });

  it('reports the resourceVersion its cache reflects: the list, then every event and bookmark', async () => {
    const { watch, informer } = setup([listOf('100', cm('a', '90'))]);
    expect(informer.lastSyncResourceVersion()).to.equal(undefined);
    informer.start();
    await flush();
    expect(informer.lastSyncResourceVersion()).to.equal('100');
    watch.last.cb('MODIFIED', cm('a', '105'));
    expect(informer.lastSyncResourceVersion()).to.equal('105');
    watch.last.cb('BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '140' } });
    expect(informer.lastSyncResourceVersion()).to.equal('140');
    await informer.stop();
  });

  it('caches what the transform keeps, for listed, watched and assumed objects alike', async () => {
    const onlyKey: Transform = (o) => {
      const c = o as V1ConfigMap;
      return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: c.metadata?.name, namespace: c.metadata?.namespace, resourceVersion: c.metadata?.resourceVersion }, data: { keep: c.data?.keep ?? '' } } as V1ConfigMap;
    };
    const { watch, informer } = setup([listOf('100', cm('a', '90', { keep: '1', drop: 'x' }))], onlyKey);
    informer.start();
    await flush();
    expect(informer.get('shop/a')?.data).to.deep.equal({ keep: '1' });
    watch.last.cb('ADDED', cm('b', '101', { keep: '2', drop: 'y' }));
    expect(informer.get('shop/b')?.data).to.deep.equal({ keep: '2' });
    informer.assume(toTyped<V1ConfigMap>(cm('b', '110', { keep: '3', drop: 'z' }), 'v1', 'ConfigMap'));
    expect(informer.get('shop/b')?.data).to.deep.equal({ keep: '3' });
    await informer.stop();
  });
});

describe('informer helpers', () => {
  it('builds API paths for core, grouped, namespaced and cluster-scoped resources', () => {
    expect(resourcePath({ apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' })).to.equal('/api/v1/namespaces');
    expect(resourcePath({ apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespace: 'shop' })).to.equal(
      '/apis/apps/v1/namespaces/shop/deployments',
    );
    expect(resourcePath({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', plural: 'meshrevisions' })).to.equal(
      '/apis/meshrev.io/v1alpha1/meshrevisions',
    );
  });

  it('names client-node models for built-in kinds only', () => {
    expect(serializationType('v1', 'Pod')).to.equal('V1Pod');
    expect(serializationType('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration')).to.equal('V1MutatingWebhookConfiguration');
    expect(serializationType('meshrev.io/v1alpha1', 'MeshRevision')).to.equal('KubernetesObject');
  });

  it('types a custom resource metadata but keeps its spec and status as sent', () => {
    const raw = { apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', metadata: { name: 'canary', creationTimestamp: '2024-05-01T10:00:00Z' }, spec: { revision: 'canary' }, status: { conditions: [{ type: 'Ready', lastTransitionTime: '2024-05-01T10:00:00Z' }] } };
    const typed = toTyped<{ metadata?: { creationTimestamp?: Date }; spec?: unknown; status?: unknown; apiVersion?: string; kind?: string }>(raw, 'meshrev.io/v1alpha1', 'MeshRevision');
    expect(typed.metadata?.creationTimestamp).to.be.instanceOf(Date);
    expect(typed.spec).to.deep.equal({ revision: 'canary' });
    expect(typed.status).to.deep.equal(raw.status);
  });
});
