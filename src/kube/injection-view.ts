// The cluster reads `meshrev check-inject` needs: the labels of the
// namespaces it judges pods in, the MutatingWebhookConfigurations, and
// optionally one pod. Read-only.
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfigOptions } from './client.js';
import { apiErrorMessage, classifyError } from './errors.js';

export interface InjectionView {
  /** The namespaces asked for that exist, in the order asked. */
  namespaces: { name: string; labels: Record<string, string> }[];
  /** The namespaces asked for that do not exist (only with allowMissing). */
  missing: string[];
  webhooks: k8s.V1MutatingWebhookConfiguration[];
  pod?: k8s.V1Pod;
}

export interface InjectionViewRequest extends KubeConfigOptions {
  /** Namespaces whose labels to read. */
  namespaces?: readonly string[];
  /** Report a namespace that does not exist in `missing` instead of failing (a manifest may create it). */
  allowMissing?: boolean;
  /** Pod (in the first of `namespaces`) to read. */
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

type ReadRequest = Pick<InjectionViewRequest, 'namespaces' | 'allowMissing' | 'pod'>;

async function readNamespace(core: k8s.CoreV1Api, name: string, allowMissing: boolean): Promise<k8s.V1Namespace | undefined> {
  try {
    return await core.readNamespace({ name });
  } catch (err) {
    if (allowMissing && classifyError(err).kind === 'notFound') return undefined;
    throw new InjectionViewError(`namespace ${name}`, err);
  }
}

async function readInjectionView(kc: k8s.KubeConfig, req: ReadRequest): Promise<InjectionView> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const names = [...new Set(req.namespaces ?? [])];
  const podNamespace = names[0];
  const [namespaces, webhooks, pod] = await Promise.all([
    Promise.all(names.map((name) => readNamespace(core, name, req.allowMissing === true))),
    admission.listMutatingWebhookConfiguration().catch((err: unknown) => {
      throw new InjectionViewError('the MutatingWebhookConfigurations', err);
    }),
    req.pod === undefined || podNamespace === undefined ? undefined
      : core.readNamespacedPod({ name: req.pod, namespace: podNamespace }).catch((err: unknown) => {
        throw new InjectionViewError(`pod ${podNamespace}/${req.pod}`, err);
      }),
  ]);
  const view: InjectionView = { namespaces: [], missing: [], webhooks: [] };
  names.forEach((name, i) => {
    const ns = namespaces[i];
    if (ns) view.namespaces.push({ name, labels: ns.metadata?.labels ?? {} });
    else view.missing.push(name);
  });
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
    ...(req.namespaces !== undefined ? { namespaces: req.namespaces } : {}),
    ...(req.allowMissing !== undefined ? { allowMissing: req.allowMissing } : {}),
    ...(req.pod !== undefined ? { pod: req.pod } : {}),
  });
}
