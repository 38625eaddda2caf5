// Probes and metrics over plain HTTP on one port:
//   /healthz  200 while the process answers (and every liveness check passes)
//   /readyz   200 once every readiness check passes (e.g. informer caches
//             synced); 503 listing the failing checks otherwise
//   /metrics  Prometheus text exposition of the operator's registry; with
//             authorizeMetrics, only for callers it allows (the operator
//             passes a TokenReview + SubjectAccessReview check, as
//             kubebuilder's metrics filter does); probes stay open
// Responses follow the API server's own /healthz and /readyz format
// ("[+]name ok" / "[-]name failed: reason"), and /readyz/<name> checks one.
// HealthApp is built apart from listen(), and tested by inject().
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsAuthorizer } from '../api/metrics-auth.js';
import type { OperatorMetrics } from './metrics.js';

/** Passes when it returns true (or nothing); fails when it returns false or throws (the message is shown). */
export type HealthCheck = () => boolean | void | Promise<boolean | void>;

export interface HealthAppOptions {
  metrics?: Pick<OperatorMetrics, 'render'>;
  /** A check that takes longer fails. Default 5 s (probes time out at 1 s by default, so keep checks cheap). */
  checkTimeoutMs?: number;
  /** Decides who may read /metrics from the request's Authorization header; absent: anyone. */
  authorizeMetrics?: MetricsAuthorizer;
}


export interface InjectRequest {
  method?: string;
  url: string;
  /** The Authorization header, when any. */
  authorization?: string;
}

export interface InjectResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

export class HealthApp {
  private readonly liveness = new Map<string, HealthCheck>([['ping', () => true]]);
  private readonly readiness = new Map<string, HealthCheck>([['ping', () => true]]);
  private readonly metrics: Pick<OperatorMetrics, 'render'> | undefined;
  private readonly checkTimeoutMs: number;
  private readonly authorizeMetrics: MetricsAuthorizer | undefined;

  constructor(opts: HealthAppOptions = {}) {
    this.metrics = opts.metrics;
    this.authorizeMetrics = opts.authorizeMetrics;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? 5_000;
  }

  /** Adds a check /readyz requires (names are unique and URL-safe, e.g. "informers-synced"). */
  addReadyCheck(name: string, check: HealthCheck): void {
    addUnique(this.readiness, name, check);
  }

  /** Adds a check /healthz requires. A failing liveness check gets the pod restarted: use sparingly. */
  addHealthCheck(name: string, check: HealthCheck): void {
    addUnique(this.liveness, name, check);
  }

  /** Handles one request without a socket (tests, and the listener below). */
  async inject(req: InjectRequest): Promise<InjectResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url, 'http://localhost');
    const text = (statusCode: number, body: string): InjectResponse => ({
      statusCode,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
      body,
    });
    if (method !== 'GET' && method !== 'HEAD') {
      const r = text(405, 'method not allowed\n');
      r.headers.allow = 'GET, HEAD';
      return r;
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/metrics') {
      if (!this.metrics) return text(404, 'metrics are not enabled\n');
      const decision = this.authorizeMetrics ? await this.authorizeMetrics(req.authorization) : { allowed: true as const };
      if (!decision.allowed) {
        const r = text(decision.status, `${decision.reason}\n`);
        if (decision.status === 401) r.headers['www-authenticate'] = 'Bearer';
        return r;
      }
      const { contentType, body } = await this.metrics.render();
      return { statusCode: 200, headers: { 'content-type': contentType }, body };
    }
    for (const [endpoint, checks] of [
      ['healthz', this.liveness],
      ['readyz', this.readiness],
    ] as const) {
      if (path === `/${endpoint}`) {
        return this.report(endpoint, await this.run(checks), url.searchParams.has('verbose'), text);
      }
      if (path.startsWith(`/${endpoint}/`)) {
        const name = decodeURIComponent(path.slice(endpoint.length + 2));
        const check = checks.get(name);
        if (!check) return text(404, `no ${endpoint} check named "${name}"\n`);
        const [result] = await this.run(new Map([[name, check]]));
        return result?.ok ? text(200, 'ok\n') : text(503, `[-]${name} failed: ${result?.reason ?? 'failed'}\n`);
      }
    }
    return text(404, 'not found\n');
  }

  /** A node:http request listener. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    this.inject({ method: req.method, url: req.url ?? '/', authorization: req.headers.authorization }).then(
      (r) => {
        res.writeHead(r.statusCode, r.headers);
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };

  private async run(checks: Map<string, HealthCheck>): Promise<CheckResult[]> {
    return Promise.all(
      [...checks].map(async ([name, check]): Promise<CheckResult> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${this.checkTimeoutMs}ms`)), this.checkTimeoutMs);
          timer.unref();
        });
        try {
          const ok = await Promise.race([Promise.resolve().then(check), timeout]);
          return ok === false ? { name, ok: false, reason: 'not ready' } : { name, ok: true };
        } catch (err) {
          return { name, ok: false, reason: err instanceof Error ? err.message : String(err) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  private report(
    endpoint: string,
    results: CheckResult[],
    verbose: boolean,
    text: (code: number, body: string) => InjectResponse,
  ): InjectResponse {
    const failed = results.filter((r) => !r.ok);
    if (failed.length === 0 && !verbose) return text(200, 'ok\n');
    // Failures always list every check, so the probe's event in `kubectl describe pod` says which one failed.
    const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? 'failed'}`));
    lines.push(failed.length === 0 ? `${endpoint} check passed` : `${endpoint} check failed: ${failed.map((r) => r.name).join(', ')}`);
    return text(failed.length === 0 ? 200 : 503, lines.join('\n') + '\n');
  }
}

function addUnique(checks: Map<string, HealthCheck>, name: string, check: HealthCheck): void {
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw new Error(`health check name "${name}" must match [a-zA-Z0-9._-]+`);
  if (checks.has(name)) throw new Error(`health check "${name}" is already registered`);
  checks.set(name, check);
}

export function createHealthApp(opts: HealthAppOptions = {}): HealthApp {
  return new HealthApp(opts);
}

/** Probes and metrics share one port; the Deployment's probes and the scrape config point at it. */
const DEFAULT_HEALTH_PORT = 8080;
/**
 * Loopback unless told otherwise: in a pod the kubelet and Prometheus connect
 * from outside the container, so the Deployment passes 0.0.0.0 explicitly.
 */
const DEFAULT_HEALTH_HOST = '127.0.0.1';

export interface ListenOptions {
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
}

export interface RunningServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `app` on host:port. Resolves once bound, with the real port. */
export function listen(app: HealthApp, opts: ListenOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_HEALTH_HOST;
  const port = opts.port ?? DEFAULT_HEALTH_PORT;
  const server = createServer(app.handler);
  // Probes and scrapes are tiny; keep a hung client from holding a socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      resolve({
        host: addr.address,
        port: addr.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Keep-alive connections from scrapers would otherwise hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
