// The operator process: informers, the MeshRevision controller, leader
// election, probes and metrics, wired by the runtime's Manager. The CLI's
// `meshrev operator` command parses flags and calls runOperator().
import type { KubeConfig, V1DaemonSet, V1Deployment, V1MutatingWebhookConfiguration, V1Namespace, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { Workload } from './policy/migration.js';
import { LABEL_ISTIO_REV } from './api/labels.js';
import { API_VERSION, KIND, PLURAL, type MeshRevision } from './api/meshrevision.js';
import { OperatorMetrics } from './health/metrics.js';
import { createHealthApp, type ListenOptions } from './health/server.js';
import { KubeWriter } from './kube/apply.js';
import { makeApis, readyEndpoints } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import { CONTROLLER_NAME, MeshRevisionReconciler, type Store } from './reconcile/meshrevision.js';
import { createLogger, type Logger } from './runtime/logger.js';
import { Manager, handleSignals, watchMapped, type StopReason } from './runtime/manager.js';
import type { WorkQueue } from './runtime/workqueue.js';

export interface OperatorOptions {
  kc: KubeConfig;
  /** Where /healthz, /readyz and /metrics are served. */
  listen: ListenOptions;
  /** Lease for leader election; omit to run without (a single replica). */
  leaderElection?: { namespace: string; name: string };
  /** MeshRevisions reconciled at once. */
  concurrency?: number;
  log?: Logger;
  /** Install SIGTERM/SIGINT handlers (the CLI does; tests that embed the operator do not). */
  handleSignals?: boolean;
}

export interface RunningOperator {
  manager: Manager;
  writer: KubeWriter;
  /** The MeshRevision controller's queue (tests force resyncs through it). */
  queue: WorkQueue;
  metrics: OperatorMetrics;
  /** Resolves when the operator has stopped, with why. */
  done: Promise<StopReason>;
  stop(): Promise<void>;
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.log ?? createLogger();
  const metrics = new OperatorMetrics();
  const health = createHealthApp({ metrics });
  const apis = makeApis(opts.kc);
  const writer = new KubeWriter({ kc: opts.kc, onWrite: (w) => metrics.writeMetrics.write(w.verb, w.kind) });
  const events = new EventRecorder({ core: apis.core, writer, log });
  const manager = new Manager({
    log,
    metrics,
    health,
    listen: opts.listen,
    ...(opts.leaderElection ? { leaderElection: { api: apis.coordination, ...opts.leaderElection } } : {}),
  });

  const meshRevisions = manager.informer({ kc: opts.kc, resource: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL } });
  const webhooks = manager.informer<V1MutatingWebhookConfiguration>({
    kc: opts.kc,
    resource: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      plural: 'mutatingwebhookconfigurations',
      // Ours, istiod's chart's and istioctl's tag MWCs all carry istio.io/rev.
      labelSelector: LABEL_ISTIO_REV,
    },
  });
  const namespaces = manager.informer<V1Namespace>({ kc: opts.kc, resource: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' } });
  const pods = manager.informer<V1Pod>({ kc: opts.kc, resource: { apiVersion: 'v1', kind: 'Pod', plural: 'pods' } });
  const deployments = manager.informer<V1Deployment>({ kc: opts.kc, resource: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' } });
  const statefulSets = manager.informer<V1StatefulSet>({ kc: opts.kc, resource: { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' } });
  const daemonSets = manager.informer<V1DaemonSet>({ kc: opts.kc, resource: { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' } });
  const workloads = (namespace: string): Workload[] => [
    ...deployments.list(namespace).map((w) => ({ ...w, kind: 'Deployment' as const })),
    ...statefulSets.list(namespace).map((w) => ({ ...w, kind: 'StatefulSet' as const })),
    ...daemonSets.list(namespace).map((w) => ({ ...w, kind: 'DaemonSet' as const })),
  ];

  const reconciler = new MeshRevisionReconciler({
    // Custom objects arrive as plain JSON in the MeshRevision shape (timestamps as strings).
    meshRevisions: meshRevisions as unknown as Store<MeshRevision>,
    webhooks,
    namespaces,
    pods,
    workloads,
    writer,
    events,
    migrationMetrics: metrics.migrationMetrics,
    readyEndpoints: (namespace, service) => readyEndpoints(apis.discovery, namespace, service),
  });
  const queue = manager.addController({
    name: CONTROLLER_NAME,
    reconcile: reconciler.reconcile,
    concurrency: opts.concurrency ?? 1,
    watches: [
      watchMapped(meshRevisions, reconciler.mapMeshRevision),
      watchMapped(webhooks, reconciler.mapWebhook),
      watchMapped(namespaces, reconciler.mapNamespace),
      watchMapped(pods, reconciler.mapPod),
      watchMapped(deployments, reconciler.mapWorkload),
      watchMapped(statefulSets, reconciler.mapWorkload),
      watchMapped(daemonSets, reconciler.mapWorkload),
    ],
  });

  const uninstall = opts.handleSignals ? handleSignals(manager, { log }) : () => undefined;
  await manager.start();
  const done = manager.done.then((reason) => {
    uninstall();
    return reason;
  });
  return { manager, writer, queue, metrics, done, stop: () => manager.stop() };
}
