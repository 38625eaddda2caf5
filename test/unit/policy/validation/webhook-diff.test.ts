import { expect } from 'chai';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { MeshRevision } from '../../../../src/api/meshrevision.js';
import { webhookConfigurationDiff, webhookConfigurationNeedsWrite } from '../../../../src/policy/validation/index.js';
import { desiredWebhookConfiguration, resolveClaims } from '../../../../src/policy/webhooks.js';
import { CA_B64 } from './fixtures.js';

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
