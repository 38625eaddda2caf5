// A small mesh on the real local cluster for migration tests: two injectors
// (old and new revision) — loopback reference injectors, or real istiods with
// `real: true` — the old revision's MeshRevision holding the default, and
// helpers to build namespaces with workloads and read back where their pods are.
import * as k8s from '@kubernetes/client-node';
import { ANNOTATION_ISTIO_REV } from '../../src/api/labels.js';
import { API_VERSION, KIND, type MeshRevision } from '../../src/api/meshrevision.js';
import type { MigrationSpec } from '../../src/api/migration.js';
import { startInjector } from './injector.js';
import { startIstiod } from './istiod.js';
import { createNamespace, eventually, isPodReady, uniqueName, type Clients } from './kube.js';

/** What a mesh needs of an injector: where the API server reaches it, the CA to trust (absent: istiod fills caBundle in), how to stop it. */
export interface MeshInjector {
  revision: string;
  url: string;
  caBundle?: string | undefined;
  stop(): Promise<void>;
}

export interface Mesh {
  oldRev: string;
  newRev: string;
  oldInjector: MeshInjector;
  newInjector: MeshInjector;
  /** Label every namespace of this mesh carries; migrations select on it so tests never touch each other. */
  selectorLabel: { key: string; value: string };
  namespaces: string[];
  meshRevisions: string[];
}

/** Injector configurations (src/injector/config.ts shape) per revision, e.g. custom templates. */
export interface MeshOptions {
  oldConfig?: unknown;
  newConfig?: unknown;
  /** Real istiods (revisions named like Istio's, e.g. 1-30-x → 1-31-x) instead of the reference injector. */
  real?: boolean;
}

export async function startMesh(c: Clients, opts: MeshOptions = {}): Promise<Mesh> {
  const mesh = await startMeshInjectors(opts);
  await declareOldRevision(c, mesh);
  return mesh;
}

/** The mesh's two injectors, before any MeshRevision exists (for an operator that must know their ports first). */
export async function startMeshInjectors(opts: MeshOptions = {}): Promise<Mesh> {
  const sfx = uniqueName('m').slice(2);
  const oldRev = opts.real ? `1-30-${sfx}` : `old-${sfx}`;
  const newRev = opts.real ? `1-31-${sfx}` : `new-${sfx}`;
  const [oldInjector, newInjector]: [MeshInjector, MeshInjector] = opts.real
    ? await Promise.all([startIstiod(oldRev), startIstiod(newRev)])
    : await Promise.all([
        startInjector({ revision: oldRev, ...(opts.oldConfig !== undefined ? { config: opts.oldConfig } : {}) }),
        startInjector({ revision: newRev, ...(opts.newConfig !== undefined ? { config: opts.newConfig } : {}) }),
      ]);
  return {
    oldRev,
    newRev,
    oldInjector,
    newInjector,
    selectorLabel: { key: 'e2e.meshrev.io/mesh', value: sfx },
    namespaces: [],
    meshRevisions: [],
  };
}

/** Declares the old revision as the default (its webhook served by the running operator). */
export async function declareOldRevision(c: Clients, mesh: Mesh): Promise<void> {
  await createMeshRevision(c, mesh, meshRevisionObject(mesh.oldRev, mesh.oldInjector, { default: true }));
}

export function meshRevisionObject(revision: string, inj: Pick<MeshInjector, 'url' | 'caBundle'>, extra: Partial<MeshRevision['spec']> = {}): MeshRevision & k8s.KubernetesObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: revision },
    spec: { revision, injector: { url: inj.url, ...(inj.caBundle !== undefined ? { caBundle: inj.caBundle } : {}) }, ...extra },
  };
}

export async function createMeshRevision(c: Clients, mesh: Mesh, obj: MeshRevision & k8s.KubernetesObject): Promise<void> {
  await c.objects.create(obj);
  mesh.meshRevisions.push(obj.metadata.name!);
  await eventually(`${obj.metadata.name} webhook served`, async () => (await getMeshRevision(c, obj.metadata.name!))?.status?.webhookConfiguration !== undefined);
}

export function migrationFor(mesh: Mesh, m: Partial<MigrationSpec> = {}): MigrationSpec {
  return {
    from: ['default', mesh.oldRev],
    namespaceSelector: { matchLabels: { [mesh.selectorLabel.key]: mesh.selectorLabel.value } },
    ...m,
  };
}

export async function getMeshRevision(c: Clients, name: string): Promise<MeshRevision | undefined> {
  try {
    return (await c.objects.read({ apiVersion: API_VERSION, kind: KIND, metadata: { name } })) as unknown as MeshRevision;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function patchMigration(c: Clients, name: string, migration: Record<string, unknown>): Promise<void> {
  await c.objects.patch(
    { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { migration } } as k8s.KubernetesObject,
    undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
  );
}

export async function waitMigrationPhase(c: Clients, name: string, phase: string, timeoutMs = 120_000): Promise<MeshRevision> {
  return eventually(`${name} migration ${phase}`, async () => {
    const m = await getMeshRevision(c, name);
    return m?.status?.migration?.phase === phase && m.status.observedGeneration === m.metadata.generation ? m : false;
  }, { timeoutMs, intervalMs: 300 });
}

export interface AppSpec {
  deployments?: { name: string; replicas?: number; optOut?: boolean; templates?: string; progressDeadlineSeconds?: number }[];
  statefulSet?: string;
  daemonSet?: string;
  /** A pod with no owner. */
  barePod?: string;
}

const container = (name: string) => [{ name, image: `registry.invalid/${name}:1` }];

/** Creates a namespace of the mesh with the given labels and workloads. */
export async function createAppNamespace(c: Clients, mesh: Mesh, prefix: string, labels: Record<string, string>, apps: AppSpec, selected = true): Promise<string> {
  const name = uniqueName(prefix);
  await createNamespace(c, name, { ...labels, ...(selected ? { [mesh.selectorLabel.key]: mesh.selectorLabel.value } : {}) });
  mesh.namespaces.push(name);
  for (const d of apps.deployments ?? []) {
    const podLabels: Record<string, string> = { app: d.name, ...(d.optOut ? { 'sidecar.istio.io/inject': 'false' } : {}) };
    const annotations = d.templates ? { 'inject.istio.io/templates': d.templates } : undefined;
    await c.apps.createNamespacedDeployment({
      namespace: name,
      body: {
        metadata: { name: d.name },
        spec: {
          replicas: d.replicas ?? 2,
          ...(d.progressDeadlineSeconds ? { progressDeadlineSeconds: d.progressDeadlineSeconds } : {}),
          selector: { matchLabels: { app: d.name } },
          template: { metadata: { labels: podLabels, ...(annotations ? { annotations } : {}) }, spec: { containers: container(d.name) } },
        },
      },
    });
  }
  if (apps.statefulSet) {
    const app = apps.statefulSet;
    await c.apps.createNamespacedStatefulSet({
      namespace: name,
      body: {
        metadata: { name: app },
        spec: {
          replicas: 2,
          serviceName: app,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app } },
          template: { metadata: { labels: { app } }, spec: { containers: container(app) } },
        },
      },
    });
  }
  if (apps.daemonSet) {
    const app = apps.daemonSet;
    await c.apps.createNamespacedDaemonSet({
      namespace: name,
      body: { metadata: { name: app }, spec: { selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: container(app) } } } },
    });
  }
  if (apps.barePod) {
    await c.core.createNamespacedPod({ namespace: name, body: { metadata: { name: apps.barePod, labels: { app: apps.barePod } }, spec: { containers: container(apps.barePod) } } });
  }
  return name;
}

export interface PodView {
  name: string;
  uid: string;
  app: string;
  revision: string | undefined;
  ready: boolean;
}

export async function podsIn(c: Clients, namespace: string): Promise<PodView[]> {
  const list = await c.core.listNamespacedPod({ namespace });
  return list.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => ({
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
      app: p.metadata?.labels?.['app'] ?? '',
      revision: p.metadata?.annotations?.[ANNOTATION_ISTIO_REV],
      ready: isPodReady(p),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Waits until every workload of the namespace is rolled out and every pod Ready (no terminating pods). */
export async function waitSettled(c: Clients, namespace: string, expectedPods: number): Promise<PodView[]> {
  return eventually(`${expectedPods} Ready pods in ${namespace}`, async () => {
    const all = await c.core.listNamespacedPod({ namespace });
    if (all.items.some((p) => p.metadata?.deletionTimestamp)) return false;
    const pods = await podsIn(c, namespace);
    return pods.length === expectedPods && pods.every((p) => p.ready) ? pods : false;
  }, { timeoutMs: 90_000 });
}

/** How many times each workload rolled: ReplicaSets per Deployment, ControllerRevisions per StatefulSet/DaemonSet. */
export async function rolloutCounts(c: Clients, namespace: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const rs of (await c.apps.listNamespacedReplicaSet({ namespace })).items) {
    const owner = rs.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment')?.name;
    if (owner) out[`Deployment/${owner}`] = (out[`Deployment/${owner}`] ?? 0) + 1;
  }
  for (const cr of (await c.apps.listNamespacedControllerRevision({ namespace })).items) {
    const owner = cr.metadata?.ownerReferences?.find((o) => o.kind === 'StatefulSet' || o.kind === 'DaemonSet');
    if (owner) out[`${owner.kind}/${owner.name}`] = (out[`${owner.kind}/${owner.name}`] ?? 0) + 1;
  }
  return out;
}

export async function namespaceLabels(c: Clients, name: string): Promise<Record<string, string>> {
  const ns = await c.core.readNamespace({ name });
  const l = ns.metadata?.labels ?? {};
  const pick: Record<string, string> = {};
  for (const k of ['istio-injection', 'istio.io/rev']) if (l[k] !== undefined) pick[k] = l[k];
  return pick;
}

export async function stopMesh(c: Clients, mesh: Mesh | undefined): Promise<void> {
  if (!mesh) return;
  await Promise.all(mesh.namespaces.map((n) => c.core.deleteNamespace({ name: n }).catch(() => undefined)));
  for (const name of mesh.meshRevisions) {
    await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }).catch(() => undefined);
  }
  for (const name of mesh.meshRevisions) {
    await eventually(`${name} deleted`, async () => (await getMeshRevision(c, name)) === undefined, { timeoutMs: 60_000 }).catch(async () => {
      await c.objects
        .patch({ apiVersion: API_VERSION, kind: KIND, metadata: { name, finalizers: null } } as unknown as k8s.KubernetesObject,
          undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch)
        .catch(() => undefined);
    });
  }
  for (const rev of [mesh.oldRev, mesh.newRev]) {
    await c.admission.deleteMutatingWebhookConfiguration({ name: `meshrev-sidecar-injector-${rev}` }).catch(() => undefined);
  }
  await Promise.all([mesh.oldInjector.stop(), mesh.newInjector.stop()]);
  if (mesh.oldInjector.caBundle === undefined) {
    // Real istiods: their per-revision ConfigMaps in istio-system go with them.
    for (const rev of [mesh.oldRev, mesh.newRev]) {
      for (const name of [`istio-${rev}`, `istio-sidecar-injector-${rev}`, `values-${rev}`]) {
        await c.core.deleteNamespacedConfigMap({ name, namespace: 'istio-system' }).catch(() => undefined);
      }
    }
  }
}
