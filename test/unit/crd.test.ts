import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  DEFAULT_FAILURE_POLICY,
  DEFAULT_INJECTOR_NAMESPACE,
  DEFAULT_INJECTOR_PATH,
  DEFAULT_INJECTOR_PORT,
  DEFAULT_TIMEOUT_SECONDS,
  GROUP,
  KIND,
  MAX_TAGS,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  PLURAL,
  SHORT_NAME,
  VERSION,
} from '../../src/api/meshrevision.js';
import { validateMeshRevision } from '../../src/policy/validation.js';

/** A path in the repository, found from the working directory or this file (tests also run from a build directory). */
function repoPath(rel: string): string {
  const starts = [process.cwd(), dirname(fileURLToPath(import.meta.url))];
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      if (existsSync(join(dir, rel))) return join(dir, rel);
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`cannot find ${rel} above ${starts.join(' or ')}`);
}

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
}
interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
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

const crd = parse(readFileSync(repoPath('crds/meshrev.io_meshrevisions.yaml'), 'utf8')) as Crd;
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

function at(path: string): Schema {
  let s: Schema = root;
  for (const part of path.split('.').filter(Boolean)) {
    const next = part === '[]' ? s.items : s.properties?.[part];
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
  } else if (t === 'array') {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    if (s.maxItems !== undefined && value.length > s.maxItems) errs.push(`${path}: too many items`);
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

  it('requires spec, spec.revision and spec.injector', () => {
    expect(root.required).to.deep.equal(['spec']);
    expect(at('spec').required).to.have.members(['revision', 'injector']);
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
      { path: 'spec.tags.[]', rule: "self != 'default'", says: 'spec.default: true' },
      { path: 'spec.injector', rule: 'has(self.service) != has(self.url)', says: 'exactly one of' },
      { path: 'spec.injector.url', rule: "isURL(self) && url(self).getScheme() == 'https'", says: 'https://' },
      { path: 'spec.injector.url', rule: "!self.contains('?') && !self.contains('#')", says: 'query' },
      { path: 'spec.injector.service.path', rule: "self.startsWith('/')", says: 'start with' },
    ];
    for (const e of expected) {
      it(`${e.path}: ${e.rule}`, () => {
        const rule = at(e.path)['x-kubernetes-validations']?.find((r) => r.rule === e.rule);
        expect(rule, `rules at ${e.path}`).to.not.equal(undefined);
        expect(`${rule!.message ?? ''}${rule!.messageExpression ?? ''}`).to.contain(e.says);
      });
    }

    it('gives every rule a message or messageExpression that says what to fix', () => {
      for (const { path, schema } of walk(root, '')) {
        for (const r of schema['x-kubernetes-validations'] ?? []) {
          expect((r.message ?? r.messageExpression ?? '').length, `${path}: ${r.rule}`).to.be.greaterThan(20);
        }
      }
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
    expect(at('spec.injector.caBundle').format).to.equal('byte');
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
  });

  it('declares nothing under metadata, which the API server forbids', () => {
    expect(at('metadata')).to.deep.equal({ type: 'object' });
  });

  it('leaves spec.migration and spec.healthChecks for the migration issue', () => {
    expect(at('spec').properties).to.not.have.any.keys('migration', 'healthChecks');
  });

  it('prints revision, default, tags, phase, ready, in use and age in kubectl get mrev', () => {
    const cols = version.additionalPrinterColumns.filter((c) => !c.priority).map((c) => [c.name, c.jsonPath]);
    expect(cols).to.deep.equal([
      ['Revision', '.spec.revision'],
      ['Default', '.status.defaultRevision'],
      ['Tags', '.status.activeTags'],
      ['Phase', '.status.phase'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
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
        injector: { service: { name: 'istiod-1-21', namespace: 'istio-system', port: 443, path: '/inject' }, failurePolicy: 'Fail', timeoutSeconds: 10 },
      },
    };
    expect(structuralErrors(full, root)).to.deep.equal([]);
    expect(validateMeshRevision(full)).to.deep.equal([]);
    const specFields = Object.keys(at('spec').properties!);
    expect(specFields).to.have.members(Object.keys(full.spec));
    expect(Object.keys(at('spec.injector').properties!)).to.have.members(['service', 'url', 'caBundle', 'failurePolicy', 'timeoutSeconds']);
  });
});
