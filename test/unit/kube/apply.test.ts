import type { KubernetesObject, V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { expect } from 'chai';
import { isSubset, needsApply } from '../../../src/kube/apply.js';
import { toTyped } from '../../../src/kube/informer.js';

function managed(fieldsV1: object, extra: Partial<V1ManagedFieldsEntry> = {}): V1ManagedFieldsEntry {
  return { manager: 'meshrev', operation: 'Apply', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1, ...extra };
}

/** A live Namespace as an informer caches it (typed, with server-set fields). */
function liveNamespace(labels: Record<string, string>, entries: V1ManagedFieldsEntry[]): KubernetesObject {
  return toTyped(
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'shop',
        uid: 'u1',
        resourceVersion: '42',
        creationTimestamp: '2024-05-01T10:00:00Z',
        labels: { 'kubernetes.io/metadata.name': 'shop', ...labels },
        managedFields: entries,
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    },
    'v1',
    'Namespace',
  );
}

const desired = (labels: Record<string, string>): KubernetesObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels } });

describe('needsApply', () => {
  it('is false when live already has every field meshrev sends and meshrev owns nothing else', () => {
    const live = liveNamespace({ 'istio.io/rev': 'canary', team: 'a' }, [managed({ 'f:metadata': { 'f:labels': { 'f:istio.io/rev': {} } } })]);
    expect(needsApply(desired({ 'istio.io/rev': 'canary' }), live)).to.be.false;
  });

  it('is true when a value differs', () => {
    const live = liveNamespace({ 'istio.io/rev': 'stable' }, [managed({ 'f:metadata': { 'f:labels': { 'f:istio.io/rev': {} } } })]);
    expect(needsApply(desired({ 'istio.io/rev': 'canary' }), live)).to.be.true;
  });

  it('is true when meshrev owns a field it no longer sends (the apply must remove it)', () => {
    const live = liveNamespace({ 'istio.io/rev': 'canary', 'meshrev.io/origin': 'x' }, [
      managed({ 'f:metadata': { 'f:labels': { 'f:istio.io/rev': {}, 'f:meshrev.io/origin': {} } } }),
    ]);
    expect(needsApply(desired({ 'istio.io/rev': 'canary' }), live)).to.be.true;
  });

  it('is true when meshrev has never applied the object (it must take ownership)', () => {
    const live = liveNamespace({ 'istio.io/rev': 'canary' }, [managed({ 'f:metadata': { 'f:labels': { 'f:istio.io/rev': {} } } }, { manager: 'kubectl', operation: 'Update' })]);
    expect(needsApply(desired({ 'istio.io/rev': 'canary' }), live)).to.be.true;
  });

  it('ignores fields another manager owns that meshrev does not send (istiod caBundle)', () => {
    const mwc = (caBundle?: string) =>
      toTyped(
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'MutatingWebhookConfiguration',
          metadata: {
            name: 'istio-sidecar-injector-canary',
            managedFields: [
              {
                manager: 'meshrev',
                operation: 'Apply',
                fieldsType: 'FieldsV1',
                fieldsV1: { 'f:webhooks': { 'k:{"name":"rev.namespace.sidecar-injector.istio.io"}': { '.': {}, 'f:name': {}, 'f:clientConfig': { 'f:service': { 'f:name': {} } }, 'f:rules': {} } } },
              },
            ],
          },
          webhooks: [
            {
              name: 'rev.namespace.sidecar-injector.istio.io',
              clientConfig: { service: { name: 'istiod-canary', namespace: 'istio-system', port: 443 }, caBundle },
              rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
              sideEffects: 'None',
              admissionReviewVersions: ['v1'],
              timeoutSeconds: 10,
            },
          ],
        },
        'admissionregistration.k8s.io/v1',
        'MutatingWebhookConfiguration',
      );
    const want: KubernetesObject & { webhooks: unknown[] } = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'istio-sidecar-injector-canary' },
      webhooks: [
        {
          name: 'rev.namespace.sidecar-injector.istio.io',
          clientConfig: { service: { name: 'istiod-canary', namespace: 'istio-system' } },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        },
      ],
    };
    expect(needsApply(want, mwc('Q0EK'))).to.be.false;
  });

  it('compares only status, under the status subresource entry, for a status apply', () => {
    const live: KubernetesObject = toTyped(
      {
        apiVersion: 'meshrev.io/v1alpha1',
        kind: 'MeshRevision',
        metadata: {
          name: 'canary',
          managedFields: [
            { manager: 'meshrev', operation: 'Apply', subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:observedGeneration': {}, 'f:phase': {} } } },
          ],
        },
        spec: { revision: 'canary' },
        status: { observedGeneration: 2, phase: 'Ready' },
      },
      'meshrev.io/v1alpha1',
      'MeshRevision',
    );
    const status = (phase: string) => ({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', metadata: { name: 'canary' }, status: { observedGeneration: 2, phase } });
    expect(needsApply(status('Ready'), live, { subresource: 'status', only: ['status'] })).to.be.false;
    expect(needsApply(status('Migrating'), live, { subresource: 'status', only: ['status'] })).to.be.true;
  });
});

describe('isSubset', () => {
  it('lets maps in live have extra keys but requires lists of the same length', () => {
    expect(isSubset({ a: 1 }, { a: 1, b: 2 })).to.be.true;
    expect(isSubset({ a: [1, 2] }, { a: [1, 2] })).to.be.true;
    expect(isSubset({ a: [1] }, { a: [1, 2] })).to.be.false;
    expect(isSubset({ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] })).to.be.true;
    expect(isSubset({ a: null }, {})).to.be.true;
  });
});
