// Helpers for the migration bench (bench/migration.ts): a local cluster per
// run, kubectl, the kube-apiserver's own request counters, /proc figures of a
// process, and the operator as a child process with its log and /metrics.
// Nothing here decides what a run measures; migration.ts does.
import * as k8s from '@kubernetes/client-node';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { reuseConnections } from '../src/kube/client.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const t0 = Date.now();
/** A progress line: wall clock, seconds since the bench started, message. */
export function say(msg: string): void {
  const now = new Date();
  const hms = now.toTimeString().slice(0, 8);
  console.log(`[${hms} +${Math.round((Date.now() - t0) / 1000)}s] ${msg}`);
}

/** The repository root: where hack/ and config/ are (dist/bench/ → ../..; else the working directory). */
export function repoRoot(): string {
  const fromDist = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  if (existsSync(join(fromDist, 'hack/localcluster/cluster.sh'))) return fromDist;
  if (existsSync(join(process.cwd(), 'hack/localcluster/cluster.sh'))) return process.cwd();
  throw new Error('cannot find hack/localcluster/cluster.sh: run the bench from the repository root');
}

export function cacheDir(): string {
  return process.env.MESHREV_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache'), 'meshrev');
}

// ---------------------------------------------------------------------------
// Processes

export interface ExecResult {
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(bin: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string; input?: string } = {}): Promise<ExecResult> {
  const start = Date.now();
  return new Promise((res, rej) => {
    const child = execFile(bin, [...args], { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 << 20, cwd: opts.cwd }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${bin} ${args.join(' ')} failed: ${stderr || err.message}`));
      else res({ stdout, stderr, ms: Date.now() - start });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** CPU seconds (user+system) and memory of a live process, from /proc. */
export interface ProcStats {
  cpuSeconds: number;
  rssMB: number;
  /** Peak resident set size since the process started (VmHWM). */
  peakRssMB: number;
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64/arm64

export function procStats(pid: number): ProcStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuSeconds, rssMB: kb('VmRSS') / 1024, peakRssMB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// The local cluster

export interface LocalCluster {
  name: string;
  kubeconfig: string;
  kubectlBin: string;
  kc: k8s.KubeConfig;
  kubectl(args: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** CPU seconds of each control-plane process (etcd, kube-apiserver, ...), from their pid files. */
  controlPlaneCpu(): Record<string, number>;
  down(): Promise<void>;
}

/**
 * `cluster.sh up NAME` (owned by this process, so `cluster.sh prune` removes it if we die).
 * `upArgs`: more options of `cluster.sh up`, e.g. ['--pod-startup', '5s±2s'].
 */
export async function clusterUp(name: string, upArgs: readonly string[] = []): Promise<LocalCluster> {
  const root = repoRoot();
  const script = join(root, 'hack/localcluster/cluster.sh');
  const out = await new Promise<string>((res, rej) => {
    const child = spawn('bash', [script, 'up', name, '--owner-pid', String(process.pid), ...upArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // cluster.sh's own lines; kwokctl's JSON progress is noise.
      for (const line of d.toString().split('\n')) if (line.startsWith('[cluster') || line.startsWith('[build')) console.log(`    ${line}`);
    });
    child.on('exit', (code) => (code === 0 ? res(stdout) : rej(new Error(`cluster.sh up ${name} exited ${code}: ${stderr.slice(-2000)}`))));
  });
  const kubeconfig = /^KUBECONFIG=(.*)$/m.exec(out)?.[1];
  const kubectlBin = /^KUBECTL=(.*)$/m.exec(out)?.[1];
  if (!kubeconfig || !kubectlBin) throw new Error(`cluster.sh printed no KUBECONFIG/KUBECTL: ${out}`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  // The bench's own requests (timed spec changes among them) keep their connections, like the operator's.
  reuseConnections(kc);
  const pidDir = join(cacheDir(), 'clusters', name, 'pids');
  const pids = (): Record<string, number> => {
    const outp: Record<string, number> = {};
    for (const f of existsSync(pidDir) ? readdirSync(pidDir) : []) {
      if (f.endsWith('.pid')) outp[f.slice(0, -4)] = Number(readFileSync(join(pidDir, f), 'utf8').trim());
    }
    return outp;
  };
  const known = pids();
  return {
    name,
    kubeconfig,
    kubectlBin,
    kc,
    kubectl: (args, opts) => run(kubectlBin, ['--kubeconfig', kubeconfig, ...args], opts),
    controlPlaneCpu: () => {
      const cpu: Record<string, number> = {};
      for (const [component, pid] of Object.entries(known)) {
        const s = procStats(pid);
        if (s) cpu[component] = s.cpuSeconds;
      }
      return cpu;
    },
    down: async () => {
      await run('bash', [script, 'down', name], { cwd: root, timeoutMs: 120_000 }).catch((err: unknown) => say(`warning: cluster.sh down ${name}: ${String(err)}`));
    },
  };
}

// ---------------------------------------------------------------------------
// HTTP(S) GET with the kubeconfig's credentials (client certificate)

export function getText(url: string, kc?: k8s.KubeConfig, timeoutMs = 30_000): Promise<string> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const handle = (r: IncomingMessage) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((r.statusCode ?? 0) >= 300) rej(new Error(`GET ${url}: ${r.statusCode} ${body.slice(0, 200)}`));
        else res(body);
      });
      r.on('error', rej);
    };
    if (u.protocol === 'https:') {
      const opts: RequestOptions = { method: 'GET', timeout: timeoutMs };
      void (kc ? kc.applyToHTTPSOptions(opts) : Promise.resolve()).then(() => {
        const req = httpsRequest(url, opts, handle);
        req.on('error', rej);
        req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
        req.end();
      }, rej);
    } else {
      const req = httpRequest(url, { method: 'GET', timeout: timeoutMs }, handle);
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
      req.end();
    }
  });
}

// ---------------------------------------------------------------------------
// Prometheus text

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string, only?: (name: string) => boolean): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1]!;
    if (only && !only(name)) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const lm of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    out.push({ name, labels, value: Number(m[3]) });
  }
  return out;
}

export const MUTATING_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);

/** apiserver_request_total summed over codes (and components): "VERB resource[/subresource]" → count; codes ≥ 400 under "…#failed". */
export type RequestCounts = Record<string, number>;

export async function apiserverRequests(c: LocalCluster): Promise<RequestCounts> {
  const server = c.kc.getCurrentCluster()!.server;
  const text = await getText(`${server}/metrics`, c.kc);
  const counts: RequestCounts = {};
  for (const s of parseProm(text, (n) => n === 'apiserver_request_total')) {
    const { verb = '', resource = '', subresource = '', group = '', code = '', dry_run: dryRun = '' } = s.labels;
    if (!resource) continue; // non-resource URLs (/healthz, /metrics, discovery)
    const res = `${group ? `${resource}.${group}` : resource}${subresource ? `/${subresource}` : ''}`;
    // Dry runs (meshrev's admission probe) store nothing: counted apart, never as writes.
    const key = `${dryRun ? `DRYRUN-${verb}` : verb} ${res}`;
    counts[key] = (counts[key] ?? 0) + s.value;
    if (Number(code) >= 400) counts[`${key}#failed`] = (counts[`${key}#failed`] ?? 0) + s.value;
  }
  return counts;
}

export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const d: RequestCounts = {};
  for (const [k, v] of Object.entries(after)) {
    const x = v - (before[k] ?? 0);
    if (x !== 0) d[k] = x;
  }
  return d;
}

// ---------------------------------------------------------------------------
// The operator as a child process

export interface OperatorProcess {
  pid: number;
  port: number;
  logFile: string;
  child: ChildProcess;
  metrics(): Promise<Sample[]>;
  stats(): ProcStats | undefined;
  stop(): Promise<void>;
}

/** How config/manager/deployment.yaml runs the operator: its script (relative to the repository) and literal env values. */
export interface ShippedOperator {
  script: string;
  /** Node's own flags in the container's command, between node and the script (V8 flags Node refuses in NODE_OPTIONS). */
  nodeArgs: string[];
  env: Record<string, string>;
}

/** How an experiment runs the operator instead of as shipped. */
export interface OperatorNodeSettings {
  /** Replaces the shipped NODE_OPTIONS. */
  nodeOptions?: string;
  /** Replaces the shipped node flags of the command. */
  nodeArgs?: string[];
}

/** Reads the operator container of config/manager/deployment.yaml: the bench runs the operator as it ships. */
export function shippedOperator(): ShippedOperator {
  const text = readFileSync(join(repoRoot(), 'config/manager/deployment.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const d = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: { name: string; command?: string[]; env?: { name: string; value?: string }[] }[] } } } } | null;
    if (d?.kind !== 'Deployment') continue;
    const c = d.spec?.template?.spec?.containers?.find((x) => x.name === 'operator');
    const command = c?.command ?? [];
    const at = command.findIndex((a) => /\.(m?js)$/.test(a));
    const script = command[at];
    if (!script) throw new Error('config/manager/deployment.yaml: the operator container has no node script in its command');
    const nodeArgs = command.slice(1, at);
    const env: Record<string, string> = {};
    for (const e of c?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    // dist/... is the build this bench belongs to (this file is dist/bench/migration-support.js).
    // The image's path (/app/meshrev.mjs) is this build's bundle, dist/meshrev.mjs, when it is not there.
    const path = isAbsolute(script) ? (existsSync(script) ? script : fileURLToPath(new URL(`../${basename(script)}`, import.meta.url))) : script.startsWith('dist/') ? fileURLToPath(new URL(`../${script.slice('dist/'.length)}`, import.meta.url)) : join(repoRoot(), script);
    return { script: path, nodeArgs, env };
  }
  throw new Error('config/manager/deployment.yaml has no Deployment');
}

/**
 * Starts `meshrev operator` as config/manager/deployment.yaml runs it (script, NODE_OPTIONS, allocator
 * settings), and resolves once its probes answer and /readyz passes (caches synced).
 * `node` replaces the shipped NODE_OPTIONS or node flags (experiments).
 */
export async function startOperatorProcess(kubeconfig: string, logFile: string, extraArgs: string[] = [], node: OperatorNodeSettings = {}): Promise<OperatorProcess> {
  const shipped = shippedOperator();
  const nodeArgs = node.nodeArgs ?? shipped.nodeArgs;
  const child = spawn(process.execPath, [...nodeArgs, shipped.script, 'operator', '--kubeconfig', kubeconfig, '--health-address', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...shipped.env, LOG_LEVEL: process.env.MESHREV_BENCH_LOG_LEVEL ?? 'info', ...(node.nodeOptions !== undefined ? { NODE_OPTIONS: node.nodeOptions } : {}) },
  });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log, { end: false });
  let exited = false;
  const exitedP = new Promise<void>((r) => child.once('exit', () => { exited = true; r(); }));
  const port = await new Promise<number>((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`operator did not report its port within 60 s (log ${logFile})`)), 60_000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = /"message":"serving probes and metrics".*?"port":(\d+)|"port":(\d+).*?"message":"serving probes and metrics"/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        res(Number(m[1] ?? m[2]));
      }
      if (buf.length > 1 << 20) buf = buf.slice(-65536);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`operator exited (${code}) before serving; log ${logFile}`)); });
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const ok = await getText(`${base}/readyz`, undefined, 5_000).then(() => true, () => false);
    if (ok) break;
    if (exited) throw new Error(`operator exited; log ${logFile}`);
    if (Date.now() > deadline) throw new Error(`operator not ready after 600 s; log ${logFile}`);
    await sleep(200);
  }
  const pid = child.pid!;
  return {
    pid,
    port,
    logFile,
    child,
    metrics: async () => parseProm(await getText(`${base}/metrics`, undefined, 10_000)),
    stats: () => procStats(pid),
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 35_000);
      await exitedP;
      clearTimeout(t);
      log.end();
    },
  };
}

export function metricSum(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** "verb kind" → count of meshrev_kube_write_requests_total. */
export function operatorWrites(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== 'meshrev_kube_write_requests_total' || s.value === 0) continue;
    out[`${s.labels.verb} ${s.labels.kind}`] = s.value;
  }
  return out;
}

/** Waits until the operator's queue is empty with no reconcile running, and no reconcile happened for `quietMs`. */
export async function waitOperatorIdle(op: OperatorProcess, quietMs = 1500, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const m = await op.metrics();
    const reconciles = metricSum(m, 'controller_runtime_reconcile_total');
    const busy = metricSum(m, 'workqueue_depth') + metricSum(m, 'controller_runtime_active_workers');
    if (busy > 0 || reconciles !== last) {
      last = reconciles;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`operator not idle after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function stats(values: readonly number[]): { n: number; mean: number; p50: number; p90: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, mean, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

/** Approximate quantile (upper bucket bound) of a Prometheus histogram between two scrapes. */
export function histogramQuantile(after: readonly Sample[], before: readonly Sample[], name: string, q: number): number {
  const buckets = (ss: readonly Sample[]) => {
    const m = new Map<number, number>();
    for (const s of ss) if (s.name === `${name}_bucket`) m.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), (m.get(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)) ?? 0) + s.value);
    return m;
  };
  const a = buckets(after);
  const b = buckets(before);
  const les = [...a.keys()].sort((x, y) => x - y);
  const total = (a.get(Infinity) ?? 0) - (b.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  for (const le of les) if ((a.get(le) ?? 0) - (b.get(le) ?? 0) >= q * total) return le;
  return Infinity;
}

// ---------------------------------------------------------------------------
// A counting proxy: plain HTTP on loopback in front of the API server, so the
// operator's own requests (which kube-apiserver's metrics cannot tell from the
// controllers') are counted by verb and resource, with their latency. Used
// only with --proxy (profiling runs): it adds a hop and moves TLS out of the
// operator, so its timings are not the operator's own.

export interface ProxyRequest {
  verb: string;
  /** resource[/subresource], plus " name" for MeshRevisions. */
  what: string;
  status: number;
  ms: number;
}

export interface CountingProxy {
  url: string;
  /** A kubeconfig file pointing at the proxy (no credentials: the proxy adds the admin's). */
  kubeconfig: string;
  requests: ProxyRequest[];
  close(): Promise<void>;
}

function classify(method: string, url: URL, contentType: string | undefined): { verb: string; what: string } {
  const segs = url.pathname.split('/').filter(Boolean);
  // /api/v1/... or /apis/group/version/...
  const rest = segs[0] === 'api' ? segs.slice(2) : segs.slice(3);
  let resource = rest[0] ?? '';
  let name = rest[1];
  let sub = rest[2];
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    resource = rest[2]!;
    name = rest[3];
    sub = rest[4];
  }
  const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  let verb = method;
  if (method === 'GET') verb = watch ? 'WATCH' : name === undefined ? 'LIST' : 'GET';
  else if (method === 'POST') verb = 'CREATE';
  else if (method === 'PUT') verb = 'UPDATE';
  else if (method === 'PATCH') verb = contentType?.startsWith('application/apply-patch') ? 'APPLY' : 'PATCH';
  const what = `${resource}${sub ? `/${sub}` : ''}${resource === 'meshrevisions' && name ? ` ${name}` : ''}`;
  return { verb, what };
}

export async function startCountingProxy(kc: k8s.KubeConfig, dir: string): Promise<CountingProxy> {
  const target = new URL(kc.getCurrentCluster()!.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 256, ca: tls.ca, cert: tls.cert, key: tls.key });
  const requests: ProxyRequest[] = [];
  const server = createServer((req, res) => {
    const start = performance.now();
    const url = new URL(req.url ?? '/', 'http://proxy');
    const { verb, what } = classify(req.method ?? 'GET', url, req.headers['content-type']);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const up = httpsRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      if (verb === 'WATCH') requests.push({ verb, what, status: ures.statusCode ?? 0, ms: performance.now() - start });
      ures.pipe(res);
      ures.on('end', () => {
        if (verb !== 'WATCH') requests.push({ verb, what, status: ures.statusCode ?? 0, ms: performance.now() - start });
      });
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.on('close', () => { if (!res.writableFinished) up.destroy(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = join(dir, 'kubeconfig-proxy');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: proxy, cluster: {server: "${url}"}}]
users: [{name: proxy, user: {}}]
contexts: [{name: proxy, context: {cluster: proxy, user: proxy}}]
current-context: proxy
`);
  return {
    url,
    kubeconfig,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}

/** Requests between two indexes of a proxy's log: count, failures and latency per "VERB what". */
export function summarizeRequests(reqs: readonly ProxyRequest[]): Record<string, { n: number; failed: number; p50ms: number; p99ms: number; maxMs: number }> {
  const groups = new Map<string, ProxyRequest[]>();
  for (const r of reqs) {
    const k = `${r.verb} ${r.what}`;
    const g = groups.get(k) ?? [];
    g.push(r);
    groups.set(k, g);
  }
  const out: Record<string, { n: number; failed: number; p50ms: number; p99ms: number; maxMs: number }> = {};
  for (const [k, g] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    const s = stats(g.map((r) => r.ms));
    out[k] = { n: g.length, failed: g.filter((r) => r.status >= 400).length, p50ms: Math.round(s.p50), p99ms: Math.round(s.p99), maxMs: Math.round(s.max) };
  }
  return out;
}
