// The cluster reads `meshrev check-inject` needs: a namespace's labels, the
// MutatingWebhookConfigurations, and optionally one pod. Read-only.
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfigOptions } from './client.js';
import { apiErrorMessage, classifyError } from './errors.js';

export interface InjectionView {
  namespace?: { name: string; labels: Record<string, string> };
  webhooks: k8s.V1MutatingWebhookConfiguration[];
  pod?: k8s.V1Pod;
}

export interface InjectionViewRequest extends KubeConfigOptions {
  /** Namespace whose labels to read. */
  namespace?: string;
  /** Pod (in `namespace`) to read. */
  pod?: string;
}

/** A read that failed, said for a person: what was read, and the API server's answer. */
class InjectionViewError extends Error {
  constructor(what: string, err: unknown) {
    const info = classifyError(err);
    const hint = info.kind === 'notFound' ? '' : info.kind === 'forbidden'
      ? ' (your credentials may not read it: check-inject needs get on namespaces/pods and list on mutatingwebhookconfigurations)'
      : info.transient ? ' (is the cluster reachable? check --kubeconfig / --context)' : '';
    super(`cannot read ${what}: ${info.kind === 'notFound' ? 'not found' : apiErrorMessage(err)}${hint}`);
    this.name = 'InjectionViewError';
  }
}

async function readInjectionView(kc: k8s.KubeConfig, req: { namespace?: string; pod?: string }): Promise<InjectionView> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const view: InjectionView = { webhooks: [] };
  const [ns, webhooks, pod] = await Promise.all([
    req.namespace === undefined ? undefined : core.readNamespace({ name: req.namespace }).catch((err: unknown) => {
      throw new InjectionViewError(`namespace ${req.namespace}`, err);
    }),
    admission.listMutatingWebhookConfiguration().catch((err: unknown) => {
      throw new InjectionViewError('the MutatingWebhookConfigurations', err);
    }),
    req.pod === undefined || req.namespace === undefined ? undefined
      : core.readNamespacedPod({ name: req.pod, namespace: req.namespace }).catch((err: unknown) => {
        throw new InjectionViewError(`pod ${req.namespace}/${req.pod}`, err);
      }),
  ]);
  if (ns) view.namespace = { name: ns.metadata?.name ?? req.namespace ?? '', labels: ns.metadata?.labels ?? {} };
  // The API server calls mutating webhooks in name order; keep that order in reports.
  view.webhooks = [...webhooks.items].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  if (pod) view.pod = pod;
  return view;
}

/** Loads credentials (see loadKubeConfig) and reads the view. */
export async function readInjectionViewFromCluster(req: InjectionViewRequest): Promise<InjectionView> {
  const kc = loadKubeConfig({
    ...(req.kubeconfig !== undefined ? { kubeconfig: req.kubeconfig } : {}),
    ...(req.context !== undefined ? { context: req.context } : {}),
  });
  return readInjectionView(kc, {
    ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
    ...(req.pod !== undefined ? { pod: req.pod } : {}),
  });
}
