// Migration at scale, side by side with the manual procedure (issue 7).
//
//   node dist/bench/run.js migration [--sizes 10,100,1000] [--workloads 3] [--replicas 2]
//        [--ways manual,blast,meshrev,meshrev-tuned] [--tuned-namespaces 100] [--tuned-restarts 300]
//        [--timeout-minutes 20] [--latency-changes 50] [--out bench/results] [--merge FILE.json] [--keep]
//        [--profile instant|realistic|realistic,instant] [--pod-startup 5s±2s] [--pod-terminating 2s±1s]
//
// Pod lifecycle (issue 16): instant (KWOK's default: pods Ready at once) or realistic
// (cluster.sh up --pod-startup/--pod-terminating: KWOK Stages make a new pod
// ContainerCreating → Running not Ready → Ready after 5 s ± 2 s, and a deleted pod
// Terminating for 2 s ± 1 s). Each run also measures every restarted Deployment's
// rollout and the lower bound of the way's own policy over those rollouts
// (policyLowerBound in migration-report.ts); overhead = wall / bound − 1.
//
// For every size N and every way, on a FRESH local cluster (so no way inherits
// another's garbage, API server caches or counters):
//   setup (untimed): N namespaces labelled istio-injection=enabled, W
//     Deployments of R replicas each, two loopback injectors (1-20, 1-21) whose
//     MutatingWebhookConfigurations meshrev serves (MeshRevision 1-20 holds the
//     default, 1-21 has no migration yet); every pod Ready on 1-20. The
//     operator that set this up is stopped before the timed part.
//   timed: move every namespace to 1-21 and wait until the way says it is done:
//     manual  per namespace, sequentially: kubectl label / rollout restart / rollout status;
//     blast   every relabel at once, then every restart at once (100 requests in
//             flight), then wait for every Deployment to finish its rollout — no gating;
//     meshrev a fresh operator process (caches synced before the clock starts),
//             spec.migration {from: [default]} on 1-21 at its defaults, until
//             status.migration.phase is Succeeded;
//     meshrev-tuned  the same with maxConcurrentNamespaces / maxConcurrentRestarts raised.
//   checked (untimed): every pod on 1-21 (pod annotation istio.io/rev), Ready, none
//     terminating, exactly 2 ReplicaSets per Deployment (restarted once), namespaces
//     relabelled. A run that fails this is reported as wrong, whatever its time.
//   counted: kube-apiserver's apiserver_request_total before and after, by verb and
//     resource; for meshrev also the operator's own write counters, reconciles, peak
//     RSS and CPU (/proc), the time from a spec change to the webhook reflecting it
//     (50 tag toggles), and the writes of a no-op resync.
// Results: bench/results/migration-<date>.json and migration-latest.md (rewritten
// after every run, so a long bench that dies keeps what it measured).
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type as osType, release as osRelease, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ANNOTATION_ISTIO_REV, ANNOTATION_RESTARTED_AT, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV } from '../src/api/labels.js';
import { API_VERSION, KIND, type MeshRevision } from '../src/api/meshrevision.js';
import { Informer, toTyped } from '../src/kube/informer.js';
import { STATUS_PROGRESS_INTERVAL_MS } from '../src/reconcile/meshrevision.js';
import { makeServingCert } from '../test/support/certs.js';
import { startInjector, type LoopbackInjector } from '../test/support/injector.js';
import {
  apiserverRequests,
  cacheDir,
  clusterUp,
  diffCounts,
  histogramQuantile,
  metricSum,
  MUTATING_VERBS,
  operatorWrites,
  pool,
  repoRoot,
  run,
  say,
  sleep,
  startCountingProxy,
  startOperatorProcess,
  type OperatorNodeSettings,
  stats,
  summarizeRequests,
  type CountingProxy,
  waitOperatorIdle,
  type LocalCluster,
  type OperatorProcess,
  type RequestCounts,
  type Sample,
} from './migration-support.js';
import { policyLowerBound, renderMarkdown, scenarioKey, type BenchResult, type Rollout, type RolloutSummary, type RunResult, type WayName } from './migration-report.js';
import type { Bench } from './run.js';

const OLD = '1-20';
const NEW = '1-21';
const BENCH_LABEL = 'bench.meshrev.io/migration';
const TAG = 'bench-tag';
const WAYS: readonly WayName[] = ['manual', 'blast', 'meshrev', 'meshrev-tuned'];
/** meshrev's defaults (spec.migration without maxConcurrentNamespaces / maxConcurrentRestarts; README "Migrate namespaces"). */
const DEFAULT_CONCURRENT_NAMESPACES = 1;
const DEFAULT_CONCURRENT_RESTARTS = 5;

/** The pod lifecycle of the clusters a run uses. */
interface Profile {
  name: 'instant' | 'realistic';
  /** cluster.sh up --pod-startup (realistic only), e.g. "5s±2s". */
  podStartup?: string;
  podTerminating?: string;
}

const DELAY = /^(\d+(?:\.\d+)?)(ms|s|m)(?:(?:±|\+-|~)(\d+(?:\.\d+)?)(ms|s|m))?$/;

/** Validates a `--pod-startup`-style delay as cluster.sh does and writes it as "5s±2s". */
export function normalizeDelay(flag: string, v: string): string {
  const m = DELAY.exec(v.trim());
  const ms = (n: string, u: string) => Number(n) * (u === 'ms' ? 1 : u === 's' ? 1000 : 60000);
  if (!m) throw new Error(`${flag} "${v}" is not a delay: expected DURATION[±JITTER] with units ms, s or m, e.g. 5s±2s (also 5s+-2s or 5s~2s), 800ms`);
  if (m[3] && ms(m[3], m[4]!) > ms(m[1]!, m[2]!)) throw new Error(`${flag} "${v}": the jitter is larger than the duration`);
  return m[3] ? `${m[1]}${m[2]}±${m[3]}${m[4]}` : `${m[1]}${m[2]}`;
}

function profileArgs(p: Profile): string[] {
  return [...(p.podStartup ? ['--pod-startup', p.podStartup] : []), ...(p.podTerminating ? ['--pod-terminating', p.podTerminating] : [])];
}

interface Options {
  sizes: number[];
  workloads: number;
  replicas: number;
  ways: WayName[];
  tunedNamespaces: number;
  tunedRestarts: number;
  timeoutMinutes: number;
  latencyChanges: number;
  out: string;
  merge?: string;
  keep: boolean;
  /** spec.minReadySeconds of every Deployment: stands in for real pods' start-up time (KWOK pods are Ready at once). */
  minReadySeconds: number;
  /** Run the operator through the counting proxy (profiling: attributes its requests; perturbs its timings a little). */
  proxy: boolean;
  /** NODE_OPTIONS for the operator under test only (e.g. "--cpu-prof --cpu-prof-dir=DIR", "--max-semi-space-size=1"). */
  operatorNodeOptions?: string;
  /** --operator-node-args: node flags for the operator instead of the Deployment's command's. */
  operatorNodeArgs?: string[];
  /** Pod lifecycles to run, in order (default: instant only). */
  profiles: Profile[];
}

// ---------------------------------------------------------------------------
// Setup

interface Env {
  cluster: LocalCluster;
  objects: k8s.KubernetesObjectApi;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  injectors: LoopbackInjector[];
  namespaces: string[];
  /** "namespace/name" of every Deployment. */
  deployments: string[];
  size: number;
  dir: string;
}

const nsName = (i: number) => `mig-${String(i).padStart(5, '0')}`;

function meshRevision(revision: string, inj: LoopbackInjector, extra: Record<string, unknown> = {}): k8s.KubernetesObject {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: revision }, spec: { revision, injector: { url: inj.url, caBundle: inj.caBundle }, ...extra } } as k8s.KubernetesObject;
}

function deploymentComplete(d: k8s.V1Deployment, replicas: number): boolean {
  const s = d.status;
  return (
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s?.updatedReplicas ?? 0) === replicas &&
    (s?.readyReplicas ?? 0) === replicas &&
    (s?.availableReplicas ?? 0) === replicas &&
    (s?.replicas ?? 0) === replicas
  );
}

async function listAll<T>(fetchPage: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await fetchPage(cont);
    out.push(...page.items);
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return out;
}

async function prepare(size: number, way: WayName, opts: Options, cert: ReturnType<typeof makeServingCert>, profile: Profile): Promise<Env> {
  const name = `bench-${process.pid}-${size}-${way}${profile.name === 'realistic' ? '-r' : ''}`.slice(0, 50);
  const dir = join(cacheDir(), 'bench', name);
  mkdirSync(dir, { recursive: true });
  say(`setup N=${size} ${way}: cluster ${name}, pod lifecycle ${profile.name}${profile.podStartup ? ` (start-up ${profile.podStartup}, terminating ${profile.podTerminating ?? '0s'})` : ''}`);
  const cluster = await clusterUp(name, profileArgs(profile));
  activeClusters.add(cluster);
  const env: Env = {
    cluster,
    objects: k8s.KubernetesObjectApi.makeApiClient(cluster.kc),
    core: cluster.kc.makeApiClient(k8s.CoreV1Api),
    apps: cluster.kc.makeApiClient(k8s.AppsV1Api),
    injectors: [],
    namespaces: Array.from({ length: size }, (_, i) => nsName(i + 1)),
    deployments: [],
    size,
    dir,
  };
  const started = Date.now();
  const pods = size * opts.workloads * opts.replicas;
  // One KWOK node holds 1000 pods; leave room for the surge of a rollout of everything at once.
  const nodes = Math.ceil((pods * 2 + 50) / 1000);
  if (nodes > 1) {
    const manifests = Array.from({ length: nodes - 1 }, (_, i) => `---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i + 1}
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-${i + 1}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
`).join('');
    await cluster.kubectl(['apply', '-f', '-'], { input: manifests });
    await cluster.kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s']);
  }
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', join(repoRoot(), 'config/default')]);
  await cluster.kubectl(['wait', '--for=condition=Established', 'crd/meshrevisions.meshrev.io', '--timeout=60s']);

  const [oldInj, newInj] = await Promise.all([startInjector({ revision: OLD, cert }), startInjector({ revision: NEW, cert })]);
  env.injectors.push(oldInj, newInj);
  activeInjectors.add(oldInj);
  activeInjectors.add(newInj);

  // An operator declares the two revisions' webhook configurations, then stops: they stay
  // as they are, and the workloads below are created without an operator reacting to them.
  const setupOp = await startOperatorProcess(cluster.kubeconfig, join(dir, 'operator-setup.log'));
  try {
    await env.objects.create(meshRevision(OLD, oldInj, { default: true }));
    await env.objects.create(meshRevision(NEW, newInj));
    await until('webhooks of 1-20 and 1-21 served', 60_000, async () => {
      const list = await env.cluster.kc.makeApiClient(k8s.AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
      const names = new Set(list.items.map((m) => m.metadata?.name));
      return names.has(`meshrev-sidecar-injector-${OLD}`) && names.has(`meshrev-sidecar-injector-${NEW}`);
    });
    await waitOperatorIdle(setupOp);
  } finally {
    await setupOp.stop();
  }
  {

    await pool(env.namespaces, 50, async (ns) => {
      await env.core.createNamespace({ body: { metadata: { name: ns, labels: { [LABEL_ISTIO_INJECTION]: 'enabled', [BENCH_LABEL]: 'true' } } } });
    });
    // Pods are refused until the namespace's default ServiceAccount exists.
    await until(`default ServiceAccount in ${size} namespaces`, 300_000, async () => {
      const sas = await listAll((c) => env.core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default', limit: 2000, _continue: c }));
      const have = new Set(sas.map((s) => s.metadata?.namespace));
      return env.namespaces.every((n) => have.has(n));
    });
    const work: { ns: string; name: string }[] = [];
    for (const ns of env.namespaces) for (let w = 0; w < opts.workloads; w++) work.push({ ns, name: `app-${w}` });
    await pool(work, 50, async ({ ns, name }) => {
      const labels = { app: name, [BENCH_LABEL]: 'true' };
      await env.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name, labels },
          spec: {
            replicas: opts.replicas,
            ...(opts.minReadySeconds > 0 ? { minReadySeconds: opts.minReadySeconds } : {}),
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: `registry.invalid/${name}:1`, ports: [{ containerPort: 8080 }] }] } },
          },
        },
      });
    });
    env.deployments = work.map((w) => `${w.ns}/${w.name}`);
    let shown = -1;
    // At thousands of pods the control plane of this machine creates a few pods a second:
    // the budget grows with the pods, and the poll (a LIST of everything) slows down with them.
    const setupBudget = Math.max(1_800_000, pods * 500);
    const poll = Math.max(3000, pods);
    await until(`${work.length} Deployments rolled out`, setupBudget, async () => {
      const ds = await listAll((c) => env.apps.listDeploymentForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c }));
      const done = ds.filter((d) => deploymentComplete(d, opts.replicas)).length;
      if (done !== shown && (done === work.length || Math.floor(done / Math.max(1, work.length / 10)) !== Math.floor(shown / Math.max(1, work.length / 10)))) {
        say(`  setup: ${done}/${work.length} Deployments ready`);
        shown = done;
      }
      return done === work.length;
    }, poll);
    await until(`${pods} pods Ready on ${OLD}`, 600_000, async () => {
      const ps = await listAll((c) => env.core.listPodForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c }));
      return ps.length === pods && ps.every((p) => !p.metadata?.deletionTimestamp && isReady(p) && p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] === OLD);
    }, poll);
  }
  say(`setup N=${size} ${way}: ${size} namespaces, ${env.deployments.length} Deployments, ${pods} pods Ready on ${OLD} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return env;
}

function isReady(p: k8s.V1Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
    await sleep(intervalMs);
  }
}

async function teardown(env: Env, keep: boolean): Promise<void> {
  for (const inj of env.injectors) {
    await inj.stop().catch(() => undefined);
    activeInjectors.delete(inj);
  }
  if (keep) {
    say(`keeping cluster ${env.cluster.name}: KUBECONFIG=${env.cluster.kubeconfig}`);
  } else {
    await env.cluster.down();
  }
  activeClusters.delete(env.cluster);
}

const activeClusters = new Set<LocalCluster>();
const activeInjectors = new Set<LoopbackInjector>();
const activeOperators = new Set<OperatorProcess>();
const activeProxies = new Set<CountingProxy>();

// ---------------------------------------------------------------------------
// What the bench watches during a run (its own list+watch, opened before the
// counters are read, so it adds no LIST inside the window).

class Tracker {
  readonly relabelAt = new Map<string, number>();
  readonly restartAt = new Map<string, number>();
  readonly doneAt = new Map<string, number>();
  readonly migratedAt = new Map<string, number>();
  /** Namespaces the last status listed as Migrating. */
  private listedMoving = new Set<string>();
  /** status.migration.counts.migrated as last seen. */
  migratedCount = 0;
  /** Largest serialised size (JSON, managedFields included) of each MeshRevision seen (etcd refuses objects over 1.5 MiB). */
  readonly maxObjectBytes = new Map<string, number>();
  succeededAt: number | undefined;
  failed: string | undefined;
  phase = '';
  summary = '';
  private readonly initialGen = new Map<string, number>();
  private readonly informers: Informer<k8s.KubernetesObject>[] = [];
  /** LIST requests the bench's own informers sent (subtracted from the API server's count). */
  lists = 0;
  private mwcHasTag = false;
  private mwcWaiters: (() => void)[] = [];

  constructor(private readonly env: Env, private readonly replicas: number) {}

  /** A list function for an informer that counts its calls. */
  private counted<T extends k8s.KubernetesObject>(r: { apiVersion: string; kind: string; labelSelector?: string }): () => Promise<k8s.KubernetesListObject<T>> {
    const objects = this.env.objects;
    return async () => {
      this.lists++;
      const list = await objects.list<T>(r.apiVersion, r.kind, undefined, undefined, undefined, undefined, undefined, r.labelSelector);
      list.items = list.items.map((i) => toTyped<T>(i, r.apiVersion, r.kind));
      return list;
    };
  }

  async start(): Promise<void> {
    const kc = this.env.cluster.kc;
    const nsRes = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', labelSelector: BENCH_LABEL };
    const ns = new Informer<k8s.V1Namespace>({ kc, resource: nsRes, list: this.counted(nsRes) });
    ns.onChange((n) => {
      const name = n.metadata?.name ?? '';
      if (n.metadata?.labels?.[LABEL_ISTIO_REV] === NEW && n.metadata.labels[LABEL_ISTIO_INJECTION] === undefined && !this.relabelAt.has(name)) this.relabelAt.set(name, Date.now());
    });
    const depRes = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', labelSelector: BENCH_LABEL };
    const dep = new Informer<k8s.V1Deployment>({ kc, resource: depRes, list: this.counted(depRes) });
    dep.onChange((d) => {
      const key = `${d.metadata?.namespace}/${d.metadata?.name}`;
      const gen = d.metadata?.generation ?? 0;
      if (!this.initialGen.has(key)) this.initialGen.set(key, gen);
      if (gen > this.initialGen.get(key)! && !this.restartAt.has(key)) this.restartAt.set(key, Date.now());
      if (this.restartAt.has(key) && !this.doneAt.has(key) && deploymentComplete(d, this.replicas)) this.doneAt.set(key, Date.now());
    });
    const mrevRes = { apiVersion: API_VERSION, kind: KIND, plural: 'meshrevisions' };
    const mrev = new Informer<k8s.KubernetesObject>({ kc, resource: mrevRes, list: this.counted(mrevRes) });
    mrev.onChange((o) => {
      const m = o as unknown as MeshRevision;
      const name = m.metadata.name ?? '';
      this.maxObjectBytes.set(name, Math.max(this.maxObjectBytes.get(name) ?? 0, Buffer.byteLength(JSON.stringify(o))));
      if (name !== NEW) return;
      const mig = m.status?.migration;
      if (!mig || mig.generation !== m.metadata.generation || !m.spec.migration) return;
      this.phase = mig.phase ?? '';
      this.summary = mig.summary ?? '';
      // status lists only namespaces moving, failed or returned: one that was listed moving and is no
      // longer listed (the migration going forward) was verified. A namespace that started and finished
      // between two status writes (coalesced, 5 s) is never seen listed: it has no time here.
      const listed = new Map((mig.namespaces ?? []).map((e) => [e.name, e.state]));
      for (const [name, state] of listed) if (state === 'Migrated' && !this.migratedAt.has(name)) this.migratedAt.set(name, Date.now());
      for (const name of this.listedMoving) if (!listed.has(name) && !this.migratedAt.has(name)) this.migratedAt.set(name, Date.now());
      this.listedMoving = new Set([...listed].filter(([, st]) => st === 'Migrating').map(([n]) => n));
      this.migratedCount = mig.counts?.migrated ?? this.migratedAt.size;
      if (mig.phase === 'Succeeded' && this.succeededAt === undefined) this.succeededAt = Date.now();
      if (mig.phase === 'Failed' || mig.phase === 'RolledBack') this.failed = `migration ${mig.phase}: ${JSON.stringify((mig.namespaces ?? []).filter((e) => e.state === 'Failed')).slice(0, 500)}`;
    });
    const mwcRes = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', labelSelector: LABEL_ISTIO_REV };
    const mwc = new Informer<k8s.V1MutatingWebhookConfiguration>({ kc, resource: mwcRes, list: this.counted(mwcRes) });
    mwc.onChange((w) => {
      if (w.metadata?.name !== `meshrev-sidecar-injector-${NEW}`) return;
      this.mwcHasTag = (w.webhooks ?? []).some((h) => h.name.startsWith(`${TAG}.`));
      for (const wake of this.mwcWaiters.splice(0)) wake();
    });
    this.informers.push(ns, dep, mrev, mwc);
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.whenSynced()));
    // Let the initial adds land.
    await sleep(500);
  }

  /** Resolves once the MWC's tag entries match `present`; rejects after `timeoutMs`. */
  async waitTag(present: boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.mwcHasTag !== present) {
      if (Date.now() > deadline) throw new Error(`webhook configuration did not ${present ? 'gain' : 'lose'} the tag within ${timeoutMs / 1000} s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        this.mwcWaiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  allDone(): boolean {
    return this.doneAt.size === this.env.deployments.length;
  }

  /** When the last Deployment finished its rollout (ms since the epoch). */
  lastDone(): number {
    let t = 0;
    for (const v of this.doneAt.values()) t = Math.max(t, v);
    return t;
  }

  /** Per namespace: relabelled → first restart → last rollout done (→ Migrated in status). */
  timeline(startMs: number): Record<string, unknown> {
    const byNs = new Map<string, { restarts: number[]; dones: number[] }>();
    for (const [k, t] of this.restartAt) {
      const ns = k.split('/')[0]!;
      const e = byNs.get(ns) ?? { restarts: [], dones: [] };
      e.restarts.push(t);
      byNs.set(ns, e);
    }
    for (const [k, t] of this.doneAt) byNs.get(k.split('/')[0]!)?.dones.push(t);
    const relabelToRestart: number[] = [];
    const restartToDone: number[] = [];
    const doneToMigrated: number[] = [];
    const relabelToMigrated: number[] = [];
    const startToRelabel: number[] = [];
    for (const ns of this.env.namespaces) {
      const rl = this.relabelAt.get(ns);
      const e = byNs.get(ns);
      const firstRestart = e && e.restarts.length > 0 ? Math.min(...e.restarts) : undefined;
      const lastDone = e && e.dones.length === e.restarts.length && e.dones.length > 0 ? Math.max(...e.dones) : undefined;
      const mig = this.migratedAt.get(ns);
      if (rl !== undefined) startToRelabel.push((rl - startMs) / 1000);
      if (rl !== undefined && firstRestart !== undefined) relabelToRestart.push((firstRestart - rl) / 1000);
      if (firstRestart !== undefined && lastDone !== undefined) restartToDone.push((lastDone - firstRestart) / 1000);
      if (lastDone !== undefined && mig !== undefined) doneToMigrated.push((mig - lastDone) / 1000);
      if (rl !== undefined && mig !== undefined) relabelToMigrated.push((mig - rl) / 1000);
    }
    // Average number of namespaces between relabel and done/migrated over the run: the concurrency really reached.
    const round = (o: ReturnType<typeof stats>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
    return {
      relabelled: this.relabelAt.size,
      restarted: this.restartAt.size,
      rolledOut: this.doneAt.size,
      migrated: this.migratedAt.size,
      secondsStartToRelabel: round(stats(startToRelabel)),
      secondsRelabelToFirstRestart: round(stats(relabelToRestart)),
      secondsFirstRestartToLastRolledOut: round(stats(restartToDone)),
      secondsRolledOutToMigratedInStatus: round(stats(doneToMigrated)),
      secondsRelabelToMigrated: round(stats(relabelToMigrated)),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

// ---------------------------------------------------------------------------
// Checks

async function verify(env: Env, opts: Options): Promise<{ ok: boolean; problems: string[]; settleSeconds: number }> {
  const start = Date.now();
  const problems: string[] = [];
  const want = env.size * opts.workloads * opts.replicas;
  // Old pods finish terminating after a rollout reports done.
  let pods: k8s.V1Pod[];
  const deadline = Date.now() + 120_000;
  for (;;) {
    pods = await listAll((c) => env.core.listPodForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c }));
    if (!pods.some((p) => p.metadata?.deletionTimestamp) && pods.length === want) break;
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  const settleSeconds = (Date.now() - start) / 1000;
  const terminating = pods.filter((p) => p.metadata?.deletionTimestamp).length;
  if (terminating > 0) problems.push(`${terminating} pods still terminating after 120 s`);
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  if (live.length !== want) problems.push(`${live.length} pods, want ${want}`);
  const wrong = live.filter((p) => p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] !== NEW);
  if (wrong.length > 0) {
    const seen = new Map<string, number>();
    for (const p of wrong) {
      const r = p.metadata?.annotations?.[ANNOTATION_ISTIO_REV] ?? 'none';
      seen.set(r, (seen.get(r) ?? 0) + 1);
    }
    problems.push(`${wrong.length} pods not on ${NEW} (${[...seen].map(([r, n]) => `${r}: ${n}`).join(', ')}), e.g. ${wrong.slice(0, 3).map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(', ')}`);
  }
  const notReady = live.filter((p) => !isReady(p)).length;
  if (notReady > 0) problems.push(`${notReady} pods not Ready`);
  const rss = await listAll((c) => env.apps.listReplicaSetForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c }));
  const perDeployment = new Map<string, number>();
  for (const rs of rss) {
    const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment')?.name;
    if (owner) perDeployment.set(`${rs.metadata?.namespace}/${owner}`, (perDeployment.get(`${rs.metadata?.namespace}/${owner}`) ?? 0) + 1);
  }
  const badRs = env.deployments.filter((d) => perDeployment.get(d) !== 2);
  if (badRs.length > 0) problems.push(`${badRs.length} Deployments without exactly 2 ReplicaSets (restarted ${badRs.length === env.deployments.length ? 'never or' : ''} more than once), e.g. ${badRs.slice(0, 3).map((d) => `${d}: ${perDeployment.get(d) ?? 0}`).join(', ')}`);
  const nss = await listAll((c) => env.core.listNamespace({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c }));
  const badNs = nss.filter((n) => n.metadata?.labels?.[LABEL_ISTIO_REV] !== NEW || n.metadata.labels[LABEL_ISTIO_INJECTION] !== undefined);
  if (badNs.length > 0) problems.push(`${badNs.length} namespaces not labelled ${LABEL_ISTIO_REV}=${NEW} without ${LABEL_ISTIO_INJECTION}`);
  return { ok: problems.length === 0, problems, settleSeconds };
}

// ---------------------------------------------------------------------------
// The ways

interface WayOutcome {
  /** When the clock started (ms since the epoch). */
  startMs: number;
  seconds: number;
  timedOut: boolean;
  error?: string;
  /** Namespaces fully moved when the clock stopped. */
  namespacesDone: number;
  settings?: Record<string, unknown>;
}

async function runManual(env: Env, tracker: Tracker, deadline: number): Promise<WayOutcome> {
  const start = Date.now();
  let done = 0;
  let lastSay = Date.now();
  for (const ns of env.namespaces) {
    if (Date.now() > deadline) return { startMs: start, seconds: (Date.now() - start) / 1000, timedOut: true, namespacesDone: done };
    await env.cluster.kubectl(['label', 'namespace', ns, `${LABEL_ISTIO_INJECTION}-`, `${LABEL_ISTIO_REV}=${NEW}`, '--overwrite']);
    await env.cluster.kubectl(['rollout', 'restart', 'deployment', '-n', ns]);
    await env.cluster.kubectl(['rollout', 'status', 'deployment', '-n', ns, '--timeout=10m'], { timeoutMs: 660_000 });
    done++;
    if (Date.now() - lastSay > 10_000) {
      say(`  manual: ${done}/${env.size} namespaces (${((Date.now() - start) / done / 1000).toFixed(2)} s each)`);
      lastSay = Date.now();
    }
  }
  void tracker;
  return { startMs: start, seconds: (Date.now() - start) / 1000, timedOut: false, namespacesDone: done };
}

const BLAST_IN_FLIGHT = 100;

async function runBlast(env: Env, tracker: Tracker, deadline: number): Promise<WayOutcome> {
  const start = Date.now();
  const patch = (body: k8s.KubernetesObject) =>
    env.objects.patch(body, undefined, undefined, 'bench-blast', undefined, k8s.PatchStrategy.MergePatch);
  await pool(env.namespaces, BLAST_IN_FLIGHT, async (ns) => {
    await patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [LABEL_ISTIO_INJECTION]: null, [LABEL_ISTIO_REV]: NEW } } } as unknown as k8s.KubernetesObject);
  });
  const relabelled = (Date.now() - start) / 1000;
  const stamp = new Date().toISOString();
  await pool(env.deployments, BLAST_IN_FLIGHT, async (key) => {
    const [namespace, name] = key.split('/');
    await patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: stamp } } } } } as k8s.KubernetesObject);
  });
  const restarted = (Date.now() - start) / 1000;
  say(`  blast: ${env.size} namespaces relabelled in ${relabelled.toFixed(1)} s, ${env.deployments.length} Deployments restarted by ${restarted.toFixed(1)} s; waiting for rollouts`);
  let lastSay = Date.now();
  while (!tracker.allDone()) {
    if (Date.now() > deadline) return { startMs: start, seconds: (Date.now() - start) / 1000, timedOut: true, namespacesDone: countNsDone(env, tracker), settings: { inFlight: BLAST_IN_FLIGHT } };
    if (Date.now() - lastSay > 10_000) {
      say(`  blast: ${tracker.doneAt.size}/${env.deployments.length} Deployments rolled out`);
      lastSay = Date.now();
    }
    await sleep(50);
  }
  return { startMs: start, seconds: (tracker.lastDone() - start) / 1000, timedOut: false, namespacesDone: env.size, settings: { inFlight: BLAST_IN_FLIGHT, relabelSeconds: relabelled, restartRequestsDoneSeconds: restarted } };
}

function countNsDone(env: Env, tracker: Tracker): number {
  const perNs = new Map<string, number>();
  for (const k of tracker.doneAt.keys()) perNs.set(k.split('/')[0]!, (perNs.get(k.split('/')[0]!) ?? 0) + 1);
  const w = env.deployments.length / env.size;
  return [...perNs.values()].filter((n) => n === w).length;
}

interface MeshrevRun {
  outcome: WayOutcome;
  op: OperatorProcess;
  proxy?: CountingProxy;
  /** Index in proxy.requests where the timed part started. */
  proxyMark: number;
  opBefore: Sample[];
  statsBefore: { cpuSeconds: number; rssMB: number; peakRssMB: number };
  rssSamples: number[];
}

async function runMeshrev(env: Env, tracker: Tracker, deadline: number, migration: Record<string, unknown>, before: () => Promise<void>, proxy: CountingProxy | undefined, node: OperatorNodeSettings = {}): Promise<MeshrevRun> {
  const op = await startOperatorProcess(proxy?.kubeconfig ?? env.cluster.kubeconfig, join(env.dir, 'operator.log'), [], node);
  activeOperators.add(op);
  await waitOperatorIdle(op);
  const opBefore = await op.metrics();
  const statsBefore = op.stats()!;
  say(`  meshrev: operator pid ${op.pid} synced and idle: RSS ${statsBefore.rssMB.toFixed(0)} MB, ${statsBefore.cpuSeconds.toFixed(1)} CPU s so far${proxy ? ' (through the counting proxy)' : ''}`);
  await before();
  const proxyMark = proxy?.requests.length ?? 0;
  const base = { op, opBefore, statsBefore, proxy, proxyMark };
  const rssSamples: number[] = [];
  const sampler = setInterval(() => {
    const s = op.stats();
    if (s) rssSamples.push(s.rssMB);
  }, 1000);
  const start = Date.now();
  try {
    await env.objects.patch(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: NEW }, spec: { migration } } as k8s.KubernetesObject,
      undefined, undefined, 'bench', undefined, k8s.PatchStrategy.MergePatch,
    );
    let lastSay = Date.now();
    while (tracker.succeededAt === undefined) {
      if (tracker.failed) return { outcome: { startMs: start, seconds: (Date.now() - start) / 1000, timedOut: false, error: tracker.failed, namespacesDone: tracker.migratedCount, settings: migration }, ...base, rssSamples };
      if (Date.now() > deadline) return { outcome: { startMs: start, seconds: (Date.now() - start) / 1000, timedOut: true, namespacesDone: tracker.migratedCount, settings: migration }, ...base, rssSamples };
      if (Date.now() - lastSay > 10_000) {
        say(`  meshrev: ${tracker.phase} ${tracker.summary}; relabelled ${tracker.relabelAt.size}, restarted ${tracker.restartAt.size}/${env.deployments.length}, rolled out ${tracker.doneAt.size}; RSS ${op.stats()?.rssMB.toFixed(0)} MB`);
        lastSay = Date.now();
      }
      await sleep(50);
    }
    return { outcome: { startMs: start, seconds: (tracker.succeededAt - start) / 1000, timedOut: false, namespacesDone: tracker.migratedCount, settings: migration }, ...base, rssSamples };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Spec change → webhook configuration updated: toggles a tag on 1-21 `changes` times, each as soon as
 * the last one is visible (back to back: the follow-up reconciles of one change are still queued when
 * the next comes), or after `settle` (an idle operator).
 */
async function reconcileLatency(env: Env, tracker: Tracker, changes: number, settle?: () => Promise<void>): Promise<{ ms: ReturnType<typeof stats>; samples: number[] }> {
  const lat: number[] = [];
  for (let i = 0; i < changes; i++) {
    const add = i % 2 === 0;
    if (settle) await settle();
    const t = performance.now();
    await env.objects.patch(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: NEW }, spec: { tags: add ? [TAG] : null } } as unknown as k8s.KubernetesObject,
      undefined, undefined, 'bench', undefined, k8s.PatchStrategy.MergePatch,
    );
    await tracker.waitTag(add);
    lat.push(performance.now() - t);
  }
  return { ms: stats(lat), samples: lat.map((x) => Math.round(x)) };
}

/** Log lines of the operator: how many of each message, and per-namespace relabel → first restart from its own timestamps. */
function operatorLogSummary(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const messages: Record<string, number> = {};
  const moved = new Map<string, number>();
  const firstRestart = new Map<string, number>();
  let errors = 0;
  const errorSamples: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let o: { message?: string; level?: string; timestamp?: string; namespace?: string; workload?: string; error?: string };
    try {
      o = JSON.parse(line) as typeof o;
    } catch {
      continue;
    }
    const msg = o.message ?? '';
    messages[msg] = (messages[msg] ?? 0) + 1;
    if (o.level === 'error' || o.level === 'warn') {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(`${msg}: ${String(o.error ?? '').slice(0, 200)}`);
    }
    const t = o.timestamp ? Date.parse(o.timestamp) : NaN;
    if (msg === 'moving namespace' && o.namespace) moved.set(o.namespace, t);
    if (msg === 'restarting workload' && o.workload) {
      const ns = o.workload.split(' ')[1]?.split('/')[0] ?? '';
      if (!firstRestart.has(ns)) firstRestart.set(ns, t);
    }
  }
  const gaps: number[] = [];
  for (const [ns, t] of moved) {
    const r = firstRestart.get(ns);
    if (r !== undefined) gaps.push((r - t) / 1000);
  }
  return { messages, warningsAndErrors: errors, errorSamples, secondsRelabelRequestToFirstRestartRequest: stats(gaps) };
}

// ---------------------------------------------------------------------------

function classifyWrites(d: RequestCounts): { all: number; failed: number; byVerbResource: Record<string, number>; client: Record<string, number>; clientTotal: number; lists: number; listsByResource: Record<string, number>; dryRuns: number } {
  const byVerbResource: Record<string, number> = {};
  const client: Record<string, number> = {};
  let all = 0;
  let failed = 0;
  let lists = 0;
  let dryRuns = 0;
  const listsByResource: Record<string, number> = {};
  // What a migrating client writes (kubectl, the bench, the operator); the rest is the
  // controllers' and KWOK's own work (ReplicaSets, pods, bindings, statuses, leases).
  const clientResources = /^(namespaces|deployments\.apps|meshrevisions\.meshrev\.io|meshrevisions\.meshrev\.io\/status|mutatingwebhookconfigurations\.admissionregistration\.k8s\.io)$/;
  for (const [k, v] of Object.entries(d)) {
    const isFailed = k.endsWith('#failed');
    const key = isFailed ? k.slice(0, -7) : k;
    const [verb, resource] = key.split(' ') as [string, string];
    if (verb === 'LIST' && !isFailed) {
      lists += v;
      listsByResource[resource] = (listsByResource[resource] ?? 0) + v;
    }
    if (verb.startsWith('DRYRUN-') && !isFailed) dryRuns += v;
    if (!MUTATING_VERBS.has(verb)) continue;
    if (isFailed) {
      failed += v;
      byVerbResource[`${key} (failed)`] = v;
      continue;
    }
    all += v;
    byVerbResource[key] = v;
    if (clientResources.test(resource)) client[key] = v;
  }
  const clientTotal = Object.values(client).reduce((a, b) => a + b, 0);
  return { all, failed, byVerbResource, client, clientTotal, lists, listsByResource, dryRuns };
}

/** The operator's figures over the timed part of a meshrev run. */
function operatorSummary(
  opRun: MeshrevRun,
  opAtDone: Sample[],
  opStatsAtDone: { cpuSeconds: number; rssMB: number; peakRssMB: number },
  size: number,
  clientLists: number,
  reconciles: number,
  writesDuring: Record<string, number>,
  proxyAtDone: number,
): NonNullable<RunResult['operator']> {
  const statusWrites = writesDuring['apply-status MeshRevision'] ?? 0;
  return {
    rssAfterSyncMB: round1(opRun.statsBefore.rssMB),
    peakRssMB: round1(opStatsAtDone.peakRssMB),
    rssDuringRunMaxMB: round1(Math.max(opRun.statsBefore.rssMB, ...opRun.rssSamples)),
    cpuSecondsRun: round1(opStatsAtDone.cpuSeconds - opRun.statsBefore.cpuSeconds),
    cpuSecondsTotal: round1(opStatsAtDone.cpuSeconds),
    writes: writesDuring,
    reconciles,
    reconcilesByResult: Object.fromEntries(['success', 'error', 'requeue', 'requeue_after'].map((r) => [r, metricSum(opAtDone, 'controller_runtime_reconcile_total', { result: r }) - metricSum(opRun.opBefore, 'controller_runtime_reconcile_total', { result: r })])),
    statusWrites,
    statusWritesPerNamespace: statusWrites / size,
    reconcileSecondsSum: round1(metricSum(opAtDone, 'controller_runtime_reconcile_time_seconds_sum') - metricSum(opRun.opBefore, 'controller_runtime_reconcile_time_seconds_sum')),
    reconcileSecondsP50: histogramQuantile(opAtDone, opRun.opBefore, 'controller_runtime_reconcile_time_seconds', 0.5),
    reconcileSecondsP99: histogramQuantile(opAtDone, opRun.opBefore, 'controller_runtime_reconcile_time_seconds', 0.99),
    workqueueAdds: metricSum(opAtDone, 'workqueue_adds_total') - metricSum(opRun.opBefore, 'workqueue_adds_total'),
    ...(opRun.proxy ? { requests: summarizeRequests(opRun.proxy.requests.slice(opRun.proxyMark, proxyAtDone)) } : {}),
    listsPerReconcile: reconciles > 0 ? clientLists / reconciles : NaN,
    heapUsedMB: round1(metricSum(opAtDone, 'nodejs_heap_size_used_bytes') / 2 ** 20),
    heapTotalMB: round1(metricSum(opAtDone, 'nodejs_heap_size_total_bytes') / 2 ** 20),
    externalMB: round1(metricSum(opAtDone, 'nodejs_external_memory_bytes') / 2 ** 20),
    heapUsedAfterSyncMB: round1(metricSum(opRun.opBefore, 'nodejs_heap_size_used_bytes') / 2 ** 20),
  };
}

/** Spec change → webhook updated, on the operator that just migrated N namespaces: back to back, then from idle. */
async function measureLatency(env: Env, tracker: Tracker, opRun: MeshrevRun, changes: number): Promise<NonNullable<RunResult['reconcileLatencyMs']>> {
  const op = opRun.op;
  // Spec change → webhook updated, on the operator that just migrated N namespaces.
  await waitOperatorIdle(op);
  const latBefore = await apiserverRequests(env.cluster);
  const latMark = opRun.proxy?.requests.length ?? 0;
  const opLat0 = await op.metrics();
  const lat = await reconcileLatency(env, tracker, changes);
  await waitOperatorIdle(op);
  const opLat1 = await op.metrics();
  const latAfter = classifyWrites(diffCounts(await apiserverRequests(env.cluster), latBefore));
  const result: NonNullable<RunResult['reconcileLatencyMs']> = {
    changes,
    p50: Math.round(lat.ms.p50),
    p99: Math.round(lat.ms.p99),
    mean: Math.round(lat.ms.mean),
    max: Math.round(lat.ms.max),
    samples: lat.samples,
    operatorWrites: diffCounts(operatorWrites(opLat1), operatorWrites(opLat0)),
    reconciles: metricSum(opLat1, 'controller_runtime_reconcile_total') - metricSum(opLat0, 'controller_runtime_reconcile_total'),
    lists: latAfter.lists,
    ...(opRun.proxy ? { requests: summarizeRequests(opRun.proxy.requests.slice(latMark)) } : {}),
  };
  say(`  reconcile latency (tag toggle → webhook), back to back: p50 ${lat.ms.p50.toFixed(0)} ms, p99 ${lat.ms.p99.toFixed(0)} ms over ${changes} changes`);
  const idle = await reconcileLatency(env, tracker, changes, () => waitOperatorIdle(op, 300));
  result.fromIdle = { p50: Math.round(idle.ms.p50), p99: Math.round(idle.ms.p99), samples: idle.samples };
  say(`  reconcile latency (tag toggle → webhook), operator idle before each: p50 ${idle.ms.p50.toFixed(0)} ms, p99 ${idle.ms.p99.toFixed(0)} ms`);
  return result;
}

/** No-op resyncs: watch events that change nothing for the migration, then a restart of the operator; what they write. */
async function measureNoopResync(env: Env, opRun: MeshrevRun): Promise<NonNullable<RunResult['noopResync']>> {
  const op = opRun.op;
  // No-op resyncs: a watch event that changes nothing for the migration, then a restart of the operator.
  // First let any coalesced status write land (it is flushed within STATUS_PROGRESS_INTERVAL_MS).
  await waitOperatorIdle(op, STATUS_PROGRESS_INTERVAL_MS + 1000);
  const r0 = await op.metrics();
  for (let i = 0; i < 5; i++) {
    const before1 = metricSum(await op.metrics(), 'controller_runtime_reconcile_total');
    await env.objects.patch(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: env.namespaces[i % env.namespaces.length], labels: { 'bench.meshrev.io/poke': String(i) } } },
      undefined, undefined, 'bench', undefined, k8s.PatchStrategy.MergePatch,
    );
    await until('a reconcile after the poke', 30_000, async () => metricSum(await op.metrics(), 'controller_runtime_reconcile_total') > before1, 100);
    await waitOperatorIdle(op, 1000);
  }
  const r1 = await op.metrics();
  const pokeWrites = Object.entries(operatorWrites(r1)).reduce((n, [k, v]) => n + v - (operatorWrites(r0)[k] ?? 0), 0);
  const pokeReconciles = metricSum(r1, 'controller_runtime_reconcile_total') - metricSum(r0, 'controller_runtime_reconcile_total');
  await op.stop();
  activeOperators.delete(op);
  const restartBefore = await apiserverRequests(env.cluster);
  const restartMark = opRun.proxy?.requests.length ?? 0;
  const op2 = await startOperatorProcess(opRun.proxy?.kubeconfig ?? env.cluster.kubeconfig, join(env.dir, 'operator-restart.log'));
  activeOperators.add(op2);
  await waitOperatorIdle(op2);
  const m2 = await op2.metrics();
  const restartCounts = classifyWrites(diffCounts(await apiserverRequests(env.cluster), restartBefore));
  await op2.stop();
  activeOperators.delete(op2);
  const noop: NonNullable<RunResult['noopResync']> = {
    watchEvent: { reconciles: pokeReconciles, operatorWrites: pokeWrites },
    restart: {
      reconciles: metricSum(m2, 'controller_runtime_reconcile_total'),
      operatorWrites: Object.values(operatorWrites(m2)).reduce((a, b) => a + b, 0),
      operatorWritesByKind: operatorWrites(m2),
      lists: restartCounts.lists,
      ...(opRun.proxy ? { requests: summarizeRequests(opRun.proxy.requests.slice(restartMark)) } : {}),
    },
  };
  say(`  no-op resync: ${pokeReconciles} reconciles from watch events wrote ${pokeWrites}; a restart reconciled ${noop.restart.reconciles} times and wrote ${noop.restart.operatorWrites}`);
  return noop;
}

interface RequestWindow {
  before: RequestCounts;
  /** When the way said it was done. */
  atDone: RequestCounts;
  /** After the end-state checks. */
  after: RequestCounts;
  cpBefore: Record<string, number>;
  cpAfter: Record<string, number>;
  benchCpu: NodeJS.CpuUsage;
  benchLists: number;
  load0: number;
  workloads: number;
}

/** The API server's writes and LISTs over a run, the control plane's and the bench's CPU, into `result`. */
function recordRequests(result: RunResult, r: RequestWindow): { w: ReturnType<typeof classifyWrites>; clientLists: number; internalLists: number } {
  const { before, atDone, after, cpBefore, cpAfter, benchCpu, benchLists, load0, workloads } = r;
  const size = result.size;
  const w = classifyWrites(diffCounts(after, before));
  const wDone = classifyWrites(diffCounts(atDone, before));
  result.writes = {
    total: w.all,
    failed: w.failed,
    perNamespace: w.all / size,
    perWorkload: w.all / workloads,
    client: w.client,
    clientTotal: w.clientTotal,
    clientPerNamespace: w.clientTotal / size,
    clientPerWorkload: w.clientTotal / workloads,
    dryRuns: w.dryRuns,
    byVerbResource: w.byVerbResource,
  };
  // limitranges: the API server's own LimitRanger admission looks them up live (30 s TTL) when pods are created.
  const internalLists = wDone.listsByResource['limitranges'] ?? 0;
  const clientLists = wDone.lists - internalLists - benchLists;
  result.listsDuringRun = { total: clientLists, all: wDone.lists, bench: benchLists, apiserverLimitRanger: internalLists, byResource: wDone.listsByResource };
  result.controlPlaneCpuSeconds = Object.fromEntries(Object.entries(cpAfter).map(([k, v]) => [k, Math.round((v - (cpBefore[k] ?? 0)) * 10) / 10]));
  result.benchProcessCpuSeconds = Math.round(((benchCpu.user + benchCpu.system) / 1e6) * 10) / 10;
  result.loadAverage1m = { start: load0, end: loadavg()[0]! };
  return { w, clientLists, internalLists };
}

/** Times one way, calling `snapshot` just before its clock starts. */
async function timeWay(
  env: Env,
  tracker: Tracker,
  way: WayName,
  opts: Options,
  deadline: number,
  snapshot: () => Promise<void>,
): Promise<{ outcome: WayOutcome; opRun?: MeshrevRun }> {
  if (way === 'manual') {
    await snapshot();
    return { outcome: await runManual(env, tracker, deadline) };
  }
  if (way === 'blast') {
    await snapshot();
    return { outcome: await runBlast(env, tracker, deadline) };
  }
  const migration: Record<string, unknown> = { from: ['default'] };
  if (way === 'meshrev-tuned') {
    migration.maxConcurrentNamespaces = Math.min(opts.tunedNamespaces, env.namespaces.length);
    migration.maxConcurrentRestarts = opts.tunedRestarts;
  }
  const proxy = opts.proxy ? await startCountingProxy(env.cluster.kc, env.dir) : undefined;
  if (proxy) activeProxies.add(proxy);
  const opRun = await runMeshrev(env, tracker, deadline, migration, snapshot, proxy, {
    ...(opts.operatorNodeOptions !== undefined ? { nodeOptions: opts.operatorNodeOptions } : {}),
    ...(opts.operatorNodeArgs !== undefined ? { nodeArgs: opts.operatorNodeArgs } : {}),
  });
  return { outcome: opRun.outcome, opRun };
}

async function runOne(size: number, way: WayName, opts: Options, cert: ReturnType<typeof makeServingCert>, profile: Profile): Promise<RunResult> {
  const env = await prepare(size, way, opts, cert, profile);
  const tracker = new Tracker(env, opts.replicas);
  const result: RunResult = { size, way, workloads: opts.workloads, replicas: opts.replicas, minReadySeconds: opts.minReadySeconds, ...(profile.podStartup ? { podStartup: profile.podStartup } : {}), ...(profile.podTerminating ? { podTerminating: profile.podTerminating } : {}), ...(opts.proxy ? { proxied: true } : {}), ...(opts.operatorNodeOptions ? { operatorNodeOptions: opts.operatorNodeOptions } : {}), ...(opts.operatorNodeArgs ? { operatorNodeArgs: opts.operatorNodeArgs.join(' ') } : {}), ok: false, timedOut: false, wallSeconds: NaN, namespacesDone: 0 };
  let opRun: MeshrevRun | undefined;
  try {
    await tracker.start();
    const deadline = Date.now() + opts.timeoutMinutes * 60_000;
    let before: RequestCounts = {};
    let cpBefore: Record<string, number> = {};
    let benchCpuBefore = process.cpuUsage();
    let benchListsBefore = 0;
    const load0 = loadavg()[0]!;
    const snapshot = async () => {
      benchListsBefore = tracker.lists;
      before = await apiserverRequests(env.cluster);
      cpBefore = env.cluster.controlPlaneCpu();
      benchCpuBefore = process.cpuUsage();
    };
    say(`run N=${size} ${way}: timing (budget ${opts.timeoutMinutes} min)`);
    const timed = await timeWay(env, tracker, way, opts, deadline, snapshot);
    const outcome = timed.outcome;
    opRun = timed.opRun;
    const atDone = await apiserverRequests(env.cluster);
    const benchLists = tracker.lists - benchListsBefore;
    const proxyAtDone = opRun?.proxy?.requests.length ?? 0;
    const opAtDone = opRun ? await opRun.op.metrics() : undefined;
    const opStatsAtDone = opRun?.op.stats();
    result.wallSeconds = outcome.seconds;
    result.timedOut = outcome.timedOut;
    result.minReadySeconds = opts.minReadySeconds;
    result.namespacesDone = outcome.namespacesDone;
    if (tracker.maxObjectBytes.size > 0) result.maxMeshRevisionBytes = Object.fromEntries(tracker.maxObjectBytes);
    if (outcome.error) result.error = outcome.error;
    if (outcome.settings) result.settings = outcome.settings;
    result.secondsPerNamespace = outcome.namespacesDone > 0 ? outcome.seconds / outcome.namespacesDone : NaN;
    if (tracker.maxObjectBytes.size > 0) say(`run N=${size} ${way}: largest MeshRevision objects seen: ${[...tracker.maxObjectBytes].map(([n, b]) => `${n} ${(b / 1024).toFixed(1)} KiB`).join(', ')}`);
    say(`run N=${size} ${way}: ${outcome.timedOut ? 'TIMED OUT after' : outcome.error ? 'FAILED after' : 'done in'} ${outcome.seconds.toFixed(1)} s (${outcome.namespacesDone}/${size} namespaces)`);

    const check = await verify(env, opts);
    result.ok = check.ok && !outcome.timedOut && !outcome.error;
    result.problems = check.problems;
    result.settleSecondsAfterDone = check.settleSeconds;
    say(`run N=${size} ${way}: end state ${check.ok ? 'correct' : `WRONG: ${check.problems.join('; ')}`}`);
    result.rollouts = await rolloutSummary(env, tracker, way, outcome);
    if (result.rollouts) {
      const ro = result.rollouts;
      say(`run N=${size} ${way}: ${ro.n} rollouts, mean ${ro.seconds.mean.toFixed(1)} s, max ${ro.seconds.max.toFixed(1)} s (API timestamps: mean ${ro.apiTimestampSeconds?.mean.toFixed(1) ?? '?'} s); ` +
        `policy lower bound ${ro.lowerBoundSeconds.toFixed(1)} s → orchestration overhead ${(ro.overhead * 100).toFixed(1)} %`);
    }
    const after = await apiserverRequests(env.cluster);
    const cpAfter = env.cluster.controlPlaneCpu();
    const benchCpu = process.cpuUsage(benchCpuBefore);

    const { w, clientLists, internalLists } = recordRequests(result, { before, atDone, after, cpBefore, cpAfter, benchCpu, benchLists, load0, workloads: size * opts.workloads });
    result.timeline = tracker.timeline(outcome.startMs);

    if (opRun && opAtDone && opStatsAtDone) {
      const op = opRun.op;
      const writesDuring = diffCounts(operatorWrites(opAtDone), operatorWrites(opRun.opBefore));
      const reconciles = metricSum(opAtDone, 'controller_runtime_reconcile_total') - metricSum(opRun.opBefore, 'controller_runtime_reconcile_total');
      result.operator = operatorSummary(opRun, opAtDone, opStatsAtDone, size, clientLists, reconciles, writesDuring, proxyAtDone);
      say(`  operator: peak RSS ${opStatsAtDone.peakRssMB.toFixed(0)} MB, ${result.operator.cpuSecondsRun} CPU s, ${reconciles} reconciles, writes ${JSON.stringify(writesDuring)}`);

      if (result.ok || (!outcome.timedOut && !outcome.error)) {
        result.reconcileLatencyMs = await measureLatency(env, tracker, opRun, opts.latencyChanges);
        result.noopResync = await measureNoopResync(env, opRun);
      }
      result.operatorLog = operatorLogSummary(op.logFile);
    }
    say(`run N=${size} ${way}: writes ${w.all} (${(w.all / size).toFixed(1)}/namespace; client ${w.clientTotal}: ${JSON.stringify(w.client)}), LIST during run ${clientLists} (+${benchLists} bench, +${internalLists} LimitRanger)`);
  } catch (err) {
    result.error = `${result.error ? `${result.error}; ` : ''}${err instanceof Error ? err.message : String(err)}`;
    say(`run N=${size} ${way}: ERROR ${result.error}`);
  } finally {
    if (opRun && activeOperators.has(opRun.op)) {
      await opRun.op.stop();
      activeOperators.delete(opRun.op);
      result.operatorLog ??= operatorLogSummary(opRun.op.logFile);
    }
    if (opRun?.proxy) {
      await opRun.proxy.close();
      activeProxies.delete(opRun.proxy);
    }
    await tracker.stop().catch(() => undefined);
    result.artifacts = env.dir;
    await teardown(env, opts.keep);
  }
  return result;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Every restarted Deployment's rollout (restart seen → complete seen, by the bench's watch) and the lower bound
 * of the way's own policy over them: manual one namespace at a time with its restarts all at once, blast
 * everything at once, meshrev its maxConcurrentNamespaces / maxConcurrentRestarts. The bench's migrations have
 * no steps, so no pauses. Cross-checked with the API's own timestamps (1 s resolution).
 */
async function rolloutSummary(env: Env, tracker: Tracker, way: WayName, outcome: WayOutcome): Promise<RolloutSummary | undefined> {
  const rollouts: Rollout[] = [];
  for (const [key, t0] of tracker.restartAt) {
    const t1 = tracker.doneAt.get(key);
    if (t1 !== undefined) rollouts.push({ ns: key.split('/')[0]!, seconds: (t1 - t0) / 1000 });
  }
  if (rollouts.length === 0) return undefined;
  const num = (v: unknown, d: number) => (typeof v === 'number' && v > 0 ? v : d);
  const k = way === 'manual' ? 1 : way === 'blast' ? Infinity : num(outcome.settings?.maxConcurrentNamespaces, DEFAULT_CONCURRENT_NAMESPACES);
  const r = way === 'manual' || way === 'blast' ? Infinity : num(outcome.settings?.maxConcurrentRestarts, DEFAULT_CONCURRENT_RESTARTS);
  const bound = policyLowerBound(rollouts, k, r, 0);
  const st = stats(rollouts.map((x) => x.seconds));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  let api: RolloutSummary['apiTimestampSeconds'];
  try {
    const [rss, deps] = await Promise.all([
      listAll((c) => env.apps.listReplicaSetForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c })),
      listAll((c) => env.apps.listDeploymentForAllNamespaces({ labelSelector: BENCH_LABEL, limit: 2000, _continue: c })),
    ]);
    const created = new Map<string, number>();
    for (const rs of rss) {
      const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment')?.name;
      if (owner && rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '2' && rs.metadata.creationTimestamp) {
        created.set(`${rs.metadata.namespace}/${owner}`, new Date(rs.metadata.creationTimestamp).getTime());
      }
    }
    const ds: number[] = [];
    for (const d of deps) {
      const key = `${d.metadata?.namespace}/${d.metadata?.name}`;
      const c = (d.status?.conditions ?? []).find((x) => x.type === 'Progressing' && x.reason === 'NewReplicaSetAvailable');
      const t0 = created.get(key);
      if (t0 !== undefined && c?.lastUpdateTime) ds.push((new Date(c.lastUpdateTime).getTime() - t0) / 1000);
    }
    if (ds.length > 0) api = { n: ds.length, mean: r3(ds.reduce((a, b) => a + b, 0) / ds.length), max: Math.max(...ds) };
  } catch (err) {
    say(`  rollouts: API timestamps not read: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    n: rollouts.length,
    seconds: { mean: r3(st.mean), p50: r3(st.p50), p90: r3(st.p90), max: r3(st.max), min: r3(Math.min(...rollouts.map((x) => x.seconds))) },
    ...(api ? { apiTimestampSeconds: api } : {}),
    maxConcurrentNamespaces: Number.isFinite(k) ? k : null,
    maxConcurrentRestarts: Number.isFinite(r) ? r : null,
    pausesSeconds: 0,
    lowerBoundSeconds: r3(bound),
    overhead: r3(outcome.seconds / bound - 1),
  };
}

async function machine(): Promise<BenchResult['machine']> {
  const go = await run('go', ['version']).then((r) => r.stdout.trim().replace(/^go version /, ''), () => 'unknown');
  let versions = '';
  try {
    versions = readFileSync(join(repoRoot(), 'hack/localcluster/versions.env'), 'utf8');
  } catch {
    // not fatal
  }
  const v = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(versions)?.[1] ?? '?';
  const commit = process.env.MESHREV_BENCH_COMMIT ?? (await run('git', ['rev-parse', 'HEAD'], { cwd: repoRoot() }).then((r) => r.stdout.trim(), () => 'unknown'));
  return {
    commit,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${osRelease()}`,
    node: process.version,
    go,
    kubernetes: v('KUBE_VERSION'),
    etcd: v('ETCD_VERSION'),
    kwok: v('KWOK_VERSION'),
  };
}

const USAGE = `usage: npm run bench -- migration [options]
  --sizes N[,N...]             namespaces per run (default 100; the issue's sizes: 10,100,1000)
  --workloads W                Deployments per namespace (default 3)
  --replicas R                 replicas per Deployment (default 2)
  --ways W[,W...]              which ways to time (default ${WAYS.join(',')})
  --tuned-namespaces K         meshrev-tuned: namespaces in flight (default 100)
  --tuned-restarts K           meshrev-tuned: workload restarts in flight (default 300)
  --timeout-minutes M          give up on one way after M minutes (default 20)
  --latency-changes C          spec changes timed for reconcile latency (default 50)
  --min-ready-seconds S        minReadySeconds on every Deployment (default 0)
  --profile P[,P]              pod lifecycle of the clusters: instant (default; KWOK pods Ready at once)
                               and/or realistic (start-up and termination delays, below), run in that order
  --pod-startup D[±J]          realistic: a new pod is Ready D ± J after it is scheduled (default 5s±2s;
                               also written 5s+-2s or 5s~2s); giving it implies --profile realistic
  --pod-terminating D[±J]      realistic: a deleted pod stays Terminating D ± J (default 2s±1s)
  --proxy                      route the operator through a counting proxy
  --operator-node-options S    NODE_OPTIONS for the operator instead of the Deployment's
  --operator-node-args S       node flags for the operator instead of those in the Deployment's command
                               (space-separated; V8 flags Node refuses in NODE_OPTIONS, e.g. --optimize-for-size)
  --out DIR                    where the JSON and migration-latest.md go (default bench/results)
  --merge FILE                 add this run's results to an earlier result file
  --keep                       leave the clusters running afterwards`;

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '100' },
      workloads: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '2' },
      ways: { type: 'string', default: WAYS.join(',') },
      'tuned-namespaces': { type: 'string', default: '100' },
      'tuned-restarts': { type: 'string', default: '300' },
      'timeout-minutes': { type: 'string', default: '20' },
      'latency-changes': { type: 'string', default: '50' },
      out: { type: 'string', default: 'bench/results' },
      merge: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'min-ready-seconds': { type: 'string', default: '0' },
      proxy: { type: 'boolean', default: false },
      'operator-node-options': { type: 'string' },
      'operator-node-args': { type: 'string' },
      profile: { type: 'string' },
      'pod-startup': { type: 'string' },
      'pod-terminating': { type: 'string' },
    },
  });
  const ints = (s: string, flag: string) =>
    s.split(',').map((x) => {
      const n = Number(x.trim());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}: "${x}" is not a positive integer`);
      return n;
    });
  const one = (s: string | undefined, flag: string) => ints(s ?? '', flag)[0]!;
  const ways = (values.ways ?? '').split(',').map((w) => w.trim()) as WayName[];
  for (const w of ways) if (!WAYS.includes(w)) throw new Error(`--ways: "${w}" is not one of ${WAYS.join(', ')}`);
  const opts: Options = {
    sizes: ints(values.sizes ?? '', 'sizes'),
    workloads: one(values.workloads, 'workloads'),
    replicas: one(values.replicas, 'replicas'),
    ways,
    tunedNamespaces: one(values['tuned-namespaces'], 'tuned-namespaces'),
    tunedRestarts: one(values['tuned-restarts'], 'tuned-restarts'),
    timeoutMinutes: one(values['timeout-minutes'], 'timeout-minutes'),
    latencyChanges: one(values['latency-changes'], 'latency-changes'),
    out: values.out ?? 'bench/results',
    keep: values.keep ?? false,
    minReadySeconds: Number(values['min-ready-seconds']),
    proxy: values.proxy ?? false,
    profiles: [],
  };
  const delaysGiven = values['pod-startup'] !== undefined || values['pod-terminating'] !== undefined;
  const names = (values.profile ?? (delaysGiven ? 'realistic' : 'instant')).split(',').map((x) => x.trim());
  for (const n of names) {
    if (n === 'instant') opts.profiles.push({ name: 'instant' });
    else if (n === 'realistic') {
      opts.profiles.push({
        name: 'realistic',
        podStartup: normalizeDelay('--pod-startup', values['pod-startup'] ?? '5s±2s'),
        podTerminating: normalizeDelay('--pod-terminating', values['pod-terminating'] ?? '2s±1s'),
      });
    } else throw new Error(`--profile: "${n}" is not instant or realistic`);
  }
  if (delaysGiven && !names.includes('realistic')) throw new Error('--pod-startup / --pod-terminating apply to the realistic profile: add --profile realistic');
  if (values['operator-node-options']) opts.operatorNodeOptions = values['operator-node-options'];
  if (values['operator-node-args'] !== undefined) opts.operatorNodeArgs = values['operator-node-args'].split(/\s+/).filter(Boolean);
  if (!Number.isInteger(opts.minReadySeconds) || opts.minReadySeconds < 0) throw new Error('--min-ready-seconds must be a whole number ≥ 0');
  if (values.merge) opts.merge = values.merge;
  if (opts.sizes.some((n) => n > 99_999)) throw new Error('--sizes: at most 99999 namespaces');
  return opts;
}

function writeResults(res: BenchResult, opts: Options, stamp: string): void {
  mkdirSync(opts.out, { recursive: true });
  const json = join(opts.out, `migration-${stamp}.json`);
  writeFileSync(json, `${JSON.stringify(res, null, 1)}\n`);
  writeFileSync(join(opts.out, 'migration-latest.md'), renderMarkdown(res, `migration-${stamp}.json`));
}

async function cleanupAll(): Promise<void> {
  for (const op of activeOperators) await op.stop().catch(() => undefined);
  for (const p of activeProxies) await p.close().catch(() => undefined);
  for (const inj of activeInjectors) await inj.stop().catch(() => undefined);
  for (const c of activeClusters) await c.down();
}

export const bench: Bench = {
  description: 'data-plane migration 1-20 -> 1-21 at N namespaces: manual kubectl procedure vs everything-at-once vs meshrev (time, writes, operator cost, correctness)',
  // `npm run bench` (every bench, no name): the short version.
  quickArgs: ['--sizes', '10', '--latency-changes', '20', '--out', join(tmpdir(), 'meshrev-bench-results')],
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      console.log(USAGE);
      return;
    }
    const opts = parseOptions(args);
    const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
    const res: BenchResult = {
      bench: 'migration',
      startedAt: new Date().toISOString(),
      machine: await machine(),
      params: { profiles: opts.profiles, workloads: opts.workloads, replicas: opts.replicas, tunedNamespaces: opts.tunedNamespaces, tunedRestarts: opts.tunedRestarts, timeoutMinutes: opts.timeoutMinutes, latencyChanges: opts.latencyChanges, reset: 'fresh local cluster per size and way' },
      runs: [],
    };
    if (opts.merge) {
      const prev = JSON.parse(readFileSync(opts.merge, 'utf8')) as BenchResult;
      res.runs.push(...prev.runs);
      res.merged = [opts.merge, ...(prev.merged ?? [])];
    }
    console.log(`pod lifecycle ${opts.profiles.map((p) => (p.podStartup ? `realistic (start-up ${p.podStartup}, terminating ${p.podTerminating})` : p.name)).join(', then ')}; sizes ${opts.sizes.join(', ')} namespaces x ${opts.workloads} Deployments x ${opts.replicas} replicas; ways ${opts.ways.join(', ')}; ` +
      `${res.machine.cpus} CPUs (${res.machine.cpuModel}), ${res.machine.memoryGiB} GiB, Node ${res.machine.node}, ${res.machine.go}; results in ${opts.out}`);
    const cert = makeServingCert();
    const onSignal = () => {
      say('interrupted: stopping the operator, the injectors and the clusters of this bench');
      void cleanupAll().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      for (const profile of opts.profiles) for (const size of opts.sizes) {
        for (const way of opts.ways) {
          const r = await runOne(size, way, opts, cert, profile);
          res.runs = res.runs.filter((x) => !(x.size === r.size && x.way === r.way && scenarioKey(x) === scenarioKey(r)));
          res.runs.push(r);
          res.runs.sort((a, b) => scenarioKey(a).localeCompare(scenarioKey(b)) || a.size - b.size || WAYS.indexOf(a.way) - WAYS.indexOf(b.way));
          res.finishedAt = new Date().toISOString();
          writeResults(res, opts, stamp);
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await cleanupAll();
    }
    console.log(`\n${renderMarkdown(res, `migration-${stamp}.json`)}`);
    console.log(`results: ${join(opts.out, `migration-${stamp}.json`)}, ${join(opts.out, 'migration-latest.md')}`);
  },
};
