// The health gate's decisions (DESIGN.md §4), pure: which checks run for a
// step, what a measurement means against its thresholds, how a check's state
// moves from one measurement to the next, when the next one is due, and
// whether the gate lets the migration go on. No I/O; the clock comes in as
// `now`. The state is plain data (src/api/health.ts CheckState) that the
// executor keeps in status and passes back, so a killed operator resumes the
// analysis exactly where it was: nothing here counts in memory.
//
// A reconcile during a step's soak does, in order:
//   instances = expandChecks(spec.healthChecks, { revision, namespaces: stepNamespaces })
//   states    = syncCheckStates(status.healthChecks.checks, instances)   (fresh states at a new step)
//   for each instance with isDue(state, instance, now): run it (src/gates/*), then
//     state = nextCheckState(state, measurement, now, instance)
//   result    = gateVerdict(states, instances)
//   pass → go on once the pause is over; wait → requeue after nextDueInMs(...);
//   fail → planFailureResponse(result, spec.migration.onFailure, ...)
import {
  CHECK_FAILED,
  CHECK_FAILING,
  CHECK_PASSING,
  CHECK_PENDING,
  CHECK_UNKNOWN,
  DEFAULT_CHECK_TIMEOUT,
  DEFAULT_EXPECTED_STATUS,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HTTP_METHOD,
  DEFAULT_INTERVAL,
  DEFAULT_NO_DATA,
  MAX_LISTED_CHECK_STATES,
  QUERY_VARIABLES,
  type CheckInstance,
  type CheckKind,
  type CheckPhase,
  type CheckState,
  type Evaluation,
  type FailureResponse,
  type GateEntry,
  type GateResult,
  type HealthChecksSpec,
  type Measurement,
  type QueryVars,
  type ResolvedCheck,
  type ResolvedHttpCheck,
  type ResolvedPrometheusCheck,
} from '../api/health.js';
import { DEFAULT_MIGRATION_FAILURE_POLICY, type MigrationFailurePolicy } from '../api/migration.js';
import { parseDuration } from './validation/index.js';

// ---------------------------------------------------------------------------
// Resolving the spec

function durationOr(text: string | undefined, fallback: string): { text: string; ms: number } {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (text !== undefined && ms !== undefined) return { text, ms };
  return { text: fallback, ms: parseDuration(fallback)! };
}

function thresholdOr(n: number | undefined): number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : DEFAULT_FAILURE_THRESHOLD;
}

/** The timeout as written, or the default (10s) capped at the interval, so a measurement never outlives its interval. */
function timeoutMs(text: string | undefined, intervalMs: number): number {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms !== undefined && ms > 0) return ms;
  return Math.min(parseDuration(DEFAULT_CHECK_TIMEOUT)!, intervalMs);
}

/**
 * The checks of spec.healthChecks with the defaults applied (the CRD applies
 * the same ones; this covers objects read from files). A duration that does
 * not parse falls back to its default: validation reports it, the gate still
 * runs.
 */
export function resolveChecks(spec: HealthChecksSpec | undefined): ResolvedCheck[] {
  const out: ResolvedCheck[] = [];
  for (const p of spec?.prometheus ?? []) {
    const interval = durationOr(p.interval, DEFAULT_INTERVAL);
    const check: ResolvedPrometheusCheck = {
      kind: 'prometheus',
      name: p.name,
      address: p.address,
      query: p.query,
      interval: interval.text,
      intervalMs: interval.ms,
      timeoutMs: timeoutMs(p.timeout, interval.ms),
      failureThreshold: thresholdOr(p.failureThreshold),
      noData: p.noData ?? DEFAULT_NO_DATA,
    };
    if (p.min !== undefined) check.min = p.min;
    if (p.max !== undefined) check.max = p.max;
    out.push(check);
  }
  for (const h of spec?.http ?? []) {
    const interval = durationOr(h.interval, DEFAULT_INTERVAL);
    out.push({
      kind: 'http',
      name: h.name,
      url: h.url,
      method: h.method ?? DEFAULT_HTTP_METHOD,
      expectedStatus: h.expectedStatus ?? DEFAULT_EXPECTED_STATUS,
      interval: interval.text,
      intervalMs: interval.ms,
      timeoutMs: timeoutMs(h.timeout, interval.ms),
      failureThreshold: thresholdOr(h.failureThreshold),
    });
  }
  return out;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/y;
const ANY_PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The `{{variables}}` a query or URL uses, in order of first use. */
export function placeholders(template: string): string[] {
  const seen: string[] = [];
  for (const m of template.matchAll(ANY_PLACEHOLDER)) if (!seen.includes(m[1]!)) seen.push(m[1]!);
  return seen;
}

/** The placeholders that are not one of QUERY_VARIABLES. */
export function unknownPlaceholders(template: string): string[] {
  return placeholders(template).filter((v) => !(QUERY_VARIABLES as readonly string[]).includes(v));
}

/** Whether the check runs once per namespace of the step: its query or URL uses `{{namespace}}`. */
function isPerNamespace(check: ResolvedCheck): boolean {
  return placeholders(check.kind === 'prometheus' ? check.query : check.url).includes('namespace');
}

/** The key of a check's state: `kind/name`, or `kind/name/namespace` for a per-namespace check. */
function checkKey(kind: CheckKind, name: string, namespace?: string): string {
  return namespace === undefined ? `${kind}/${name}` : `${kind}/${name}/${namespace}`;
}

function stateKey(s: Pick<CheckState, 'kind' | 'name' | 'namespace'>): string {
  return checkKey(s.kind, s.name, s.namespace);
}

export interface StepScope {
  /** spec.revision, the migration's target. */
  revision: string;
  /** The namespaces of the step being soaked (sorted for stable output). */
  namespaces: readonly string[];
}

/**
 * The runs a step needs: each check once, or once per namespace of the step
 * when it uses `{{namespace}}` (none for a step without namespaces). Takes the
 * spec or already resolved checks.
 */
export function expandChecks(spec: HealthChecksSpec | readonly ResolvedCheck[] | undefined, scope: StepScope): CheckInstance[] {
  const checks = Array.isArray(spec) ? (spec as readonly ResolvedCheck[]) : resolveChecks(spec as HealthChecksSpec | undefined);
  const namespaces = [...new Set(scope.namespaces)].sort();
  const out: CheckInstance[] = [];
  for (const check of checks) {
    const base: QueryVars = { revision: scope.revision, namespaces, interval: check.interval };
    if (isPerNamespace(check)) {
      for (const ns of namespaces) out.push({ key: checkKey(check.kind, check.name, ns), check, namespace: ns, vars: { ...base, namespace: ns } });
    } else {
      out.push({ key: checkKey(check.kind, check.name), check, vars: base });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Templating

/** RE2 metacharacters, escaped so a namespace name matches only itself inside `=~`. */
function regexEscape(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * An RE2 regex that matches nothing, not even the empty string (Prometheus
 * anchors `=~` as `^(?:...)$`, and an empty alternation would match series
 * without the label).
 */
export const MATCH_NOTHING = '[^\\s\\S]';

/** `{{namespaces}}`: the names as an alternation for `=~`, regex-escaped; MATCH_NOTHING for none. */
function namespacesRegex(namespaces: readonly string[]): string {
  return namespaces.length === 0 ? MATCH_NOTHING : namespaces.map(regexEscape).join('|');
}

type LexState = 'code' | 'double' | 'single' | 'raw' | 'comment';

/** A value written inside a PromQL string literal opened by `quote`: only that quote and the backslash are escapable. */
function escapeForLiteral(value: string, state: LexState): string {
  switch (state) {
    case 'double':
      return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    case 'single':
      return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n');
    case 'raw':
      // A raw string has no escapes: a backtick cannot be written inside it.
      return value.replace(/`/g, '');
    default:
      return value;
  }
}

function rawValue(name: string, vars: QueryVars): string | undefined {
  switch (name) {
    case 'namespace':
      return vars.namespace;
    case 'namespaces':
      return vars.namespaces === undefined ? undefined : namespacesRegex(vars.namespaces);
    case 'revision':
      return vars.revision;
    case 'interval':
      return vars.interval;
    default:
      return undefined;
  }
}

/**
 * A query with its `{{variables}}` replaced. Each value is escaped for the
 * PromQL literal it sits in — `"..."` and `'...'` get their quote and
 * backslashes escaped (so `{{namespaces}}`' regex escapes survive as `\\.`),
 * a raw `` `...` `` string keeps the regex as is — so no value can end the
 * literal and change the query. Outside a literal the value is inserted as
 * is (namespace and revision names are DNS labels, the interval a duration).
 * Placeholders without a value (an unknown name, or `{{namespace}}` for a
 * check run per step) are left in place; the runner reports them.
 */
export function renderQuery(template: string, vars: QueryVars): string {
  let out = '';
  let state: LexState = 'code';
  let i = 0;
  while (i < template.length) {
    PLACEHOLDER.lastIndex = i;
    const m = template[i] === '{' ? PLACEHOLDER.exec(template) : null;
    if (m) {
      const value = rawValue(m[1]!, vars);
      out += value === undefined ? m[0] : escapeForLiteral(value, state);
      i += m[0].length;
      continue;
    }
    const ch = template[i]!;
    out += ch;
    i++;
    switch (state) {
      case 'code':
        if (ch === '"') state = 'double';
        else if (ch === "'") state = 'single';
        else if (ch === '`') state = 'raw';
        else if (ch === '#') state = 'comment';
        break;
      case 'double':
      case 'single':
        if (ch === '\\' && i < template.length) {
          out += template[i]!;
          i++;
        } else if ((ch === '"' && state === 'double') || (ch === "'" && state === 'single')) {
          state = 'code';
        }
        break;
      case 'raw':
        if (ch === '`') state = 'code';
        break;
      case 'comment':
        if (ch === '\n') state = 'code';
        break;
    }
  }
  return out;
}

/**
 * An HTTP check's URL with its `{{variables}}` replaced, each value
 * URL-encoded (`{{namespaces}}` as a comma-separated list). Placeholders
 * without a value are left in place.
 */
export function renderUrl(template: string, vars: QueryVars): string {
  return template.replace(ANY_PLACEHOLDER, (whole, name: string) => {
    if (name === 'namespaces') return vars.namespaces === undefined ? whole : vars.namespaces.map(encodeURIComponent).join(',');
    const v = rawValue(name, vars);
    return v === undefined ? whole : encodeURIComponent(v);
  });
}

// ---------------------------------------------------------------------------
// Evaluating a measurement

/** A number as Prometheus writes it: NaN, +Inf, -Inf, or the shortest decimal form. */
function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function range(check: ResolvedPrometheusCheck): string {
  if (check.min !== undefined && check.max !== undefined) return `[${formatValue(check.min)}, ${formatValue(check.max)}]`;
  if (check.min !== undefined) return `at least ${formatValue(check.min)}`;
  return `at most ${formatValue(check.max!)}`;
}

function evaluatePrometheus(check: ResolvedPrometheusCheck, m: Measurement): Evaluation {
  if (m.kind === 'error') return { outcome: 'error', message: m.message };
  if (m.kind === 'no-data' || Number.isNaN(m.value)) {
    const why = m.kind === 'no-data' && m.message ? m.message : 'the query returned no series (or NaN)';
    return { outcome: 'no-data', message: `no data: ${why}` };
  }
  if (check.min === undefined && check.max === undefined) {
    return { outcome: 'error', message: `check ${check.name} has neither min nor max: set at least one threshold` };
  }
  const v = m.value;
  if (check.min !== undefined && v < check.min) {
    return { outcome: 'fail', message: `value ${formatValue(v)} is below the minimum ${formatValue(check.min)}` };
  }
  if (check.max !== undefined && v > check.max) {
    return { outcome: 'fail', message: `value ${formatValue(v)} is above the maximum ${formatValue(check.max)}` };
  }
  return { outcome: 'pass', message: `value ${formatValue(v)} is within ${range(check)}` };
}

function evaluateHttp(check: ResolvedHttpCheck, m: Measurement): Evaluation {
  if (m.kind === 'error') return { outcome: 'error', message: m.message };
  if (m.kind === 'no-data') return { outcome: 'fail', message: `no answer to judge${m.message ? `: ${m.message}` : ''}` };
  if (m.value === check.expectedStatus) return { outcome: 'pass', message: `${check.method} answered ${m.value}` };
  return { outcome: 'fail', message: `${check.method} answered ${formatValue(m.value)}, expected ${check.expectedStatus}` };
}

/**
 * What a measurement means for its check: `pass` (within min/max, or the
 * expected status), `fail`, `no-data` (before the noData rule, which
 * nextCheckState applies) or `error` (nothing was measured).
 */
export function evaluateMeasurement(check: ResolvedCheck, measurement: Measurement): Evaluation {
  return check.kind === 'prometheus' ? evaluatePrometheus(check, measurement) : evaluateHttp(check, measurement);
}

// ---------------------------------------------------------------------------
// State transitions

function asInstance(c: ResolvedCheck | CheckInstance): { check: ResolvedCheck; namespace?: string } {
  return 'check' in c ? c : { check: c };
}

/** The state of a check before its first measurement in a step. */
export function initialCheckState(c: ResolvedCheck | CheckInstance): CheckState {
  const { check, namespace } = asInstance(c);
  const s: CheckState = { name: check.name, kind: check.kind, phase: CHECK_PENDING, consecutiveFailures: 0 };
  if (namespace !== undefined) s.namespace = namespace;
  return s;
}

/**
 * The states for `instances`, in their order: the matching state from
 * `states` (by kind, name and namespace) or a fresh Pending one. States of
 * checks no longer in the spec are dropped. At a new step, pass no states.
 */
export function syncCheckStates(states: readonly CheckState[] | undefined, instances: readonly CheckInstance[]): CheckState[] {
  const byKey = new Map((states ?? []).map((s) => [stateKey(s), s]));
  return instances.map((i) => byKey.get(i.key) ?? initialCheckState(i));
}

/** Which states status keeps when it cannot list them all: what a restart must not lose first. */
const LISTING_ORDER: readonly CheckPhase[] = [CHECK_FAILED, CHECK_FAILING, CHECK_UNKNOWN, CHECK_PASSING, CHECK_PENDING];

/**
 * The states status lists (at most `max`, see MAX_LISTED_CHECK_STATES) and how many it leaves
 * out. Step-wide checks before per-namespace ones, then Failed, Failing, Unknown, Passing,
 * Pending; the listed states keep their order in `states`.
 */
export function listedCheckStates(states: readonly CheckState[], max = MAX_LISTED_CHECK_STATES): { checks: CheckState[]; unlisted: number } {
  if (states.length <= max) return { checks: [...states], unlisted: 0 };
  const rank = (s: CheckState) => (s.namespace === undefined ? 0 : 1 + LISTING_ORDER.indexOf(s.phase));
  const kept = new Set(states.map((s, i) => ({ s, i })).sort((a, b) => rank(a.s) - rank(b.s) || a.i - b.i).slice(0, max).map((x) => x.i));
  return { checks: states.filter((_, i) => kept.has(i)), unlisted: states.length - max };
}

function withPrefix(check: ResolvedCheck, namespace: string | undefined, message: string): string {
  return `${check.kind} check ${check.name}${namespace === undefined ? '' : ` in ${namespace}`}: ${message}`;
}

/**
 * The state after one measurement, taken at `now`.
 * - pass (or no data under `noData: pass`): Passing, failures reset to 0.
 * - fail (or no data under `noData: fail`): one more consecutive failure;
 *   Failing, or Failed on reaching failureThreshold.
 * - error (nothing measured): counts toward failureThreshold like a failure —
 *   a gate that cannot see must not let a canary through, and Flagger counts a
 *   failed query as a failed check — but is reported Unknown until the
 *   threshold is reached, like Argo's Error measurements.
 * - no data under `noData: wait`: Pending; the failure count is left as it was.
 * Failed is final for the step: a Failed state comes back unchanged.
 */
export function nextCheckState(prev: CheckState | undefined, measurement: Measurement, now: Date, c: ResolvedCheck | CheckInstance): CheckState {
  const { check, namespace } = asInstance(c);
  const base = prev ?? initialCheckState(c);
  if (base.phase === CHECK_FAILED) return base;
  const evaluation = evaluateMeasurement(check, measurement);
  const next: CheckState = { name: check.name, kind: check.kind, phase: base.phase, consecutiveFailures: base.consecutiveFailures, lastRunAt: now.toISOString(), lastOutcome: evaluation.outcome };
  if (namespace !== undefined) next.namespace = namespace;
  if (measurement.kind === 'value') next.lastValue = formatValue(measurement.value);

  let counts: 'pass' | 'fail' | 'error' | 'wait';
  let message = evaluation.message;
  if (evaluation.outcome === 'no-data') {
    const rule = check.kind === 'prometheus' ? check.noData : 'fail';
    counts = rule === 'pass' ? 'pass' : rule === 'wait' ? 'wait' : 'fail';
    message = `${message} (noData: ${rule}${rule === 'wait' ? ', waiting for data' : rule === 'pass' ? ', counted as passing' : ', counted as a failure'})`;
  } else {
    counts = evaluation.outcome;
  }

  switch (counts) {
    case 'pass':
      next.phase = CHECK_PASSING;
      next.consecutiveFailures = 0;
      break;
    case 'wait':
      next.phase = CHECK_PENDING;
      break;
    case 'fail':
    case 'error':
      next.consecutiveFailures = base.consecutiveFailures + 1;
      if (next.consecutiveFailures >= check.failureThreshold) {
        next.phase = CHECK_FAILED;
        message = `${next.consecutiveFailures} consecutive measurements failed or could not be taken (failureThreshold ${check.failureThreshold}); last: ${message}`;
      } else {
        next.phase = counts === 'error' ? CHECK_UNKNOWN : CHECK_FAILING;
        message = `${message} (${next.consecutiveFailures}/${check.failureThreshold} before the check fails)`;
      }
      break;
  }
  next.lastMessage = withPrefix(check, namespace, message);
  return next;
}

/**
 * Whether the check should be measured at `now`: never measured, or its
 * interval has passed since the last measurement. A Failed check is never
 * due. A last run in the future (the clock moved back) is due, rather than
 * stalling for an unknown time.
 */
export function isDue(state: CheckState | undefined, c: ResolvedCheck | CheckInstance, now: Date): boolean {
  if (state?.phase === CHECK_FAILED) return false;
  if (state?.lastRunAt === undefined) return true;
  const last = Date.parse(state.lastRunAt);
  if (Number.isNaN(last)) return true;
  const elapsed = now.getTime() - last;
  return elapsed < 0 || elapsed >= asInstance(c).check.intervalMs;
}

/**
 * Milliseconds until the next measurement is due (0 when one is due now), for
 * "requeue after"; undefined when no check will run again (none, or all
 * Failed). `states` are matched to `instances` by key.
 */
export function nextDueInMs(states: readonly CheckState[] | undefined, instances: readonly CheckInstance[], now: Date): number | undefined {
  const byKey = new Map((states ?? []).map((s) => [stateKey(s), s]));
  let best: number | undefined;
  for (const inst of instances) {
    const s = byKey.get(inst.key);
    if (s?.phase === CHECK_FAILED) continue;
    let wait = 0;
    if (!isDue(s, inst, now)) wait = Date.parse(s!.lastRunAt!) + inst.check.intervalMs - now.getTime();
    best = best === undefined ? wait : Math.min(best, wait);
  }
  return best;
}

// ---------------------------------------------------------------------------
// The gate

const LISTED = 5;

function listEntries(entries: readonly GateEntry[]): string {
  const shown = entries.slice(0, LISTED).map((e) => e.message);
  if (entries.length > LISTED) shown.push(`and ${entries.length - LISTED} more`);
  return shown.join('; ');
}

function pendingMessage(check: ResolvedCheck, namespace: string | undefined): string {
  return withPrefix(check, namespace, 'not measured yet');
}

/**
 * The gate for the next step, from the states of the step's checks:
 * `fail` as soon as one check is Failed; `pass` once every check's last
 * measurement passed; `wait` otherwise (a check pending, failing below its
 * threshold, or unmeasurable). No checks: pass. A check without a state counts
 * as Pending.
 */
export function gateVerdict(states: readonly CheckState[] | undefined, instances: readonly CheckInstance[]): GateResult {
  if (instances.length === 0) return { verdict: 'pass', failing: [], waiting: [], message: 'no health checks configured' };
  const byKey = new Map((states ?? []).map((s) => [stateKey(s), s]));
  const failing: GateEntry[] = [];
  const waiting: GateEntry[] = [];
  for (const inst of instances) {
    const s = byKey.get(inst.key);
    const phase: CheckPhase = s?.phase ?? CHECK_PENDING;
    if (phase === CHECK_PASSING) continue;
    const entry: GateEntry = { name: inst.check.name, kind: inst.check.kind, phase, message: s?.lastMessage ?? pendingMessage(inst.check, inst.namespace) };
    if (inst.namespace !== undefined) entry.namespace = inst.namespace;
    (phase === CHECK_FAILED ? failing : waiting).push(entry);
  }
  if (failing.length > 0) {
    return { verdict: 'fail', failing, waiting, message: `${failing.length} of ${instances.length} health checks failed: ${listEntries(failing)}` };
  }
  if (waiting.length > 0) {
    return { verdict: 'wait', failing, waiting, message: `waiting for ${waiting.length} of ${instances.length} health checks: ${listEntries(waiting)}` };
  }
  return { verdict: 'pass', failing, waiting, message: `all ${instances.length} health checks pass` };
}

export interface FailureContext {
  /** The namespaces moved in the step being gated. */
  stepNamespaces: readonly string[];
  /** Every namespace the migration moved so far (for rollbackAll). */
  movedNamespaces: readonly string[];
}

function sorted(list: Iterable<string>): string[] {
  return [...new Set(list)].sort();
}

/**
 * What to do about a gate result under spec.migration.onFailure (default
 * rollbackStep): `none` unless the verdict is fail. rollbackNamespace returns
 * the namespaces of the failed per-namespace checks, or the whole step when a
 * failed check is not per namespace (it cannot name one).
 */
export function planFailureResponse(result: GateResult, onFailure: MigrationFailurePolicy | undefined, ctx: FailureContext): FailureResponse {
  if (result.verdict !== 'fail') return { action: 'none', message: result.message };
  const action = onFailure ?? DEFAULT_MIGRATION_FAILURE_POLICY;
  const why = result.message;
  switch (action) {
    case 'pause':
      return { action: 'pause', message: `${why}; holding the migration (onFailure: pause): fix the cause, then change the spec or set spec.migration.rollback` };
    case 'rollbackAll':
      return { action: 'rollback', scope: 'all', namespaces: sorted(ctx.movedNamespaces), message: `${why}; returning every migrated namespace (onFailure: rollbackAll)` };
    case 'rollbackNamespace': {
      const named = result.failing.every((f) => f.namespace !== undefined);
      if (named) {
        const namespaces = sorted(result.failing.map((f) => f.namespace!));
        return { action: 'rollback', scope: 'namespace', namespaces, message: `${why}; returning ${namespaces.join(', ')} (onFailure: rollbackNamespace)` };
      }
      return {
        action: 'rollback',
        scope: 'step',
        namespaces: sorted(ctx.stepNamespaces),
        message: `${why}; returning the step's namespaces: a failed check that does not use {{namespace}} cannot name one (onFailure: rollbackNamespace)`,
      };
    }
    case 'rollbackStep':
    default:
      return { action: 'rollback', scope: 'step', namespaces: sorted(ctx.stepNamespaces), message: `${why}; returning the step's namespaces (onFailure: rollbackStep)` };
  }
}
