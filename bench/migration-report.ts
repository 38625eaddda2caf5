// The migration bench's result file shape and its Markdown rendering
// (bench/results/migration-latest.md, and the README's Benchmark section).

export type WayName = 'manual' | 'blast' | 'meshrev' | 'meshrev-tuned';

export interface RunResult {
  size: number;
  way: WayName;
  workloads: number;
  replicas: number;
  /** spec.minReadySeconds of the Deployments (0: KWOK's instant readiness). */
  minReadySeconds?: number;
  /** Pod start-up of the cluster (`cluster.sh up --pod-startup`, e.g. "5s±2s"); absent: instant. */
  podStartup?: string;
  /** Pod termination delay of the cluster (`--pod-terminating`); absent: instant. */
  podTerminating?: string;
  /** Each restarted Deployment's rollout, and the lower bound of the way's own policy over them (see policyLowerBound). */
  rollouts?: RolloutSummary;
  /** The operator ran through the bench's counting proxy (profiling run). */
  proxied?: boolean;
  /** NODE_OPTIONS the operator ran with (experiments: V8 heap limits, CPU profiles). */
  operatorNodeOptions?: string;
  /** Node flags the operator ran with instead of the Deployment's command's (experiments). */
  operatorNodeArgs?: string;
  settings?: Record<string, unknown>;
  /** The end state was checked correct, and the run neither timed out nor failed. */
  ok: boolean;
  timedOut: boolean;
  error?: string;
  problems?: string[];
  /** From the first write to the way's own "done" (manual: last rollout status; blast: last rollout; meshrev: phase Succeeded). */
  wallSeconds: number;
  namespacesDone: number;
  /** Largest serialised size (JSON bytes, managedFields included) of each MeshRevision the bench saw during the run. */
  maxMeshRevisionBytes?: Record<string, number>;
  secondsPerNamespace?: number;
  settleSecondsAfterDone?: number;
  writes?: {
    total: number;
    failed: number;
    perNamespace: number;
    perWorkload: number;
    client: Record<string, number>;
    clientTotal: number;
    clientPerNamespace: number;
    clientPerWorkload: number;
    /** Dry-run requests (meshrev's admission probe): they store nothing and are not in the counts above. */
    dryRuns?: number;
    byVerbResource: Record<string, number>;
  };
  /** total: LISTs by the migrating client (all − the bench's own informers − the API server's LimitRanger lookups). */
  listsDuringRun?: { total: number; all?: number; bench?: number; apiserverLimitRanger?: number; byResource: Record<string, number> };
  controlPlaneCpuSeconds?: Record<string, number>;
  benchProcessCpuSeconds?: number;
  loadAverage1m?: { start: number; end: number };
  timeline?: Record<string, unknown>;
  operator?: {
    rssAfterSyncMB: number;
    peakRssMB: number;
    rssDuringRunMaxMB: number;
    cpuSecondsRun: number;
    cpuSecondsTotal: number;
    writes: Record<string, number>;
    reconciles: number;
    reconcilesByResult: Record<string, number>;
    statusWrites: number;
    statusWritesPerNamespace: number;
    reconcileSecondsSum: number;
    /** Upper bound of the histogram bucket holding the quantile. */
    reconcileSecondsP50?: number;
    reconcileSecondsP99?: number;
    /** workqueue_adds_total: keys enqueued by watch events and requeues (deduplicated adds are not counted). */
    workqueueAdds?: number;
    /** With --proxy: the operator's own requests during the run, per "VERB resource". */
    requests?: Record<string, RequestSummary>;
    listsPerReconcile: number;
    heapUsedMB?: number;
    heapTotalMB?: number;
    externalMB?: number;
    heapUsedAfterSyncMB?: number;
  };
  reconcileLatencyMs?: {
    changes: number;
    p50: number;
    p99: number;
    mean: number;
    max: number;
    samples: number[];
    operatorWrites: Record<string, number>;
    reconciles: number;
    lists: number;
    requests?: Record<string, RequestSummary>;
    /** The same number of changes, each sent once the operator is idle. */
    fromIdle?: { p50: number; p99: number; samples: number[] };
  };
  noopResync?: {
    watchEvent: { reconciles: number; operatorWrites: number };
    restart: { reconciles: number; operatorWrites: number; operatorWritesByKind: Record<string, number>; lists: number; requests?: Record<string, RequestSummary> };
  };
  operatorLog?: Record<string, unknown>;
  artifacts?: string;
}

export interface RolloutSummary {
  /** Rollouts measured (restarted Deployments that finished). */
  n: number;
  /** Seconds from the restart (the bench's watch sees the Deployment's new generation) to the rollout done (it sees the Deployment complete). */
  seconds: { mean: number; p50: number; p90: number; max: number; min: number };
  /** The same from API timestamps (new ReplicaSet creationTimestamp → Progressing condition lastUpdateTime, reason NewReplicaSetAvailable; 1 s resolution): a cross-check. */
  apiTimestampSeconds?: { n: number; mean: number; max: number };
  /** Concurrency the bound assumes: namespaces and restarts in flight (Infinity is written as null in JSON). */
  maxConcurrentNamespaces: number | null;
  maxConcurrentRestarts: number | null;
  pausesSeconds: number;
  /** The time the way's policy could not beat given these rollouts (policyLowerBound). */
  lowerBoundSeconds: number;
  /** wall / lowerBound − 1. */
  overhead: number;
}

/** One measured rollout: its namespace and its duration. */
export interface Rollout {
  ns: string;
  seconds: number;
}

/**
 * The time a migration policy cannot beat, given the rollout durations measured in the run:
 *   a namespace cannot finish faster than  t(ns) = max( slowest rollout in ns, Σ rollouts in ns / min(R, workloads in ns) )
 *     (with R restarts in flight at most, its rollouts run at most min(R, W) at a time);
 *   the migration cannot finish faster than
 *     max( max over ns of t(ns),  Σ t(ns) / K,  Σ every rollout / R ) + Σ pauses
 *     (K namespaces in flight: each holds a slot for at least t(ns); R restarts in flight: each rollout holds one).
 * With K = 1 this is Σ over namespaces of t(ns) (one after the other); with K ≥ N and R ≥ every workload, the slowest rollout.
 * Each term is a relaxation of the real schedule, so the maximum is a lower bound; relabelling, the admission probe,
 * health checks and status are not in it: they are the orchestration overhead, wall / bound − 1.
 */
export function policyLowerBound(rollouts: readonly Rollout[], maxConcurrentNamespaces: number, maxConcurrentRestarts: number, pausesSeconds = 0): number {
  if (rollouts.length === 0) return NaN;
  const byNs = new Map<string, number[]>();
  for (const r of rollouts) {
    const list = byNs.get(r.ns) ?? [];
    list.push(r.seconds);
    byNs.set(r.ns, list);
  }
  let maxNs = 0;
  let sumNs = 0;
  let sumAll = 0;
  for (const ds of byNs.values()) {
    const sum = ds.reduce((a, b) => a + b, 0);
    const t = Math.max(Math.max(...ds), sum / Math.min(maxConcurrentRestarts, ds.length));
    maxNs = Math.max(maxNs, t);
    sumNs += t;
    sumAll += sum;
  }
  return Math.max(maxNs, sumNs / maxConcurrentNamespaces, sumAll / maxConcurrentRestarts) + pausesSeconds;
}

export interface RequestSummary {
  n: number;
  failed: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
}

/** Runs compare with each other only within one scenario (same workloads, replicas, pod start-up, proxy or not). */
export function scenarioKey(r: Pick<RunResult, 'workloads' | 'replicas' | 'minReadySeconds' | 'proxied' | 'operatorNodeOptions' | 'podStartup' | 'podTerminating'>): string {
  // Realistic first: it sorts before "W…" (the instant scenarios).
  const lifecycle = r.podStartup || r.podTerminating ? `(realistic) startup ${r.podStartup ?? '0s'} terminating ${r.podTerminating ?? '0s'} ` : '';
  return `${lifecycle}W${r.workloads} R${r.replicas} minReady${r.minReadySeconds ?? 0}${r.proxied ? ' proxied' : ''}${r.operatorNodeOptions ? ` node:${r.operatorNodeOptions}` : ''}`;
}

/** A run under a realistic pod lifecycle (KWOK Stages with start-up / termination delays). */
export const isRealistic = (r: Pick<RunResult, 'podStartup' | 'podTerminating'>): boolean => Boolean(r.podStartup || r.podTerminating);

function scenarioTitle(r: RunResult): string {
  const start = isRealistic(r)
    ? `realistic pod lifecycle: a new pod is ContainerCreating, then Running not Ready, then Ready ${r.podStartup ?? '0s'} after it is scheduled; a deleted pod stays Terminating ${r.podTerminating ?? '0s'}`
    : r.minReadySeconds ? `pods count as started ${r.minReadySeconds} s after Ready (Deployment minReadySeconds), as a stand-in for real start-up time` : 'instant KWOK pods, Ready as soon as they are scheduled';
  return `${r.workloads} Deployments x ${r.replicas} replicas per namespace; ${start}${r.proxied ? '; operator behind the counting proxy (profiling run: its timings are perturbed)' : ''}${r.operatorNodeOptions ? `; operator run with NODE_OPTIONS="${r.operatorNodeOptions}" (experiment)` : ''}`;
}

export interface BenchResult {
  bench: 'migration';
  startedAt: string;
  finishedAt?: string;
  machine: { commit?: string; cpus: number; cpuModel: string; memoryGiB: number; os: string; node: string; go: string; kubernetes: string; etcd: string; kwok: string };
  params: Record<string, unknown>;
  runs: RunResult[];
  /** Result files whose runs this one carries over (`--merge`). */
  merged?: string[];
}

const f = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

const setting = (r: RunResult, key: string, missing: string): string => {
  const v = r.settings?.[key];
  return typeof v === 'number' || typeof v === 'string' ? String(v) : missing;
};

function settingsOf(r: RunResult): string {
  switch (r.way) {
    case 'manual':
      return 'kubectl, one namespace at a time';
    case 'blast':
      return `no gating, ${setting(r, 'inFlight', '100')} requests in flight`;
    case 'meshrev':
      return 'defaults (1 namespace, 5 restarts at a time)';
    case 'meshrev-tuned':
      return `${setting(r, 'maxConcurrentNamespaces', '?')} namespaces, ${setting(r, 'maxConcurrentRestarts', '?')} restarts at a time`;
  }
}

function state(r: RunResult): string {
  if (r.timedOut) return `timed out (${r.namespacesDone}/${r.size} namespaces done)`;
  if (r.error) return `failed: ${r.error.slice(0, 80)}`;
  return r.ok ? 'correct' : `WRONG: ${(r.problems ?? []).join('; ').slice(0, 120)}`;
}

/** The reference run (manual, blast) of the same size and scenario: a correct one, or a manual run stopped at its time budget (judged at its pace). */
function find(res: BenchResult, r: RunResult, way: WayName, size = r.size): RunResult | undefined {
  return res.runs.find((x) => x.way === way && x.size === size && scenarioKey(x) === scenarioKey(r) && (x.ok || (way === 'manual' && x.timedOut && x.namespacesDone > 0)));
}

/** Wall time, or for a run that timed out, what it would have taken at its per-namespace pace (marked ~). */
function pace(r: RunResult): number | undefined {
  if (r.ok) return r.wallSeconds;
  if (r.timedOut && r.namespacesDone > 0) return (r.wallSeconds / r.namespacesDone) * r.size;
  return undefined;
}

export function renderMarkdown(res: BenchResult, file: string): string {
  const m = res.machine;
  const out: string[] = [];
  out.push(`Migration of every namespace from revision 1-20 to 1-21; each namespace has ${String(res.params.workloads)} Deployments of ${String(res.params.replicas)} replicas (KWOK pods).`);
  out.push(`Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}; Node ${m.node}; ${m.go}; Kubernetes ${m.kubernetes}, etcd ${m.etcd}, KWOK ${m.kwok}; control plane, injectors, operator and bench on the same machine. ` +
    `Each way on a fresh local cluster. Run ${res.startedAt.slice(0, 16).replace('T', ' ')} UTC${m.commit ? ` on commit ${m.commit.slice(0, 7)}` : ''}; raw figures in \`${file}\`.`);
  const scenarios = [...new Set(res.runs.map(scenarioKey))];
  for (const sc of scenarios) {
    const runs = res.runs.filter((r) => scenarioKey(r) === sc);
    out.push('');
    if (scenarios.length > 1 || runs.some(isRealistic)) out.push(`**${scenarioTitle(runs[0]!)}**`, '');
    out.push(...timeTable(res, runs));
  }
  out.push('');
  out.push('API writes come from the kube-apiserver\'s `apiserver_request_total` (POST, PUT, PATCH, DELETE, APPLY) before and after the run. ' +
    '"Client" writes are those on namespaces, Deployments, MeshRevisions (and their status) and webhook configurations — what kubectl, the bench or the operator send; ' +
    '"all" adds what the controllers and KWOK do in reaction (ReplicaSets, pods, bindings, statuses, events, leases). ' +
    '"LISTs in run": LIST requests during the timed part, less the API server\'s own LimitRanger look-ups (and, for manual, they are kubectl\'s). Operator columns: meshrev runs only.');
  for (const sc of scenarios) {
    const runs = res.runs.filter((r) => scenarioKey(r) === sc);
    out.push('');
    if (scenarios.length > 1 || runs.some(isRealistic)) out.push(`**${scenarioTitle(runs[0]!)}**`, '');
    out.push(...costTable(runs));
  }
  out.push('');
  if (res.runs.some(isRealistic)) out.push(...realisticGoals(res), '');
  if (res.runs.some((r) => !isRealistic(r))) out.push(...goals(res));
  return `${out.join('\n')}\n`;
}

function timeTable(res: BenchResult, runs: readonly RunResult[]): string[] {
  const out: string[] = [];
  out.push('| N | way | settings | wall s | s / namespace | speed-up vs manual | × blast | end state | rollout s mean / max | policy lower bound s | overhead |');
  out.push('|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|');
  for (const r of runs) {
    const manual = find(res, r, 'manual');
    const blast = find(res, r, 'blast');
    const p = pace(r);
    const approx = r.ok ? '' : '~';
    const wall = r.ok ? f(r.wallSeconds) : r.timedOut ? `>${f(r.wallSeconds, 0)} (~${f(p, 0)} at its pace)` : f(r.wallSeconds);
    const manualTime = manual ? pace(manual) : undefined;
    const speed = manualTime !== undefined && p !== undefined && r.way !== 'manual' ? `${approx || (manual!.ok ? '' : '~')}${f(manualTime / p)}x` : '—';
    const xBlast = blast && p !== undefined && r.way !== 'blast' ? `${approx}${f(p / blast.wallSeconds, 2)}` : '—';
    const ro = r.rollouts;
    const overhead = ro && r.ok ? `${f(ro.overhead * 100, 0)} %` : '—';
    out.push(`| ${r.size} | ${r.way} | ${settingsOf(r)} | ${wall} | ${f(r.secondsPerNamespace, 2)} | ${speed} | ${xBlast} | ${state(r)} | ${ro ? `${f(ro.seconds.mean)} / ${f(ro.seconds.max)}` : '—'} | ${ro && r.ok ? f(ro.lowerBoundSeconds) : '—'} | ${overhead} |`);
  }
  return out;
}

function costTable(runs: readonly RunResult[]): string[] {
  const out: string[] = [];
  out.push('| N | way | client writes / ns | client writes / workload | of which 409 | all writes / ns | status writes | LISTs in run | reconciles | operator peak RSS MB | operator CPU s | spec→webhook p50 / p99 ms (idle; back to back) | no-op resync writes |');
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const w = r.writes;
    const o = r.operator;
    const l = r.reconcileLatencyMs;
    const lat = l ? `${l.fromIdle ? `${l.fromIdle.p50} / ${l.fromIdle.p99}; ` : ''}${l.p50} / ${l.p99}` : '—';
    const noop = r.noopResync ? `${r.noopResync.watchEvent.operatorWrites} (event), ${r.noopResync.restart.operatorWrites} (restart)` : '—';
    const status = w ? (w.client['APPLY meshrevisions.meshrev.io/status'] ?? 0) + (w.client['PATCH meshrevisions.meshrev.io/status'] ?? 0) : undefined;
    const conflicts = w ? Object.entries(w.byVerbResource).filter(([k]) => k.endsWith('(failed)') && /^(PATCH|PUT|APPLY) (namespaces|deployments\.apps|meshrevisions\.meshrev\.io|meshrevisions\.meshrev\.io\/status) \(failed\)$/.test(k)).reduce((n, [, v]) => n + v, 0) : undefined;
    out.push(`| ${r.size} | ${r.way} | ${f(w?.clientPerNamespace, 2)} | ${f(w?.clientPerWorkload, 2)} | ${f(conflicts, 0)} | ${f(w?.perNamespace, 1)} | ${r.way.startsWith('meshrev') ? f(status, 0) : '—'} | ${f(r.listsDuringRun?.total, 0)} | ${o ? o.reconciles : '—'} | ${o ? f(o.peakRssMB, 0) : '—'} | ${o ? f(o.cpuSecondsRun, 1) : '—'} | ${lat} | ${noop} |`);
  }
  return out;
}

/** LISTs per reconcile: the operator's own count when a proxied run of the same size and way says it, else the API server's (which includes other components). */
function listVerdict(res: BenchResult, r: RunResult): string {
  const proxied = r.operator?.requests ? r : res.runs.find((x) => x.proxied && x.size === r.size && x.way === r.way && x.operator?.requests);
  if (proxied?.operator?.requests) {
    const lists = Object.entries(proxied.operator.requests).filter(([k]) => k.startsWith('LIST ')).reduce((n, [, v]) => n + v.n, 0);
    return `operator LIST requests during the run ${lists} for ${proxied.operator.reconciles} reconciles (counted by the proxy): ${lists === 0 ? 'met' : '**missed**'}`;
  }
  return `LIST requests on the API server during the run ${r.listsDuringRun?.total ?? '?'} for ${r.operator?.reconciles ?? '?'} reconciles (all clients; not attributed)`;
}

const hours = (s: number) => (s >= 3600 ? `${f(s / 3600)} h` : `${f(s / 60, 0)} min`);

/** Issue 16's goals, on the realistic pod lifecycle. A missing run says so, with what it would take at the pace of a smaller one. */
export function realisticGoals(res: BenchResult): string[] {
  const lines: string[] = ['Goals (issue 16, realistic pod lifecycle):', ''];
  const base = res.runs.filter((r) => isRealistic(r) && !r.proxied && !r.operatorNodeOptions);
  const get = (size: number, way: WayName) => base.find((r) => r.size === size && r.way === way);
  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  const notRun = (size: number, way: WayName) => {
    // Only the one-namespace-at-a-time ways scale with N by construction; the others are not estimated.
    if (way !== 'manual' && way !== 'meshrev') return 'not run';
    const smaller = base.filter((r) => r.way === way && r.ok && r.size < size).sort((a, b) => b.size - a.size)[0];
    return smaller?.secondsPerNamespace ? `not run (would take ~${hours(smaller.secondsPerNamespace * size)} at N=${smaller.size}'s ${f(smaller.secondsPerNamespace, 2)} s per namespace — an estimate, not a measurement)` : 'not run';
  };
  const manual = get(100, 'manual');
  const blast = get(100, 'blast');
  for (const way of ['meshrev-tuned', 'meshrev'] as const) {
    const r = get(100, way);
    const label = way === 'meshrev' ? 'meshrev (defaults)' : 'meshrev-tuned (fast but gated)';
    if (!r) {
      lines.push(`- N=100, ${label}: ${notRun(100, way)}`);
      continue;
    }
    if (!r.ok) {
      lines.push(`- N=100, ${label}: ${state(r)} — no speed goal can be met by a run that did not end correct`);
      continue;
    }
    const vsManual = manual?.ok ? manual.wallSeconds / r.wallSeconds : undefined;
    const xBlast = blast?.ok ? r.wallSeconds / blast.wallSeconds : undefined;
    if (way === 'meshrev-tuned') {
      lines.push(`- N=100, ${label} ≥ 10x faster than manual: ${vsManual === undefined ? `manual ${manual ? state(manual) : 'not run'}` : `${mark(vsManual >= 10)} (${f(vsManual)}x: ${f(r.wallSeconds)} s vs ${f(manual!.wallSeconds)} s)`}`);
      lines.push(`- N=100, ${label} ≤ 1.2x blast: ${xBlast === undefined ? `blast ${blast ? state(blast) : 'not run'}` : `${mark(xBlast <= 1.2)} (${f(xBlast, 2)}x: ${f(r.wallSeconds)} s vs ${f(blast!.wallSeconds)} s)`}`);
    } else {
      lines.push(`- N=100, ${label} (no goal; stated): ${f(r.wallSeconds)} s = ${vsManual === undefined ? '? ' : `${f(vsManual)}x faster than manual, `}${xBlast === undefined ? '?' : `${f(xBlast, 2)}x blast`}`);
    }
  }
  for (const way of ['meshrev', 'meshrev-tuned'] as const) {
    for (const size of [100, 1000]) {
      const r = get(size, way);
      if (!r) {
        lines.push(`- N=${size} ${way}: orchestration overhead over its policy's lower bound ≤ 10 %: ${notRun(size, way)}`);
        continue;
      }
      const ro = r.rollouts;
      if (!r.ok || !ro || !Number.isFinite(ro.lowerBoundSeconds)) {
        lines.push(`- N=${size} ${way}: orchestration overhead ≤ 10 %: not measured (${state(r)})`);
        continue;
      }
      lines.push(`- N=${size} ${way}: orchestration overhead over its policy's lower bound ≤ 10 %: ${mark(Math.round(ro.overhead * 1000) <= 100)} (${f(ro.overhead * 100, 1)} %: wall ${f(r.wallSeconds)} s, bound ${f(ro.lowerBoundSeconds)} s from ${ro.n} rollouts of mean ${f(ro.seconds.mean)} s, max ${f(ro.seconds.max)} s)`);
    }
  }
  for (const way of ['meshrev', 'meshrev-tuned', 'blast', 'manual'] as const) {
    const a = get(100, way);
    const b = get(1000, way);
    const goal = way.startsWith('meshrev') ? 'within 1.1x of N=100' : 'vs N=100 (reference, no goal)';
    if (!a?.ok) {
      if (way.startsWith('meshrev')) lines.push(`- ${way}: time per namespace at N=1000 ${goal}: N=100 ${a ? state(a) : 'not run'}`);
      continue;
    }
    if (!b) {
      lines.push(`- ${way}: time per namespace at N=1000 ${goal}: N=1000 ${notRun(1000, way)}`);
      continue;
    }
    if (!b.ok) {
      lines.push(`- ${way}: time per namespace at N=1000 ${goal}: N=1000 ${state(b)}`);
      continue;
    }
    const x = b.secondsPerNamespace! / a.secondsPerNamespace!;
    lines.push(`- ${way}: time per namespace at N=1000 ${goal}: ${way.startsWith('meshrev') ? mark(x <= 1.1) : 'measured'} (${f(b.secondsPerNamespace, 3)} s vs ${f(a.secondsPerNamespace, 3)} s = ${f(x, 2)}x)`);
  }
  return lines;
}

/** Status writes a one-step migration may make besides its coalesced progress: start, step done, Succeeded, and their conditions. */
export const STATUS_BOUND_FIXED = 4;

/** The issue's goals, checked against the runs present. */
export function goals(res: BenchResult): string[] {
  const lines: string[] = ['Goals (issue 7):', ''];
  // Judged on the issue's scenario: instant KWOK pods, operator not behind the proxy.
  const base = res.runs.filter((r) => !r.minReadySeconds && !r.proxied && !r.operatorNodeOptions && !isRealistic(r));
  const get = (size: number, way: WayName) => base.find((r) => r.size === size && r.way === way);
  const mark = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  for (const way of ['meshrev', 'meshrev-tuned'] as const) {
    const r = get(100, way);
    const manual = get(100, 'manual');
    const blast = get(100, 'blast');
    const p = r ? pace(r) : undefined;
    if (r && manual?.ok && p !== undefined) {
      const s = manual.wallSeconds / p;
      lines.push(`- N=100, ${way} ≥ 10x faster than manual: ${mark(r.ok && s >= 10)} (${f(s)}x)`);
    }
    if (r && blast?.ok && p !== undefined) {
      const x = p / blast.wallSeconds;
      lines.push(`- N=100, ${way} within 1.5x of blast: ${mark(r.ok && x <= 1.5)} (${f(x, 2)}x)`);
    }
  }
  for (const way of ['blast', 'meshrev', 'meshrev-tuned', 'manual'] as const) {
    const a = get(100, way);
    const b = get(1000, way);
    if (a?.ok && b && b.namespacesDone > 0 && a.secondsPerNamespace && b.secondsPerNamespace) {
      const x = b.secondsPerNamespace / a.secondsPerNamespace;
      lines.push(`- ${way}: time per namespace at N=1000 within 1.2x of N=100: ${mark(x <= 1.2)} (${f(b.secondsPerNamespace, 3)} s vs ${f(a.secondsPerNamespace, 3)} s = ${f(x, 2)}x${b.ok ? '' : ', N=1000 run incomplete'})`);
    }
  }
  for (const way of ['meshrev', 'meshrev-tuned'] as const) {
    const r = get(1000, way);
    if (r?.operator) lines.push(`- ${way}: operator RSS at N=1000 ≤ 150 MB: ${mark(r.operator.peakRssMB <= 150)} (peak ${f(r.operator.peakRssMB, 0)} MB, ${f(r.operator.rssAfterSyncMB, 0)} MB after the caches synced)`);
  }
  for (const r of base.filter((x) => x.way.startsWith('meshrev') && x.writes)) {
    const c = r.writes!.client;
    const all = r.writes!.byVerbResource;
    const ok = (k: string) => (c[k] ?? 0) - (all[`${k} (failed)`] ?? 0);
    const ns = ok('PATCH namespaces');
    const dep = ok('PATCH deployments.apps');
    const conflicts = (all['PATCH namespaces (failed)'] ?? 0) + (all['PATCH deployments.apps (failed)'] ?? 0);
    const st = (c['APPLY meshrevisions.meshrev.io/status'] ?? 0) + (c['PATCH meshrevisions.meshrev.io/status'] ?? 0);
    const workloads = r.size * r.workloads;
    const exact = ns === r.size && dep === workloads && conflicts === 0;
    // Coalesced progress: at most one status write per STATUS_PROGRESS_INTERVAL (5 s) for each of the two
    // MeshRevisions whose status moves (the target, and the source whose pods leave it), plus the target's
    // phase and step changes.
    const statusBound = STATUS_BOUND_FIXED + 2 * Math.ceil(r.wallSeconds / 5);
    lines.push(`- N=${r.size} ${r.way}: 1 write per namespace + 1 per restarted workload: ${mark(exact)} (${ns} namespace patches for ${r.size} namespaces, ${dep} Deployment patches for ${workloads} workloads, plus ${conflicts} rejected with 409 Conflict); ` +
      `status writes bounded by time, not namespaces (≤ ${STATUS_BOUND_FIXED} + 2 per 5 s = ${statusBound}): ${mark(st <= statusBound)} (${st}, ${f(st / r.size, 2)} per namespace, one step); ` +
      listVerdict(res, r) +
      (r.noopResync ? `; no-op resync writes: ${mark(r.noopResync.watchEvent.operatorWrites === 0 && r.noopResync.restart.operatorWrites === 0)} (${r.noopResync.watchEvent.operatorWrites} after ${r.noopResync.watchEvent.reconciles} event-driven reconciles, ${r.noopResync.restart.operatorWrites} after a restart)` : ''));
  }
  return lines;
}
