// spec.healthChecks (DESIGN.md §4): user-defined checks that gate a migration
// step — Prometheus queries with thresholds and HTTP checks — plus the plain
// data the executor keeps in status between reconciles (each check's
// consecutive failures, last run, last value), so an operator killed at any
// moment resumes the analysis where it was. No I/O here: the decisions are in
// src/policy/analysis.ts, the runners in src/gates/.
//
// Semantics follow Flagger (thresholdRange min/max, an interval per metric, a
// failure threshold) and Argo Rollouts (a measurement is successful, failed or
// an error; errors are reported apart from failures). The choices where they
// differ are documented at the constants below.

import type { Word } from './vocabulary.js';

// ---------------------------------------------------------------------------
// Spec

/**
 * What a Prometheus check does when its query returns no series (or NaN):
 * - `fail`: counts as a failed measurement toward failureThreshold (default;
 *   Flagger halts on "no values found" and counts a failed check, and Argo's
 *   `result[0]` on an empty result is an error that ends the analysis). After
 *   a migration, a metric that disappears usually means the new sidecars stopped
 *   reporting, which is exactly what the gate is for.
 * - `pass`: counts as a success, for queries that are empty when all is well
 *   (e.g. `sum(rate(istio_requests_total{response_code=~"5.."}[1m]))` with no 5xx).
 * - `wait`: counts as neither: the gate does not pass and the failure count is
 *   left as it was, until data arrives. The step soaks for as long as it takes.
 */
export type NoDataRule = 'fail' | 'pass' | 'wait';
export const NO_DATA_RULES: readonly NoDataRule[] = ['fail', 'pass', 'wait'];

export type HttpMethod = 'GET' | 'HEAD' | 'POST';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST'];

/**
 * A PromQL query whose single value must stay within [min, max]. The query may
 * use the variables `{{namespace}}`, `{{namespaces}}`, `{{revision}}` and
 * `{{interval}}` (see QueryVars).
 */
export interface PrometheusCheck {
  /** Unique among all checks of the MeshRevision (a DNS-1123 label). */
  name: string;
  /** Base URL of the Prometheus HTTP API, e.g. `http://prometheus.istio-system:9090`. */
  address: string;
  /** An instant query returning one series or a scalar, e.g. `sum(rate(...))`. */
  query: string;
  /** Lowest passing value (inclusive). At least one of min and max. */
  min?: number;
  /** Highest passing value (inclusive). */
  max?: number;
  /** Time between measurements, Go style ("30s", "1m"). Default 30s. */
  interval?: string;
  /** Consecutive failed measurements that fail the check. Default 3. */
  failureThreshold?: number;
  /** What an empty result means. Default `fail`. */
  noData?: NoDataRule;
  /** How long to wait for Prometheus, Go style; at most the interval. Default 10s, or the interval if shorter. */
  timeout?: string;
}

/** An HTTP endpoint that must answer with an expected status. */
export interface HttpCheck {
  /** Unique among all checks of the MeshRevision (a DNS-1123 label). */
  name: string;
  /** http:// or https:// URL; may use `{{namespace}}`, `{{revision}}` (URL-encoded). */
  url: string;
  /** Default GET. Redirects are not followed: the status is the URL's own answer. */
  method?: HttpMethod;
  /** Status that passes. Default 200. */
  expectedStatus?: number;
  /** Default 10s, or the interval if shorter; at most the interval. */
  timeout?: string;
  /** Default 30s. */
  interval?: string;
  /** Default 3. */
  failureThreshold?: number;
}

/** What a failed check does is spec.migration.onFailure (src/api/migration.ts MigrationFailurePolicy), shared with the built-in gates. */
export interface HealthChecksSpec {
  prometheus?: PrometheusCheck[];
  http?: HttpCheck[];
}

// Defaults. The CRD applies the same ones at the API server; resolveChecks
// (src/policy/analysis.ts) applies them again for objects read from files.

/** Flagger's and Argo's customary analysis interval is 1m; 30s reacts twice as fast at a negligible query load. */
export const DEFAULT_INTERVAL = '30s';
/**
 * Three consecutive failures, as a Kubernetes probe's default failureThreshold:
 * one noisy sample (a scrape gap, a restart blip) never rolls back, a real
 * regression does within about 1.5 minutes at the default interval.
 */
export const DEFAULT_FAILURE_THRESHOLD = 3;
export const DEFAULT_NO_DATA: NoDataRule = 'fail';
/**
 * Argo's web metric and Prometheus' own query timeout are of this order. Capped
 * at the interval when the interval is shorter (so the CRD has no default for
 * it: a schema default could exceed a short interval).
 */
export const DEFAULT_CHECK_TIMEOUT = '10s';
export const DEFAULT_EXPECTED_STATUS = 200;
export const DEFAULT_HTTP_METHOD: HttpMethod = 'GET';

// Bounds (the CRD's; src/policy/validation/health-checks.ts checks the same).

/** At most this many checks of each kind: keeps status small and the CRD's CEL cost bounded. */
export const MAX_PROMETHEUS_CHECKS = 16;
export const MAX_HTTP_CHECKS = 16;
export const MIN_FAILURE_THRESHOLD = 1;
export const MAX_FAILURE_THRESHOLD = 100;
/** Measurements at most once a second: the runners' request loop stays bounded whatever the spec says. */
export const MIN_INTERVAL_MS = 1000;
export const MAX_INTERVAL_MS = 3_600_000;
export const MAX_TIMEOUT_MS = 60_000;
export const MAX_QUERY_LENGTH = 4096;
export const MAX_URL_LENGTH = 2048;
export const MAX_DURATION_LENGTH = 32;

// ---------------------------------------------------------------------------
// Query variables

/** The variables a query or URL may use, as `{{name}}` (spaces inside the braces allowed). */
export const QUERY_VARIABLES = ['namespace', 'namespaces', 'revision', 'interval'] as const;

/**
 * Values for a check's placeholders.
 * - `namespace`: the one namespace a per-namespace check runs for. A check
 *   whose query (or URL) uses `{{namespace}}` is run once for each namespace
 *   of the step; other checks run once per step.
 * - `namespaces`: the step's namespaces as an anchored-regex alternation for
 *   `=~` (`shop|web`), each name regex-escaped; with no namespace, a regex
 *   that matches nothing.
 * - `revision`: the target revision (spec.revision).
 * - `interval`: the check's interval as written ("30s"), for range selectors
 *   (`rate(x[{{interval}}])`).
 */
export interface QueryVars {
  namespace?: string;
  namespaces?: readonly string[];
  revision: string;
  interval?: string;
}

// ---------------------------------------------------------------------------
// Checks resolved for a run (defaults applied, durations in ms)

export type CheckKind = 'prometheus' | 'http';

interface ResolvedCommon {
  name: string;
  intervalMs: number;
  /** The interval as written, for `{{interval}}`. */
  interval: string;
  timeoutMs: number;
  failureThreshold: number;
}

export interface ResolvedPrometheusCheck extends ResolvedCommon {
  kind: 'prometheus';
  address: string;
  query: string;
  min?: number;
  max?: number;
  noData: NoDataRule;
}

export interface ResolvedHttpCheck extends ResolvedCommon {
  kind: 'http';
  url: string;
  method: HttpMethod;
  expectedStatus: number;
}

export type ResolvedCheck = ResolvedPrometheusCheck | ResolvedHttpCheck;

/**
 * One run of a check: the check, and the namespace it runs for when it is per
 * namespace. `key` identifies its state: `kind/name` or `kind/name/namespace`.
 */
export interface CheckInstance {
  key: string;
  check: ResolvedCheck;
  namespace?: string;
  vars: QueryVars;
}

// ---------------------------------------------------------------------------
// Measurements and their evaluation

/**
 * What a runner observed. Runners never throw: anything that kept them from
 * measuring (unreachable, timeout, HTTP error, a query returning several
 * series) is an `error` with a message saying what to fix.
 */
export type Measurement =
  | { kind: 'value'; value: number }
  | { kind: 'no-data'; message?: string }
  | { kind: 'error'; message: string };

/** A measurement judged against its check; `no-data` before the check's noData rule is applied. */
export type Outcome = 'pass' | 'fail' | 'no-data' | 'error';

export interface Evaluation {
  outcome: Outcome;
  message: string;
}

// ---------------------------------------------------------------------------
// State kept in status between reconciles

/** A word of CheckState.phase (src/api/vocabulary.ts): "Failed" here is a check's verdict, not a migration's or a namespace's. */
type CheckWord<S extends string> = Word<S, 'CheckPhase'>;

/** No measurement yet in this step (or no data under `noData: wait`): the gate waits. */
export const CHECK_PENDING: CheckWord<'Pending'> = 'Pending';
/** The last measurement passed. */
export const CHECK_PASSING: CheckWord<'Passing'> = 'Passing';
/** The last measurement failed (or had no data under `noData: fail`), below failureThreshold. */
export const CHECK_FAILING: CheckWord<'Failing'> = 'Failing';
/**
 * failureThreshold consecutive measurements failed or could not be taken.
 * Terminal for the step: later measurements do not clear it, so a reconcile
 * killed between recording it and acting on it still acts on it.
 */
export const CHECK_FAILED: CheckWord<'Failed'> = 'Failed';
/**
 * The last measurement could not be taken (Prometheus unreachable, timeout,
 * a malformed answer), below failureThreshold. Unknown, not Failing: nothing
 * was measured, as Argo reports an `Error` measurement apart from `Failed`.
 */
export const CHECK_UNKNOWN: CheckWord<'Unknown'> = 'Unknown';

export type CheckPhase = typeof CHECK_PENDING | typeof CHECK_PASSING | typeof CHECK_FAILING | typeof CHECK_FAILED | typeof CHECK_UNKNOWN;
export const CHECK_PHASES: readonly CheckPhase[] = [CHECK_PENDING, CHECK_PASSING, CHECK_FAILING, CHECK_FAILED, CHECK_UNKNOWN];

/** One check's analysis state (for one namespace when it is per namespace). Plain JSON for status. */
export interface CheckState {
  name: string;
  kind: CheckKind;
  /** Set for a per-namespace check (its query or URL uses `{{namespace}}`). */
  namespace?: string;
  phase: CheckPhase;
  /**
   * Failed measurements in a row, errors and no-data under `noData: fail`
   * included; 0 after a pass. Reaching failureThreshold makes the check Failed.
   */
  consecutiveFailures: number;
  /** RFC 3339: when the last measurement was taken. */
  lastRunAt?: string;
  /** Outcome of the last measurement. */
  lastOutcome?: Outcome;
  /**
   * The last measured value, as Prometheus writes it ("0.042", "+Inf"; the
   * status code for HTTP checks): a string, because JSON has no NaN or Inf.
   */
  lastValue?: string;
  /** What the last measurement showed, and what to do when it failed. */
  lastMessage?: string;
}

/**
 * At most this many check states are listed in status.healthChecks.checks. A check that uses
 * `{{namespace}}` has one state per namespace of the gated step, and a step may hold thousands
 * of namespaces; listed first are the states that carry what must survive a restart (Failed,
 * then Failing and Unknown with their failure counts), then Passing, then Pending. The operator
 * keeps every state in memory; after a restart an unlisted one starts again from Pending and
 * is measured again at its next interval.
 */
export const MAX_LISTED_CHECK_STATES = 100;

/** The analysis of the current step, as the executor keeps it in status. */
export interface HealthChecksStatus {
  /** The migration step (1-based) these states belong to; a new step starts from Pending. */
  step?: number;
  /** At most MAX_LISTED_CHECK_STATES, the most telling first (see there), in check and namespace order. */
  checks?: CheckState[];
  /** How many more check states there are than `checks` lists ("+N more"). */
  unlistedChecks?: number;
}

export type GateVerdict = 'pass' | 'fail' | 'wait';

/** A check that keeps the gate from passing, for messages and rollback targets. */
export interface GateEntry {
  name: string;
  kind: CheckKind;
  namespace?: string;
  phase: CheckPhase;
  message: string;
}

export interface GateResult {
  /** pass: every check's last measurement passed; fail: a check is Failed; wait: otherwise. */
  verdict: GateVerdict;
  /** The Failed checks (verdict fail). */
  failing: GateEntry[];
  /** The checks that are not Passing yet (Pending, Failing, Unknown). */
  waiting: GateEntry[];
  message: string;
}

/** What the executor does about a failed gate (see planFailureResponse). */
export type FailureResponse =
  | { action: 'rollback'; scope: 'namespace' | 'step' | 'all'; namespaces: string[]; message: string }
  | { action: 'pause'; message: string }
  | { action: 'none'; message: string };

// ---------------------------------------------------------------------------
// Reasons (stable, CamelCase)

/**
 * Event reason (Warning on the MeshRevision): a check reached its
 * failureThreshold and spec.migration.onFailure was applied. The message
 * names the check, its last value and the threshold.
 */
export const REASON_HEALTH_CHECK_FAILED = 'HealthCheckFailed';
