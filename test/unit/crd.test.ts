import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  DEFAULT_FAILURE_POLICY,
  DEFAULT_INJECTOR_NAMESPACE,
  DEFAULT_INJECTOR_PATH,
  DEFAULT_INJECTOR_PORT,
  DEFAULT_TIMEOUT_SECONDS,
  GROUP,
  KIND,
  MAX_IN_USE_LISTED,
  MAX_TAGS,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  PLURAL,
  SHORT_NAME,
  VERSION,
} from '../../src/api/meshrevision.js';
import {
  CHECK_PHASES,
  DEFAULT_EXPECTED_STATUS,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HTTP_METHOD,
  DEFAULT_INTERVAL,
  DEFAULT_NO_DATA,
  HTTP_METHODS,
  MAX_DURATION_LENGTH,
  MAX_FAILURE_THRESHOLD,
  MAX_HTTP_CHECKS,
  MAX_LISTED_CHECK_STATES,
  MAX_PROMETHEUS_CHECKS,
  MAX_QUERY_LENGTH,
  MAX_URL_LENGTH,
  MIN_FAILURE_THRESHOLD,
  NO_DATA_RULES,
  type CheckState,
  type HealthChecksSpec,
  type HealthChecksStatus,
  type HttpCheck,
  type PrometheusCheck,
} from '../../src/api/health.js';
import {
  DEFAULT_MAX_CONCURRENT_NAMESPACES,
  DEFAULT_MAX_CONCURRENT_RESTARTS,
  DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
  MAX_CONCURRENT_NAMESPACES,
  MAX_CONCURRENT_RESTARTS,
  MAX_MIGRATION_FROM,
  MAX_LISTED_NAMESPACES,
  MAX_MIGRATION_STEPS,
  MAX_PAUSE,
  MAX_PAUSE_LENGTH,
  MAX_PAUSE_MS,
  MAX_ROLLBACK_NAMESPACES,
  MAX_ROLLOUT_TIMEOUT_SECONDS,
  MAX_SELECTOR_EXPRESSIONS,
  MAX_SELECTOR_MATCH_LABELS,
  MAX_SELECTOR_VALUES,
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_FAILED,
  MIGRATION_PHASE_PAUSED,
  MIGRATION_PHASE_PENDING,
  MIGRATION_PHASE_PROGRESSING,
  MIGRATION_PHASE_ROLLED_BACK,
  MIGRATION_PHASE_ROLLING_BACK,
  MIGRATION_PHASE_SUCCEEDED,
  MIGRATION_PHASE_SUSPENDED,
  MIN_CONCURRENT_NAMESPACES,
  MIN_CONCURRENT_RESTARTS,
  MIN_ROLLOUT_TIMEOUT_SECONDS,
  NS_FAILED,
  NS_MIGRATED,
  NS_MIGRATING,
  NS_PENDING,
  NS_ROLLED_BACK,
  NS_ROLLING_BACK,
  PAUSE_INDEFINITE,
  type MigrationCounts,
  type MigrationSpec,
  type MigrationStatus,
  type NamespaceMigrationStatus,
} from '../../src/api/migration.js';
import { parseDuration, validateMeshRevision, validateMigrationSpec } from '../../src/policy/validation/index.js';
import { repoPath } from '../support/repo.js';

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
}
interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  format?: string;
  pattern?: string;
  'x-kubernetes-validations'?: Rule[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}
interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

/** The Go-style duration pattern the CRD's rules use, as written inside a CEL string literal. */
const DURATION_RE = '^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$';
/**
 * The durations a rule may pass to CEL's duration() (see the CRD's header): few
 * enough digits per unit that no string of a duration field's length overflows
 * int64 nanoseconds, which would fail the rule's evaluation instead of its check.
 */
const BOUNDED_RE = '^(0*[0-9]{1,5}(\\\\.[0-9]+)?h|0*[0-9]{1,7}(\\\\.[0-9]+)?m|0*[0-9]{1,9}(\\\\.[0-9]+)?s|0*[0-9]{1,12}(\\\\.[0-9]+)?ms)+$';

const crd = parse(readFileSync(repoPath('crds/meshrev.io_meshrevisions.yaml'), 'utf8')) as Crd;
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

function at(path: string): Schema {
  let s: Schema = root;
  for (const part of path.split('.').filter(Boolean)) {
    const next = part === '[]' ? s.items : part === '{}' ? s.additionalProperties : s.properties?.[part];
    if (!next) throw new Error(`no schema at ${path} (stuck at ${part})`);
    s = next;
  }
  return s;
}

/** Every node of the schema with its path. */
function walk(s: Schema, path: string, out: { path: string; schema: Schema }[] = []): { path: string; schema: Schema }[] {
  out.push({ path, schema: s });
  for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, path ? `${path}.${k}` : k, out);
  if (s.items) walk(s.items, `${path}.[]`, out);
  if (s.additionalProperties) walk(s.additionalProperties, `${path}.{}`, out);
  return out;
}

/** Structural check of an object against the schema (types, unknown fields, required, bounds, enums), as pruning and OpenAPI validation would. */
function structuralErrors(value: unknown, s: Schema, path = ''): string[] {
  const errs: string[] = [];
  const t = s.type;
  if (t === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
    const obj = value as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) errs.push(`${path}.${r}: required`);
    if (s.properties && path !== '.metadata') {
      for (const [k, v] of Object.entries(obj)) {
        const p = s.properties[k];
        if (!p) errs.push(`${path}.${k}: unknown field`);
        else errs.push(...structuralErrors(v, p, `${path}.${k}`));
      }
    }
    if (s.additionalProperties) {
      if (s.maxProperties !== undefined && Object.keys(obj).length > s.maxProperties) errs.push(`${path}: too many properties`);
      for (const [k, v] of Object.entries(obj)) errs.push(...structuralErrors(v, s.additionalProperties, `${path}.${k}`));
    }
  } else if (t === 'array') {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    if (s.maxItems !== undefined && value.length > s.maxItems) errs.push(`${path}: too many items`);
    if (s.minItems !== undefined && value.length < s.minItems) errs.push(`${path}: too few items`);
    value.forEach((v, i) => errs.push(...structuralErrors(v, s.items!, `${path}[${i}]`)));
  } else if (t === 'string') {
    if (typeof value !== 'string') return [`${path}: not a string`];
    if (s.maxLength !== undefined && value.length > s.maxLength) errs.push(`${path}: too long`);
    if (s.minLength !== undefined && value.length < s.minLength) errs.push(`${path}: too short`);
    if (s.format === 'byte' && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) errs.push(`${path}: not base64`);
  } else if (t === 'integer') {
    if (!Number.isInteger(value)) return [`${path}: not an integer`];
    if (s.minimum !== undefined && (value as number) < s.minimum) errs.push(`${path}: below minimum`);
    if (s.maximum !== undefined && (value as number) > s.maximum) errs.push(`${path}: above maximum`);
  } else if (t === 'boolean') {
    if (typeof value !== 'boolean') return [`${path}: not a boolean`];
  }
  if (s.enum && !s.enum.includes(value)) errs.push(`${path}: not one of ${s.enum.join(', ')}`);
  return errs;
}

describe('MeshRevision CRD (crds/meshrev.io_meshrevisions.yaml)', () => {
  it('defines meshrevisions.meshrev.io v1alpha1, cluster-scoped, short name mrev, category meshrev, matching src/api', () => {
    expect(crd.metadata.name).to.equal(`${PLURAL}.${GROUP}`);
    expect(crd.spec.group).to.equal(GROUP);
    expect(crd.spec.scope).to.equal('Cluster');
    expect(crd.spec.names).to.deep.include({ kind: KIND, plural: PLURAL, shortNames: [SHORT_NAME], categories: ['meshrev'] });
    expect(crd.spec.versions.map((v) => v.name)).to.deep.equal([VERSION]);
    expect(version).to.include({ served: true, storage: true });
  });

  it('has the status subresource, so users cannot write status and the operator cannot change spec through it', () => {
    expect(version.subresources?.status).to.deep.equal({});
  });

  it('describes every field, so kubectl explain teaches the API', () => {
    // The root `metadata` is the exception: the API server documents ObjectMeta itself and rejects a description there.
    const missing = walk(root, '')
      .filter(({ path }) => path !== 'metadata')
      .filter(({ schema }) => typeof schema.description !== 'string' || schema.description.trim().length < 8)
      .map(({ path }) => path || '(root)');
    expect(missing).to.deep.equal([]);
  });

  it('is structural: every node has a type and nothing preserves unknown fields', () => {
    for (const { path, schema } of walk(root, '')) {
      expect(schema.type, path || '(root)').to.be.a('string');
      expect(schema, path).to.not.have.property('x-kubernetes-preserve-unknown-fields');
    }
  });

  it('requires spec and spec.revision, and spec.injector unless the webhooks are External (a CEL rule)', () => {
    expect(root.required).to.deep.equal(['spec']);
    expect(at('spec').required).to.have.members(['revision']);
    const rules = (at('spec')['x-kubernetes-validations'] ?? []).map((r) => r.rule);
    expect(rules).to.include("has(self.injector) || (has(self.webhooks) && has(self.webhooks.management) && self.webhooks.management == 'External')");
    expect(at('spec.webhooks.management').enum).to.deep.equal(['Managed', 'External']);
    expect(at('spec.injector.service').required).to.deep.equal(['name']);
  });

  it('bounds revision and tags as DNS-1123 labels of at most 63 characters', () => {
    for (const p of ['spec.revision', 'spec.tags.[]']) {
      expect(at(p).maxLength, p).to.equal(63);
      expect(at(p)['x-kubernetes-validations']!.map((r) => r.rule), p).to.include("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')");
    }
  });

  describe('CEL rules', () => {
    const expected: { path: string; rule: string; says: string }[] = [
      { path: 'spec', rule: '!has(self.tags) || !(self.revision in self.tags)', says: 'remove it from spec.tags' },
      { path: 'spec.revision', rule: 'self == oldSelf', says: 'immutable' },
      { path: 'spec.revision', rule: "self != 'default'", says: 'revision "default" is reserved' },
      { path: 'spec.tags.[]', rule: "self != 'default'", says: 'spec.default: true' },
      { path: 'spec.injector', rule: 'has(self.service) != has(self.url)', says: 'exactly one of' },
      { path: 'spec.injector.url', rule: "isURL(self) && url(self).getScheme() == 'https'", says: 'https://' },
      { path: 'spec.injector.url', rule: "!self.contains('?') && !self.contains('#')", says: 'query' },
      { path: 'spec.injector.service.path', rule: "self.startsWith('/')", says: 'start with' },
      { path: 'spec', rule: '!has(self.migration) || !(self.revision in self.migration.from)', says: 'spec.migration.from must not list the target revision itself' },
      {
        path: 'spec',
        rule: '!has(self.migration) || !has(self.tags) || !self.migration.from.exists(f, f in self.tags)',
        says: 'it is a tag of this MeshRevision (spec.tags), so its namespaces already get this revision; remove it from spec.migration.from',
      },
      {
        path: 'spec',
        rule: "!has(self.migration) || !has(self.default) || !self.default || !('default' in self.migration.from)",
        says: 'spec.migration.from must not list "default" while spec.default is true',
      },
      {
        path: 'spec',
        rule: '!has(self.enableNamespacesByDefault) || !self.enableNamespacesByDefault || (has(self.default) && self.default)',
        says: 'it needs spec.default: true on the same MeshRevision',
      },
      { path: 'spec.migration.from.[]', rule: "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')", says: 'or "default" for istio-injection=enabled' },
      { path: 'spec.migration.steps.[]', rule: 'has(self.namespaces) != has(self.percent)', says: 'set exactly one of namespaces' },
      {
        path: 'spec.migration',
        rule: '!has(self.steps) || self.steps.filter(s, has(s.percent)).map(s, s.percent).isSorted()',
        says: 'percent steps must not go down',
      },
      {
        path: 'spec.migration',
        rule: '!has(self.steps) || self.steps.filter(s, has(s.namespaces)).map(s, s.namespaces).isSorted()',
        says: 'namespaces steps must not go down',
      },
      {
        path: 'spec.migration.steps.[].pause',
        rule: "self == 'indefinite' || self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",
        says: '"indefinite" to wait for spec.migration.promotedStep',
      },
      {
        path: 'spec.migration.steps.[].pause',
        rule: `self == 'indefinite' || !self.matches('${DURATION_RE}') || (self.matches('${BOUNDED_RE}') && duration(self) <= duration('${MAX_PAUSE}'))`,
        says: `is out of range: use at most ${MAX_PAUSE} (30 days), or "indefinite"`,
      },
      {
        path: 'spec.migration.namespaceSelector.matchExpressions.[]',
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        says: 'needs a non-empty values list',
      },
      {
        path: 'spec.migration.namespaceSelector.matchExpressions.[]',
        rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
        says: 'takes no values: remove values',
      },
      {
        path: 'spec.migration.rollback',
        rule: '!(has(self.all) && self.all && has(self.namespaces) && size(self.namespaces) > 0)',
        says: 'not both',
      },
      { path: 'spec.migration.rollback.namespaces.[]', rule: "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')", says: 'DNS-1123 label' },
      {
        path: 'spec.healthChecks',
        rule: '!has(self.prometheus) || !has(self.http) || self.prometheus.all(p, !self.http.exists(h, h.name == p.name))',
        says: 'give every health check its own name',
      },
      { path: 'spec.healthChecks.prometheus.[]', rule: 'has(self.min) || has(self.max)', says: 'set min, max or both' },
      { path: 'spec.healthChecks.prometheus.[]', rule: '!has(self.min) || !has(self.max) || self.min <= self.max', says: 'min is greater than max' },
      ...['prometheus', 'http'].flatMap((kind) => [
        {
          path: `spec.healthChecks.${kind}.[]`,
          rule: `!has(self.timeout) || !self.timeout.matches('${BOUNDED_RE}') || !has(self.interval) || !self.interval.matches('${BOUNDED_RE}') || duration(self.timeout) <= duration(self.interval)`,
          says: 'longer than the interval',
        },
        { path: `spec.healthChecks.${kind}.[].name`, rule: "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')", says: 'DNS-1123 label' },
        { path: `spec.healthChecks.${kind}.[].interval`, rule: `self.matches('${DURATION_RE}')`, says: 'is not a duration' },
        {
          path: `spec.healthChecks.${kind}.[].interval`,
          rule: `!self.matches('${DURATION_RE}') || (self.matches('${BOUNDED_RE}') && duration(self) >= duration('1s') && duration(self) <= duration('1h'))`,
          says: 'use from 1s to 1h',
        },
        { path: `spec.healthChecks.${kind}.[].timeout`, rule: `self.matches('${DURATION_RE}')`, says: 'is not a duration' },
        {
          path: `spec.healthChecks.${kind}.[].timeout`,
          rule: `!self.matches('${DURATION_RE}') || (self.matches('${BOUNDED_RE}') && duration(self) > duration('0s') && duration(self) <= duration('60s'))`,
          says: 'at most 60s',
        },
      ]),
      { path: 'spec.healthChecks.prometheus.[].address', rule: "isURL(self) && url(self).getScheme() in ['http', 'https']", says: 'http:// or' },
      { path: 'spec.healthChecks.prometheus.[].address', rule: "!self.contains('?') && !self.contains('#')", says: 'must not have a query' },
      { path: 'spec.healthChecks.http.[].url', rule: "self.matches('^[hH][tT][tT][pP][sS]?://[^/?#]+')", says: 'http:// or https://' },
      {
        path: 'spec.healthChecks.http.[].url',
        rule: "!self.matches('(?i)^https?://([^/?#@]*@)?(169\\\\.254\\\\.[0-9]{1,3}\\\\.[0-9]{1,3}|\\\\[fe[89ab][0-9a-f]*:[^\\\\]]*\\\\]|\\\\[fd00:ec2::254\\\\]|metadata\\\\.google\\\\.internal\\\\.?)(:[0-9]*)?([/?#].*)?$')",
        says: 'may not reach link-local',
      },
    ];
    for (const e of expected) {
      it(`${e.path}: ${e.rule}`, () => {
        const rule = at(e.path)['x-kubernetes-validations']?.find((r) => r.rule === e.rule);
        expect(rule, `rules at ${e.path}`).to.not.equal(undefined);
        expect(`${rule!.message ?? ''}${rule!.messageExpression ?? ''}`).to.contain(e.says);
      });
    }

    it('bounds every list and string a rule reads, so the API server can estimate the rules\' cost', () => {
      // The API server rejects a CRD whose estimated CEL cost exceeds its budget; unbounded inputs are estimated at the request size limit.
      const unbounded = walk(root, '')
        .filter(({ path }) => ['spec.migration', 'spec.healthChecks'].some((p) => path === p || path.startsWith(`${p}.`)))
        .filter(
          ({ schema }) =>
            (schema.type === 'array' && schema.maxItems === undefined) ||
            (schema.type === 'string' && schema.maxLength === undefined && !schema.enum) ||
            (schema.additionalProperties !== undefined && schema.maxProperties === undefined),
        )
        .map(({ path }) => path);
      expect(unbounded).to.deep.equal([]);
    });

    it('gives every rule a message or messageExpression that says what to fix', () => {
      for (const { path, schema } of walk(root, '')) {
        for (const r of schema['x-kubernetes-validations'] ?? []) {
          expect((r.message ?? r.messageExpression ?? '').length, `${path}: ${r.rule}`).to.be.greaterThan(20);
        }
      }
    });
  });

  describe('durations', () => {
    /** A regex of a CEL string literal as JS reads it (the CRD's duration patterns are plain RE2, which JS reads alike). */
    const regex = (celLiteral: string) => new RegExp(celLiteral.replaceAll('\\\\', '\\'));
    const syntax = regex(DURATION_RE);
    const bounded = regex(BOUNDED_RE);
    const NS: Readonly<Record<string, bigint>> = { h: 3_600_000_000_000n, m: 60_000_000_000n, s: 1_000_000_000n, ms: 1_000_000n };
    const INT64_MAX = 2n ** 63n - 1n;

    /** Go's time.ParseDuration (what CEL's duration() calls) in ns, fractions truncated, without its int64 limit. */
    function goNs(text: string): bigint {
      let ns = 0n;
      for (const [, int, frac = '', unit] of text.matchAll(/([0-9]+)(?:\.([0-9]+))?(ms|s|m|h)/g)) {
        const u = NS[unit!]!;
        ns += BigInt(int!) * u + (BigInt(frac || '0') * u) / 10n ** BigInt(frac.length);
      }
      return ns;
    }

    /** The duration fields: every string whose rules check the Go-style syntax. */
    const fields = walk(root, '').filter(({ schema }) => (schema['x-kubernetes-validations'] ?? []).some((r) => r.rule.includes(`self.matches('${DURATION_RE}')`)));

    it('finds the duration fields: each step\'s pause, and each check\'s interval and timeout', () => {
      expect(fields.map((f) => f.path)).to.have.members([
        'spec.migration.steps.[].pause',
        'spec.healthChecks.prometheus.[].interval',
        'spec.healthChecks.prometheus.[].timeout',
        'spec.healthChecks.http.[].interval',
        'spec.healthChecks.http.[].timeout',
      ]);
    });

    it('gives every duration field an upper bound, stated in its description', () => {
      for (const { path, schema } of fields) {
        const bound = (schema['x-kubernetes-validations'] ?? []).find((r) => /duration\(self\) <= duration\('[0-9]+[hms]'\)/.test(r.rule));
        expect(bound, path).to.not.equal(undefined);
        const max = /duration\(self\) <= duration\('([0-9]+[hms])'\)/.exec(bound!.rule)![1]!;
        expect(schema.description, path).to.contain(max);
      }
    });

    it('calls duration() only on strings that match the bounded pattern, so no rule fails to evaluate', () => {
      for (const { path, schema } of walk(root, '')) {
        for (const r of schema['x-kubernetes-validations'] ?? []) {
          for (const [, arg] of r.rule.matchAll(/duration\(([^)']+)\)/g)) {
            expect(r.rule, `${path}: duration(${arg})`).to.contain(`${arg}.matches('${BOUNDED_RE}')`);
          }
        }
      }
    });

    it('bounded pattern: no string of a duration field\'s length overflows int64 nanoseconds', () => {
      const maxLength = Math.max(...fields.map((f) => f.schema.maxLength!));
      expect(maxLength).to.equal(MAX_PAUSE_LENGTH);
      // The densest parts the pattern allows, repeated to the longest field's length...
      for (const part of ['99999h', '9999999m', '999999999s', '999999999999ms', '99999.9h', '999999999.99999s']) {
        const text = part.repeat(Math.floor(maxLength / part.length));
        expect(bounded.test(text), text).to.equal(true);
        expect(goNs(text) <= INT64_MAX, text).to.equal(true);
      }
      // ...and random mixes of them (seeded, so a failure repeats).
      let seed = 17;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      for (let i = 0; i < 500; i++) {
        let text = '';
        for (;;) {
          const unit = ['h', 'm', 's', 'ms'][rand(4)]!;
          const digits = { h: 5, m: 7, s: 9, ms: 12 }[unit]!;
          const part = `${'9'.repeat(1 + rand(digits))}${rand(3) === 0 ? '.9' : ''}${unit}`;
          if (text.length + part.length > maxLength) break;
          text += part;
        }
        expect(bounded.test(text), text).to.equal(true);
        expect(goNs(text) <= INT64_MAX, text).to.equal(true);
      }
      expect(bounded.test('3000000000h')).to.equal(false);
      expect(bounded.test('9999999999999ms')).to.equal(false);
    });

    it('bounded pattern: takes every value within the bounds however it is written', () => {
      for (const text of ['720h', '43200m', '2592000s', '2592000000ms', '719h59m59.999s', '0000000720h', '1h', '3600s', '3600000ms', '60s', '60000ms', '0.5ms', '1m1m']) {
        expect(bounded.test(text), text).to.equal(true);
        expect(syntax.test(text), text).to.equal(true);
      }
    });

    it(`pause: the CRD and validateMigrationSpec accept the same values, at most ${MAX_PAUSE}`, () => {
      expect(parseDuration(MAX_PAUSE)).to.equal(MAX_PAUSE_MS);
      // The pause rules as the API server evaluates them, with Go's arithmetic for duration().
      const crdAccepts = (p: string) =>
        p.length <= MAX_PAUSE_LENGTH && (p === PAUSE_INDEFINITE || (syntax.test(p) && bounded.test(p) && goNs(p) <= goNs(MAX_PAUSE)));
      const table = ['0s', '30s', '720h', '719h60m', '43200m', '43201m', '2592000000ms', '2592000001ms', '720h0.4ms', '721h', '3000000000h', '0000000720h', '1e3h', '5 m', PAUSE_INDEFINITE];
      for (const p of table) {
        const offline = validateMigrationSpec({ from: ['1-20'], steps: [{ percent: 100, pause: p }] }).length === 0;
        expect(offline, p).to.equal(crdAccepts(p));
      }
      expect(table.filter(crdAccepts)).to.deep.equal(['0s', '30s', '720h', '719h60m', '43200m', '2592000000ms', '0000000720h', PAUSE_INDEFINITE]);
    });
  });

  it('rejects duplicate tags (listType set) and bounds their count', () => {
    expect(at('spec.tags')['x-kubernetes-list-type']).to.equal('set');
    expect(at('spec.tags').maxItems).to.equal(MAX_TAGS);
  });

  it('bounds and defaults the injector like the API server and src/api do', () => {
    expect(at('spec.injector.timeoutSeconds')).to.include({ minimum: MIN_TIMEOUT_SECONDS, maximum: MAX_TIMEOUT_SECONDS, default: DEFAULT_TIMEOUT_SECONDS });
    expect(at('spec.injector.service.port')).to.include({ minimum: 1, maximum: 65535, default: DEFAULT_INJECTOR_PORT });
    expect(at('spec.injector.service.namespace').default).to.equal(DEFAULT_INJECTOR_NAMESPACE);
    expect(at('spec.injector.service.path').default).to.equal(DEFAULT_INJECTOR_PATH);
    expect(at('spec.injector.failurePolicy')).to.deep.include({ enum: ['Fail', 'Ignore'], default: DEFAULT_FAILURE_POLICY });
    // Checked by CEL rules that say what to do, not format: byte (whose message does not).
    expect(at('spec.injector.caBundle')['x-kubernetes-validations']!.map((r) => r.rule)).to.include("!self.startsWith('-----BEGIN')");
    expect(at('spec.default').default).to.equal(false);
  });

  it('spells out the status schema: conditions as a map keyed by type in metav1.Condition shape', () => {
    const c = at('status.conditions');
    expect(c['x-kubernetes-list-type']).to.equal('map');
    expect(c['x-kubernetes-list-map-keys']).to.deep.equal(['type']);
    expect(c.items!.required).to.have.members(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
    expect(at('status.conditions.[].status').enum).to.deep.equal(['True', 'False', 'Unknown']);
    expect(at('status.observedGeneration').type).to.equal('integer');
    for (const p of ['phase', 'webhookConfiguration', 'defaultRevision', 'activeTags', 'inUse.namespaces', 'inUse.namespaceCount', 'inUse.podCount', 'inUse.summary', 'lastFailure.reason', 'lastFailure.message', 'lastFailure.time']) {
      expect(() => at(`status.${p}`), p).to.not.throw();
    }
    // Bounded: the first MAX_IN_USE_LISTED namespaces (namespaceCount counts all), so a revision
    // that every namespace of a large cluster uses does not grow towards etcd's object limit.
    expect(at('status.inUse.namespaces').maxItems).to.equal(MAX_IN_USE_LISTED);
  });

  it('declares nothing under metadata, which the API server forbids', () => {
    expect(at('metadata')).to.deep.equal({ type: 'object' });
  });

  describe('spec.healthChecks', () => {
    it('has exactly the fields of HealthChecksSpec, PrometheusCheck and HttpCheck', () => {
      const spec: Record<keyof HealthChecksSpec, true> = { prometheus: true, http: true };
      const prom: Record<keyof PrometheusCheck, true> = {
        name: true,
        address: true,
        query: true,
        min: true,
        max: true,
        interval: true,
        failureThreshold: true,
        noData: true,
        timeout: true,
      };
      const http: Record<keyof HttpCheck, true> = { name: true, url: true, method: true, expectedStatus: true, timeout: true, interval: true, failureThreshold: true };
      expect(Object.keys(at('spec.healthChecks').properties!)).to.have.members(Object.keys(spec));
      expect(Object.keys(at('spec.healthChecks.prometheus.[]').properties!)).to.have.members(Object.keys(prom));
      expect(Object.keys(at('spec.healthChecks.http.[]').properties!)).to.have.members(Object.keys(http));
      expect(at('spec.healthChecks.prometheus.[]').required).to.have.members(['name', 'address', 'query']);
      expect(at('spec.healthChecks.http.[]').required).to.have.members(['name', 'url']);
    });

    it('defaults like src/api/health.ts: 30s, 3 failures, noData fail, GET 200; no timeout default (it is capped at the interval)', () => {
      for (const kind of ['prometheus', 'http']) {
        expect(at(`spec.healthChecks.${kind}.[].interval`).default, kind).to.equal(DEFAULT_INTERVAL);
        expect(at(`spec.healthChecks.${kind}.[].failureThreshold`).default, kind).to.equal(DEFAULT_FAILURE_THRESHOLD);
        expect(at(`spec.healthChecks.${kind}.[].timeout`), kind).to.not.have.property('default');
      }
      expect(at('spec.healthChecks.prometheus.[].noData')).to.deep.include({ default: DEFAULT_NO_DATA, enum: [...NO_DATA_RULES] });
      expect(at('spec.healthChecks.http.[].method')).to.deep.include({ default: DEFAULT_HTTP_METHOD, enum: [...HTTP_METHODS] });
      expect(at('spec.healthChecks.http.[].expectedStatus')).to.include({ default: DEFAULT_EXPECTED_STATUS, minimum: 100, maximum: 599 });
    });

    it('bounds lists, names, queries, URLs, durations and thresholds like validateHealthChecks does', () => {
      expect(at('spec.healthChecks.prometheus')).to.deep.include({ maxItems: MAX_PROMETHEUS_CHECKS, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
      expect(at('spec.healthChecks.http')).to.deep.include({ maxItems: MAX_HTTP_CHECKS, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
      expect(at('spec.healthChecks.prometheus.[].query').maxLength).to.equal(MAX_QUERY_LENGTH);
      expect(at('spec.healthChecks.prometheus.[].address').maxLength).to.equal(MAX_URL_LENGTH);
      expect(at('spec.healthChecks.http.[].url').maxLength).to.equal(MAX_URL_LENGTH);
      expect(at('spec.healthChecks.prometheus.[].min').type).to.equal('number');
      expect(at('spec.healthChecks.prometheus.[].max').type).to.equal('number');
      for (const kind of ['prometheus', 'http']) {
        expect(at(`spec.healthChecks.${kind}.[].name`).maxLength).to.equal(63);
        expect(at(`spec.healthChecks.${kind}.[].interval`).maxLength).to.equal(MAX_DURATION_LENGTH);
        expect(at(`spec.healthChecks.${kind}.[].timeout`).maxLength).to.equal(MAX_DURATION_LENGTH);
        expect(at(`spec.healthChecks.${kind}.[].failureThreshold`)).to.include({ minimum: MIN_FAILURE_THRESHOLD, maximum: MAX_FAILURE_THRESHOLD });
      }
    });

    it('documents the query variables in the query description, so kubectl explain teaches them', () => {
      const d = at('spec.healthChecks.prometheus.[].query').description!;
      for (const v of ['{{namespace}}', '{{namespaces}}', '{{revision}}', '{{interval}}']) expect(d).to.contain(v);
    });
  });

  describe('status.healthChecks', () => {
    it('has exactly the fields of HealthChecksStatus and CheckState, with the CHECK_* phases', () => {
      const st: Record<keyof HealthChecksStatus, true> = { step: true, checks: true, unlistedChecks: true };
      const cs: Record<keyof CheckState, true> = {
        name: true,
        kind: true,
        namespace: true,
        phase: true,
        consecutiveFailures: true,
        lastRunAt: true,
        lastOutcome: true,
        lastValue: true,
        lastMessage: true,
      };
      expect(Object.keys(at('status.healthChecks').properties!)).to.have.members(Object.keys(st));
      expect(Object.keys(at('status.healthChecks.checks.[]').properties!)).to.have.members(Object.keys(cs));
      expect(at('status.healthChecks.checks.[].phase').enum).to.have.members([...CHECK_PHASES]);
      // Bounded: a {{namespace}} check has a state per namespace of the step.
      expect(at('status.healthChecks.checks').maxItems).to.equal(MAX_LISTED_CHECK_STATES);
    });

    it('accepts states as nextCheckState writes them', () => {
      const status: HealthChecksStatus = {
        step: 2,
        checks: [
          { name: 'error-rate', kind: 'prometheus', phase: 'Failing', consecutiveFailures: 1, lastRunAt: '2024-01-01T00:00:00.000Z', lastOutcome: 'fail', lastValue: '+Inf', lastMessage: 'value +Inf is above the maximum 0.05' },
          { name: 'home', kind: 'http', namespace: 'shop', phase: 'Pending', consecutiveFailures: 0 },
        ],
      };
      expect(structuralErrors(status, at('status.healthChecks'), '.status.healthChecks')).to.deep.equal([]);
    });
  });

  describe('spec.migration', () => {
    it('has exactly the fields of MigrationSpec, from required', () => {
      const fields: Record<keyof MigrationSpec, true> = {
        from: true,
        namespaceSelector: true,
        steps: true,
        maxConcurrentNamespaces: true,
        maxConcurrentRestarts: true,
        paused: true,
        promotedStep: true,
        rollback: true,
        rolloutTimeoutSeconds: true,
        onFailure: true,
      };
      expect(Object.keys(at('spec.migration').properties!)).to.have.members(Object.keys(fields));
      expect(at('spec.migration').required).to.deep.equal(['from']);
      expect(Object.keys(at('spec.migration.steps.[]').properties!)).to.have.members(['namespaces', 'percent', 'pause']);
      expect(Object.keys(at('spec.migration.rollback').properties!)).to.have.members(['all', 'namespaces']);
    });

    it('defaults like src/api/migration.ts: one 100% step, 1 namespace and 5 restarts at a time, 600s rollouts, not paused', () => {
      expect(at('spec.migration.steps').default).to.deep.equal([{ percent: 100 }]);
      expect(at('spec.migration.maxConcurrentNamespaces').default).to.equal(DEFAULT_MAX_CONCURRENT_NAMESPACES);
      expect(at('spec.migration.maxConcurrentRestarts').default).to.equal(DEFAULT_MAX_CONCURRENT_RESTARTS);
      expect(at('spec.migration.rolloutTimeoutSeconds').default).to.equal(DEFAULT_ROLLOUT_TIMEOUT_SECONDS);
      expect(at('spec.migration.paused').default).to.equal(false);
    });

    it('bounds every number and list like validateMigrationSpec does', () => {
      expect(at('spec.migration.from')).to.include({ minItems: 1, maxItems: MAX_MIGRATION_FROM, 'x-kubernetes-list-type': 'set' });
      expect(at('spec.migration.from.[]').maxLength).to.equal(63);
      expect(at('spec.migration.steps').maxItems).to.equal(MAX_MIGRATION_STEPS);
      expect(at('spec.migration.steps.[].namespaces').minimum).to.equal(1);
      expect(at('spec.migration.steps.[].percent')).to.include({ minimum: 1, maximum: 100 });
      expect(at('spec.migration.steps.[].pause').maxLength).to.equal(MAX_PAUSE_LENGTH);
      expect(at('spec.migration.maxConcurrentNamespaces')).to.include({ minimum: MIN_CONCURRENT_NAMESPACES, maximum: MAX_CONCURRENT_NAMESPACES });
      expect(at('spec.migration.maxConcurrentRestarts')).to.include({ minimum: MIN_CONCURRENT_RESTARTS, maximum: MAX_CONCURRENT_RESTARTS });
      expect(at('spec.migration.rolloutTimeoutSeconds')).to.include({ minimum: MIN_ROLLOUT_TIMEOUT_SECONDS, maximum: MAX_ROLLOUT_TIMEOUT_SECONDS });
      expect(at('spec.migration.promotedStep').minimum).to.equal(0);
      expect(at('spec.migration.paused').type).to.equal('boolean');
      expect(at('spec.migration.rollback.all').type).to.equal('boolean');
      expect(at('spec.migration.rollback.namespaces')).to.include({ maxItems: MAX_ROLLBACK_NAMESPACES, 'x-kubernetes-list-type': 'set' });
      expect(at('spec.migration.namespaceSelector.matchLabels').maxProperties).to.equal(MAX_SELECTOR_MATCH_LABELS);
      expect(at('spec.migration.namespaceSelector.matchExpressions').maxItems).to.equal(MAX_SELECTOR_EXPRESSIONS);
      expect(at('spec.migration.namespaceSelector.matchExpressions.[].values').maxItems).to.equal(MAX_SELECTOR_VALUES);
    });

    it('takes a standard LabelSelector as namespaceSelector', () => {
      expect(at('spec.migration.namespaceSelector.matchLabels.{}').type).to.equal('string');
      expect(at('spec.migration.namespaceSelector.matchExpressions.[]').required).to.have.members(['key', 'operator']);
      expect(at('spec.migration.namespaceSelector.matchExpressions.[].operator').enum).to.deep.equal(['In', 'NotIn', 'Exists', 'DoesNotExist']);
      expect(at('spec.migration.namespaceSelector.matchExpressions')['x-kubernetes-list-type']).to.equal('atomic');
    });

    it('mentions the indefinite pause in the pause description, so kubectl explain teaches it', () => {
      expect(at('spec.migration.steps.[].pause').description).to.contain(PAUSE_INDEFINITE).and.contain('promotedStep');
    });
  });

  describe('status.migration', () => {
    it('has exactly the fields of MigrationStatus', () => {
      const fields: Record<keyof MigrationStatus, true> = {
        generation: true,
        phase: true,
        currentStep: true,
        steps: true,
        namespaces: true,
        unlistedNamespaces: true,
        counts: true,
        startedAt: true,
        finishedAt: true,
        rollbackReason: true,
        rollbackRequested: true,
        blocked: true,
        summary: true,
      };
      expect(Object.keys(at('status.migration').properties!)).to.have.members(Object.keys(fields));
      const ns: Record<keyof NamespaceMigrationStatus, true> = { name: true, state: true, step: true, from: true, workloads: true, verified: true, message: true };
      expect(Object.keys(at('status.migration.namespaces.[]').properties!)).to.have.members(Object.keys(ns));
      const counts: Record<keyof MigrationCounts, true> = { eligible: true, migrated: true, inProgress: true, failed: true, rolledBack: true };
      expect(Object.keys(at('status.migration.counts').properties!)).to.have.members(Object.keys(counts));
      expect(at('status.migration.counts').required).to.have.members(Object.keys(counts));
    });

    it('enumerates the MIGRATION_PHASE_* and NS_* values', () => {
      expect(at('status.migration.phase').enum).to.have.members([
        MIGRATION_PHASE_PENDING,
        MIGRATION_PHASE_PROGRESSING,
        MIGRATION_PHASE_PAUSED,
        MIGRATION_PHASE_AWAITING_PROMOTION,
        MIGRATION_PHASE_SUSPENDED,
        MIGRATION_PHASE_SUCCEEDED,
        MIGRATION_PHASE_ROLLING_BACK,
        MIGRATION_PHASE_ROLLED_BACK,
        MIGRATION_PHASE_FAILED,
      ]);
      expect(at('status.migration.namespaces.[].state').enum).to.have.members([NS_PENDING, NS_MIGRATING, NS_MIGRATED, NS_FAILED, NS_ROLLING_BACK, NS_ROLLED_BACK]);
    });

    it('keys namespaces by name and steps by index, so server-side apply merges them', () => {
      expect(at('status.migration.namespaces')).to.deep.include({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
      expect(at('status.migration.namespaces.[]').required).to.include('name');
      // Bounded: only namespaces moving, failed or returned, at most MAX_LISTED_NAMESPACES (the rest counted).
      expect(at('status.migration.namespaces').maxItems).to.equal(MAX_LISTED_NAMESPACES);
      expect(at('status.migration.steps')).to.deep.include({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['index'] });
      expect(at('status.migration.steps.[]').required).to.include('index');
      // 20 steps plus the implied final 100% one.
      expect(at('status.migration.steps').maxItems).to.equal(MAX_MIGRATION_STEPS + 1);
    });

    it('accepts a status as the migration reconciler writes it', () => {
      const status: MigrationStatus = {
        generation: 3,
        phase: MIGRATION_PHASE_AWAITING_PROMOTION,
        currentStep: 2,
        steps: [
          { index: 1, target: 1, completedAt: '2024-01-01T00:00:00Z' },
          { index: 2, target: 3 },
        ],
        namespaces: [
          { name: 'shop', state: NS_MIGRATED, step: 1, from: 'default', workloads: 2, verified: 2 },
          { name: 'web', state: NS_PENDING, step: 2, from: '1-20' },
        ],
        counts: { eligible: 5, migrated: 1, inProgress: 0, failed: 0, rolledBack: 0 },
        startedAt: '2024-01-01T00:00:00Z',
        summary: '1/5',
      };
      expect(structuralErrors(status, at('status.migration'), '.status.migration')).to.deep.equal([]);
    });
  });

  it('prints revision, default, tags, phase, ready, migrated x/y, in use and age in kubectl get mrev', () => {
    const cols = version.additionalPrinterColumns.filter((c) => !c.priority).map((c) => [c.name, c.jsonPath]);
    expect(cols).to.deep.equal([
      ['Revision', '.spec.revision'],
      ['Default', '.status.defaultRevision'],
      ['Tags', '.status.activeTags'],
      ['Phase', '.status.phase'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Migrated', '.status.migration.summary'],
      ['In Use', '.status.inUse.summary'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
    const wide = version.additionalPrinterColumns.filter((c) => c.priority === 1).map((c) => c.name);
    expect(wide).to.deep.equal(['Webhook', 'Message']);
  });

  it('accepts every sample structurally, and validateMeshRevision agrees', () => {
    const dir = repoPath('config/samples');
    for (const f of readdirSync(dir).filter((x) => x.startsWith('meshrevision-'))) {
      const obj: unknown = parse(readFileSync(join(dir, f), 'utf8'));
      expect(structuralErrors(obj, root), f).to.deep.equal([]);
      expect(validateMeshRevision(obj), f).to.deep.equal([]);
    }
  });

  it('knows every spec field validateMeshRevision knows, and the other way round', () => {
    const full = {
      apiVersion: 'meshrev.io/v1alpha1',
      kind: 'MeshRevision',
      metadata: { name: 'x' },
      spec: {
        revision: '1-21',
        default: true,
        tags: ['canary'],
        enableNamespacesByDefault: true,
        injector: { service: { name: 'istiod-1-21', namespace: 'istio-system', port: 443, path: '/inject' }, failurePolicy: 'Fail', timeoutSeconds: 10 },
        webhooks: { management: 'Managed' },
        migration: {
          // Not "default": this MeshRevision is the default, so that would migrate from itself.
          from: ['1-19', '1-20'],
          namespaceSelector: { matchLabels: { team: 'payments' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] },
          steps: [{ namespaces: 1, pause: 'indefinite' }, { percent: 50, pause: '30s' }, { percent: 100 }],
          maxConcurrentNamespaces: 2,
          maxConcurrentRestarts: 5,
          paused: false,
          promotedStep: 1,
          rollback: { all: false, namespaces: ['shop'] },
          rolloutTimeoutSeconds: 600,
          onFailure: 'rollbackStep',
        },
        healthChecks: {
          prometheus: [
            {
              name: 'error-rate',
              address: 'http://prometheus.istio-system:9090',
              query: 'sum(rate(istio_requests_total{destination_workload_namespace=~"{{namespaces}}",response_code=~"5.."}[{{interval}}]))',
              min: 0,
              max: 0.05,
              interval: '30s',
              failureThreshold: 3,
              noData: 'pass',
              timeout: '10s',
            },
          ],
          http: [{ name: 'home', url: 'http://frontend.{{namespace}}:8080/healthz', method: 'GET', expectedStatus: 200, timeout: '5s', interval: '30s', failureThreshold: 3 }],
        },
      },
    };
    expect(structuralErrors(full, root)).to.deep.equal([]);
    expect(validateMeshRevision(full)).to.deep.equal([]);
    const specFields = Object.keys(at('spec').properties!);
    expect(specFields).to.have.members(Object.keys(full.spec));
    expect(Object.keys(at('spec.injector').properties!)).to.have.members(['service', 'url', 'caBundle', 'failurePolicy', 'timeoutSeconds']);
    expect(Object.keys(at('spec.migration').properties!)).to.have.members(Object.keys(full.spec.migration));
    expect(Object.keys(at('spec.healthChecks').properties!)).to.have.members(Object.keys(full.spec.healthChecks));
    expect(Object.keys(at('spec.healthChecks.prometheus.[]').properties!)).to.have.members(Object.keys(full.spec.healthChecks.prometheus[0]!));
    expect(Object.keys(at('spec.healthChecks.http.[]').properties!)).to.have.members(Object.keys(full.spec.healthChecks.http[0]!));
  });
});
