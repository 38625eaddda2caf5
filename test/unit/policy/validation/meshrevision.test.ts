import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateMeshRevision, validateMeshRevisionUpdate, validateHealthChecks, validateMigrationSpec } from '../../../../src/policy/validation/index.js';
import { repoPath } from '../../../support/repo.js';
import { CA_B64, CA_PEM, expectError } from './fixtures.js';

/** A MeshRevision as loose JSON: the tests break it on purpose, and validation takes unknown input. */
interface Fixture {
  apiVersion?: unknown;
  kind?: unknown;
  metadata: { name?: unknown; namespace?: unknown };
  spec?: {
    revision?: unknown;
    revison?: unknown;
    default?: unknown;
    enableNamespacesByDefault?: unknown;
    tags?: unknown;
    migration?: unknown;
    healthChecks?: unknown;
    injector?: {
      service?: { name?: unknown; namespace?: unknown; port?: unknown; path?: unknown };
      url?: unknown;
      caBundle?: unknown;
      failurePolicy?: unknown;
      timeoutSeconds?: unknown;
      timeout?: unknown;
    };
  };
}

function valid(): Fixture {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: '1-21' },
    spec: { revision: '1-21', default: false, tags: ['canary'], injector: { service: { name: 'istiod-1-21' } } },
  };
}

type Obj = Fixture;

describe('validateMeshRevision', () => {
  it('accepts a minimal service-injector MeshRevision', () => {
    expect(validateMeshRevision(valid())).to.deep.equal([]);
  });

  it('accepts a URL injector with a base64 PEM caBundle', () => {
    const o: Obj = valid();
    o.spec!.injector = { url: 'https://injector.example.com:15017/inject', caBundle: CA_B64, failurePolicy: 'Ignore', timeoutSeconds: 30 };
    expect(validateMeshRevision(o)).to.deep.equal([]);
  });

  it('accepts enableNamespacesByDefault on the default revision', () => {
    const o: Obj = valid();
    Object.assign(o.spec!, { default: true, enableNamespacesByDefault: true });
    expect(validateMeshRevision(o)).to.deep.equal([]);
  });

  it('accepts every sample in config/samples', () => {
    const dir = repoPath('config/samples');
    const files = readdirSync(dir).filter((f) => f.startsWith('meshrevision-') && f.endsWith('.yaml'));
    expect(files.length).to.be.at.least(3);
    for (const f of files) {
      expect(validateMeshRevision(parse(readFileSync(join(dir, f), 'utf8'))), f).to.deep.equal([]);
    }
  });

  // Each invalid spec: what is wrong, the field reported, and words the message must contain so it says what to fix.
  const invalid: { name: string; mutate: (o: Obj) => void; field: string; says: string[] }[] = [
    { name: 'no spec', mutate: (o) => delete o.spec, field: 'spec', says: ['spec.revision', 'spec.injector'] },
    { name: 'missing revision', mutate: (o) => delete o.spec!.revision, field: 'spec.revision', says: ['required'] },
    { name: 'revision with upper case and dots', mutate: (o) => (o.spec!.revision = 'Istio.1.21'), field: 'spec.revision', says: ['"Istio.1.21"', 'lower-case', '1-21'] },
    { name: 'revision ending in a dash', mutate: (o) => (o.spec!.revision = '1-21-'), field: 'spec.revision', says: ['ending with a letter or digit'] },
    { name: 'revision of 64 characters', mutate: (o) => (o.spec!.revision = 'a'.repeat(64)), field: 'spec.revision', says: ['64 characters', 'at most 63'] },
    { name: 'default given as a string', mutate: (o) => (o.spec!.default = 'yes'), field: 'spec.default', says: ['true or false'] },
    { name: 'enableNamespacesByDefault given as a string', mutate: (o) => (o.spec!.enableNamespacesByDefault = 'true'), field: 'spec.enableNamespacesByDefault', says: ['true or false'] },
    { name: 'enableNamespacesByDefault without spec.default', mutate: (o) => (o.spec!.enableNamespacesByDefault = true), field: 'spec.enableNamespacesByDefault',
      says: ['needs spec.default: true', 'or remove it'] },
    { name: 'tags not a list', mutate: (o) => (o.spec!.tags = 'canary'), field: 'spec.tags', says: ['list'] },
    { name: 'tag with an underscore', mutate: (o) => (o.spec!.tags = ['my_tag']), field: 'spec.tags[0]', says: ['"my_tag"', 'lower-case'] },
    { name: 'duplicate tag', mutate: (o) => (o.spec!.tags = ['canary', 'canary']), field: 'spec.tags[1]', says: ['listed twice'] },
    { name: 'tag named default', mutate: (o) => (o.spec!.tags = ['default']), field: 'spec.tags[0]', says: ['reserved', 'spec.default: true'] },
    { name: 'tag equal to the revision', mutate: (o) => (o.spec!.tags = ['1-21']), field: 'spec.tags[0]', says: ['revision name', 'remove'] },
    { name: 'revision named default', mutate: (o) => (o.spec!.revision = 'default'), field: 'spec.revision', says: ['revision "default" is reserved', 'istio.io/rev=default', 'spec.default: true'] },
    { name: 'too many tags', mutate: (o) => (o.spec!.tags = Array.from({ length: 17 }, (_, i) => `t${i}`)), field: 'spec.tags', says: ['at most 16'] },
    { name: 'no injector', mutate: (o) => delete o.spec!.injector, field: 'spec.injector', says: ['injector.service', 'injector.url'] },
    { name: 'injector with neither service nor url', mutate: (o) => (o.spec!.injector = { failurePolicy: 'Fail' }), field: 'spec.injector', says: ['one of injector.service', 'injector.url'] },
    { name: 'injector with both service and url', mutate: (o) => (o.spec!.injector!.url = 'https://x.example.com/inject'), field: 'spec.injector', says: ['only one'] },
    { name: 'http url', mutate: (o) => (o.spec!.injector = { url: 'http://injector.example.com/inject' }), field: 'spec.injector.url', says: ['https://'] },
    { name: 'relative url', mutate: (o) => (o.spec!.injector = { url: 'injector/inject' }), field: 'spec.injector.url', says: ['absolute', 'https://host'] },
    { name: 'url with a query', mutate: (o) => (o.spec!.injector = { url: 'https://x.example.com/inject?a=1' }), field: 'spec.injector.url', says: ['query'] },
    { name: 'url with user info', mutate: (o) => (o.spec!.injector = { url: 'https://u:p@x.example.com/inject' }), field: 'spec.injector.url', says: ['user info'] },
    { name: 'url with a fragment', mutate: (o) => (o.spec!.injector = { url: 'https://x.example.com/inject#f' }), field: 'spec.injector.url', says: ['fragment'] },
    { name: 'service without a name', mutate: (o) => (o.spec!.injector!.service = { namespace: 'istio-system' }), field: 'spec.injector.service.name', says: ['Service name', 'required'] },
    { name: 'service name starting with a digit', mutate: (o) => (o.spec!.injector!.service!.name = '1istiod'), field: 'spec.injector.service.name', says: ['starting with a letter'] },
    { name: 'service namespace with upper case', mutate: (o) => (o.spec!.injector!.service!.namespace = 'Istio-System'), field: 'spec.injector.service.namespace', says: ['"Istio-System"'] },
    { name: 'port 0', mutate: (o) => (o.spec!.injector!.service!.port = 0), field: 'spec.injector.service.port', says: ['1 to 65535'] },
    { name: 'port 70000', mutate: (o) => (o.spec!.injector!.service!.port = 70000), field: 'spec.injector.service.port', says: ['1 to 65535'] },
    { name: 'path without a leading slash', mutate: (o) => (o.spec!.injector!.service!.path = 'inject'), field: 'spec.injector.service.path', says: ['start with "/"'] },
    { name: 'failurePolicy in lower case', mutate: (o) => (o.spec!.injector!.failurePolicy = 'fail'), field: 'spec.injector.failurePolicy', says: ['"Fail"', '"Ignore"'] },
    { name: 'timeoutSeconds 0', mutate: (o) => (o.spec!.injector!.timeoutSeconds = 0), field: 'spec.injector.timeoutSeconds', says: ['1 to 30'] },
    { name: 'timeoutSeconds 31', mutate: (o) => (o.spec!.injector!.timeoutSeconds = 31), field: 'spec.injector.timeoutSeconds', says: ['1 to 30'] },
    { name: 'timeoutSeconds 2.5', mutate: (o) => (o.spec!.injector!.timeoutSeconds = 2.5), field: 'spec.injector.timeoutSeconds', says: ['integer'] },
    { name: 'caBundle pasted as PEM text', mutate: (o) => (o.spec!.injector!.caBundle = CA_PEM), field: 'spec.injector.caBundle', says: ['base64 -w0'] },
    { name: 'caBundle not base64', mutate: (o) => (o.spec!.injector!.caBundle = 'not base64!'), field: 'spec.injector.caBundle', says: ['not valid base64'] },
    { name: 'caBundle base64 of something that is not PEM', mutate: (o) => (o.spec!.injector!.caBundle = Buffer.from('hello').toString('base64')), field: 'spec.injector.caBundle', says: ['no PEM certificate'] },
    { name: 'caBundle base64-encoded twice', mutate: (o) => (o.spec!.injector!.caBundle = Buffer.from(CA_B64).toString('base64')), field: 'spec.injector.caBundle', says: ['twice'] },
    { name: 'misspelt field timeout', mutate: (o) => (o.spec!.injector!.timeout = 5), field: 'spec.injector.timeout', says: ['unknown field', 'timeoutSeconds'] },
    { name: 'misspelt field revison', mutate: (o) => (o.spec!.revison = '1-21'), field: 'spec.revison', says: ['unknown field', '"revision"'] },
    { name: 'namespace on a cluster-scoped object', mutate: (o) => (o.metadata.namespace = 'istio-system'), field: 'metadata.namespace', says: ['cluster-scoped'] },
    { name: 'no metadata.name', mutate: (o) => (o.metadata = {}), field: 'metadata.name', says: ['required'] },
    { name: 'wrong apiVersion', mutate: (o) => (o.apiVersion = 'meshrev.io/v1'), field: 'apiVersion', says: ['meshrev.io/v1alpha1'] },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}, naming ${c.field} and what to fix`, () => {
      const o = valid();
      c.mutate(o);
      const errors = validateMeshRevision(o);
      expectError(errors, c.field, c.says);
    });
  }

  it('reports every problem at once rather than the first only', () => {
    const o: Obj = valid();
    o.spec!.revision = 'BAD';
    o.spec!.injector!.timeoutSeconds = 99;
    expect(validateMeshRevision(o).map((e) => e.field)).to.deep.equal(['spec.revision', 'spec.injector.timeoutSeconds']);
  });
});

describe('validateMeshRevision: spec.migration', () => {
  /** spec.migration as loose JSON, broken on purpose by the cases below. */
  type Loose = Record<string, unknown>;

  function migration(): Loose {
    return {
      from: ['default', '1-20'],
      namespaceSelector: { matchLabels: { team: 'payments' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev', 'test'] }] },
      steps: [{ namespaces: 1, pause: 'indefinite' }, { percent: 50, pause: '30s' }, { percent: 100 }],
      maxConcurrentNamespaces: 2,
      maxConcurrentRestarts: 5,
      rolloutTimeoutSeconds: 600,
      paused: false,
      promotedStep: 0,
    };
  }

  function withMigration(m: unknown): Obj {
    const o = valid();
    o.spec!.migration = m;
    return o;
  }

  it('accepts the sample migration in full', () => {
    expect(validateMeshRevision(withMigration(migration()))).to.deep.equal([]);
  });

  const validCases: { name: string; m: Loose }[] = [
    { name: 'only from (every default applies)', m: { from: ['default'] } },
    { name: 'a tag in from', m: { from: ['stable'] } },
    { name: 'steps mixing units, each non-decreasing', m: { from: ['1-20'], steps: [{ percent: 10 }, { namespaces: 5 }, { percent: 10 }, { namespaces: 5 }, { percent: 100 }] } },
    { name: 'every pause form', m: { from: ['1-20'], steps: [{ namespaces: 1, pause: '1h30m' }, { namespaces: 2, pause: '500ms' }, { namespaces: 3, pause: '2.5s' }, { namespaces: 4, pause: '0s' }] } },
    { name: 'selector with Exists, DoesNotExist (empty values) and a prefixed key', m: { from: ['1-20'], namespaceSelector: { matchLabels: { 'example.com/tier': 'web', empty: '' }, matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'Exists' }, { key: 'legacy', operator: 'DoesNotExist', values: [] }] } } },
    { name: 'the longest pause, 720h, however it is written', m: { from: ['1-20'], steps: [{ namespaces: 1, pause: '720h' }, { namespaces: 2, pause: '43200m' }, { namespaces: 3, pause: '2592000000ms' }, { namespaces: 4, pause: '719h59m60s' }] } },
    { name: 'the bounds themselves', m: { from: ['1-20'], maxConcurrentNamespaces: 100, maxConcurrentRestarts: 500, rolloutTimeoutSeconds: 10, promotedStep: 20, steps: Array.from({ length: 20 }, (_, i) => ({ namespaces: i + 1 })) } },
    { name: 'rollback of everything', m: { from: ['1-20'], rollback: { all: true } } },
    { name: 'rollback of listed namespaces, all false', m: { from: ['1-20'], rollback: { all: false, namespaces: ['shop', 'web'] } } },
    { name: 'rollback all with an empty list', m: { from: ['1-20'], rollback: { all: true, namespaces: [] } } },
  ];
  for (const c of validCases) {
    it(`accepts ${c.name}`, () => {
      expect(validateMeshRevision(withMigration(c.m))).to.deep.equal([]);
    });
  }

  // Each invalid migration: what is wrong, the field reported, and words the message must contain so it says what to fix.
  const invalid: { name: string; mutate: (m: Loose) => void; field: string; says: string[] }[] = [
    { name: 'no from', mutate: (m) => delete m['from'], field: 'spec.migration.from', says: ['required', 'from: [default, 1-20]'] },
    { name: 'empty from', mutate: (m) => (m['from'] = []), field: 'spec.migration.from', says: ['at least one revision'] },
    { name: 'from as a string', mutate: (m) => (m['from'] = '1-20'), field: 'spec.migration.from', says: ['list'] },
    { name: 'from listing the target revision', mutate: (m) => (m['from'] = ['default', '1-21']), field: 'spec.migration.from[1]', says: ['spec.migration.from must not list the target revision itself', '"1-21"'] },
    { name: 'from with a bad name', mutate: (m) => (m['from'] = ['Istio_1.20']), field: 'spec.migration.from[0]', says: ['"Istio_1.20"', 'DNS-1123', '"default"'] },
    { name: 'from listing a revision twice', mutate: (m) => (m['from'] = ['1-20', '1-20']), field: 'spec.migration.from[1]', says: ['listed twice'] },
    {
      name: 'from listing a tag of this MeshRevision',
      mutate: (m) => (m['from'] = ['1-20', 'canary']),
      field: 'spec.migration.from[1]',
      says: ['spec.migration.from must not list "canary"', 'tag of this MeshRevision', 'remove it from spec.migration.from'],
    },
    { name: 'from with 17 revisions', mutate: (m) => (m['from'] = Array.from({ length: 17 }, (_, i) => `r${i}`)), field: 'spec.migration.from', says: ['at most 16'] },
    { name: 'a step with both namespaces and percent', mutate: (m) => (m['steps'] = [{ namespaces: 1, percent: 10 }]), field: 'spec.migration.steps[0]', says: ['exactly one of namespaces', 'percent', 'not both'] },
    { name: 'a step with neither', mutate: (m) => (m['steps'] = [{ pause: '5m' }]), field: 'spec.migration.steps[0]', says: ['exactly one of namespaces', 'percent (a cumulative percentage, 1-100'] },
    { name: 'percent 0', mutate: (m) => (m['steps'] = [{ percent: 0 }]), field: 'spec.migration.steps[0].percent', says: ['from 1 to 100'] },
    { name: 'percent 101', mutate: (m) => (m['steps'] = [{ percent: 101 }]), field: 'spec.migration.steps[0].percent', says: ['from 1 to 100'] },
    { name: 'percent 12.5', mutate: (m) => (m['steps'] = [{ percent: 12.5 }]), field: 'spec.migration.steps[0].percent', says: ['integer'] },
    { name: 'namespaces 0', mutate: (m) => (m['steps'] = [{ namespaces: 0 }]), field: 'spec.migration.steps[0].namespaces', says: ['integer of at least 1'] },
    { name: 'a pause of "5 minutes"', mutate: (m) => (m['steps'] = [{ percent: 10, pause: '5 minutes' }]), field: 'spec.migration.steps[0].pause', says: ['"5 minutes"', '"30s"', '"indefinite"'] },
    { name: 'a pause in days', mutate: (m) => (m['steps'] = [{ percent: 10, pause: '1d' }]), field: 'spec.migration.steps[0].pause', says: ['units ms, s, m, h'] },
    { name: 'a pause of "Indefinite"', mutate: (m) => (m['steps'] = [{ percent: 10, pause: 'Indefinite' }]), field: 'spec.migration.steps[0].pause', says: ['"indefinite"'] },
    { name: 'a pause given as a number', mutate: (m) => (m['steps'] = [{ percent: 10, pause: 30 }]), field: 'spec.migration.steps[0].pause', says: ['"30s"'] },
    {
      name: 'a pause too long to compute (read as no pause before it was bounded)',
      mutate: (m) => (m['steps'] = [{ percent: 10, pause: '3000000000h' }]),
      field: 'spec.migration.steps[0].pause',
      says: ['pause "3000000000h" is out of range', 'at most 720h (30 days)', '"indefinite"'],
    },
    { name: 'a pause of 721h', mutate: (m) => (m['steps'] = [{ percent: 10, pause: '721h' }]), field: 'spec.migration.steps[0].pause', says: ['out of range', 'at most 720h'] },
    { name: 'a pause just over 720h', mutate: (m) => (m['steps'] = [{ percent: 10, pause: '720h0.4ms' }]), field: 'spec.migration.steps[0].pause', says: ['at most 720h'] },
    { name: 'a pause of 31 days in seconds', mutate: (m) => (m['steps'] = [{ percent: 10, pause: '2678400s' }]), field: 'spec.migration.steps[0].pause', says: ['at most 720h'] },
    {
      name: 'percent steps going down across a namespaces step',
      mutate: (m) => (m['steps'] = [{ percent: 50 }, { namespaces: 3 }, { percent: 20 }]),
      field: 'spec.migration.steps[2].percent',
      says: ['must not go down', 'percent 20 follows percent 50 in steps[0]', 'at least 50'],
    },
    {
      name: 'namespaces steps going down',
      mutate: (m) => (m['steps'] = [{ namespaces: 5 }, { namespaces: 2 }]),
      field: 'spec.migration.steps[1].namespaces',
      says: ['must not go down', 'at least 5'],
    },
    { name: '21 steps', mutate: (m) => (m['steps'] = Array.from({ length: 21 }, (_, i) => ({ namespaces: i + 1 }))), field: 'spec.migration.steps', says: ['at most 20'] },
    { name: 'steps as an object', mutate: (m) => (m['steps'] = { percent: 100 }), field: 'spec.migration.steps', says: ['must be a list'] },
    { name: 'a misspelt step field', mutate: (m) => (m['steps'] = [{ precent: 50 }]), field: 'spec.migration.steps[0].precent', says: ['unknown field', '"percent"'] },
    {
      name: 'In without values',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ key: 'team', operator: 'In' }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].values',
      says: ['"team"', 'operator In needs a non-empty values list'],
    },
    {
      name: 'NotIn with an empty values list',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ key: 'team', operator: 'NotIn', values: [] }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].values',
      says: ['operator NotIn needs a non-empty values list'],
    },
    {
      name: 'Exists with values',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].values',
      says: ['operator Exists takes no values', 'remove values'],
    },
    {
      name: 'an operator in lower case',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ key: 'team', operator: 'in', values: ['a'] }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].operator',
      says: ['"in"', 'In, NotIn, Exists or DoesNotExist'],
    },
    {
      name: 'a matchExpressions entry without a key',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ operator: 'Exists' }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].key',
      says: ['key is required'],
    },
    {
      name: 'a label key with a space',
      mutate: (m) => (m['namespaceSelector'] = { matchLabels: { 'team name': 'a' } }),
      field: 'spec.migration.namespaceSelector.matchLabels',
      says: ['label key "team name"', 'example.com/tier'],
    },
    {
      name: 'a label value with a slash',
      mutate: (m) => (m['namespaceSelector'] = { matchExpressions: [{ key: 'team', operator: 'In', values: ['a/b'] }] }),
      field: 'spec.migration.namespaceSelector.matchExpressions[0].values[0]',
      says: ['label value "a/b"', 'at most 63'],
    },
    {
      name: 'a label value given as a number',
      mutate: (m) => (m['namespaceSelector'] = { matchLabels: { tier: 1 } }),
      field: 'spec.migration.namespaceSelector.matchLabels.tier',
      says: ['must be a string', 'quote it'],
    },
    {
      name: 'a misspelt selector field',
      mutate: (m) => (m['namespaceSelector'] = { matchLabel: { team: 'a' } }),
      field: 'spec.migration.namespaceSelector.matchLabel',
      says: ['unknown field', '"matchLabels"'],
    },
    { name: 'maxConcurrentNamespaces 0', mutate: (m) => (m['maxConcurrentNamespaces'] = 0), field: 'spec.migration.maxConcurrentNamespaces', says: ['from 1 to 100'] },
    { name: 'maxConcurrentNamespaces 101', mutate: (m) => (m['maxConcurrentNamespaces'] = 101), field: 'spec.migration.maxConcurrentNamespaces', says: ['from 1 to 100'] },
    { name: 'maxConcurrentRestarts 501', mutate: (m) => (m['maxConcurrentRestarts'] = 501), field: 'spec.migration.maxConcurrentRestarts', says: ['from 1 to 500'] },
    { name: 'rolloutTimeoutSeconds 5', mutate: (m) => (m['rolloutTimeoutSeconds'] = 5), field: 'spec.migration.rolloutTimeoutSeconds', says: ['from 10 to 86400'] },
    { name: 'rolloutTimeoutSeconds as a duration string', mutate: (m) => (m['rolloutTimeoutSeconds'] = '10m'), field: 'spec.migration.rolloutTimeoutSeconds', says: ['"10m"', 'integer'] },
    { name: 'promotedStep -1', mutate: (m) => (m['promotedStep'] = -1), field: 'spec.migration.promotedStep', says: ['integer of at least 0', 'indefinite pause'] },
    { name: 'paused as a string', mutate: (m) => (m['paused'] = 'yes'), field: 'spec.migration.paused', says: ['true or false'] },
    {
      name: 'rollback of all and a list at once',
      mutate: (m) => (m['rollback'] = { all: true, namespaces: ['shop'] }),
      field: 'spec.migration.rollback',
      says: ['spec.migration.rollback.all: true', 'spec.migration.rollback.namespaces', 'not both'],
    },
    { name: 'rollback of a bad namespace name', mutate: (m) => (m['rollback'] = { namespaces: ['Shop'] }), field: 'spec.migration.rollback.namespaces[0]', says: ['"Shop"', 'lower-case'] },
    { name: 'rollback listing a namespace twice', mutate: (m) => (m['rollback'] = { namespaces: ['shop', 'shop'] }), field: 'spec.migration.rollback.namespaces[1]', says: ['listed twice'] },
    {
      name: 'rollback of 1001 namespaces',
      mutate: (m) => (m['rollback'] = { namespaces: Array.from({ length: 1001 }, (_, i) => `ns${i}`) }),
      field: 'spec.migration.rollback.namespaces',
      says: ['at most 1000', 'all: true'],
    },
    { name: 'rollback: true', mutate: (m) => (m['rollback'] = true), field: 'spec.migration.rollback', says: ['{all: true}'] },
    { name: 'a misspelt field maxConcurrentNamespace', mutate: (m) => (m['maxConcurrentNamespace'] = 2), field: 'spec.migration.maxConcurrentNamespace', says: ['unknown field', '"maxConcurrentNamespaces"'] },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}, naming ${c.field} and what to fix`, () => {
      const m = migration();
      c.mutate(m);
      const errors = validateMeshRevision(withMigration(m));
      expectError(errors, c.field, c.says);
    });
  }

  it('rejects a migration that is not an object, saying what it should look like', () => {
    const errors = validateMeshRevision(withMigration(['1-20']));
    expect(errors).to.deep.equal([{ field: 'spec.migration', message: 'migration must be an object with at least from, e.g. {from: [default]}' }]);
  });

  it('reports every problem of a migration at once', () => {
    const m = migration();
    m['from'] = ['1-21'];
    m['maxConcurrentRestarts'] = 0;
    m['steps'] = [{ percent: 50 }, { percent: 10 }];
    expect(validateMeshRevision(withMigration(m)).map((e) => e.field)).to.deep.equal([
      'spec.migration.from[0]',
      'spec.migration.steps[1].percent',
      'spec.migration.maxConcurrentRestarts',
    ]);
  });

  it('rejects "default" in from on the default revision: its istio-injection=enabled namespaces already get it', () => {
    const o = withMigration({ from: ['default', '1-20'] });
    o.spec!.default = true;
    expectError(validateMeshRevision(o), 'spec.migration.from[0]', [
      'spec.migration.from must not list "default" while spec.default is true',
      'remove "default" from spec.migration.from, or set spec.default: false',
    ]);
    o.spec!.default = false;
    expect(validateMeshRevision(o)).to.deep.equal([]);
  });

  it('accepts in from a tag this MeshRevision does not carry (another revision\'s alias)', () => {
    const o = withMigration({ from: ['stable'] });
    o.spec!.tags = ['canary'];
    expect(validateMeshRevision(o)).to.deep.equal([]);
  });

  it('checks a migration on its own, with the target revision passed in', () => {
    expect(validateMigrationSpec({ from: ['1-20'] })).to.deep.equal([]);
    expect(validateMigrationSpec({ from: ['1-20'] }, 'spec.migration', '1-20').map((e) => e.field)).to.deep.equal(['spec.migration.from[0]']);
  });
});

describe('validateMeshRevision: spec.healthChecks', () => {
  type Loose = Record<string, unknown>;
  interface Checks {
    prometheus: Loose[];
    http: Loose[];
    [k: string]: unknown;
  }

  function checks(): Checks {
    return {
      prometheus: [
        {
          name: 'error-rate',
          address: 'http://prometheus.istio-system:9090',
          query: 'sum(rate(istio_requests_total{destination_workload_namespace=~"{{namespaces}}",response_code=~"5.."}[{{interval}}]))',
          max: 0.05,
          noData: 'pass',
        },
        { name: 'p99', address: 'https://prom.example.com/prometheus', query: 'histogram_quantile(0.99, x{rev="{{ revision }}"})', min: 0, max: 500, interval: '1m', timeout: '5s', failureThreshold: 5 },
      ],
      http: [{ name: 'home', url: 'http://frontend.{{namespace}}:8080/healthz?rev={{revision}}', method: 'HEAD', expectedStatus: 204, interval: '10s', timeout: '10s' }],
    };
  }

  function withChecks(h: unknown): Obj {
    const o = valid();
    o.spec!.healthChecks = h;
    return o;
  }

  it('accepts Prometheus and HTTP checks with every field set', () => {
    expect(validateMeshRevision(withChecks(checks()))).to.deep.equal([]);
  });

  it('accepts the minimal forms: max only, min only, an HTTP URL only', () => {
    const h = { prometheus: [{ name: 'a', address: 'http://p:9090', query: 'up', max: 1 }, { name: 'b', address: 'http://p:9090/', query: 'up', min: -1 }], http: [{ name: 'c', url: 'https://x' }] };
    expect(validateHealthChecks(h)).to.deep.equal([]);
  });

  it('accepts the bounds themselves: 1s and 1h intervals, a timeout equal to the interval, 16 checks of each kind', () => {
    const h = {
      prometheus: Array.from({ length: 16 }, (_, i) => ({ name: `p${i}`, address: 'http://p', query: 'up', max: 1, interval: i % 2 ? '1s' : '1h', timeout: i % 2 ? '1s' : '60s' })),
      http: Array.from({ length: 16 }, (_, i) => ({ name: `h${i}`, url: 'http://x/', expectedStatus: i % 2 ? 100 : 599, failureThreshold: i % 2 ? 1 : 100 })),
    };
    expect(validateHealthChecks(h)).to.deep.equal([]);
  });

  const P = 'spec.healthChecks.prometheus[0]';
  const H = 'spec.healthChecks.http[0]';
  const invalid: { name: string; mutate: (h: Checks) => void; field: string; says: string[] }[] = [
    { name: 'a Prometheus check without min or max', mutate: (h) => delete h.prometheus[0]!['max'], field: P, says: ['set min, max or both'] },
    { name: 'min greater than max', mutate: (h) => (h.prometheus[1]!['min'] = 600), field: 'spec.healthChecks.prometheus[1].min', says: ['greater than max', 'swap them'] },
    { name: 'max as a string', mutate: (h) => (h.prometheus[0]!['max'] = '0.05'), field: `${P}.max`, says: ['must be a number'] },
    { name: 'two checks of one kind with the same name', mutate: (h) => (h.prometheus[1]!['name'] = 'error-rate'), field: 'spec.healthChecks.prometheus[1].name', says: ['already used by spec.healthChecks.prometheus[0]'] },
    { name: 'a Prometheus and an HTTP check with the same name', mutate: (h) => (h.http[0]!['name'] = 'p99'), field: `${H}.name`, says: ['already used', 'its own name'] },
    { name: 'a name that is not a DNS label', mutate: (h) => (h.http[0]!['name'] = 'Home_Page'), field: `${H}.name`, says: ['"Home_Page"', 'lower-case'] },
    { name: 'an interval without a unit', mutate: (h) => (h.prometheus[0]!['interval'] = '30'), field: `${P}.interval`, says: ['not a duration', '"30s"'] },
    { name: 'an interval in days', mutate: (h) => (h.prometheus[0]!['interval'] = '1d'), field: `${P}.interval`, says: ['not a duration'] },
    { name: 'an interval under 1s', mutate: (h) => (h.prometheus[0]!['interval'] = '500ms'), field: `${P}.interval`, says: ['out of range', 'from 1s to 1h'] },
    { name: 'an interval over 1h', mutate: (h) => (h.http[0]!['interval'] = '61m'), field: `${H}.interval`, says: ['out of range'] },
    { name: 'an interval too long to compute', mutate: (h) => (h.http[0]!['interval'] = '3000000000h'), field: `${H}.interval`, says: ['"3000000000h" is out of range', 'from 1s to 1h'] },
    { name: 'a timeout too long to compute', mutate: (h) => (h.prometheus[1]!['timeout'] = `${'9'.repeat(30)}s`), field: 'spec.healthChecks.prometheus[1].timeout', says: ['out of range', 'more than 0 and at most 1m'] },
    { name: 'a timeout of 0s', mutate: (h) => (h.http[0]!['timeout'] = '0s'), field: `${H}.timeout`, says: ['out of range', 'more than 0'] },
    { name: 'a timeout over 60s', mutate: (h) => (h.prometheus[1]!['timeout'] = '61s'), field: 'spec.healthChecks.prometheus[1].timeout', says: ['out of range'] },
    { name: 'a timeout longer than the interval', mutate: (h) => (h.http[0]!['timeout'] = '15s'), field: `${H}.timeout`, says: ['longer than the interval "10s"', 'shorten the timeout'] },
    { name: 'a timeout longer than the default 30s interval', mutate: (h) => (h.prometheus[0]!['timeout'] = '45s'), field: `${P}.timeout`, says: ['longer than the interval "30s"'] },
    { name: 'failureThreshold 0', mutate: (h) => (h.prometheus[0]!['failureThreshold'] = 0), field: `${P}.failureThreshold`, says: ['from 1 to 100'] },
    { name: 'noData "ignore"', mutate: (h) => (h.prometheus[0]!['noData'] = 'ignore'), field: `${P}.noData`, says: ['"fail"', '"pass"', '"wait"'] },
    { name: 'an ftp:// address', mutate: (h) => (h.prometheus[0]!['address'] = 'ftp://p'), field: `${P}.address`, says: ['http:// or https://'] },
    { name: 'an address with a query', mutate: (h) => (h.prometheus[0]!['address'] = 'http://p:9090/?x=1'), field: `${P}.address`, says: ['must not have a query', 'base URL'] },
    { name: 'an address without a scheme', mutate: (h) => (h.prometheus[0]!['address'] = 'prometheus:9090/x'), field: `${P}.address`, says: ['http:// or https://'] },
    { name: 'no query', mutate: (h) => delete h.prometheus[0]!['query'], field: `${P}.query`, says: ['query is required'] },
    { name: 'a query using an unknown variable', mutate: (h) => (h.prometheus[0]!['query'] = 'up{job="{{ target }}"}'), field: `${P}.query`, says: ['unknown variable {{target}}', '{{namespaces}}'] },
    { name: 'an HTTP URL without a scheme', mutate: (h) => (h.http[0]!['url'] = 'frontend:8080/healthz'), field: `${H}.url`, says: ['http:// or https://'] },
    { name: 'an HTTP URL using an unknown variable', mutate: (h) => (h.http[0]!['url'] = 'http://x/{{pod}}'), field: `${H}.url`, says: ['unknown variable {{pod}}'] },
    { name: 'an HTTP URL to the metadata address', mutate: (h) => (h.http[0]!['url'] = 'http://169.254.169.254/latest/meta-data/'), field: `${H}.url`, says: ['is refused', '169.254.0.0/16', 'link-local'] },
    { name: 'an HTTP URL to an IPv6 link-local address', mutate: (h) => (h.http[0]!['url'] = 'http://[fe80::1]:8080/'), field: `${H}.url`, says: ['is refused', 'fe80::/10'] },
    { name: 'an HTTP URL to metadata.google.internal', mutate: (h) => (h.http[0]!['url'] = 'http://metadata.google.internal/computeMetadata/v1/'), field: `${H}.url`, says: ['is refused', 'cloud metadata'] },
    { name: 'method PUT', mutate: (h) => (h.http[0]!['method'] = 'PUT'), field: `${H}.method`, says: ['GET, HEAD, POST'] },
    { name: 'expectedStatus 700', mutate: (h) => (h.http[0]!['expectedStatus'] = 700), field: `${H}.expectedStatus`, says: ['from 100 to 599'] },
    { name: 'onFailure here (it is spec.migration.onFailure)', mutate: (h) => (h['onFailure'] = 'pause'), field: 'spec.healthChecks.onFailure', says: ['unknown field'] },
    { name: '17 HTTP checks', mutate: (h) => (h.http = Array.from({ length: 17 }, (_, i) => ({ name: `h${i}`, url: 'http://x/' }))), field: 'spec.healthChecks.http', says: ['at most 16'] },
    { name: 'a misspelt field failureTreshold', mutate: (h) => (h.prometheus[0]!['failureTreshold'] = 2), field: `${P}.failureTreshold`, says: ['unknown field', '"failureThreshold"'] },
    { name: 'prometheus as an object', mutate: (h) => ((h as Loose)['prometheus'] = { name: 'x' }), field: 'spec.healthChecks.prometheus', says: ['list of checks'] },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}, naming ${c.field} and what to fix`, () => {
      const h = checks();
      c.mutate(h);
      const errors = validateMeshRevision(withChecks(h));
      expectError(errors, c.field, c.says);
    });
  }

  it('rejects healthChecks that is not an object, saying what it should look like', () => {
    expect(validateHealthChecks([], 'spec.healthChecks')[0]!.message).to.contain('prometheus and/or http lists');
  });

  it('reports every problem of the checks at once', () => {
    const h = checks();
    h.prometheus[0]!['interval'] = '1d';
    h.http[0]!['expectedStatus'] = 1;
    h.prometheus[1]!['noData'] = 'never';
    expect(validateHealthChecks(h).map((e) => e.field)).to.deep.equal([`${P}.interval`, 'spec.healthChecks.prometheus[1].noData', `${H}.expectedStatus`]);
  });
});

describe('validateMeshRevisionUpdate', () => {
  it('rejects a change of revision, saying to create a new MeshRevision', () => {
    const next: Obj = valid();
    next.spec!.revision = '1-22';
    const errors = validateMeshRevisionUpdate({ spec: { revision: '1-21' } }, next);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include({ field: 'spec.revision' });
    expect(errors[0]!.message).to.contain('immutable').and.contain('new MeshRevision');
  });

  it('accepts a change of tags', () => {
    const next: Obj = valid();
    next.spec!.tags = ['stable'];
    expect(validateMeshRevisionUpdate({ spec: { revision: '1-21' } }, next)).to.deep.equal([]);
  });
});
