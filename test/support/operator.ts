// Runs the operator in the test process under the ServiceAccount and RBAC
// from config/ (installed with `kubectl apply -k config/default`), with a
// token from the TokenRequest API — so every e2e proves the role suffices.
import * as k8s from '@kubernetes/client-node';
import { CRD_NAME } from '../../src/api/meshrevision.js';
import { startOperator, type RunningOperator } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/logger.js';
import { eventually, kubectl, type Clients } from './kube.js';

export const OPERATOR_NAMESPACE = 'meshrev-system';
export const OPERATOR_SERVICE_ACCOUNT = 'meshrev';

/** Applies config/default (CRD, namespace, RBAC, Deployment) and waits for the CRD to be served. */
export async function installOperatorManifests(c: Clients): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-k', 'config/default']);
  await eventually(`CRD ${CRD_NAME} Established`, async () => {
    const crd = await c.objects.read<k8s.V1CustomResourceDefinition>({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD_NAME },
    });
    return crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  });
}

/** A kubeconfig for the cluster that authenticates as the operator's ServiceAccount. */
export async function serviceAccountKubeConfig(c: Clients): Promise<k8s.KubeConfig> {
  const tr = await c.core.createNamespacedServiceAccountToken({
    name: OPERATOR_SERVICE_ACCOUNT,
    namespace: OPERATOR_NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  const cluster = c.kc.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'e2e' }],
    users: [{ name: 'meshrev-sa', token }],
    contexts: [{ name: 'meshrev-sa', cluster: 'e2e', user: 'meshrev-sa' }],
    currentContext: 'meshrev-sa',
  });
  return kc;
}

/** Installs the manifests and starts the operator as its ServiceAccount, on loopback, leading on a Lease. */
export async function startOperatorAsServiceAccount(c: Clients, lease = 'meshrev-leader-e2e'): Promise<RunningOperator> {
  await installOperatorManifests(c);
  const kc = await serviceAccountKubeConfig(c);
  return startOperator({
    kc,
    listen: { host: '127.0.0.1', port: 0 },
    leaderElection: { namespace: OPERATOR_NAMESPACE, name: lease },
    log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  });
}
