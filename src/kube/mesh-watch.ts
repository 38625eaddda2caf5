// The view `meshrev status --watch` shows (src/kube/mesh-view.ts' MeshView,
// without workloads), kept current by informers: one LIST per resource to
// fill each cache, then watches only. A watch that breaks is reopened from
// the last resourceVersion seen (src/kube/informer.ts), so the API server
// sees a LIST again only if that version has been compacted away (410 Gone).
// Pods are cached as the operator caches them (podProjection).
import * as k8s from '@kubernetes/client-node';
import { LABEL_ISTIO_REV } from '../api/labels.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type MeshRevision } from '../api/meshrevision.js';
import { Informer, type ResourceRef } from './informer.js';
import { MeshViewError, type MeshView } from './mesh-view.js';
import { podProjection, withoutBookkeeping } from './projections.js';

export type WatchedMeshView = Omit<MeshView, 'workloads'>;

export interface MeshWatchOptions {
  /** Watch pods of this namespace only (namespaces and MeshRevisions are still watched in full). */
  namespace?: string;
  /** Called after every change any cache saw, and when a watch breaks (see problem()). */
  onChange: () => void;
}

export interface MeshWatch {
  /** What the caches hold now, sorted like readMeshView's answer. */
  view(): WatchedMeshView;
  /** Why a watch is down while its informer reopens it (the view is then what was last seen). */
  problem(): string | undefined;
  stop(): Promise<void>;
}

const byName = (a: k8s.KubernetesObject, b: k8s.KubernetesObject) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');

/** Whether the API server serves meshrev.io/v1alpha1 (one discovery GET; not a LIST). */
async function crdServed(kc: k8s.KubeConfig): Promise<boolean> {
  try {
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    return groups.groups.some((g) => g.name === GROUP && g.versions.some((v) => v.version === VERSION));
  } catch (err) {
    throw new MeshViewError('API groups', err);
  }
}

/**
 * Starts the informers and resolves once every cache holds its first list.
 * A list that fails before then (refused, forbidden, unreachable) rejects
 * with the error `meshrev status` prints without --watch; after that,
 * failures are retried by the informers and reported by problem().
 */
export async function startMeshWatch(kc: k8s.KubeConfig, opts: MeshWatchOptions): Promise<MeshWatch> {
  const crdInstalled = await crdServed(kc);
  let synced = false;
  let failFirstSync: (err: Error) => void = () => undefined;
  const firstSyncFailed = new Promise<never>((_, reject) => { failFirstSync = reject; });
  firstSyncFailed.catch(() => undefined);
  const make = <T extends k8s.KubernetesObject>(what: string, resource: ResourceRef, transform = withoutBookkeeping) => {
    const informer = new Informer<T>({
      kc,
      resource,
      transform,
      onRestart: (err) => {
        if (!synced) failFirstSync(new MeshViewError(what, err));
        opts.onChange();
      },
    });
    informer.onChange(() => opts.onChange());
    return informer;
  };
  const meshRevisions = crdInstalled ? make<MeshRevision & k8s.KubernetesObject>('MeshRevisions', { apiVersion: API_VERSION, kind: KIND, plural: PLURAL }) : undefined;
  const namespaces = make<k8s.V1Namespace>('namespaces', { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' });
  const pods = make<k8s.V1Pod>('pods', { apiVersion: 'v1', kind: 'Pod', plural: 'pods', ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}) }, podProjection);
  const webhooks = make<k8s.V1MutatingWebhookConfiguration>('MutatingWebhookConfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', labelSelector: LABEL_ISTIO_REV,
  });
  const informers: Informer<k8s.KubernetesObject>[] = [namespaces, pods, webhooks, ...(meshRevisions ? [meshRevisions] : [])] as Informer<k8s.KubernetesObject>[];
  const stop = async () => { await Promise.all(informers.map((i) => i.stop())); };
  for (const i of informers) i.start();
  try {
    await Promise.race([Promise.all(informers.map((i) => i.whenSynced())), firstSyncFailed]);
  } catch (err) {
    await stop();
    throw err;
  }
  synced = true;
  return {
    view: () => ({
      meshRevisions: (meshRevisions?.list() ?? []).sort(byName),
      crdInstalled,
      namespaces: namespaces.list().sort(byName),
      pods: pods.list(),
      webhooks: webhooks.list().sort(byName),
    }),
    problem: () => {
      const broken = informers.filter((i) => i.lastError() !== undefined);
      return broken.length === 0 ? undefined : broken.map((i) => `${i.resource.plural}: ${i.lastError()}`).join('; ');
    },
    stop,
  };
}
