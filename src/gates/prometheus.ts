// Runs one Prometheus health check (src/api/health.ts): renders its query,
// asks Prometheus' HTTP API for an instant value and returns a Measurement.
// Never throws: anything that kept it from measuring is an `error` measurement
// whose message says what happened and what to do. One request per call,
// bounded by the check's timeout (connect, answer and body together) and by a
// cap on the answer's size.
import type { Measurement, QueryVars, ResolvedPrometheusCheck } from '../api/health.js';
import { placeholders, renderQuery } from '../policy/analysis.js';
import { describeFetchError, readCapped, type RunOptions } from './http.js';
import { DEFAULT_URL_POLICY, refusalMessage, refusedUrl } from './url-policy.js';

export type { RunOptions } from './http.js';

/** Answers larger than this are refused: a health query returns one number. */
const MAX_PROMETHEUS_RESPONSE_BYTES = 1 << 20;
/** How many series an error message names when a query returns several. */
const SERIES_SHOWN = 3;

/** `<address>/api/v1/query`, keeping a path prefix in the address (e.g. `http://host/prometheus`). */
function queryEndpoint(address: string): URL {
  const base = new URL(address);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  return new URL('api/v1/query', base);
}

interface PromResponse {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
  warnings?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Prometheus' sample value: a string ("0.5", "NaN", "+Inf"). */
function sampleValue(pair: unknown): number | undefined {
  if (!Array.isArray(pair) || typeof pair[1] !== 'string') return undefined;
  const s = pair[1];
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return s.trim() === '' || Number.isNaN(n) ? undefined : n;
}

function seriesName(series: unknown): string {
  const metric = isObject(series) && isObject(series['metric']) ? series['metric'] : {};
  const labels = Object.entries(metric)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  const name = typeof metric['__name__'] === 'string' ? metric['__name__'] : '';
  return `${name}{${labels}}`;
}

/** The Measurement an API answer means (exported for tests of odd answers). */
function measurementFromResponse(body: unknown, where: string): Measurement {
  if (!isObject(body)) return { kind: 'error', message: `${where} answered something that is not a Prometheus API response` };
  const r = body as PromResponse;
  if (r.status !== 'success') {
    const type = typeof r.errorType === 'string' ? ` ${r.errorType}` : '';
    const err = typeof r.error === 'string' ? r.error : 'no error message';
    return { kind: 'error', message: `${where} rejected the query (${type.trim() || 'error'}): ${err}` };
  }
  const type = r.data?.resultType;
  const result = r.data?.result;
  if (type === 'scalar') {
    const v = sampleValue(result);
    if (v === undefined) return { kind: 'error', message: `${where} answered a scalar without a readable value` };
    return Number.isNaN(v) ? { kind: 'no-data', message: 'the query returned NaN' } : { kind: 'value', value: v };
  }
  if (type === 'vector') {
    if (!Array.isArray(result)) return { kind: 'error', message: `${where} answered a vector without a result list` };
    if (result.length === 0) return { kind: 'no-data', message: 'the query returned no series' };
    if (result.length > 1) {
      const shown = result.slice(0, SERIES_SHOWN).map(seriesName).join(', ');
      const more = result.length > SERIES_SHOWN ? `, and ${result.length - SERIES_SHOWN} more` : '';
      return {
        kind: 'error',
        message: `query returns ${result.length} series; aggregate it, e.g. sum(...) or max(...), so it returns one value (got ${shown}${more})`,
      };
    }
    const v = sampleValue(isObject(result[0]) ? result[0]['value'] : undefined);
    if (v === undefined) return { kind: 'error', message: `${where} answered a series without a readable value` };
    return Number.isNaN(v) ? { kind: 'no-data', message: 'the query returned NaN' } : { kind: 'value', value: v };
  }
  if (type === 'matrix') {
    return { kind: 'error', message: 'query returns a range vector: use an instant query, e.g. wrap the range in rate(...) or avg_over_time(...)' };
  }
  return { kind: 'error', message: `query returns a ${typeof type === 'string' ? type : 'result'} instead of a number: use a query returning one series or a scalar` };
}

/**
 * Measures a Prometheus check: GET `<address>/api/v1/query?query=<rendered>`.
 * Exactly one series or a scalar → its value; no series or NaN → no-data;
 * several series, a range vector, an HTTP error, a timeout or an unreachable
 * server → error.
 */
export async function runPrometheusCheck(check: ResolvedPrometheusCheck, vars: QueryVars, opts: RunOptions = {}): Promise<Measurement> {
  const query = renderQuery(check.query, { ...vars, interval: vars.interval ?? check.interval });
  const left = placeholders(query);
  if (left.length > 0) {
    return {
      kind: 'error',
      message: `the query uses ${left.map((v) => `{{${v}}}`).join(', ')}, which has no value here: use {{namespace}}, {{namespaces}}, {{revision}} or {{interval}}`,
    };
  }
  let url: URL;
  try {
    url = queryEndpoint(check.address);
  } catch {
    return { kind: 'error', message: `address ${JSON.stringify(check.address)} is not a URL: write it as http://host:9090` };
  }
  url.searchParams.set('query', query);
  // Prometheus stops evaluating at this timeout too, instead of working for an answer nobody waits for.
  url.searchParams.set('timeout', `${check.timeoutMs}ms`);
  const where = `Prometheus at ${check.address}`;
  const timeout = AbortSignal.timeout(check.timeoutMs);
  // The same address policy as HTTP checks: no query leaves for a link-local or metadata address.
  const refused = await refusedUrl(url, opts.urlPolicy ?? DEFAULT_URL_POLICY, opts.resolve);
  if (refused !== undefined) return { kind: 'error', message: refusalMessage(check.address, refused) };
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    // Redirects are not followed: a redirect could lead where the policy refuses to go.
    const res = await fetch(url, { method: 'GET', headers: { accept: 'application/json' }, signal, redirect: 'manual' });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'error', message: `${where} answered a redirect (HTTP ${res.status}) to ${res.headers.get('location') ?? '?'}: give the final address of Prometheus' API` };
    }
    const text = await readCapped(res, MAX_PROMETHEUS_RESPONSE_BYTES);
    if (text === undefined) {
      return { kind: 'error', message: `${where} answered more than ${MAX_PROMETHEUS_RESPONSE_BYTES} bytes: a health query must return one value; aggregate it` };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      const snippet = text.slice(0, 200).replace(/\s+/g, ' ').trim();
      return {
        kind: 'error',
        message: `${where} answered HTTP ${res.status} that is not JSON (${snippet || 'empty body'}): check that the address is Prometheus' API base URL`,
      };
    }
    if (!res.ok && !(isObject(body) && body['status'] === 'error')) {
      return { kind: 'error', message: `${where} answered HTTP ${res.status}` };
    }
    return measurementFromResponse(body, where);
  } catch (err) {
    return { kind: 'error', message: describeFetchError(err, where, check.timeoutMs, timeout) };
  }
}
