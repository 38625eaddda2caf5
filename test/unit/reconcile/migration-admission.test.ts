// The migration executor's admission gate, with in-memory stores and a fake
// writer: after a relabel, workloads are restarted only once a dry-run pod is
// injected by the expected revision (or, when the probe cannot run, after the
// settle time); a namespace the admission chain keeps injecting with another
// revision fails before any restart. The whole flow runs against the real API
// server in test/e2e/migration.test.ts.
import type { KubernetesObject, V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../../../src/api/labels.js';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import {
  ADMISSION_PROBE_DEADLINE_MS,
  ADMISSION_PROBE_RETRY_MS,
  ANNOTATION_ORIGIN,
  ANNOTATION_RESTARTED_FOR,
  NS_MIGRATING,
  RELABEL_SETTLE_MS,
  type NamespaceOrigin,
} from '../../../src/api/migration.js';
import type { ProbeResult } from '../../../src/kube/admission-probe.js';
import type { Workload } from '../../../src/api/workload.js';
import { MigrationExecutor, runBounded } from '../../../src/reconcile/migration.js';
import { RevisionMemos } from '../../../src/reconcile/memo.js';
import { createLogger } from '../../../src/runtime/logger.js';

const OLD = '1-20';
const TARGET = '1-21';
const T0 = Date.parse('2026-12-02T10:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function mrev(): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: TARGET, generation: 1, uid: 'u1' },
    spec: { revision: TARGET, injector: { url: 'https://127.0.0.1:1/inject' }, migration: { from: ['default'] } },
  };
}

function namespace(name: string, movedAtMs?: number): V1Namespace {
  if (movedAtMs === undefined) return { metadata: { name, resourceVersion: '10', labels: { [LABEL_ISTIO_INJECTION]: 'enabled' } } };
  const origin: NamespaceOrigin = { meshRevision: TARGET, revision: TARGET, labels: { 'istio-injection': 'enabled' }, movedAt: iso(movedAtMs) };
  return { metadata: { name, resourceVersion: '11', labels: { [LABEL_ISTIO_REV]: TARGET }, annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) } } };
}

function deployment(ns: string, name: string): Workload {
  const d: V1Deployment = {
    metadata: { name, namespace: ns, generation: 1, resourceVersion: '20' },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
  return { ...d, kind: 'Deployment' };
}

function pod(ns: string, app: string, rev: string): V1Pod {
  return { metadata: { name: `${app}-1`, namespace: ns, labels: { app }, annotations: { [ANNOTATION_ISTIO_REV]: rev } }, status: { phase: 'Running' } };
}

interface Harness {
  exec: MigrationExecutor;
  workloads: Map<string, Workload[]>;
  pods: Map<string, V1Pod[]>;
  patches: { kind: string; name: string; body: Record<string, unknown> }[];
  probes: string[];
  namespaces: Map<string, V1Namespace>;
}

function harness(nsList: V1Namespace[], probe: (ns: string) => ProbeResult | undefined): Harness {
  const namespaces = new Map(nsList.map((n) => [n.metadata!.name!, n]));
  const workloads = new Map([...namespaces.keys()].map((n) => [n, [deployment(n, 'web')]]));
  const pods = new Map([...namespaces.keys()].map((n) => [n, [pod(n, 'web', OLD)]]));
  const patches: Harness['patches'] = [];
  const probes: string[] = [];
  const exec = new MigrationExecutor({
    stores: {
      namespaces: { list: () => [...namespaces.values()], get: (n) => namespaces.get(n) },
      pods: { list: (ns) => (ns ? (pods.get(ns) ?? []) : [...pods.values()].flat()) },
      workloads: (ns) => workloads.get(ns) ?? [],
    },
    writer: {
      mergePatch: <T extends KubernetesObject>(ref: KubernetesObject, body: Record<string, unknown>): Promise<T> => {
        patches.push({ kind: ref.kind ?? '', name: `${ref.metadata?.namespace ? `${ref.metadata.namespace}/` : ''}${ref.metadata?.name}`, body });
        // Like the operator's informers after Informer.assume: the store shows our write at once.
        if (ref.kind === 'Namespace') {
          const cur = namespaces.get(ref.metadata!.name!)!;
          const meta = body.metadata as { labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
          const merge = (a: Record<string, string> | undefined, b: Record<string, string | null> | undefined) => {
            const out = { ...(a ?? {}) };
            for (const [k, v] of Object.entries(b ?? {})) {
              if (v === null) delete out[k];
              else out[k] = v;
            }
            return out;
          };
          namespaces.set(ref.metadata!.name!, { metadata: { ...cur.metadata, labels: merge(cur.metadata?.labels, meta.labels), annotations: merge(cur.metadata?.annotations, meta.annotations) } });
        }
        return Promise.resolve({} as T);
      },
    },
    events: { normal: () => Promise.resolve(), warning: () => Promise.resolve() },
    metrics: { observe: () => undefined, namespaceDone: () => undefined, gateFailed: () => undefined },
    memos: new RevisionMemos(),
    // No injector gate and no user-defined checks in these tests: the injector always answers.
    probeInjector: () => Promise.resolve(undefined),
    runCheck: () => Promise.reject(new Error('these tests define no health checks')),
    probeAdmission: (ns) => {
      probes.push(ns);
      const r = probe(ns);
      return r ? Promise.resolve(r) : Promise.reject(new Error('probe must not be called'));
    },
  });
  return { exec, patches, probes, namespaces, workloads, pods };
}

const log = createLogger({ level: 'error' });
const reconcile = (h: Harness, nowMs: number) =>
  h.exec.reconcile({ mrev: mrev(), now: at(nowMs), resolve: (v) => (v === 'default' ? OLD : v), deleting: false, log });
const restarts = (h: Harness) => h.patches.filter((p) => p.kind === 'Deployment');

describe('migration executor: restarts wait for the admission chain', () => {
  it('relabels a namespace and restarts its workloads in the same reconcile once a dry-run pod is injected by the target', async () => {
    const h = harness([namespace('shop')], () => ({ revision: TARGET }));
    const res = await reconcile(h, 0);
    expect(h.patches.map((p) => `${p.kind} ${p.name}`)).to.deep.equal(['Namespace shop', 'Deployment shop/web']);
    expect(h.probes).to.deep.equal(['shop']);
    const stamp = (restarts(h)[0]!.body.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    expect(stamp[ANNOTATION_RESTARTED_FOR]).to.equal(TARGET);
    expect(stamp[ANNOTATION_RESTARTED_AT]).to.equal(iso(0));
    expect(res?.status.namespaces?.find((e) => e.name === 'shop')?.state).to.equal(NS_MIGRATING);
  });

  it('holds the restarts while a dry-run pod is still injected by the old revision, and probes again soon', async () => {
    const h = harness([namespace('shop', 0)], () => ({ revision: OLD }));
    const res = await reconcile(h, 500);
    expect(restarts(h)).to.deep.equal([]);
    const e = res?.status.namespaces?.find((x) => x.name === 'shop');
    expect(e?.state).to.equal(NS_MIGRATING);
    expect(e?.message).to.contain(`would be injected by ${OLD}`);
    expect(res?.requeueAfterMs).to.be.at.most(ADMISSION_PROBE_RETRY_MS);
  });

  it('keeps holding past the settle time while the probe names another revision (a timer is no proof)', async () => {
    const h = harness([namespace('shop', 0)], () => ({ revision: OLD }));
    await reconcile(h, RELABEL_SETTLE_MS * 5);
    expect(restarts(h)).to.deep.equal([]);
  });

  it('fails the namespace, without restarting anything, when the probes keep naming another revision past the deadline', async () => {
    const h = harness([namespace('shop', 0)], () => ({ revision: null }));
    // Long after the relabel (an operator restarted, say), one probe is not enough: the deadline runs from the first mismatch seen.
    const first = await reconcile(h, ADMISSION_PROBE_DEADLINE_MS + 1000);
    expect(first?.status.namespaces?.find((x) => x.name === 'shop')?.state).to.equal(NS_MIGRATING);
    const res = await reconcile(h, 2 * ADMISSION_PROBE_DEADLINE_MS + 1000);
    expect(restarts(h)).to.deep.equal([]);
    const e = res?.status.namespaces?.find((x) => x.name === 'shop');
    // The gate fails the migration and the default onFailure (rollbackStep) sends the namespace back.
    expect(res?.status.phase).to.equal('Failed');
    expect(e?.state).to.equal('RollingBack');
    expect(res?.status.rollbackReason).to.contain('would be injected by no revision (not injected), not 1-21');
    expect(res?.status.rollbackReason).to.contain('no workload was restarted');
  });

  it('releases nothing going forward once the migration has failed, even when the probe would allow it', async () => {
    const h = harness([namespace('shop', 0)], () => ({ revision: TARGET }));
    const failed = mrev();
    failed.status = { migration: { generation: 1, phase: 'Failed' } };
    await h.exec.reconcile({ mrev: failed, now: at(500), resolve: (v) => (v === 'default' ? OLD : v), deleting: false, log });
    expect(restarts(h)).to.deep.equal([]);
    expect(h.probes).to.deep.equal([]);
  });

  it('falls back to the settle time when the dry run itself fails', async () => {
    const early = harness([namespace('shop', 0)], () => ({ error: 'pods "x" is forbidden: exceeded quota' }));
    await reconcile(early, RELABEL_SETTLE_MS - 1);
    expect(restarts(early)).to.deep.equal([]);
    const late = harness([namespace('shop', 0)], () => ({ error: 'pods "x" is forbidden: exceeded quota' }));
    await reconcile(late, RELABEL_SETTLE_MS);
    expect(restarts(late).map((p) => p.name)).to.deep.equal(['shop/web']);
  });

  it('keeps a namespace that arrived before the settle time Migrated on the next reconcile', async () => {
    const h = harness([namespace('shop')], () => ({ revision: TARGET }));
    await reconcile(h, 0);
    expect(restarts(h)).to.have.length(1);
    // The restart rolled out: stamped, complete, its pod on the target.
    const d = deployment('shop', 'web');
    d.metadata!.generation = 2;
    d.status!.observedGeneration = 2;
    d.spec!.template.metadata!.annotations = { [ANNOTATION_RESTARTED_FOR]: TARGET, [ANNOTATION_RESTARTED_AT]: iso(0) };
    h.workloads.set('shop', [d]);
    h.pods.set('shop', [pod('shop', 'web', TARGET)]);
    for (const t of [900, 1000, 1500]) {
      const res = await reconcile(h, t);
      // Migrated namespaces are counted in status, not listed (their record is on the namespace).
      expect(res?.status.counts?.migrated, `at ${t} ms`).to.equal(1);
      expect(res?.status.namespaces ?? [], `at ${t} ms`).to.deep.equal([]);
    }
    expect(restarts(h)).to.have.length(1);
  });

  it('probes a namespace once per move: a confirmed namespace is not probed again', async () => {
    const h = harness([namespace('shop', 0)], () => ({ revision: TARGET }));
    await reconcile(h, 300);
    expect(h.probes).to.deep.equal(['shop']);
    expect(restarts(h)).to.have.length(1);
    // The restart is not in this fake store, so the planner would restart again; the point here is the probe count.
    await reconcile(h, 600);
    expect(h.probes).to.deep.equal(['shop']);
  });
});

describe('runBounded', () => {
  it('runs at most `concurrency` tasks at once, and all of them', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await runBounded(Array.from({ length: 12 }, (_, i) => async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      done.push(i);
    }), 3);
    expect(peak).to.equal(3);
    expect(done.sort((a, b) => a - b)).to.deep.equal([...Array(12).keys()]);
  });

  it('starts nothing after a failure, lets the running ones finish, and rethrows the failure', async () => {
    const started: number[] = [];
    let finished = 0;
    const err = await runBounded(Array.from({ length: 10 }, (_, i) => async () => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 0 ? 1 : 5));
      if (i === 0) throw new Error('409 Conflict');
      finished++;
    }), 2).then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).to.equal('409 Conflict');
    expect(started).to.deep.equal([0, 1]);
    expect(finished).to.equal(1);
  });
});
