import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import {
  validateMeshRevision,
  validateMeshRevisionUpdate,
  webhookConfigurationDiff,
  webhookConfigurationNeedsWrite,
} from '../../../src/policy/validation.js';
import { desiredWebhookConfiguration, resolveClaims } from '../../../src/policy/webhooks.js';

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

// A real CA certificate's PEM, base64-encoded (the samples' example CA).
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUEXAMPLEEXAMPLEEXAMPLEEXAMPLEwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
`;
const CA_B64 = Buffer.from(CA_PEM).toString('base64');

/** A MeshRevision as loose JSON: the tests break it on purpose, and validation takes unknown input. */
interface Fixture {
  apiVersion?: unknown;
  kind?: unknown;
  metadata: { name?: unknown; namespace?: unknown };
  spec?: {
    revision?: unknown;
    revison?: unknown;
    default?: unknown;
    tags?: unknown;
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
    { name: 'tags not a list', mutate: (o) => (o.spec!.tags = 'canary'), field: 'spec.tags', says: ['list'] },
    { name: 'tag with an underscore', mutate: (o) => (o.spec!.tags = ['my_tag']), field: 'spec.tags[0]', says: ['"my_tag"', 'lower-case'] },
    { name: 'duplicate tag', mutate: (o) => (o.spec!.tags = ['canary', 'canary']), field: 'spec.tags[1]', says: ['listed twice'] },
    { name: 'tag named default', mutate: (o) => (o.spec!.tags = ['default']), field: 'spec.tags[0]', says: ['reserved', 'spec.default: true'] },
    { name: 'tag equal to the revision', mutate: (o) => (o.spec!.tags = ['1-21']), field: 'spec.tags[0]', says: ['revision name', 'remove'] },
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
      const hit = errors.find((e) => e.field === c.field);
      expect(hit, `errors: ${JSON.stringify(errors)}`).to.not.equal(undefined);
      for (const s of c.says) expect(hit!.message).to.contain(s);
    });
  }

  it('reports every problem at once rather than the first only', () => {
    const o: Obj = valid();
    o.spec!.revision = 'BAD';
    o.spec!.injector!.timeoutSeconds = 99;
    expect(validateMeshRevision(o).map((e) => e.field)).to.deep.equal(['spec.revision', 'spec.injector.timeoutSeconds']);
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

describe('webhookConfigurationDiff (no-op detection)', () => {
  const mrev: MeshRevision = {
    metadata: { name: '1-21', uid: 'uid-1', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { revision: '1-21', default: true, tags: ['canary'], injector: { service: { name: 'istiod-1-21' } } },
  };
  const desired = desiredWebhookConfiguration(mrev, resolveClaims([mrev]).get('1-21')!)!;
  const manager = 'meshrev';

  /** What the API server returns after applying `desired` and istiod patching caBundle. */
  function asStored(d: V1MutatingWebhookConfiguration): V1MutatingWebhookConfiguration {
    const s = structuredClone(d);
    s.metadata = {
      ...s.metadata,
      uid: 'mwc-uid',
      resourceVersion: '42',
      generation: 3,
      labels: { ...s.metadata!.labels, 'extra/label': 'someone-else' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      managedFields: [
        {
          manager,
          operation: 'Apply',
          apiVersion: 'admissionregistration.k8s.io/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:webhooks': Object.fromEntries(s.webhooks!.map((w) => [`k:{"name":"${w.name}"}`, { '.': {}, 'f:clientConfig': { 'f:service': {} } }])),
          },
        },
        { manager: 'pilot-discovery', operation: 'Update', apiVersion: 'admissionregistration.k8s.io/v1', fieldsType: 'FieldsV1', fieldsV1: {} },
      ],
    };
    s.webhooks = s.webhooks!.map((w) => ({
      ...w,
      clientConfig: { ...w.clientConfig, caBundle: 'cGF0Y2hlZCBieSBpc3Rpb2Q=' },
      matchPolicy: 'Equivalent',
      reinvocationPolicy: 'Never',
      rules: w.rules!.map((r) => ({ ...r, scope: '*' })),
      namespaceSelector: { ...w.namespaceSelector, matchLabels: {} },
      objectSelector: { ...w.objectSelector },
    }));
    return s;
  }

  it('needs no write on a resync when the stored MWC only adds server defaults, istiod\'s caBundle and others\' labels', () => {
    expect(webhookConfigurationDiff(asStored(desired), desired)).to.deep.equal([]);
    expect(webhookConfigurationDiff(asStored(desired), desired, { fieldManager: manager })).to.deep.equal([]);
    expect(webhookConfigurationNeedsWrite(asStored(desired), desired)).to.equal(false);
  });

  it('treats a timeoutSeconds or port left to the server default as equal to an explicit 10 / 443', () => {
    const stored = asStored(desired);
    const d = structuredClone(desired);
    for (const w of d.webhooks!) {
      delete w.timeoutSeconds;
      delete w.failurePolicy;
      delete w.clientConfig.service!.port;
    }
    expect(webhookConfigurationDiff(stored, d)).to.deep.equal([]);
  });

  it('needs a write when the MWC does not exist', () => {
    expect(webhookConfigurationDiff(undefined, desired)).to.deep.equal(['does not exist']);
  });

  it('needs a write when a selector was edited by hand', () => {
    const stored = asStored(desired);
    stored.webhooks![0]!.namespaceSelector!.matchExpressions![0]!.values = ['1-20'];
    expect(webhookConfigurationDiff(stored, desired)).to.deep.equal(['webhook rev.namespace.sidecar-injector.istio.io: namespaceSelector differs']);
  });

  it('needs a write when failurePolicy or timeoutSeconds changed in the spec', () => {
    const d = structuredClone(desired);
    d.webhooks!.forEach((w) => (w.timeoutSeconds = 5));
    expect(webhookConfigurationNeedsWrite(asStored(desired), d)).to.equal(true);
  });

  it('needs a write when a label meshrev sets is missing or different', () => {
    const stored = asStored(desired);
    delete stored.metadata!.labels!['meshrev.io/meshrevision'];
    expect(webhookConfigurationDiff(stored, desired)).to.deep.equal(['label meshrev.io/meshrevision: null → "1-21"']);
  });

  it('needs a write when a desired entry is missing (a tag was added)', () => {
    const stored = asStored(desired);
    stored.webhooks = stored.webhooks!.filter((w) => !w.name.startsWith('canary.'));
    expect(webhookConfigurationDiff(stored, desired)).to.have.length(2);
  });

  it('needs a write when an entry meshrev owns is no longer wanted (a tag was removed)', () => {
    const stored = asStored(desired);
    const d = structuredClone(desired);
    d.webhooks = d.webhooks!.filter((w) => !w.name.startsWith('canary.'));
    expect(webhookConfigurationDiff(stored, d, { fieldManager: manager })).to.deep.equal([
      'webhook canary.rev.namespace.sidecar-injector.istio.io: no longer wanted',
      'webhook canary.rev.object.sidecar-injector.istio.io: no longer wanted',
    ]);
    expect(webhookConfigurationDiff(stored, d)).to.have.length(2);
  });

  it('ignores an entry another manager added, which meshrev\'s apply would not remove anyway', () => {
    const stored = asStored(desired);
    stored.webhooks!.push({ ...structuredClone(stored.webhooks![0]!), name: 'audit.example.com' });
    expect(webhookConfigurationDiff(stored, desired, { fieldManager: manager })).to.deep.equal([]);
    expect(webhookConfigurationDiff(stored, desired)).to.deep.equal([]);
  });

  it('compares caBundle when the spec sets it', () => {
    const withCa: MeshRevision = { ...mrev, spec: { ...mrev.spec, injector: { service: { name: 'istiod-1-21' }, caBundle: CA_B64 } } };
    const d = desiredWebhookConfiguration(withCa, resolveClaims([withCa]).get('1-21')!)!;
    expect(webhookConfigurationNeedsWrite(asStored(desired), d)).to.equal(true);
    const stored = asStored(d);
    stored.webhooks!.forEach((w) => (w.clientConfig.caBundle = CA_B64));
    expect(webhookConfigurationNeedsWrite(stored, d)).to.equal(false);
  });

  it('needs a write to release a caBundle meshrev set before and the spec no longer gives', () => {
    const stored = asStored(desired);
    const fields = stored.metadata!.managedFields![0]!.fieldsV1 as Record<string, Record<string, Record<string, unknown>>>;
    fields['f:webhooks']!['k:{"name":"rev.namespace.sidecar-injector.istio.io"}']!['f:clientConfig'] = { 'f:caBundle': {} };
    expect(webhookConfigurationDiff(stored, desired, { fieldManager: manager })).to.deep.equal([
      'webhook rev.namespace.sidecar-injector.istio.io: caBundle no longer set by meshrev',
    ]);
  });

  it('needs a write when the owner reference is missing', () => {
    const stored = asStored(desired);
    delete stored.metadata!.ownerReferences;
    expect(webhookConfigurationDiff(stored, desired)).to.deep.equal(['ownerReference MeshRevision/1-21 missing or different']);
  });
});
