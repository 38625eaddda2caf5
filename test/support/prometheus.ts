// A real Prometheus for tests: Debian's `prometheus` package binary, run
// directly (never the packaged service) on 127.0.0.1 with a free port, a
// throwaway storage directory and a generated config that scrapes a small
// exporter the test controls, every second. startPrometheus() returns once
// Prometheus is ready and has stored the exporter's first sample; stop() kills
// it and removes its directory, and so does process exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The binary the Debian/Ubuntu package installs; MESHREV_PROMETHEUS overrides it. */
export const PROMETHEUS_BIN = process.env['MESHREV_PROMETHEUS'] ?? '/usr/bin/prometheus';
const JOB = 'meshrev-test';
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
const LOG_LINES = 40;

// ---------------------------------------------------------------------------
// The exporter

export type Labels = Record<string, string>;

export interface Exporter {
  /** http://127.0.0.1:<port>/metrics */
  url: string;
  /** host:port, for a scrape target. */
  target: string;
  /** Sets a gauge sample; it is served from the next scrape on. */
  set(name: string, value: number, labels?: Labels): void;
  /** Removes a sample: Prometheus marks the series stale at the next scrape, so queries stop returning it. */
  remove(name: string, labels?: Labels): void;
  /** Scrapes served so far. */
  scrapes(): number;
  close(): Promise<void>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sampleKey(name: string, labels: Labels = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

function formatSample(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A node:http server on 127.0.0.1 serving the text exposition format with values the test sets. */
export async function startExporter(): Promise<Exporter> {
  const samples = new Map<string, { name: string; value: number }>();
  let scrapes = 0;
  const server: Server = createHttpServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    const byName = new Map<string, string[]>();
    for (const [key, s] of [...samples.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const lines = byName.get(s.name) ?? [];
      lines.push(`${key} ${formatSample(s.value)}`);
      byName.set(s.name, lines);
    }
    const body = [...byName.entries()].map(([name, lines]) => `# TYPE ${name} gauge\n${lines.join('\n')}\n`).join('');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    target: `127.0.0.1:${port}`,
    set: (name, value, labels) => void samples.set(sampleKey(name, labels), { name, value }),
    remove: (name, labels) => void samples.delete(sampleKey(name, labels)),
    scrapes: () => scrapes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// Prometheus

export interface TestPrometheus {
  /** http://127.0.0.1:<port>, the `address` of a Prometheus check. */
  address: string;
  port: number;
  exporter: Exporter;
  /** Runs an instant query and returns the API's `data` (throws on an API error). */
  query(promql: string): Promise<{ resultType: string; result: unknown }>;
  /** Polls until `promql` returns exactly `value` (one series or a scalar), or `undefined` for no series. Bounded by timeoutMs. */
  waitForValue(promql: string, value: number | undefined, timeoutMs?: number): Promise<void>;
  /** Prometheus' log so far (last lines), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (closed again at once); also an "unreachable" address for tests. */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.json();
}

async function isReady(address: string): Promise<boolean> {
  try {
    const res = await fetch(`${address}/-/ready`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

function scalarOf(data: { resultType: string; result: unknown }): number | undefined | 'many' {
  if (data.resultType === 'scalar') return Number((data.result as [number, string])[1]);
  const list = data.result as { value: [number, string] }[];
  if (list.length === 0) return undefined;
  if (list.length > 1) return 'many';
  return Number(list[0]!.value[1]);
}

/**
 * Starts Prometheus scraping a fresh exporter (or `exporter`) every second.
 * Throws, naming the package, when the binary is missing.
 */
export async function startPrometheus(opts: { exporter?: Exporter } = {}): Promise<TestPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(
      `${PROMETHEUS_BIN} not found: the health-check e2e tests run a real Prometheus. Install the Debian/Ubuntu package ` +
        '(apt-get install prometheus; .ci/run does it) or set MESHREV_PROMETHEUS to a prometheus binary. ' +
        'The packaged service is not needed: the tests start the binary themselves.',
    );
  }
  const exporter = opts.exporter ?? (await startExporter());
  exporter.set('meshrev_test_up', 1);
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'meshrev-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    `  - job_name: ${JOB}`,
    '    static_configs:',
    `      - targets: ['${exporter.target}']`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);

  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  const running = (): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  // Also on an interrupted run (the e2e hooks exit on SIGINT/SIGTERM): never leave a Prometheus behind.
  const cleanupSync = (): void => {
    if (running()) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanupSync);
  const logLines: string[] = [];
  let exited: string | undefined;
  const collect = (chunk: Buffer): void => {
    logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (logLines.length > LOG_LINES) logLines.splice(0, logLines.length - LOG_LINES);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  const log = (): string => logLines.join('\n');

  const stop = async (): Promise<void> => {
    process.removeListener('exit', cleanupSync);
    if (running()) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    if (!opts.exporter) await exporter.close();
  };

  const query = async (promql: string): Promise<{ resultType: string; result: unknown }> => {
    const body = (await getJson(`${address}/api/v1/query?query=${encodeURIComponent(promql)}`)) as { status: string; data: { resultType: string; result: unknown }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error ?? 'unknown error'}`);
    return body.data;
  };

  const waitForValue = async (promql: string, value: number | undefined, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = 'nothing yet';
    while (Date.now() < deadline) {
      if (exited) throw new Error(`prometheus ${exited} while waiting for ${promql}:\n${log()}`);
      try {
        const got = scalarOf(await query(promql));
        last = got;
        if (got === value || (typeof got === 'number' && typeof value === 'number' && Number.isNaN(got) && Number.isNaN(value))) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(POLL_MS * 2);
    }
    throw new Error(`${promql} did not become ${String(value)} within ${timeoutMs}ms (last: ${String(last)})`);
  };

  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await isReady(address))) {
      if (exited) throw new Error(`prometheus ${exited} before it was ready:\n${log()}`);
      if (Date.now() > deadline) throw new Error(`prometheus not ready on ${address} within ${READY_TIMEOUT_MS}ms:\n${log()}`);
      await sleep(POLL_MS);
    }
    // The first scrape has landed once the exporter's sample is queryable.
    await waitForValue(`meshrev_test_up{job="${JOB}"}`, 1, READY_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, port, exporter, query, waitForValue, log, stop };
}
