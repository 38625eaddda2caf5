// spec.migration (src/api/migration.ts): which namespaces move, in what
// steps, and how a person steers it. The bounds are the CRD's, from
// src/api/migration.ts. `meshrev plan -f` runs validateMigrationSpec before
// planning. No I/O.
import {
  DEFAULT_MAX_CONCURRENT_NAMESPACES,
  DEFAULT_MAX_CONCURRENT_RESTARTS,
  DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
  FROM_DEFAULT,
  MAX_CONCURRENT_NAMESPACES,
  MAX_CONCURRENT_RESTARTS,
  MAX_MIGRATION_FROM,
  MAX_MIGRATION_STEPS,
  MAX_PAUSE_LENGTH,
  MAX_PAUSE_MS,
  MAX_ROLLBACK_NAMESPACES,
  MAX_ROLLOUT_TIMEOUT_SECONDS,
  MAX_SELECTOR_EXPRESSIONS,
  MAX_SELECTOR_MATCH_LABELS,
  MAX_SELECTOR_VALUES,
  MIGRATION_FAILURE_POLICIES,
  MIN_CONCURRENT_NAMESPACES,
  MIN_CONCURRENT_RESTARTS,
  MIN_ROLLOUT_TIMEOUT_SECONDS,
  PAUSE_INDEFINITE,
} from '../../api/migration.js';
import { checkDuration, type DurationBounds, type DurationHints } from './durations.js';
import { MAX_LABEL, intInRange, isDnsLabel, isObject, quote, unknownFields, type FieldError } from './fields.js';

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

/** The other names this MeshRevision serves pods under: its tags, and "default" when spec.default is true. */
export interface Aliases {
  tags?: readonly unknown[];
  isDefault?: boolean;
}

/** Why `from` must not list `item`, when it names this MeshRevision itself (its revision, a tag, or the default it holds). */
function selfReference(item: string, revision: string | undefined, aliases: Aliases): string | undefined {
  if (item === revision) return `spec.migration.from must not list the target revision itself (${quote(item)}): its namespaces are already on it; remove it`;
  if (aliases.tags?.includes(item)) {
    return `spec.migration.from must not list ${quote(item)}: it is a tag of this MeshRevision (spec.tags), so its namespaces already get this revision; remove it from spec.migration.from`;
  }
  if (item === FROM_DEFAULT && aliases.isDefault) {
    return 'spec.migration.from must not list "default" while spec.default is true: this MeshRevision is the default revision, so istio-injection=enabled namespaces already get it; remove "default" from spec.migration.from, or set spec.default: false until the migration is done';
  }
  return undefined;
}

function validateFrom(from: unknown, path: string, revision: string | undefined, aliases: Aliases, errors: FieldError[]): void {
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
    if (!isDnsLabel(item)) {
      errors.push({
        field,
        message: `from ${quote(item)} is neither a revision name nor "default": use a DNS-1123 label (lower-case letters, digits and "-", e.g. "1-20") or "default" for istio-injection=enabled namespaces`,
      });
    } else {
      const self = selfReference(item, revision, aliases);
      if (self !== undefined) errors.push({ field, message: self });
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
  if (sel['matchLabels'] !== undefined) validateMatchLabels(sel['matchLabels'], `${path}.matchLabels`, errors);
  const exprs = sel['matchExpressions'];
  if (exprs === undefined) return;
  if (!Array.isArray(exprs)) {
    errors.push({ field: `${path}.matchExpressions`, message: 'matchExpressions must be a list of {key, operator, values}' });
    return;
  }
  if (exprs.length > MAX_SELECTOR_EXPRESSIONS) {
    errors.push({ field: `${path}.matchExpressions`, message: `matchExpressions has ${exprs.length} entries; use at most ${MAX_SELECTOR_EXPRESSIONS}` });
  }
  exprs.forEach((e: unknown, i) => validateExpression(e, `${path}.matchExpressions[${i}]`, errors));
}

function validateMatchLabels(labels: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(labels)) {
    errors.push({ field, message: 'matchLabels must be a map of label keys to values, e.g. {team: payments}' });
    return;
  }
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

/** One matchExpressions entry at `field`: key, operator, and values as the operator needs them. */
function validateExpression(e: unknown, field: string, errors: FieldError[]): void {
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
}

const PAUSE_BOUNDS: DurationBounds = { minMs: 0, maxMs: MAX_PAUSE_MS, maxLength: MAX_PAUSE_LENGTH };
const PAUSE_HINTS: DurationHints = {
  syntax: `is not valid: use a duration such as "30s", "5m", "1h30m" or "500ms" (units ms, s, m, h), or "${PAUSE_INDEFINITE}" to wait for spec.migration.promotedStep`,
  range: ` (${MAX_PAUSE_MS / 86_400_000} days), or "${PAUSE_INDEFINITE}" to wait for spec.migration.promotedStep`,
};

function validatePause(pause: unknown, field: string, errors: FieldError[]): void {
  if (pause !== PAUSE_INDEFINITE) checkDuration(pause, field, 'pause', PAUSE_BOUNDS, errors, PAUSE_HINTS);
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
    if (!isDnsLabel(ns)) {
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

/** Checks spec.migration. `revision` is spec.revision, which `from` must not list, nor any of `aliases`. */
export function validateMigrationSpec(migration: unknown, path = 'spec.migration', revision?: string, aliases: Aliases = {}): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(migration)) {
    return [{ field: path, message: 'migration must be an object with at least from, e.g. {from: [default]}' }];
  }
  unknownFields(migration, MIGRATION_FIELDS, path, errors);
  validateFrom(migration['from'], `${path}.from`, revision, aliases, errors);
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
