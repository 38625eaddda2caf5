// One migration reconcile's CPU work at scale, without a cluster (issue 16).
//
//   node dist/bench/run.js reconcile [--sizes 100,1000,10000] [--iterations 20]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/run.js reconcile --sizes 1000
//
// A MeshRevision migrating N namespaces (one Deployment and one pod each) in
// one 100% step, 100 namespaces at a time, caught mid-way: 90% moved and
// verified, 5% in flight (relabelled, rollout running), 5% pending. The
// status fed to each decision is the one the previous decision returned
// (steady state), as in the operator. Per reconcile it times what the
// controller does with a migration: decide (policy/migration-decide), the
// two status comparisons the status writer makes (statusChanged,
// progressOnly), and serialising the status it would send. It prints the
// median CPU time per reconcile, per namespace, and the status's size.
import type { V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../src/api/labels.js';
import type { MeshRevision, MeshRevisionStatus } from '../src/api/meshrevision.js';
import { ANNOTATION_ORIGIN, ANNOTATION_RESTARTED_FOR, type NamespaceOrigin } from '../src/api/migration.js';
import type { Workload } from '../src/api/workload.js';
import { progressOnly, statusChanged } from '../src/policy/conditions.js';
import { decide, type MigrationObservation } from '../src/policy/migration-decide.js';
import type { Bench } from './run.js';

const OLD = '1-20';
const NEW = '1-21';
const NOW = new Date('2026-12-03T12:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Where = 'done' | 'moving' | 'pending';

interface World {
  mrev: MeshRevision;
  namespaces: V1Namespace[];
  workloads: Map<string, Workload[]>;
  pods: Map<string, V1Pod[]>;
}

function world(n: number): World {
  const namespaces: V1Namespace[] = [];
  const workloads = new Map<string, Workload[]>();
  const pods = new Map<string, V1Pod[]>();
  for (let i = 0; i < n; i++) {
    const name = `ns-${String(i).padStart(5, '0')}`;
    const where: Where = i < n * 0.9 ? 'done' : i < n * 0.95 ? 'moving' : 'pending';
    const origin: NamespaceOrigin = { meshRevision: 'canary', uid: 'u-1', revision: NEW, labels: { 'istio-injection': 'enabled' }, movedAt: ago(where === 'done' ? 600 : 20) };
    namespaces.push({
      metadata: {
        name,
        uid: `ns-${i}`,
        resourceVersion: String(1000 + i),
        labels: where === 'pending' ? { [LABEL_ISTIO_INJECTION]: 'enabled' } : { [LABEL_ISTIO_REV]: NEW },
        ...(where === 'pending' ? {} : { annotations: { [ANNOTATION_ORIGIN]: JSON.stringify(origin) } }),
      },
    });
    const stamped = where !== 'pending';
    const d: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: name, uid: `d-${i}`, generation: stamped ? 2 : 1, resourceVersion: String(2000 + i) },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, ...(stamped ? { annotations: { [ANNOTATION_RESTARTED_FOR]: NEW, [ANNOTATION_RESTARTED_AT]: ago(where === 'done' ? 590 : 10) } } : {}) },
          spec: { containers: [{ name: 'app', image: 'app:1' }] },
        },
      },
      status: where === 'moving'
        ? { observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }
        : { observedGeneration: stamped ? 2 : 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
    };
    workloads.set(name, [d as Workload]);
    pods.set(name, [{
      metadata: { name: 'web-1', namespace: name, uid: `p-${i}`, resourceVersion: String(3000 + i), labels: { app: 'web' }, annotations: { [ANNOTATION_ISTIO_REV]: where === 'done' ? NEW : OLD } },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    }]);
  }
  const mrev: MeshRevision = {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: 'canary', uid: 'u-1', generation: 2, resourceVersion: '1' },
    spec: { revision: NEW, injector: { url: 'https://127.0.0.1:1/inject' }, migration: { from: ['default'], maxConcurrentNamespaces: 100, maxConcurrentRestarts: 300 } },
  };
  return { mrev, namespaces, workloads, pods };
}

/** MigrationObservation['known'] where it exists. */
type Known = unknown;

function observe(w: World, status: MeshRevisionStatus | undefined, known: Known): MigrationObservation {
  return {
    mrev: { ...w.mrev, ...(status ? { status } : {}) },
    now: NOW,
    deleting: false,
    resolve: (v) => (v === 'default' ? OLD : v),
    view: { namespaces: w.namespaces, workloads: (ns) => w.workloads.get(ns) ?? [], pods: (ns) => w.pods.get(ns) ?? [] },
    memo: new Map(),
    ...(known !== undefined ? ({ known } as object) : {}),
    admission: new Map(),
    injector: {},
    measurements: new Map(),
  };
}

interface State {
  status: MeshRevisionStatus | undefined;
  known: Known;
}

/** One reconcile's migration work; returns the status it would write and what the process keeps. */
function reconcileOnce(w: World, { status: current, known }: State): State {
  const d = decide(observe(w, current, known));
  if (!d) throw new Error('no decision');
  // What the executor keeps between reconciles (written so this bench also builds on versions without it).
  const entries = (d as unknown as { entries?: { name: string }[] }).entries;
  const nextKnown = entries ? ({ generation: w.mrev.metadata.generation, entries: new Map(entries.map((e) => [e.name, e])) } as unknown) : undefined;
  const next: MeshRevisionStatus = { ...(current ?? {}), migration: d.result.status };
  if (statusChanged(current, next)) {
    progressOnly(current, next);
    JSON.stringify(next);
  }
  return { status: next, known: nextKnown };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function measure(args: string[]): void {
  const { values } = parseArgs({ args, options: { sizes: { type: 'string', default: '100,1000,10000' }, iterations: { type: 'string', default: '20' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: run.js reconcile [--sizes 100,1000,10000] [--iterations 20]');
    return;
  }
  const sizes = values.sizes.split(',').map(Number);
  const iterations = Number(values.iterations);
  const rows: { n: number; ms: number; perNs: number; bytes: number; listed: number }[] = [];
  for (const n of sizes) {
    const w = world(n);
    // Two reconciles to reach the steady state (the first writes the status the next one reads).
    let state = reconcileOnce(w, reconcileOnce(w, { status: undefined, known: undefined }));
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      // CPU time, not wall time: the figure must not depend on what else runs on the machine.
      const t0 = process.cpuUsage();
      state = reconcileOnce(w, state);
      const used = process.cpuUsage(t0);
      times.push((used.user + used.system) / 1000);
    }
    const ms = median(times);
    rows.push({ n, ms, perNs: (ms * 1000) / n, bytes: JSON.stringify(state.status).length, listed: state.status?.migration?.namespaces?.length ?? 0 });
  }
  console.log('| N | CPU ms per reconcile (median) | µs per namespace | status bytes | namespaces listed |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.n} | ${r.ms.toFixed(2)} | ${r.perNs.toFixed(1)} | ${r.bytes} | ${r.listed} |`);
}

export const bench: Bench = {
  description: 'one migration reconcile (decide + status compare + serialise) at N namespaces, no cluster',
  quickArgs: ['--sizes', '100,1000', '--iterations', '5'],
  run: (args) => Promise.resolve(measure(args)),
};
