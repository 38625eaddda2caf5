// Runs one HTTP health check (src/api/health.ts): one request with the
// check's method and timeout; the measurement's value is the status code,
// which src/policy/analysis.ts compares with expectedStatus. Redirects are
// not followed, so the status is the URL's own answer. Never throws:
// unreachable, timeouts and bad URLs are `error` measurements. Also holds the
// fetch helpers the Prometheus runner shares. Before any request the URL
// passes the health-check URL policy (src/gates/url-policy.ts): no
// link-local or cloud metadata address, whatever the host resolves to.
import type { Measurement, QueryVars, ResolvedHttpCheck } from '../api/health.js';
import { placeholders, renderUrl } from '../policy/analysis.js';
import { DEFAULT_URL_POLICY, refusalMessage, refusedUrl, type Resolver, type UrlPolicy } from './url-policy.js';

export interface RunOptions {
  /** Stops the request early (e.g. the operator shutting down); the check's timeout applies regardless. */
  signal?: AbortSignal;
  /** Where HTTP checks may go (src/gates/url-policy.ts); default the built-in policy. */
  urlPolicy?: UrlPolicy;
  /** Host name resolution for the policy (tests); default the system resolver. */
  resolve?: Resolver;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

interface ErrnoLike {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** The system error under fetch's "fetch failed" (undici puts it in `cause`, sometimes in an AggregateError). */
function rootCause(err: unknown): ErrnoLike | undefined {
  let c: unknown = (err as { cause?: unknown } | undefined)?.cause;
  for (let depth = 0; depth < 3 && c !== null && typeof c === 'object'; depth++) {
    const e = c as ErrnoLike & { cause?: unknown };
    if (typeof e.code === 'string') return e;
    if (Array.isArray(e.errors) && e.errors.length > 0) c = e.errors[0];
    else c = e.cause;
  }
  return typeof c === 'object' && c !== null ? c : undefined;
}

/**
 * A message for a failed fetch: timeout, connection refused, unknown host,
 * TLS, or whatever the system said. `timeout` is the request's timeout signal.
 */
export function describeFetchError(err: unknown, where: string, timeoutMs: number, timeout?: AbortSignal): string {
  const name = (err as { name?: unknown } | undefined)?.name;
  if (timeout?.aborted || name === 'TimeoutError') {
    return `no answer from ${where} within ${formatMs(timeoutMs)}: it is down or overloaded, or the timeout is too short`;
  }
  if (name === 'AbortError') return `the request to ${where} was cancelled`;
  const cause = rootCause(err);
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const detail = typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot reach ${where}: connection refused (${detail}); check the address and that the server runs`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach ${where}: the host name does not resolve (${detail}); check the address`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${where} closed the connection (${detail})`;
    default:
      if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS to ${where} failed (${detail}): the server's certificate is not trusted`;
      return `cannot reach ${where}: ${detail}`;
  }
}

/** The body as UTF-8, or undefined when it exceeds `max` bytes (the rest is not read). */
export async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Measures an HTTP check: the status code the URL answers to `method` within
 * the timeout. The body is discarded.
 */
export async function runHttpCheck(check: ResolvedHttpCheck, vars?: QueryVars, opts: RunOptions = {}): Promise<Measurement> {
  const target = vars ? renderUrl(check.url, { ...vars, interval: vars.interval ?? check.interval }) : check.url;
  const left = placeholders(target);
  if (left.length > 0) {
    return { kind: 'error', message: `the URL uses ${left.map((v) => `{{${v}}}`).join(', ')}, which has no value here: use {{namespace}}, {{namespaces}} or {{revision}}` };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { kind: 'error', message: `url ${JSON.stringify(target)} is not an absolute URL: write it as http://host:port/path` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'error', message: `url ${JSON.stringify(target)} must use http:// or https://` };
  }
  const where = `${check.method} ${url.origin}${url.pathname}`;
  const timeout = AbortSignal.timeout(check.timeoutMs);
  // The URL policy first: no request leaves for a link-local or metadata address.
  const refused = await Promise.race([
    refusedUrl(url, opts.urlPolicy ?? DEFAULT_URL_POLICY, opts.resolve),
    new Promise<'timeout'>((resolve) => timeout.addEventListener('abort', () => resolve('timeout'), { once: true })),
  ]);
  if (refused === 'timeout') {
    return { kind: 'error', message: `cannot reach ${where}: resolving ${url.hostname} took longer than the timeout ${formatMs(check.timeoutMs)}` };
  }
  if (refused !== undefined) return { kind: 'error', message: refusalMessage(target, refused) };
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await fetch(url, { method: check.method, signal, redirect: 'manual', headers: { 'user-agent': 'meshrev-health-check' } });
    // Release the connection without reading what may be a large page.
    await res.body?.cancel().catch(() => undefined);
    return { kind: 'value', value: res.status };
  } catch (err) {
    return { kind: 'error', message: describeFetchError(err, where, check.timeoutMs, timeout) };
  }
}
