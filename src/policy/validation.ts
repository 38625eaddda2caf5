// Pure validation of MeshRevisions, and the no-op check for their webhook
// configurations. No I/O.
//
// validateMeshRevision repeats what the CRD enforces (so the CLI can check a
// file offline, before `kubectl apply`) and adds what the API server cannot
// check: that caBundle decodes to PEM certificates, that a URL is usable as a
// webhook URL, and unknown fields, which the API server silently prunes
// unless the client asks for strict validation. spec.migration is checked by
// validateMigrationSpec (the CLI's `meshrev plan -f` runs it before planning);
// parseDuration reads its pauses. spec.healthChecks is checked by
// validateHealthChecks, which also rejects query variables it does not know.
import type { V1LabelSelector, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import {
  API_VERSION,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_INJECTOR_PORT,
  DEFAULT_TIMEOUT_SECONDS,
  FAILURE_POLICIES,
  KIND,
  MAX_TAGS,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  RESERVED_TAG_DEFAULT,
} from '../api/meshrevision.js';
import {
  DEFAULT_MAX_CONCURRENT_NAMESPACES,
  DEFAULT_MAX_CONCURRENT_RESTARTS,
  DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
  PAUSE_INDEFINITE,
  MIGRATION_FAILURE_POLICIES,
} from '../api/migration.js';
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
} from '../api/health.js';
import { describeEntry } from './webhooks.js';

/** One problem with a MeshRevision: the field path (as `kubectl explain` spells it) and what to fix. */
export interface FieldError {
  field: string;
  message: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;
/** Standard base64 as the API server's `format: byte` accepts it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

const SPEC_FIELDS = ['revision', 'default', 'tags', 'injector', 'migration', 'healthChecks'];
const INJECTOR_FIELDS = ['service', 'url', 'caBundle', 'failurePolicy', 'timeoutSeconds'];
const SERVICE_FIELDS = ['name', 'namespace', 'port', 'path'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function quote(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Levenshtein distance, for "did you mean" on unknown fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function unknownFields(obj: Record<string, unknown>, known: readonly string[], path: string, errors: FieldError[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const best = known
      .map((k) => ({ k, d: distance(key, k) }))
      .sort((a, b) => a.d - b.d)
      .find((c) => c.d <= Math.max(2, Math.floor(c.k.length / 3)) || c.k.toLowerCase().startsWith(key.toLowerCase()));
    const hint = best ? `did you mean "${best.k}"?` : `known fields: ${known.join(', ')}`;
    errors.push({
      field: `${path}.${key}`,
      message: `unknown field "${key}" (the API server would silently drop it); ${hint}`,
    });
  }
}

function dnsLabel(value: unknown, field: string, what: string, errors: FieldError[], pattern = DNS1123_LABEL): void {
  if (typeof value !== 'string' || value === '') {
    errors.push({ field, message: `${what} is required and must be a string` });
    return;
  }
  if (value.length > MAX_LABEL) {
    errors.push({ field, message: `${what} ${quote(value)} is ${value.length} characters; use at most ${MAX_LABEL}` });
    return;
  }
  if (!pattern.test(value)) {
    const rule =
      pattern === DNS1035_LABEL
        ? 'lower-case letters, digits and "-", starting with a letter and ending with a letter or digit'
        : 'lower-case letters, digits and "-", starting and ending with a letter or digit (e.g. "1-21")';
    errors.push({ field, message: `${what} ${quote(value)} is not valid: use ${rule}` });
  }
}

function validateService(service: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(service)) {
    errors.push({ field: path, message: 'must be an object {name, namespace, port, path}' });
    return;
  }
  unknownFields(service, SERVICE_FIELDS, path, errors);
  dnsLabel(service['name'], `${path}.name`, 'the injector Service name', errors, DNS1035_LABEL);
  if (service['namespace'] !== undefined) dnsLabel(service['namespace'], `${path}.namespace`, 'the injector Service namespace', errors);
  const port = service['port'];
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    errors.push({ field: `${path}.port`, message: `port ${quote(port)} is not valid: use an integer from 1 to 65535 (istiod serves 443)` });
  }
  const p = service['path'];
  if (p !== undefined && (typeof p !== 'string' || !p.startsWith('/'))) {
    errors.push({ field: `${path}.path`, message: `path ${quote(p)} must start with "/" (istiod serves "/inject")` });
  }
}

function validateUrl(url: unknown, field: string, errors: FieldError[]): void {
  if (typeof url !== 'string' || url === '') {
    errors.push({ field, message: 'url must be a non-empty https:// URL' });
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    errors.push({ field, message: `url ${quote(url)} is not an absolute URL: write it as https://host[:port]/path` });
    return;
  }
  // The API server only calls webhooks over TLS and rejects user info, query and fragment.
  if (parsed.protocol !== 'https:') {
    errors.push({ field, message: `url ${quote(url)} must use https:// (the API server only calls webhooks over TLS)` });
  }
  if (parsed.username !== '' || parsed.password !== '') {
    errors.push({ field, message: `url ${quote(url)} must not contain user info ("user:password@"); authenticate with the CA bundle and TLS instead` });
  }
  if (parsed.search !== '' || url.includes('?')) {
    errors.push({ field, message: `url ${quote(url)} must not have a query ("?..."): the API server rejects webhook URLs with query parameters` });
  }
  if (parsed.hash !== '' || url.includes('#')) {
    errors.push({ field, message: `url ${quote(url)} must not have a fragment ("#...")` });
  }
  if (parsed.hostname === '') {
    errors.push({ field, message: `url ${quote(url)} has no host` });
  }
}

function validateCaBundle(ca: unknown, field: string, errors: FieldError[]): void {
  if (typeof ca !== 'string') {
    errors.push({ field, message: 'caBundle must be a string: the base64 of a PEM bundle (e.g. `base64 -w0 ca.crt`)' });
    return;
  }
  if (ca === '') return; // same as absent
  if (ca.includes('-----BEGIN')) {
    errors.push({ field, message: 'caBundle holds PEM text; it must be the base64 of the PEM bundle: use the output of `base64 -w0 ca.crt`' });
    return;
  }
  if (!BASE64.test(ca)) {
    errors.push({ field, message: 'caBundle is not valid base64 (standard alphabet, padded, no line breaks): use the output of `base64 -w0 ca.crt`' });
    return;
  }
  const decoded = Buffer.from(ca, 'base64').toString('latin1');
  if (!PEM_CERT.test(decoded)) {
    const hint = BASE64.test(decoded.trim()) ? ' (it looks base64-encoded twice)' : '';
    errors.push({
      field,
      message: `caBundle decodes to no PEM certificate${hint}: it must be the base64 of "-----BEGIN CERTIFICATE-----" blocks`,
    });
  }
}

function validateInjector(injector: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(injector)) {
    errors.push({ field: path, message: 'injector is required: set injector.service (an in-cluster Service) or injector.url' });
    return;
  }
  unknownFields(injector, INJECTOR_FIELDS, path, errors);
  const hasService = injector['service'] !== undefined;
  const hasUrl = injector['url'] !== undefined;
  if (hasService === hasUrl) {
    errors.push({
      field: path,
      message: hasService
        ? 'set only one of injector.service and injector.url, not both'
        : 'set one of injector.service (an in-cluster Service, e.g. {name: istiod-1-21}) or injector.url (https:// outside the cluster)',
    });
  }
  if (hasService) validateService(injector['service'], `${path}.service`, errors);
  if (hasUrl) validateUrl(injector['url'], `${path}.url`, errors);
  if (injector['caBundle'] !== undefined) validateCaBundle(injector['caBundle'], `${path}.caBundle`, errors);

  const fp = injector['failurePolicy'];
  if (fp !== undefined && !FAILURE_POLICIES.includes(fp as never)) {
    errors.push({
      field: `${path}.failurePolicy`,
      message: `failurePolicy ${quote(fp)} is not valid: use "Fail" (pods are rejected while the injector is down) or "Ignore" (they start without a sidecar)`,
    });
  }
  const t = injector['timeoutSeconds'];
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < MIN_TIMEOUT_SECONDS || t > MAX_TIMEOUT_SECONDS)) {
    errors.push({
      field: `${path}.timeoutSeconds`,
      message: `timeoutSeconds ${quote(t)} is not valid: use an integer from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS} (the API server's limit)`,
    });
  }
}

// ---------------------------------------------------------------------------
// spec.migration (src/api/migration.ts). The bounds are the CRD's; test/unit/crd.test.ts keeps them in step.

/** spec.migration.from: at most this many revisions. */
export const MAX_MIGRATION_FROM = 16;
/** spec.migration.steps: at most this many (a final 100% step may be implied on top). */
export const MAX_MIGRATION_STEPS = 20;
export const MIN_CONCURRENT_NAMESPACES = 1;
export const MAX_CONCURRENT_NAMESPACES = 100;
export const MIN_CONCURRENT_RESTARTS = 1;
export const MAX_CONCURRENT_RESTARTS = 500;
export const MIN_ROLLOUT_TIMEOUT_SECONDS = 10;
export const MAX_ROLLOUT_TIMEOUT_SECONDS = 86_400;
/** spec.migration.rollback.namespaces: at most this many. */
export const MAX_ROLLBACK_NAMESPACES = 1000;
/** Bounds on spec.migration.namespaceSelector, which keep the CRD's CEL cost within budget. */
export const MAX_SELECTOR_MATCH_LABELS = 64;
export const MAX_SELECTOR_EXPRESSIONS = 32;
export const MAX_SELECTOR_VALUES = 64;
/** spec.migration.steps[].pause: at most this many characters. */
export const MAX_PAUSE_LENGTH = 64;

/** The pause syntax the CRD accepts: Go-style durations in ms, s, m and h. */
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go-style duration ("30s", "1h30m", "500ms", "2.5s") in milliseconds,
 * rounded to a whole millisecond; undefined for anything else, including
 * "indefinite" (PAUSE_INDEFINITE, which callers test first), an empty string,
 * a sign, or units other than ms, s, m and h.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

const MIGRATION_FIELDS = [
  'from',
  'namespaceSelector',
  'steps',
  'maxConcurrentNamespaces',
  'maxConcurrentRestarts',
  'paused',
  'promotedStep',
  'rollback',
  'rolloutTimeoutSeconds',
  'onFailure',
];
const STEP_FIELDS = ['namespaces', 'percent', 'pause'];
const ROLLBACK_FIELDS = ['all', 'namespaces'];
const SELECTOR_FIELDS = ['matchLabels', 'matchExpressions'];
const EXPRESSION_FIELDS = ['key', 'operator', 'values'];
const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_SUBDOMAIN = 253;
const LABEL_KEY_RULE =
  'use an optional DNS subdomain prefix and "/", then a name of at most 63 letters, digits, "-", "_" or "." starting and ending with a letter or digit (e.g. team or example.com/tier)';
const LABEL_VALUE_RULE = 'use at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';

/** A label key as the API server accepts it: [prefix/]name, the prefix a DNS subdomain. */
function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1]!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined && (prefix.length > MAX_SUBDOMAIN || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length <= MAX_LABEL && LABEL_NAME.test(name);
}

function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= MAX_LABEL && LABEL_NAME.test(value));
}

/** An integer in [min, max] when set; `hint` says what the number means. */
function intInRange(value: unknown, field: string, what: string, min: number, max: number | undefined, hint: string, errors: FieldError[]): void {
  if (value === undefined) return;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && (max === undefined || value <= max)) return;
  const range = max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  errors.push({ field, message: `${what} ${quote(value)} is not valid: use ${range} (${hint})` });
}

function validateFrom(from: unknown, path: string, revision: string | undefined, errors: FieldError[]): void {
  const example = 'e.g. from: [default, 1-20] ("default" means istio-injection=enabled namespaces)';
  if (from === undefined) {
    errors.push({ field: path, message: `from is required: list the revisions whose namespaces move to this one, ${example}` });
    return;
  }
  if (!Array.isArray(from)) {
    errors.push({ field: path, message: `from must be a list of revision names, ${example}` });
    return;
  }
  if (from.length === 0) {
    errors.push({ field: path, message: `from is empty: list at least one revision to move namespaces away from, ${example}` });
    return;
  }
  if (from.length > MAX_MIGRATION_FROM) {
    errors.push({ field: path, message: `from lists ${from.length} revisions; use at most ${MAX_MIGRATION_FROM}` });
  }
  const seen = new Set<unknown>();
  from.forEach((item: unknown, i) => {
    const field = `${path}[${i}]`;
    if (typeof item !== 'string' || item === '' || item.length > MAX_LABEL || !DNS1123_LABEL.test(item)) {
      errors.push({
        field,
        message: `from ${quote(item)} is neither a revision name nor "default": use a DNS-1123 label (lower-case letters, digits and "-", e.g. "1-20") or "default" for istio-injection=enabled namespaces`,
      });
    } else if (revision !== undefined && item === revision) {
      errors.push({
        field,
        message: `spec.migration.from must not list the target revision itself (${quote(item)}): its namespaces are already on it; remove it`,
      });
    }
    if (seen.has(item)) errors.push({ field, message: `from ${quote(item)} is listed twice: list each revision once` });
    seen.add(item);
  });
}

function validateLabelSelector(sel: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(sel)) {
    errors.push({ field: path, message: 'namespaceSelector must be a label selector object, e.g. {matchLabels: {team: payments}}' });
    return;
  }
  unknownFields(sel, SELECTOR_FIELDS, path, errors);
  const labels = sel['matchLabels'];
  if (labels !== undefined) {
    const field = `${path}.matchLabels`;
    if (!isObject(labels)) {
      errors.push({ field, message: 'matchLabels must be a map of label keys to values, e.g. {team: payments}' });
    } else {
      const entries = Object.entries(labels);
      if (entries.length > MAX_SELECTOR_MATCH_LABELS) {
        errors.push({ field, message: `matchLabels has ${entries.length} labels; use at most ${MAX_SELECTOR_MATCH_LABELS}` });
      }
      for (const [k, v] of entries) {
        if (!isLabelKey(k)) errors.push({ field, message: `label key ${quote(k)} in matchLabels is not valid: ${LABEL_KEY_RULE}` });
        if (typeof v !== 'string') {
          errors.push({ field: `${field}.${k}`, message: `label value ${quote(v)} must be a string: quote it, e.g. "${String(v)}"` });
        } else if (!isLabelValue(v)) {
          errors.push({ field: `${field}.${k}`, message: `label value ${quote(v)} is not valid: ${LABEL_VALUE_RULE}` });
        }
      }
    }
  }
  const exprs = sel['matchExpressions'];
  if (exprs === undefined) return;
  if (!Array.isArray(exprs)) {
    errors.push({ field: `${path}.matchExpressions`, message: 'matchExpressions must be a list of {key, operator, values}' });
    return;
  }
  if (exprs.length > MAX_SELECTOR_EXPRESSIONS) {
    errors.push({ field: `${path}.matchExpressions`, message: `matchExpressions has ${exprs.length} entries; use at most ${MAX_SELECTOR_EXPRESSIONS}` });
  }
  exprs.forEach((e: unknown, i) => {
    const field = `${path}.matchExpressions[${i}]`;
    if (!isObject(e)) {
      errors.push({ field, message: 'each matchExpressions entry must be an object {key, operator, values}' });
      return;
    }
    unknownFields(e, EXPRESSION_FIELDS, field, errors);
    const key = e['key'];
    if (typeof key !== 'string' || key === '') {
      errors.push({ field: `${field}.key`, message: 'key is required: the label key to test, e.g. team' });
    } else if (!isLabelKey(key)) {
      errors.push({ field: `${field}.key`, message: `label key ${quote(key)} is not valid: ${LABEL_KEY_RULE}` });
    }
    const op = e['operator'];
    const values = e['values'];
    if (!SELECTOR_OPERATORS.includes(op as string)) {
      errors.push({ field: `${field}.operator`, message: `operator ${quote(op)} is not valid: use In, NotIn, Exists or DoesNotExist (case matters)` });
    }
    if (values !== undefined && !Array.isArray(values)) {
      errors.push({ field: `${field}.values`, message: 'values must be a list of label values, e.g. [payments]' });
      return;
    }
    const list = (values ?? []) as unknown[];
    const label = typeof key === 'string' ? key : '';
    if ((op === 'In' || op === 'NotIn') && list.length === 0) {
      errors.push({
        field: `${field}.values`,
        message: `matchExpressions on key ${quote(label)}: operator ${op} needs a non-empty values list (the label values to compare with)`,
      });
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && list.length > 0) {
      errors.push({
        field: `${field}.values`,
        message: `matchExpressions on key ${quote(label)}: operator ${op} takes no values: remove values (it only tests whether the label is present)`,
      });
    }
    if (list.length > MAX_SELECTOR_VALUES) {
      errors.push({ field: `${field}.values`, message: `values has ${list.length} entries; use at most ${MAX_SELECTOR_VALUES}` });
    }
    list.forEach((v, j) => {
      if (typeof v !== 'string' || !isLabelValue(v)) {
        errors.push({ field: `${field}.values[${j}]`, message: `label value ${quote(v)} is not valid: ${LABEL_VALUE_RULE}` });
      }
    });
  });
}

function validatePause(pause: unknown, field: string, errors: FieldError[]): void {
  if (pause === undefined) return;
  const ok = typeof pause === 'string' && pause.length <= MAX_PAUSE_LENGTH && (pause === PAUSE_INDEFINITE || DURATION.test(pause));
  if (!ok) {
    errors.push({
      field,
      message: `pause ${quote(pause)} is not valid: use a duration such as "30s", "5m", "1h30m" or "500ms" (units ms, s, m, h), or "${PAUSE_INDEFINITE}" to wait for spec.migration.promotedStep`,
    });
  }
}

function validateSteps(steps: unknown, path: string, errors: FieldError[]): void {
  if (!Array.isArray(steps)) {
    errors.push({ field: path, message: 'steps must be a list, e.g. [{namespaces: 1, pause: indefinite}, {percent: 50, pause: 30m}, {percent: 100}]' });
    return;
  }
  if (steps.length > MAX_MIGRATION_STEPS) {
    errors.push({ field: path, message: `${steps.length} steps is too many: use at most ${MAX_MIGRATION_STEPS} (percentages make long lists unnecessary)` });
  }
  // Steps are cumulative, so each unit must not go down; the last step of each unit seen so far.
  const last: { namespaces?: { value: number; index: number }; percent?: { value: number; index: number } } = {};
  steps.forEach((step: unknown, i) => {
    const field = `${path}[${i}]`;
    if (!isObject(step)) {
      errors.push({ field, message: 'each step must be an object with namespaces or percent, e.g. {percent: 50, pause: 30m}' });
      return;
    }
    unknownFields(step, STEP_FIELDS, field, errors);
    const hasNs = step['namespaces'] !== undefined;
    const hasPct = step['percent'] !== undefined;
    if (hasNs === hasPct) {
      errors.push({
        field,
        message: `set exactly one of namespaces (a cumulative count, e.g. 3) or percent (a cumulative percentage, 1-100, e.g. 50) in each step of spec.migration.steps${hasNs ? ', not both' : ''}`,
      });
    }
    intInRange(step['namespaces'], `${field}.namespaces`, 'namespaces', 1, undefined, 'namespaces moved by the end of this step, counted from the start', errors);
    intInRange(step['percent'], `${field}.percent`, 'percent', 1, 100, 'percentage of the eligible namespaces moved by the end of this step', errors);
    validatePause(step['pause'], `${field}.pause`, errors);
    for (const unit of ['namespaces', 'percent'] as const) {
      const v = step[unit];
      if (typeof v !== 'number') continue;
      const before = last[unit];
      if (before && v < before.value) {
        errors.push({
          field: `${field}.${unit}`,
          message: `spec.migration.steps are cumulative, so ${unit} steps must not go down: ${unit} ${v} follows ${unit} ${before.value} in steps[${before.index}]; use at least ${before.value}`,
        });
      } else {
        last[unit] = { value: v, index: i };
      }
    }
  });
}

function validateRollback(rb: unknown, path: string, errors: FieldError[]): void {
  if (!isObject(rb)) {
    errors.push({ field: path, message: 'rollback must be an object: {all: true} or {namespaces: [a, b]}' });
    return;
  }
  unknownFields(rb, ROLLBACK_FIELDS, path, errors);
  const all = rb['all'];
  if (all !== undefined && typeof all !== 'boolean') {
    errors.push({ field: `${path}.all`, message: `all must be true or false, not ${quote(all)}` });
  }
  const list = rb['namespaces'];
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    errors.push({ field: `${path}.namespaces`, message: 'namespaces must be a list of namespace names, e.g. [shop]' });
    return;
  }
  if (list.length > MAX_ROLLBACK_NAMESPACES) {
    errors.push({ field: `${path}.namespaces`, message: `${list.length} namespaces is too many: use at most ${MAX_ROLLBACK_NAMESPACES}, or all: true` });
  }
  const seen = new Set<unknown>();
  list.forEach((ns: unknown, i) => {
    const field = `${path}.namespaces[${i}]`;
    if (typeof ns !== 'string' || ns === '' || ns.length > MAX_LABEL || !DNS1123_LABEL.test(ns)) {
      errors.push({
        field,
        message: `namespace ${quote(ns)} is not a valid namespace name: use a DNS-1123 label (at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit)`,
      });
    }
    if (seen.has(ns)) errors.push({ field, message: `namespace ${quote(ns)} is listed twice: list each namespace once` });
    seen.add(ns);
  });
  if (all === true && list.length > 0) {
    errors.push({
      field: path,
      message: 'set either spec.migration.rollback.all: true (every namespace moved) or spec.migration.rollback.namespaces (only those), not both',
    });
  }
}

/** Checks spec.migration. `revision` is spec.revision, which `from` must not list. */
export function validateMigrationSpec(migration: unknown, path = 'spec.migration', revision?: string): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(migration)) {
    return [{ field: path, message: 'migration must be an object with at least from, e.g. {from: [default]}' }];
  }
  unknownFields(migration, MIGRATION_FIELDS, path, errors);
  validateFrom(migration['from'], `${path}.from`, revision, errors);
  if (migration['namespaceSelector'] !== undefined) validateLabelSelector(migration['namespaceSelector'], `${path}.namespaceSelector`, errors);
  if (migration['steps'] !== undefined) validateSteps(migration['steps'], `${path}.steps`, errors);
  intInRange(
    migration['maxConcurrentNamespaces'],
    `${path}.maxConcurrentNamespaces`,
    'maxConcurrentNamespaces',
    MIN_CONCURRENT_NAMESPACES,
    MAX_CONCURRENT_NAMESPACES,
    `namespaces migrated at the same time; default ${DEFAULT_MAX_CONCURRENT_NAMESPACES}`,
    errors,
  );
  intInRange(
    migration['maxConcurrentRestarts'],
    `${path}.maxConcurrentRestarts`,
    'maxConcurrentRestarts',
    MIN_CONCURRENT_RESTARTS,
    MAX_CONCURRENT_RESTARTS,
    `workload restarts in flight at the same time; default ${DEFAULT_MAX_CONCURRENT_RESTARTS}`,
    errors,
  );
  intInRange(
    migration['rolloutTimeoutSeconds'],
    `${path}.rolloutTimeoutSeconds`,
    'rolloutTimeoutSeconds',
    MIN_ROLLOUT_TIMEOUT_SECONDS,
    MAX_ROLLOUT_TIMEOUT_SECONDS,
    `seconds a restarted workload may take to roll out; default ${DEFAULT_ROLLOUT_TIMEOUT_SECONDS}`,
    errors,
  );
  intInRange(migration['promotedStep'], `${path}.promotedStep`, 'promotedStep', 0, undefined, 'the highest step, 1-based, promoted past an indefinite pause', errors);
  if (migration['paused'] !== undefined && typeof migration['paused'] !== 'boolean') {
    errors.push({ field: `${path}.paused`, message: `paused must be true or false, not ${quote(migration['paused'])}` });
  }
  if (migration['rollback'] !== undefined) validateRollback(migration['rollback'], `${path}.rollback`, errors);
  const onFailure = migration['onFailure'];
  if (onFailure !== undefined && !(MIGRATION_FAILURE_POLICIES as readonly unknown[]).includes(onFailure)) {
    errors.push({ field: `${path}.onFailure`, message: `onFailure ${quote(onFailure)} is not one of ${MIGRATION_FAILURE_POLICIES.join(', ')}` });
  }
  return errors;
}

// ---------------------------------------------------------------------------
// spec.healthChecks (src/api/health.ts). The bounds are the CRD's; test/unit/crd.test.ts keeps them in step.

const HEALTH_FIELDS = ['prometheus', 'http'];
const PROMETHEUS_FIELDS = ['name', 'address', 'query', 'min', 'max', 'interval', 'failureThreshold', 'noData', 'timeout'];
const HTTP_FIELDS = ['name', 'url', 'method', 'expectedStatus', 'timeout', 'interval', 'failureThreshold'];
const PLACEHOLDER_ANY = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A duration field of a check, in ms when valid; reports what is wrong otherwise. */
function checkDuration(value: unknown, field: string, what: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && value.length <= MAX_DURATION_LENGTH ? parseDuration(value) : undefined;
  if (ms === undefined) {
    errors.push({ field, message: `${what} ${quote(value)} is not a duration: write it Go style, e.g. "30s", "1m" or "500ms" (units ms, s, m, h)` });
    return undefined;
  }
  if (ms < min || ms > max) {
    const bounds = min > 1 ? `from ${formatMs(min)} to ${formatMs(max)}` : `more than 0 and at most ${formatMs(max)}`;
    errors.push({ field, message: `${what} ${quote(value)} is out of range: use ${bounds}` });
    return undefined;
  }
  return ms;
}

function checkUrl(value: unknown, field: string, what: string, errors: FieldError[], allowQuery: boolean): void {
  if (typeof value !== 'string' || value === '') {
    errors.push({ field, message: `${what} is required: an http:// or https:// URL` });
    return;
  }
  if (value.length > MAX_URL_LENGTH) {
    errors.push({ field, message: `${what} is ${value.length} characters; use at most ${MAX_URL_LENGTH}` });
    return;
  }
  let parsed: URL;
  try {
    // Placeholders stand for URL-encoded values; any text parses the same.
    parsed = new URL(value.replace(PLACEHOLDER_ANY, 'x'));
  } catch {
    errors.push({ field, message: `${what} ${quote(value)} is not an absolute URL: write it as http://host:port/path` });
    return;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    errors.push({ field, message: `${what} ${quote(value)} must use http:// or https://` });
  }
  if (!allowQuery && (value.includes('?') || value.includes('#'))) {
    errors.push({ field, message: `${what} ${quote(value)} must not have a query or fragment: give the base URL of the Prometheus API, e.g. http://prometheus:9090` });
  }
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
  const interval = checkDuration(c['interval'], `${field}.interval`, 'interval', MIN_INTERVAL_MS, MAX_INTERVAL_MS, errors);
  const timeout = checkDuration(c['timeout'], `${field}.timeout`, 'timeout', 1, MAX_TIMEOUT_MS, errors);
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
  checkUrl(c['url'], `${field}.url`, 'url', errors, true);
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

/** Checks a MeshRevision spec. `path` prefixes field names. */
export function validateMeshRevisionSpec(spec: unknown, path = 'spec'): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(spec)) {
    return [{ field: path, message: 'spec is required: set at least spec.revision and spec.injector' }];
  }
  unknownFields(spec, SPEC_FIELDS, path, errors);
  dnsLabel(spec['revision'], `${path}.revision`, 'revision', errors);
  const revision = typeof spec['revision'] === 'string' ? spec['revision'] : undefined;

  if (spec['default'] !== undefined && typeof spec['default'] !== 'boolean') {
    errors.push({ field: `${path}.default`, message: `default must be true or false, not ${quote(spec['default'])}` });
  }

  const tags = spec['tags'];
  if (tags !== undefined) {
    if (!Array.isArray(tags)) {
      errors.push({ field: `${path}.tags`, message: 'tags must be a list of names, e.g. [stable]' });
    } else {
      if (tags.length > MAX_TAGS) {
        errors.push({ field: `${path}.tags`, message: `${tags.length} tags is too many: use at most ${MAX_TAGS}` });
      }
      const seen = new Set<unknown>();
      tags.forEach((tag: unknown, i) => {
        const field = `${path}.tags[${i}]`;
        dnsLabel(tag, field, 'tag', errors);
        if (seen.has(tag)) errors.push({ field, message: `tag ${quote(tag)} is listed twice: list each tag once` });
        seen.add(tag);
        if (tag === RESERVED_TAG_DEFAULT) {
          errors.push({ field, message: 'tag "default" is reserved: set spec.default: true to make this the default revision instead' });
        }
        if (revision !== undefined && tag === revision) {
          errors.push({ field, message: `tag ${quote(tag)} is the revision name itself: a tag is another name for the revision; remove it` });
        }
      });
    }
  }
  validateInjector(spec['injector'], `${path}.injector`, errors);
  if (spec['migration'] !== undefined) errors.push(...validateMigrationSpec(spec['migration'], `${path}.migration`, revision));
  if (spec['healthChecks'] !== undefined) errors.push(...validateHealthChecks(spec['healthChecks'], `${path}.healthChecks`));
  return errors;
}

/** Checks a whole MeshRevision object, e.g. read from a file by the CLI. Empty when valid. */
export function validateMeshRevision(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [{ field: '', message: 'a MeshRevision must be an object with apiVersion, kind, metadata and spec' }];
  const errors: FieldError[] = [];
  if (obj['apiVersion'] !== undefined && obj['apiVersion'] !== API_VERSION) {
    errors.push({ field: 'apiVersion', message: `apiVersion ${quote(obj['apiVersion'])} is not served: use ${API_VERSION}` });
  }
  if (obj['kind'] !== undefined && obj['kind'] !== KIND) {
    errors.push({ field: 'kind', message: `kind ${quote(obj['kind'])} is not ${KIND}` });
  }
  const meta = obj['metadata'];
  if (!isObject(meta) || typeof meta['name'] !== 'string' || meta['name'] === '') {
    errors.push({ field: 'metadata.name', message: 'metadata.name is required (e.g. the revision, "1-21")' });
  } else if (meta['namespace'] !== undefined) {
    errors.push({ field: 'metadata.namespace', message: 'MeshRevision is cluster-scoped: remove metadata.namespace' });
  }
  errors.push(...validateMeshRevisionSpec(obj['spec']));
  return errors;
}

/** Checks a change, as the CRD's transition rules do. */
export function validateMeshRevisionUpdate(oldObj: { spec?: { revision?: unknown } }, newObj: unknown): FieldError[] {
  const errors = validateMeshRevision(newObj);
  const next = isObject(newObj) && isObject(newObj['spec']) ? newObj['spec']['revision'] : undefined;
  const prev = oldObj.spec?.revision;
  if (prev !== undefined && next !== prev) {
    errors.push({
      field: 'spec.revision',
      message: `revision is immutable (was ${quote(prev)}): create a new MeshRevision for ${quote(next)} and migrate to it`,
    });
  }
  return errors;
}

// ---------------------------------------------------------------------------
// No-op detection for the MWC.

export interface CompareOptions {
  /**
   * The operator's server-side-apply field manager. When given, managedFields
   * tell which entries and caBundles we own, so an entry or caBundle we set
   * earlier and no longer want is seen as a difference. Without it, entries
   * whose names meshrev produces count as ours and caBundle is never compared
   * unless desired.
   */
  fieldManager?: string;
}

interface Owned {
  entries: Set<string>;
  caBundle: Set<string>;
}

/** What `fieldManager` owns in the MWC's webhooks, from managedFields (FieldsV1). */
function ownedByManager(existing: V1MutatingWebhookConfiguration, manager: string): Owned | undefined {
  const entries = existing.metadata?.managedFields?.filter((m) => m.manager === manager && m.operation === 'Apply');
  if (!entries || entries.length === 0) return undefined;
  const owned: Owned = { entries: new Set(), caBundle: new Set() };
  for (const mf of entries) {
    const webhooks = (mf.fieldsV1 as Record<string, unknown> | undefined)?.['f:webhooks'];
    if (!isObject(webhooks)) continue;
    for (const [key, fields] of Object.entries(webhooks)) {
      if (!key.startsWith('k:')) continue;
      let name: unknown;
      try {
        name = (JSON.parse(key.slice(2)) as Record<string, unknown>)['name'];
      } catch {
        continue;
      }
      if (typeof name !== 'string') continue;
      owned.entries.add(name);
      const cc = isObject(fields) ? fields['f:clientConfig'] : undefined;
      if (isObject(cc) && 'f:caBundle' in cc) owned.caBundle.add(name);
    }
  }
  return owned;
}

/** A selector in a canonical form: the API server keeps `{}`, nil and empty lists apart; they select the same. */
function normSelector(s: V1LabelSelector | undefined): unknown {
  const labels = s?.matchLabels ?? {};
  const sortedLabels = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const exprs = (s?.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] }));
  return { matchLabels: sortedLabels, matchExpressions: exprs };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The fields of an entry meshrev sets, with the server's defaults filled in (port 443, Fail, 10s). */
function comparable(w: V1MutatingWebhook, withCaBundle: boolean): Record<string, unknown> {
  const svc = w.clientConfig?.service;
  return {
    url: w.clientConfig?.url ?? null,
    service: svc ? { name: svc.name, namespace: svc.namespace, path: svc.path ?? null, port: svc.port ?? DEFAULT_INJECTOR_PORT } : null,
    caBundle: withCaBundle ? (w.clientConfig?.caBundle ?? '') : null,
    // scope is server-defaulted and not ours: left out.
    rules: (w.rules ?? []).map((r) => ({
      operations: r.operations ?? [],
      apiGroups: r.apiGroups ?? [],
      apiVersions: r.apiVersions ?? [],
      resources: r.resources ?? [],
    })),
    sideEffects: w.sideEffects,
    admissionReviewVersions: w.admissionReviewVersions ?? [],
    failurePolicy: w.failurePolicy ?? DEFAULT_FAILURE_POLICY,
    timeoutSeconds: w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    namespaceSelector: normSelector(w.namespaceSelector),
    objectSelector: normSelector(w.objectSelector),
  };
}

/**
 * Why applying `desired` would change `existing`; empty when it would not (a
 * no-op resync must write nothing). Ignores what meshrev does not set:
 * server-defaulted fields (matchPolicy, reinvocationPolicy, rule scope,
 * namespaceSelector/objectSelector `{}`), caBundle when the spec gives none
 * (istiod's), labels, annotations and entries added by others.
 */
export function webhookConfigurationDiff(
  existing: V1MutatingWebhookConfiguration | undefined,
  desired: V1MutatingWebhookConfiguration,
  opts: CompareOptions = {},
): string[] {
  if (existing === undefined) return ['does not exist'];
  const diffs: string[] = [];

  for (const [k, v] of Object.entries(desired.metadata?.labels ?? {})) {
    const have = existing.metadata?.labels?.[k];
    if (have !== v) diffs.push(`label ${k}: ${quote(have ?? null)} → ${quote(v)}`);
  }
  for (const [k, v] of Object.entries(desired.metadata?.annotations ?? {})) {
    const have = existing.metadata?.annotations?.[k];
    if (have !== v) diffs.push(`annotation ${k}: ${quote(have ?? null)} → ${quote(v)}`);
  }
  for (const ref of desired.metadata?.ownerReferences ?? []) {
    const have = existing.metadata?.ownerReferences?.find((r) => r.uid === ref.uid);
    if (!have || have.apiVersion !== ref.apiVersion || have.kind !== ref.kind || have.name !== ref.name || (have.controller ?? false) !== (ref.controller ?? false)) {
      diffs.push(`ownerReference ${ref.kind}/${ref.name} missing or different`);
    }
  }

  const owned = opts.fieldManager ? ownedByManager(existing, opts.fieldManager) : undefined;
  const existingByName = new Map((existing.webhooks ?? []).map((w) => [w.name, w]));
  const desiredNames = new Set((desired.webhooks ?? []).map((w) => w.name));

  for (const want of desired.webhooks ?? []) {
    const have = existingByName.get(want.name);
    if (!have) {
      diffs.push(`webhook ${want.name}: missing`);
      continue;
    }
    const wantCa = want.clientConfig?.caBundle !== undefined;
    // A caBundle we set before and no longer want must be released (applied without it).
    if (!wantCa && owned?.caBundle.has(want.name)) diffs.push(`webhook ${want.name}: caBundle no longer set by meshrev`);
    const a = comparable(have, wantCa);
    const b = comparable(want, wantCa);
    for (const key of Object.keys(b)) {
      if (!same(a[key], b[key])) diffs.push(`webhook ${want.name}: ${key} differs`);
    }
  }
  for (const name of existingByName.keys()) {
    if (desiredNames.has(name)) continue;
    // Only entries our apply would remove count: those we own (or, without managedFields, those we name).
    const ours = owned ? owned.entries.has(name) : describeEntry(name) !== undefined;
    if (ours) diffs.push(`webhook ${name}: no longer wanted`);
  }
  return diffs;
}

/** True when the MWC must be (re)applied. */
export function webhookConfigurationNeedsWrite(
  existing: V1MutatingWebhookConfiguration | undefined,
  desired: V1MutatingWebhookConfiguration,
  opts: CompareOptions = {},
): boolean {
  return webhookConfigurationDiff(existing, desired, opts).length > 0;
}
