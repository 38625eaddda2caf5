// spec.healthChecks (src/api/health.ts): user-defined checks that gate a
// migration step. The bounds are the CRD's, from src/api/health.ts; beyond the
// CRD, queries and URLs may use only the variables the runners know. No I/O.
import {
  DEFAULT_INTERVAL,
  HTTP_METHODS,
  MAX_DURATION_LENGTH,
  MAX_FAILURE_THRESHOLD,
  MAX_HTTP_CHECKS,
  MAX_INTERVAL_MS,
  MAX_PROMETHEUS_CHECKS,
  MAX_QUERY_LENGTH,
  MAX_TIMEOUT_MS,
  MAX_URL_LENGTH,
  MIN_FAILURE_THRESHOLD,
  MIN_INTERVAL_MS,
  NO_DATA_RULES,
  QUERY_VARIABLES,
} from '../../api/health.js';
import { refusedLiteralHost } from '../url-policy.js';
import { checkDuration, parseDuration, type DurationBounds } from './durations.js';
import { dnsLabel, intInRange, isObject, quote, unknownFields, type FieldError } from './fields.js';

const HEALTH_FIELDS = ['prometheus', 'http'];
const PROMETHEUS_FIELDS = ['name', 'address', 'query', 'min', 'max', 'interval', 'failureThreshold', 'noData', 'timeout'];
const HTTP_FIELDS = ['name', 'url', 'method', 'expectedStatus', 'timeout', 'interval', 'failureThreshold'];
const PLACEHOLDER_ANY = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const INTERVAL_BOUNDS: DurationBounds = { minMs: MIN_INTERVAL_MS, maxMs: MAX_INTERVAL_MS, maxLength: MAX_DURATION_LENGTH };
const TIMEOUT_BOUNDS: DurationBounds = { minMs: 0, minExclusive: true, maxMs: MAX_TIMEOUT_MS, maxLength: MAX_DURATION_LENGTH };

function checkUrl(value: unknown, field: string, what: string, errors: FieldError[], allowQuery: boolean): URL | undefined {
  if (typeof value !== 'string' || value === '') {
    errors.push({ field, message: `${what} is required: an http:// or https:// URL` });
    return undefined;
  }
  if (value.length > MAX_URL_LENGTH) {
    errors.push({ field, message: `${what} is ${value.length} characters; use at most ${MAX_URL_LENGTH}` });
    return undefined;
  }
  let parsed: URL;
  try {
    // Placeholders stand for URL-encoded values; any text parses the same.
    parsed = new URL(value.replace(PLACEHOLDER_ANY, 'x'));
  } catch {
    errors.push({ field, message: `${what} ${quote(value)} is not an absolute URL: write it as http://host:port/path` });
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    errors.push({ field, message: `${what} ${quote(value)} must use http:// or https://` });
    return undefined;
  }
  if (!allowQuery && (value.includes('?') || value.includes('#'))) {
    errors.push({ field, message: `${what} ${quote(value)} must not have a query or fragment: give the base URL of the Prometheus API, e.g. http://prometheus:9090` });
  }
  return parsed;
}

function checkPlaceholders(template: string, field: string, errors: FieldError[]): void {
  for (const m of template.matchAll(PLACEHOLDER_ANY)) {
    if (!(QUERY_VARIABLES as readonly string[]).includes(m[1]!)) {
      errors.push({
        field,
        message: `unknown variable {{${m[1]}}}: use ${QUERY_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
      });
    }
  }
}

/** The fields every check has: name (unique), interval, timeout (at most the interval), failureThreshold. */
function checkCommon(c: Record<string, unknown>, field: string, names: Map<string, string>, errors: FieldError[]): void {
  const name = c['name'];
  dnsLabel(name, `${field}.name`, 'the check name', errors);
  if (typeof name === 'string' && name !== '') {
    const first = names.get(name);
    if (first !== undefined) {
      errors.push({ field: `${field}.name`, message: `check name ${quote(name)} is already used by ${first}: give every health check its own name` });
    } else {
      names.set(name, field);
    }
  }
  const interval = checkDuration(c['interval'], `${field}.interval`, 'interval', INTERVAL_BOUNDS, errors);
  const timeout = checkDuration(c['timeout'], `${field}.timeout`, 'timeout', TIMEOUT_BOUNDS, errors);
  const effectiveInterval = interval ?? (c['interval'] === undefined ? parseDuration(DEFAULT_INTERVAL) : undefined);
  if (timeout !== undefined && effectiveInterval !== undefined && timeout > effectiveInterval) {
    errors.push({
      field: `${field}.timeout`,
      message: `timeout ${quote(c['timeout'])} is longer than the interval ${quote(c['interval'] ?? DEFAULT_INTERVAL)}: a measurement must end before the next one starts; shorten the timeout or lengthen the interval`,
    });
  }
  intInRange(
    c['failureThreshold'],
    `${field}.failureThreshold`,
    'failureThreshold',
    MIN_FAILURE_THRESHOLD,
    MAX_FAILURE_THRESHOLD,
    'consecutive failed measurements before the check fails; default 3',
    errors,
  );
}

function checkThreshold(value: unknown, field: string, what: string, errors: FieldError[]): value is number {
  if (value === undefined) return false;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.push({ field, message: `${what} ${quote(value)} must be a number, e.g. 0.05` });
    return false;
  }
  return true;
}

function validatePrometheusCheck(c: unknown, field: string, names: Map<string, string>, errors: FieldError[]): void {
  if (!isObject(c)) {
    errors.push({ field, message: 'each Prometheus check must be an object {name, address, query, min and/or max}' });
    return;
  }
  unknownFields(c, PROMETHEUS_FIELDS, field, errors);
  checkCommon(c, field, names, errors);
  checkUrl(c['address'], `${field}.address`, 'address', errors, false);
  const query = c['query'];
  if (typeof query !== 'string' || query.trim() === '') {
    errors.push({ field: `${field}.query`, message: 'query is required: a PromQL instant query returning one value, e.g. sum(rate(istio_requests_total{response_code=~"5.."}[1m]))' });
  } else if (query.length > MAX_QUERY_LENGTH) {
    errors.push({ field: `${field}.query`, message: `query is ${query.length} characters; use at most ${MAX_QUERY_LENGTH}` });
  } else {
    checkPlaceholders(query, `${field}.query`, errors);
  }
  const hasMin = checkThreshold(c['min'], `${field}.min`, 'min', errors);
  const hasMax = checkThreshold(c['max'], `${field}.max`, 'max', errors);
  if (c['min'] === undefined && c['max'] === undefined) {
    errors.push({ field, message: 'set min, max or both: the range of values that passes (e.g. max: 0.05 for an error ratio)' });
  }
  if (hasMin && hasMax && (c['min'] as number) > (c['max'] as number)) {
    errors.push({ field: `${field}.min`, message: `min ${quote(c['min'])} is greater than max ${quote(c['max'])}: no value could pass; swap them` });
  }
  const noData = c['noData'];
  if (noData !== undefined && !NO_DATA_RULES.includes(noData as never)) {
    errors.push({
      field: `${field}.noData`,
      message: `noData ${quote(noData)} is not valid: use "fail" (no series counts as a failure), "pass" (counts as passing) or "wait" (wait for data)`,
    });
  }
}

function validateHttpCheck(c: unknown, field: string, names: Map<string, string>, errors: FieldError[]): void {
  if (!isObject(c)) {
    errors.push({ field, message: 'each HTTP check must be an object {name, url, expectedStatus}' });
    return;
  }
  unknownFields(c, HTTP_FIELDS, field, errors);
  checkCommon(c, field, names, errors);
  const url = checkUrl(c['url'], `${field}.url`, 'url', errors, true);
  // The operator's URL policy (src/gates/url-policy.ts) on what is knowable offline: a literal address or a metadata host.
  const refused = url ? refusedLiteralHost(url) : undefined;
  if (refused) {
    errors.push({
      field: `${field}.url`,
      message: `url ${quote(c['url'])} is refused: ${refused}; health checks may not reach link-local or cloud metadata addresses: point the check at a Service, e.g. http://frontend.shop:8080/healthz`,
    });
  }
  if (typeof c['url'] === 'string') checkPlaceholders(c['url'], `${field}.url`, errors);
  const method = c['method'];
  if (method !== undefined && !HTTP_METHODS.includes(method as never)) {
    errors.push({ field: `${field}.method`, message: `method ${quote(method)} is not valid: use ${HTTP_METHODS.join(', ')} (upper case)` });
  }
  intInRange(c['expectedStatus'], `${field}.expectedStatus`, 'expectedStatus', 100, 599, 'the HTTP status that passes; default 200', errors);
}

function validateCheckList(
  list: unknown,
  path: string,
  max: number,
  kind: string,
  check: (c: unknown, field: string, names: Map<string, string>, errors: FieldError[]) => void,
  names: Map<string, string>,
  errors: FieldError[],
): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    errors.push({ field: path, message: `${kind} must be a list of checks` });
    return;
  }
  if (list.length > max) errors.push({ field: path, message: `${list.length} ${kind} checks is too many: use at most ${max}` });
  list.forEach((c: unknown, i) => check(c, `${path}[${i}]`, names, errors));
}

/** Checks spec.healthChecks, as the CRD does, and that queries and URLs use only known variables. */
export function validateHealthChecks(healthChecks: unknown, path = 'spec.healthChecks'): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(healthChecks)) {
    return [{ field: path, message: 'healthChecks must be an object with prometheus and/or http lists, e.g. {prometheus: [{name, address, query, max}]}' }];
  }
  unknownFields(healthChecks, HEALTH_FIELDS, path, errors);
  const names = new Map<string, string>();
  validateCheckList(healthChecks['prometheus'], `${path}.prometheus`, MAX_PROMETHEUS_CHECKS, 'prometheus', validatePrometheusCheck, names, errors);
  validateCheckList(healthChecks['http'], `${path}.http`, MAX_HTTP_CHECKS, 'http', validateHttpCheck, names, errors);
  return errors;
}
