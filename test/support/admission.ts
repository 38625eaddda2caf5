// AdmissionReview requests as the API server sends them, for webhook tests and the bench.
import type { V1Pod } from '@kubernetes/client-node';

/** An AdmissionReview v1 for a pod CREATE in namespace shop; `extra` overrides request fields. */
export function podReview(pod: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...extra,
    },
  };
}

/** A typical Deployment pod (generateName, one container with a port). */
export function appPod(annotations: Record<string, string> = {}, labels: Record<string, string> = { app: 'web' }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-5d8f7c9b6-', namespace: 'shop', labels, annotations },
    spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 8080 }] }], serviceAccountName: 'default' },
  };
}

