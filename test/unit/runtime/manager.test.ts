import type { KubernetesListObject, V1Lease, V1Namespace } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { OperatorMetrics } from '../../../src/health/metrics.js';
import { createHealthApp } from '../../../src/health/server.js';
import { Informer, type WatchLike } from '../../../src/kube/informer.js';
import type { LeaseApi } from '../../../src/runtime/leader.js';
import { Manager, handleSignals, watchMapped, watchOwn } from '../../../src/runtime/manager.js';
import { FakeClock, deferred, flush } from './fake-clock.js';

type Cb = (phase: string, obj: unknown) => void;

function namespaceInformer(names: string[]) {
  const callbacks: Cb[] = [];
  const list = deferred<KubernetesListObject<V1Namespace>>();
  const watch: WatchLike = {
    watch: async (_p, _q, cb) => {
      await Promise.resolve();
      callbacks.push(cb);
      return new AbortController();
    },
  };
  const informer = new Informer<V1Namespace>({
    resource: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' },
    list: () => list.promise,
    watch,
  });
  const release = () =>
    list.resolve({
      metadata: { resourceVersion: '10' },
      items: names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, resourceVersion: '5', labels: { 'istio.io/rev': 'canary' } } })),
    });
  const emit = (phase: string, obj: unknown) => callbacks.at(-1)?.(phase, obj);
  return { informer, release, emit };
}

/** A Lease store with optimistic concurrency, enough for one elector. */
function leases(): LeaseApi & { holder(): string | undefined } {
  let lease: V1Lease | undefined;
  let rv = 0;
  const notFound = () => new ApiException(404, 'x', JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'nf' }), {});
  const save = (l: V1Lease) => (lease = JSON.parse(JSON.stringify({ ...l, metadata: { ...l.metadata, resourceVersion: String(++rv) } })) as V1Lease);
  return {
    readNamespacedLease: () => (lease ? Promise.resolve(lease) : Promise.reject(notFound())),
    createNamespacedLease: (p) => Promise.resolve(save(p.body)),
    replaceNamespacedLease: (p) => Promise.resolve(save(p.body)),
    holder: () => lease?.spec?.holderIdentity ?? undefined,
  };
}

describe('Manager', () => {
  it('becomes ready once caches sync, then reconciles the keys its watches map objects to', async () => {
    const ns = namespaceInformer(['shop', 'cart']);
    const health = createHealthApp();
    const mgr = new Manager({ health });
    const reconciled: string[] = [];
    mgr.addController({
      name: 'meshrevision',
      // Namespaces map to the MeshRevision named by their istio.io/rev label.
      watches: [watchMapped(ns.informer, (n) => [n.metadata?.labels?.['istio.io/rev'] ?? ''].filter(Boolean))],
      reconcile: (key) => {
        reconciled.push(key);
        return Promise.resolve({});
      },
    });
    const started = mgr.start();
    await flush();
    expect((await health.inject({ url: '/readyz' })).statusCode).to.equal(503);
    ns.release();
    await started;
    await flush();
    expect((await health.inject({ url: '/readyz' })).statusCode).to.equal(200);
    // Two namespaces, one MeshRevision: deduplicated to one reconcile.
    expect(reconciled).to.deep.equal(['canary']);
    await mgr.stop();
    expect(await mgr.done).to.equal('stopped');
  });

  it('maps both the old and the new object on update, so a relabelled namespace reconciles both owners', async () => {
    const ns = namespaceInformer(['shop']);
    const mgr = new Manager();
    const reconciled: string[] = [];
    mgr.addController({
      name: 'meshrevision',
      watches: [watchMapped(ns.informer, (n) => [n.metadata?.labels?.['istio.io/rev'] ?? ''].filter(Boolean))],
      reconcile: (key) => {
        reconciled.push(key);
        return Promise.resolve({});
      },
    });
    const started = mgr.start();
    ns.release();
    await started;
    await flush();
    reconciled.length = 0;
    ns.emit('MODIFIED', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', resourceVersion: '11', labels: { 'istio.io/rev': 'stable' } } });
    await flush();
    expect(reconciled.sort()).to.deep.equal(['canary', 'stable']);
    await mgr.stop();
  });

  it('reconciles only while it holds the lease, and releases the lease after draining on stop', async () => {
    const ns = namespaceInformer(['shop']);
    const api = leases();
    const clock = new FakeClock();
    const metrics = new OperatorMetrics({ processMetrics: false });
    const mgr = new Manager({ clock, metrics, leaderElection: { api, namespace: 'meshrev-system', name: 'meshrev', identity: 'me', random: () => 0 } });
    const gate = deferred();
    const reconciled: string[] = [];
    mgr.addController({
      name: 'namespaces',
      watches: [watchOwn(ns.informer)],
      reconcile: async (key) => {
        reconciled.push(key);
        await gate.promise;
        return {};
      },
    });
    const started = mgr.start();
    ns.release();
    await started;
    await flush();
    expect(mgr.isLeader()).to.be.true;
    expect(api.holder()).to.equal('me');
    expect(reconciled).to.deep.equal(['shop']);
    expect(await metrics.registry.getSingleMetricAsString('leader_election_master_status')).to.contain('{name="meshrev"} 1');

    let stopped = false;
    const stopping = mgr.stop().then(() => (stopped = true));
    await flush();
    // The reconcile is still running: the lease must still be ours.
    expect(stopped).to.be.false;
    expect(api.holder()).to.equal('me');
    gate.resolve();
    await stopping;
    expect(api.holder()).to.equal('');
    expect(await metrics.registry.getSingleMetricAsString('leader_election_master_status')).to.contain('{name="meshrev"} 0');
  });

  it('stops gracefully on the first SIGTERM and exits at once on a second', () => {
    const proc = new EventEmitter();
    const stops: string[] = [];
    let forced = 0;
    const uninstall = handleSignals(
      { stop: (r) => (stops.push(r ?? ''), Promise.resolve()) },
      { proc: proc as unknown as Pick<NodeJS.Process, 'on' | 'off'>, forceExit: () => forced++ },
    );
    proc.emit('SIGTERM', 'SIGTERM');
    expect(stops).to.deep.equal(['signal']);
    expect(forced).to.equal(0);
    proc.emit('SIGINT', 'SIGINT');
    expect(forced).to.equal(1);
    uninstall();
    expect(proc.listenerCount('SIGTERM')).to.equal(0);
  });
});
