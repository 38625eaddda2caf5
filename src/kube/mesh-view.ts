// The cluster reads `meshrev status` and `meshrev plan` need, in a few LIST
// calls (paged): MeshRevisions, namespaces, pods, workloads and the
// revision-labelled MutatingWebhookConfigurations. Read-only; returns plain
// data for the pure views in src/cli.
import * as k8s from '@kubernetes/client-node';
import { LABEL_ISTIO_REV } from '../api/labels.js';
import { GROUP, PLURAL, VERSION, type MeshRevision } from '../api/meshrevision.js';
import type { Workload } from '../api/workload.js';
import { loadKubeConfig, type KubeConfigOptions } from './client.js';
import { apiErrorMessage, classifyError, type KubeErrorKind } from './errors.js';

export interface MeshView {
  /** Sorted by name. Empty when the CRD is not installed (see `crdInstalled`). */
  meshRevisions: MeshRevision[];
  /** False when the API server does not serve meshrevisions.meshrev.io. */
  crdInstalled: boolean;
  namespaces: k8s.V1Namespace[];
  /** Pods of every namespace (or of the requested one). */
  pods: k8s.V1Pod[];
  /** Deployments, StatefulSets and DaemonSets with `kind` set (list items carry none); empty unless requested. */
  workloads: Workload[];
  /** MutatingWebhookConfigurations labelled istio.io/rev, by name. */
  webhooks: k8s.V1MutatingWebhookConfiguration[];
}

export interface MeshViewRequest {
  /** Read pods of this namespace only (namespaces and MeshRevisions are still read in full). */
  namespace?: string;
  /** Also read Deployments, StatefulSets and DaemonSets (the plan needs them; status does not). */
  workloads?: boolean;
}

/** A read that failed, said for a person: what was read, the API server's answer, and what to check. */
export class MeshViewError extends Error {
  /** What kind of failure it was (notFound, forbidden, transient...). */
  readonly kind: KubeErrorKind;

  constructor(what: string, err: unknown) {
    const info = classifyError(err);
    const hint = info.kind === 'forbidden' || info.kind === 'unauthorized'
      ? ' (your credentials may not list it: status and plan need list (status --watch also watch) on meshrevisions, namespaces, pods, deployments, statefulsets, daemonsets and mutatingwebhookconfigurations)'
      : info.transient ? ' (is the cluster reachable? check --kubeconfig / --context)' : '';
    // undici's "fetch failed" hides why (refused, bad TLS, DNS) in its cause.
    const cause = info.kind === 'unknown' && err instanceof Error && err.cause instanceof Error && !apiErrorMessage(err).includes(err.cause.message) ? ` (${err.cause.message})` : '';
    super(`cannot list ${what}: ${apiErrorMessage(err)}${cause}${hint}`);
    this.name = 'MeshViewError';
    this.kind = info.kind;
  }
}

/** Page size for LIST calls: bounds each response on a large cluster. */
const PAGE_LIMIT = 500;

interface Page<T> {
  items: T[];
  metadata?: { _continue?: string; continue?: string };
}

async function listAll<T>(what: string, page: (cont: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  try {
    do {
      const p = await page(cont);
      out.push(...(p.items ?? []));
      // Typed lists name it `_continue`; custom objects arrive as raw JSON with `continue`.
      cont = p.metadata?._continue || p.metadata?.continue || undefined;
    } while (cont);
  } catch (err) {
    throw new MeshViewError(what, err);
  }
  return out;
}

const byName = (a: { metadata?: { name?: string } }, b: { metadata?: { name?: string } }) =>
  (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');

export async function readMeshView(kc: k8s.KubeConfig, req: MeshViewRequest = {}): Promise<MeshView> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const limit = PAGE_LIMIT;
  const ns = req.namespace;

  const meshRevisions = (async (): Promise<MeshRevision[] | undefined> => {
    try {
      return await listAll<MeshRevision>('MeshRevisions', (c) =>
        custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit, ...(c ? { _continue: c } : {}) }) as Promise<Page<MeshRevision>>);
    } catch (err) {
      // A cluster without the CRD is a state to report, not a failure.
      if (err instanceof MeshViewError && err.kind === 'notFound') return undefined;
      throw err;
    }
  })();
  const workloads = async <T>(kind: Workload['kind'], list: (c: string | undefined) => Promise<Page<T>>): Promise<Workload[]> =>
    req.workloads ? (await listAll(`${kind}s`, list)).map((w) => ({ ...w, kind })) : [];

  const [mrevs, namespaces, pods, deployments, statefulSets, daemonSets, webhooks] = await Promise.all([
    meshRevisions,
    listAll('namespaces', (c) => core.listNamespace({ limit, ...(c ? { _continue: c } : {}) })),
    listAll('pods', (c) => ns !== undefined
      ? core.listNamespacedPod({ namespace: ns, limit, ...(c ? { _continue: c } : {}) })
      : core.listPodForAllNamespaces({ limit, ...(c ? { _continue: c } : {}) })),
    workloads('Deployment', (c) => apps.listDeploymentForAllNamespaces({ limit, ...(c ? { _continue: c } : {}) })),
    workloads('StatefulSet', (c) => apps.listStatefulSetForAllNamespaces({ limit, ...(c ? { _continue: c } : {}) })),
    workloads('DaemonSet', (c) => apps.listDaemonSetForAllNamespaces({ limit, ...(c ? { _continue: c } : {}) })),
    listAll('MutatingWebhookConfigurations', (c) =>
      admission.listMutatingWebhookConfiguration({ labelSelector: LABEL_ISTIO_REV, limit, ...(c ? { _continue: c } : {}) })),
  ]);
  return {
    meshRevisions: [...(mrevs ?? [])].sort(byName),
    crdInstalled: mrevs !== undefined,
    namespaces: [...namespaces].sort(byName),
    pods,
    workloads: [...deployments, ...statefulSets, ...daemonSets],
    webhooks: [...webhooks].sort(byName),
  };
}

/** Loads credentials (see loadKubeConfig) and reads the view. */
export async function readMeshViewFromCluster(req: MeshViewRequest & KubeConfigOptions): Promise<MeshView> {
  return readMeshView(loadMeshKubeConfig(req), req);
}

/** Credentials for repeated reads (`status --watch` loads them once, so a bad kubeconfig fails at once). */
export function loadMeshKubeConfig(opts: KubeConfigOptions): k8s.KubeConfig {
  return loadKubeConfig({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
}
