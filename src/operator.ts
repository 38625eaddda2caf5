// The operator process: informers, the MeshRevision controller, leader
// election, probes and metrics, wired by the runtime's Manager. The CLI's
// `meshrev operator` command parses flags and calls runOperator().
import type { KubeConfig, KubernetesObject, V1DaemonSet, V1Deployment, V1MutatingWebhookConfiguration, V1Namespace, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { Workload } from './api/workload.js';
import { buildInfo } from './api/build-info.js';
import { LABEL_ISTIO_REV } from './api/labels.js';
import { API_VERSION, KIND, PLURAL, type MeshRevision } from './api/meshrevision.js';
import { OperatorMetrics } from './health/metrics.js';
import { createHealthApp, type ListenOptions } from './health/server.js';
import { KubeWriter } from './kube/apply.js';
import { makeInjectionProbe, readTemplate } from './kube/admission-probe.js';
import type { Informer, Store } from './kube/informer.js';
import { podProjection, withoutBookkeeping, workloadProjection } from './kube/projections.js';
import { makeApis, readyEndpoints } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import { kubernetesMetricsAuthorizer, metricsAuthApis } from './kube/metrics-auth.js';
import { makeGates } from './gates/index.js';
import { CONTROLLER_NAME, MeshRevisionReconciler } from './reconcile/meshrevision.js';
import { createLogger, type Logger } from './runtime/logger.js';
import { Manager, handleSignals, watchMapped, type StopReason } from './runtime/manager.js';
import type { WorkQueue } from './runtime/workqueue.js';

/** Batch period of namespace, pod and workload events (see Watch.batchMs). */
const BATCH_MS = 250;

export interface OperatorOptions {
  kc: KubeConfig;
  /** Where /healthz, /readyz and /metrics are served. */
  listen: ListenOptions;
  /** Lease for leader election; omit to run without (a single replica). */
  leaderElection?: { namespace: string; name: string };
  /** MeshRevisions reconciled at once. */
  concurrency?: number;
  log?: Logger;
  /** Serve /metrics only to callers the API server allows to get /metrics (TokenReview + SubjectAccessReview); probes stay open. */
  metricsAuth?: boolean;
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

/** The informers the controller reads, registered with the manager (started and synced by it). */
function watchCluster(manager: Manager, kc: OperatorOptions['kc']) {
  const meshRevisions = manager.informer({ kc: kc, resource: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL } });
  const webhooks = manager.informer<V1MutatingWebhookConfiguration>({
    kc: kc,
    resource: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      plural: 'mutatingwebhookconfigurations',
      // Ours, istiod's chart's and istioctl's tag MWCs all carry istio.io/rev.
      labelSelector: LABEL_ISTIO_REV,
    },
  });
  // Every pod and workload of the cluster is watched: the cache keeps only what the policies read (kube/projections).
  const transform = withoutBookkeeping;
  const namespaces = manager.informer<V1Namespace>({ kc: kc, transform, resource: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' } });
  const pods = manager.informer<V1Pod>({ kc: kc, transform: podProjection, resource: { apiVersion: 'v1', kind: 'Pod', plural: 'pods' } });
  const deployments = manager.informer<V1Deployment>({ kc: kc, transform: workloadProjection, resource: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' } });
  const statefulSets = manager.informer<V1StatefulSet>({ kc: kc, transform: workloadProjection, resource: { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' } });
  const daemonSets = manager.informer<V1DaemonSet>({ kc: kc, transform: workloadProjection, resource: { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' } });
  return { meshRevisions, webhooks, namespaces, pods, deployments, statefulSets, daemonSets };
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.log ?? createLogger();
  log.info('meshrev operator starting', buildInfo());
  const metrics = new OperatorMetrics();
  const health = createHealthApp({ metrics, ...(opts.metricsAuth ? { authorizeMetrics: kubernetesMetricsAuthorizer(metricsAuthApis(opts.kc)) } : {}) });
  const apis = makeApis(opts.kc);
  // What our writes return goes into the informers at once (Informer.assume): the next reconcile
  // sees its own writes even before their watch events arrive.
  const informerOf = new Map<string, Informer<KubernetesObject>>();
  const writer = new KubeWriter({
    kc: opts.kc,
    onWrite: (w) => metrics.writeMetrics.write(w.verb, w.kind),
    onResult: (obj) => informerOf.get(`${obj.apiVersion}/${obj.kind}`)?.assume(obj),
  });
  const events = new EventRecorder({ core: apis.core, writer, log });
  const manager = new Manager({
    log,
    metrics,
    health,
    listen: opts.listen,
    ...(opts.leaderElection ? { leaderElection: { api: apis.coordination, ...opts.leaderElection } } : {}),
  });

  const { meshRevisions, webhooks, namespaces, pods, deployments, statefulSets, daemonSets } = watchCluster(manager, opts.kc);
  for (const i of [meshRevisions, webhooks, namespaces, pods, deployments, statefulSets, daemonSets] as Informer<KubernetesObject>[]) {
    informerOf.set(`${i.resource.apiVersion}/${i.resource.kind}`, i);
  }
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
    gates: makeGates({ readyEndpoints: (namespace, service) => readyEndpoints(apis.discovery, namespace, service) }),
    probeAdmission: makeInjectionProbe({ core: apis.core, fieldManager: writer.fieldManager, readTemplate: readTemplate(apis.apps), log }),
  });
  const queue = manager.addController({
    name: CONTROLLER_NAME,
    reconcile: reconciler.reconcile,
    concurrency: opts.concurrency ?? 1,
    // Spec and webhook changes reconcile at once; the bursts a migration causes (every pod and
    // workload of a rollout, every relabelled namespace) are batched into one reconcile per period.
    watches: [
      watchMapped(meshRevisions, reconciler.mapMeshRevision),
      watchMapped(webhooks, reconciler.mapWebhook),
      watchMapped(namespaces, reconciler.mapNamespace, { batchMs: BATCH_MS }),
      watchMapped(pods, reconciler.mapPod, { batchMs: BATCH_MS }),
      watchMapped(deployments, reconciler.mapWorkload, { batchMs: BATCH_MS }),
      watchMapped(statefulSets, reconciler.mapWorkload, { batchMs: BATCH_MS }),
      watchMapped(daemonSets, reconciler.mapWorkload, { batchMs: BATCH_MS }),
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
