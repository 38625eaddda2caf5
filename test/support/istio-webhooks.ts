// MutatingWebhookConfigurations shaped exactly like upstream Istio's chart
// renders them (DESIGN.md §1), for tests that need a "real" set of injector
// webhooks with their own URLs and names. test/unit/policy/webhooks.test.ts
// checks these selectors against the chart's own render
// (test/fixtures/istio-chart), so they cannot drift from it.
import type { V1LabelSelector, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';

export interface IstioWebhookOptions {
  /** metadata.name of the configuration. */
  name: string;
  /** The revision whose injector serves the entries (label istio.io/rev). */
  revision: string;
  /** Make this a tag's configuration: selectors use the tag, label istio.io/tag=<tag>. */
  tag?: string;
  /** Add the default revision's `namespace.` and `object.` entries. */
  isDefault?: boolean;
  /** Add the `auto.` entry (sidecarInjectorWebhook.enableNamespacesByDefault). Needs isDefault. */
  enableNamespacesByDefault?: boolean;
  /** clientConfig.url; default a service reference to istiod-<rev>. */
  url?: string;
  /** base64 PEM CA bundle. */
  caBundle?: string;
  /** Extra labels on the configuration. */
  labels?: Record<string, string>;
}

const notFalse = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };

export function istioWebhookConfiguration(o: IstioWebhookOptions): V1MutatingWebhookConfiguration {
  const value = o.tag ?? o.revision;
  const clientConfig: V1MutatingWebhook['clientConfig'] = o.url
    ? { url: o.url, ...(o.caBundle ? { caBundle: o.caBundle } : {}) }
    : { service: { name: o.revision === 'default' ? 'istiod' : `istiod-${o.revision}`, namespace: 'istio-system', path: '/inject', port: 443 }, ...(o.caBundle ? { caBundle: o.caBundle } : {}) };
  const entry = (name: string, namespaceSelector: V1LabelSelector, objectSelector: V1LabelSelector): V1MutatingWebhook => ({
    name,
    clientConfig,
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    namespaceSelector,
    objectSelector,
  });
  const webhooks: V1MutatingWebhook[] = [
    entry('rev.namespace.sidecar-injector.istio.io',
      { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: [value] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
      { matchExpressions: [notFalse] }),
    entry('rev.object.sidecar-injector.istio.io',
      { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
      { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: [value] }] }),
  ];
  if (o.isDefault) {
    webhooks.push(
      entry('namespace.sidecar-injector.istio.io',
        { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
        { matchExpressions: [notFalse] }),
      entry('object.sidecar-injector.istio.io',
        { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
        { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] }),
    );
    if (o.enableNamespacesByDefault) {
      webhooks.push(entry('auto.sidecar-injector.istio.io',
        {
          matchExpressions: [
            { key: 'istio-injection', operator: 'DoesNotExist' },
            { key: 'istio.io/rev', operator: 'DoesNotExist' },
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'] },
          ],
        },
        { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] }));
    }
  }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: o.name,
      labels: { app: 'sidecar-injector', 'istio.io/rev': o.revision, ...(o.tag ? { 'istio.io/tag': o.tag } : {}), ...o.labels },
    },
    webhooks,
  };
}
