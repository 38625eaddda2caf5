// Prometheus metrics. Names follow controller-runtime and client-go's
// workqueue where a metric has the same meaning, so existing dashboards and
// alerts for Go operators work unchanged. Everything lives in one Registry
// owned by the process (never prom-client's global one), so tests can build
// as many as they like.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import {
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_PAUSED,
  MIGRATION_PHASE_PROGRESSING,
  MIGRATION_PHASE_ROLLING_BACK,
  MIGRATION_PHASE_SUSPENDED,
  NAMESPACE_MIGRATION_STATES,
} from '../api/migration.js';
import { buildInfo, type BuildInfo } from '../api/build-info.js';

export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** What the queue reports; OperatorMetrics below implements it with controller-runtime's metric names. */
export interface WorkQueueMetrics {
  add(): void;
  depth(n: number): void;
  retry(): void;
  queueLatency(seconds: number): void;
  workDuration(seconds: number): void;
  activeWorkers(n: number): void;
  reconciled(result: ReconcileOutcome, seconds: number, terminal: boolean): void;
}

// controller-runtime's buckets for controller_runtime_reconcile_time_seconds.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3,
  3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go's workqueue buckets: 10ns .. 1000s.
const WORKQUEUE_BUCKETS = exponentialBuckets(1e-8, 10, 12);

const RESULTS: readonly ReconcileOutcome[] = ['success', 'error', 'requeue', 'requeue_after'];

export interface OperatorMetricsOptions {
  /** Register Node process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /** What meshrev_build_info reports; default this build (src/api/build-info.ts). */
  buildInfo?: BuildInfo;
}

/** Hook the Kubernetes write helpers call for every write request (see src/kube/apply.ts). */
export interface WriteMetrics {
  write(verb: string, kind: string): void;
}

/** What the migration executor reports (src/reconcile/migration.ts). */
/** Migration phases counted by meshrev_migrations_in_progress. */
const MOVING_PHASES: readonly string[] = [
  MIGRATION_PHASE_PROGRESSING,
  MIGRATION_PHASE_PAUSED,
  MIGRATION_PHASE_AWAITING_PROMOTION,
  MIGRATION_PHASE_SUSPENDED,
  MIGRATION_PHASE_ROLLING_BACK,
];

export interface MigrationMetrics {
  /** The migration's phase (undefined: none) and namespaces per state, after each reconcile. */
  observe(meshRevision: string, phase: string | undefined, byState: Record<string, number>): void;
  /** A namespace reached its destination: direction "forward" or "rollback". */
  namespaceDone(direction: 'forward' | 'rollback', seconds: number): void;
  /** A gate failed: "workload" (built in: rollout, crash loop, restarts) or "check" (Prometheus/HTTP); with the action taken. */
  gateFailed(meshRevision: string, gate: 'workload' | 'check', action: string): void;
}

export class OperatorMetrics {
  readonly registry = new Registry();

  private readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  private readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  private readonly terminalErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller (recorded, not retried)',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  private readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: RECONCILE_BUCKETS,
    registers: [this.registry],
  });
  private readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  private readonly maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  private readonly depth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  private readonly adds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  private readonly queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  private readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  private readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  private readonly writes = new Counter({
    name: 'meshrev_kube_write_requests_total',
    help: 'Write requests (create, apply, patch, delete, evict) meshrev sent to the API server',
    labelNames: ['verb', 'kind'] as const,
    registers: [this.registry],
  });
  private readonly informerRestarts = new Counter({
    name: 'meshrev_informer_restarts_total',
    help: 'Times an informer restarted its list/watch after an error',
    labelNames: ['informer'] as const,
    registers: [this.registry],
  });
  private readonly informerSynced = new Gauge({
    name: 'meshrev_informer_synced',
    help: '1 once an informer has listed its resource and its cache is usable',
    labelNames: ['informer'] as const,
    registers: [this.registry],
  });

  private readonly buildInfo = new Gauge({
    name: 'meshrev_build_info',
    help: 'Always 1; the labels say which meshrev build runs (version, git commit) on which Node.js',
    labelNames: ['version', 'commit', 'node'] as const,
    registers: [this.registry],
  });

  constructor(opts: OperatorMetricsOptions = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.buildInfo.set({ ...(opts.buildInfo ?? buildInfo()) }, 1);
  }

  /** The hooks a WorkQueue named `controller` reports through (the queue is named after its controller). */
  forController(controller: string, maxConcurrentReconciles?: number): WorkQueueMetrics {
    // Expose every result series at 0 from the start, as controller-runtime does, so rate() works at once.
    for (const result of RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.terminalErrors.inc({ controller }, 0);
    this.activeWorkers.set({ controller }, 0);
    if (maxConcurrentReconciles !== undefined) this.maxConcurrent.set({ controller }, maxConcurrentReconciles);
    this.depth.set({ name: controller }, 0);
    this.adds.inc({ name: controller }, 0);
    this.retries.inc({ name: controller }, 0);
    return {
      add: () => this.adds.inc({ name: controller }),
      depth: (n) => this.depth.set({ name: controller }, n),
      retry: () => this.retries.inc({ name: controller }),
      queueLatency: (seconds) => this.queueDuration.observe({ name: controller }, seconds),
      workDuration: (seconds) => this.workDuration.observe({ name: controller }, seconds),
      activeWorkers: (n) => this.activeWorkers.set({ controller }, n),
      reconciled: (result, seconds, terminal) => {
        this.reconcileTotal.inc({ controller, result });
        this.reconcileTime.observe({ controller }, seconds);
        if (result === 'error') this.reconcileErrors.inc({ controller });
        if (terminal) this.terminalErrors.inc({ controller });
      },
    };
  }

  /** Sets leader_election_master_status for the lease `name`. */
  setLeader(name: string, leading: boolean): void {
    this.leaderStatus.set({ name }, leading ? 1 : 0);
  }

  /** The hook src/kube write helpers call for every write request. */
  readonly writeMetrics: WriteMetrics = {
    write: (verb, kind) => this.writes.inc({ verb, kind }),
  };

  informerRestarted(informer: string): void {
    this.informerRestarts.inc({ informer });
  }

  setInformerSynced(informer: string, synced: boolean): void {
    this.informerSynced.set({ informer }, synced ? 1 : 0);
  }

  private readonly migrationNamespaces = new Gauge({
    name: 'meshrev_migration_namespaces',
    help: 'Namespaces of each MeshRevision migration by state (Pending, Migrating, Migrated, Failed, RollingBack, RolledBack)',
    labelNames: ['meshrevision', 'state'] as const,
    registers: [this.registry],
  });
  private readonly migrationsInProgress = new Gauge({
    name: 'meshrev_migrations_in_progress',
    help: 'Migrations moving or returning namespaces (phase Progressing, Paused, AwaitingPromotion, Suspended or RollingBack)',
    registers: [this.registry],
  });
  private readonly namespaceDuration = new Histogram({
    name: 'meshrev_namespace_migration_duration_seconds',
    help: 'Time from relabelling a namespace to every restarted workload verified on the new revision',
    labelNames: ['direction'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  private readonly gateFailures = new Counter({
    name: 'meshrev_health_gate_failures_total',
    help: 'Failed health gates by MeshRevision, gate (workload, check) and the action taken (onFailure)',
    labelNames: ['meshrevision', 'gate', 'action'] as const,
    registers: [this.registry],
  });
  private readonly migrationPhases = new Map<string, string>();

  /** The hooks the migration executor reports through. */
  readonly migrationMetrics: MigrationMetrics = {
    observe: (meshRevision, phase, byState) => {
      for (const state of NAMESPACE_MIGRATION_STATES) {
        this.migrationNamespaces.set({ meshrevision: meshRevision, state }, byState[state] ?? 0);
      }
      if (phase === undefined) this.migrationPhases.delete(meshRevision);
      else this.migrationPhases.set(meshRevision, phase);
      const moving = new Set(MOVING_PHASES);
      this.migrationsInProgress.set([...this.migrationPhases.values()].filter((p) => moving.has(p)).length);
    },
    namespaceDone: (direction, seconds) => this.namespaceDuration.observe({ direction }, seconds),
    gateFailed: (meshRevision, gate, action) => this.gateFailures.inc({ meshrevision: meshRevision, gate, action }),
  };

  /** The text exposition for /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
