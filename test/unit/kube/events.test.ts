import { ApiException, type CoreV1Event, type CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { EventRecorder } from '../../../src/kube/events.js';

type Core = Pick<CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

function fakeCore() {
  const created: CoreV1Event[] = [];
  const patches: { name: string; namespace: string; body: unknown }[] = [];
  let patchNotFound = false;
  const core = {
    createNamespacedEvent: async (p: { namespace: string; body: CoreV1Event }) => {
      await Promise.resolve();
      created.push({ ...p.body, metadata: { ...p.body.metadata, namespace: p.namespace } });
      return p.body;
    },
    patchNamespacedEvent: async (p: { name: string; namespace: string; body: unknown }) => {
      await Promise.resolve();
      if (patchNotFound) throw new ApiException(404, 'x', JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'gone' }), {});
      patches.push(p);
      return {};
    },
  } as unknown as Core;
  return { core, created, patches, setPatchNotFound: (v: boolean) => (patchNotFound = v) };
}

const mrev = { apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', metadata: { name: 'canary', uid: 'uid-1', resourceVersion: '7' } };

describe('EventRecorder', () => {
  it('puts events about a cluster-scoped object in "default", with an involvedObject kubectl describe matches', async () => {
    const f = fakeCore();
    const rec = new EventRecorder({ core: f.core, now: () => 1_000, instance: 'meshrev-abc' });
    await rec.warning(mrev, 'RolledBack', 'namespace shop rolled back: deployment web exceeded its progress deadline');
    expect(f.created).to.have.length(1);
    const e = f.created[0]!;
    expect(e.metadata?.namespace).to.equal('default');
    expect(e.involvedObject).to.deep.include({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', name: 'canary', uid: 'uid-1' });
    expect(e.involvedObject.namespace).to.equal(undefined);
    expect(e).to.deep.include({ type: 'Warning', reason: 'RolledBack', count: 1, reportingComponent: 'meshrev', reportingInstance: 'meshrev-abc' });
    expect(e.metadata?.name).to.match(/^canary\.[0-9a-f]+$/);
  });

  it('puts events about a namespaced object in its namespace', async () => {
    const f = fakeCore();
    const rec = new EventRecorder({ core: f.core, now: () => 1_000 });
    await rec.normal({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'u' } }, 'Restarted', 'restarted for revision canary');
    expect(f.created[0]?.metadata?.namespace).to.equal('shop');
    expect(f.created[0]?.involvedObject.namespace).to.equal('shop');
  });

  it('folds repeats within the window into one event, patching its count at most once per interval', async () => {
    const f = fakeCore();
    let now = 0;
    const rec = new EventRecorder({ core: f.core, now: () => now, minPatchIntervalMs: 60_000, dedupWindowMs: 600_000 });
    for (let i = 0; i < 100; i++) {
      now = i * 100; // a hot loop: 100 repeats within 10 s
      await rec.warning(mrev, 'InjectorUnreachable', 'istiod-canary is not ready');
    }
    expect(f.created).to.have.length(1);
    expect(f.patches).to.have.length(0);
    now = 61_000;
    await rec.warning(mrev, 'InjectorUnreachable', 'istiod-canary is not ready');
    expect(f.created).to.have.length(1);
    expect(f.patches).to.have.length(1);
    expect(f.patches[0]?.body).to.deep.include({ count: 101 });
  });

  it('starts a new event for a different message, or after the window', async () => {
    const f = fakeCore();
    let now = 0;
    const rec = new EventRecorder({ core: f.core, now: () => now, dedupWindowMs: 600_000 });
    await rec.normal(mrev, 'StepStarted', 'step 1 of 3');
    await rec.normal(mrev, 'StepStarted', 'step 2 of 3');
    now = 700_000;
    await rec.normal(mrev, 'StepStarted', 'step 1 of 3');
    expect(f.created).to.have.length(3);
  });

  it('creates a fresh event when the one it would update has expired', async () => {
    const f = fakeCore();
    let now = 0;
    const rec = new EventRecorder({ core: f.core, now: () => now, minPatchIntervalMs: 0 });
    await rec.normal(mrev, 'Synced', 'ok');
    f.setPatchNotFound(true);
    now = 1_000;
    await rec.normal(mrev, 'Synced', 'ok');
    expect(f.created).to.have.length(2);
  });

  it('never throws when the API refuses the event, and counts writes through the writer', async () => {
    let writes = 0;
    const rec = new EventRecorder({
      core: {
        createNamespacedEvent: () => Promise.reject(new ApiException(403, 'x', '{"kind":"Status","message":"forbidden"}', {})),
        patchNamespacedEvent: () => Promise.reject(new Error('unused')),
      },
      writer: { write: (_w, send) => (writes++, send()) },
    });
    await rec.warning(mrev, 'X', 'y');
    expect(writes).to.equal(1);
  });
});
