// The manager wires the runtime together:
//   informers (list+watch caches) → watch handlers map objects to keys →
//   one WorkQueue per controller → its reconcile function.
// Start order: health server, informers, wait for their caches (then /readyz
// passes), leader election; queues process keys only while this replica
// leads (keys still accumulate, deduplicated, while it waits).
// Stop order (SIGTERM, or stop()): stop the queues and wait for in-flight
// reconciles, THEN release the lease (so the next leader never overlaps a
// reconcile of ours), stop informers, close the server. Losing the lease is
// different: in-flight reconciles are aborted at once and the manager stops
// with reason "lost-leadership"; the entry point exits non-zero and the pod
// restarts into a clean standby, as controller-runtime does.
import type { KubernetesObject } from '@kubernetes/client-node';
import { realClock, type Clock } from '../kube/clock.js';
import { Informer, objectKey, waitForSync, type InformerOptions } from '../kube/informer.js';
import type { OperatorMetrics } from '../health/metrics.js';
import { listen, type HealthApp, type ListenOptions, type RunningServer } from '../health/server.js';
import { LeaderElector, type LeaderElectorOptions } from './leader.js';
import { nullLogger, type Logger } from './logger.js';
import { WorkQueue, type RateLimiter, type Reconciler } from './workqueue.js';

export { TerminalError, isTerminalError, type ReconcileResult, type ReconcileContext, type Reconciler } from './workqueue.js';

/** Maps a changed object to the keys to reconcile (empty: none). */
export type MapFunc<T> = (obj: T) => string[];

/** An informer whose changes enqueue keys; build with watchOwn() or watchMapped(). */
export interface Watch {
  informer: Informer<KubernetesObject>;
  map: MapFunc<KubernetesObject>;
  /**
   * Enqueue this long after a change instead of at once, so a burst of
   * changes (every pod of a rollout) costs one reconcile, not one each —
   * the batch period of Kubernetes' own Job and EndpointSlice controllers.
   */
  batchMs?: number;
}

export interface WatchOptions {
  /** See Watch.batchMs. */
  batchMs?: number;
}

/** Changes to an object enqueue its own key (namespace/name, or name). */
export function watchOwn<T extends KubernetesObject>(informer: Informer<T>, opts: WatchOptions = {}): Watch {
  return { informer, map: (obj) => [objectKey(obj)], ...opts };
}

/** Changes to an object enqueue the keys `map` returns (e.g. a Namespace → the MeshRevisions selecting it). */
export function watchMapped<T extends KubernetesObject>(informer: Informer<T>, map: MapFunc<T>, opts: WatchOptions = {}): Watch {
  // The informer only ever hands `map` its own objects, so erasing T here is safe.
  return { informer, map: map as MapFunc<KubernetesObject>, ...opts };
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  watches: Watch[];
  /** Keys reconciled at once. Default 1. */
  concurrency?: number;
  rateLimiter?: RateLimiter;
}

export type StopReason = 'signal' | 'lost-leadership' | 'stopped' | 'start-failed';

export interface ManagerOptions {
  log?: Logger;
  metrics?: OperatorMetrics;
  /** Probes and metrics app; the manager adds the "informers-synced" readiness check. */
  health?: HealthApp;
  /** Serve `health` on this address during start(); omit to serve it yourself. */
  listen?: ListenOptions;
  /**
   * Lease to lead on (api: a CoordinationV1Api). Omit to run without leader
   * election (one replica, local development, tests).
   */
  leaderElection?: Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'>;
  clock?: Clock;
  /** How long stop() waits for in-flight reconciles before aborting them. Default 30 s. */
  shutdownGraceMs?: number;
}

interface Controller {
  name: string;
  queue: WorkQueue;
}

export class Manager {
  private readonly log: Logger;
  private readonly opts: ManagerOptions;
  /** The elector, when leader election is on. */
  readonly elector: LeaderElector | undefined;
  private readonly informers: Informer<KubernetesObject>[] = [];
  private readonly controllers: Controller[] = [];
  private readonly startAbort = new AbortController();
  private server: RunningServer | undefined;
  private started = false;
  private leading = false;
  private stopping: Promise<void> | undefined;
  private resolveDone!: (reason: StopReason) => void;
  /** Resolves with the reason once the manager has fully stopped. */
  readonly done: Promise<StopReason>;

  constructor(opts: ManagerOptions = {}) {
    this.opts = opts;
    this.log = (opts.log ?? nullLogger()).child({ component: 'manager' });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (opts.leaderElection) {
      this.elector = new LeaderElector({
        log: opts.log,
        clock: opts.clock,
        ...opts.leaderElection,
        onStartedLeading: () => this.startLeading(),
        onStoppedLeading: (reason) => this.stoppedLeading(reason),
      });
    }
    opts.health?.addReadyCheck('informers-synced', () => {
      const waiting = this.informers.filter((i) => !i.hasSynced()).map((i) => i.name);
      if (waiting.length > 0) throw new Error(`waiting for caches: ${waiting.join(', ')}`);
      return true;
    });
  }

  /** Creates an informer wired to the manager's logger and metrics, started by start(). */
  informer<T extends KubernetesObject>(opts: InformerOptions<T>): Informer<T> {
    const metrics = this.opts.metrics;
    const inf: Informer<T> = new Informer<T>({
      log: this.log,
      ...opts,
      onRestart: (err) => {
        metrics?.informerRestarted(inf.name);
        opts.onRestart?.(err);
      },
    });
    return this.addInformer(inf);
  }

  /** Registers an informer built elsewhere; start() starts it and waits for it to sync. */
  addInformer<T extends KubernetesObject>(inf: Informer<T>): Informer<T> {
    if (this.started) throw new Error('add informers before start()');
    if (!this.informers.includes(inf)) this.informers.push(inf);
    return inf;
  }

  /** Registers a controller: its queue, and handlers on its watches' informers that enqueue keys. */
  addController(opts: ControllerOptions): WorkQueue {
    if (this.started) throw new Error('add controllers before start()');
    if (this.controllers.some((c) => c.name === opts.name)) throw new Error(`controller "${opts.name}" is already registered`);
    const concurrency = opts.concurrency ?? 1;
    const queue = new WorkQueue({
      name: opts.name,
      reconcile: opts.reconcile,
      concurrency,
      rateLimiter: opts.rateLimiter,
      clock: this.opts.clock ?? realClock,
      metrics: this.opts.metrics?.forController(opts.name, concurrency),
      logger: this.opts.log,
      autoStart: false,
      shutdownGraceMs: this.opts.shutdownGraceMs,
    });
    for (const w of opts.watches) {
      this.addInformer(w.informer);
      const map = w.map;
      const batchMs = w.batchMs ?? 0;
      const enqueue = (...objs: (KubernetesObject | undefined)[]) => {
        for (const obj of objs) if (obj) for (const key of map(obj)) queue.addAfter(key, batchMs);
      };
      // On update both the old and the new object map: a label change may move an object between owners.
      w.informer.addHandlers({ add: (o) => enqueue(o), update: (o, n) => enqueue(o, n), delete: (o) => enqueue(o) });
    }
    this.controllers.push({ name: opts.name, queue });
    return queue;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Starts everything and resolves once the caches have synced and leader
   * election is running. Watch `done` for the end. Rejects (after cleaning up)
   * if the server cannot bind, or resolves early if stop() is called meanwhile.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    try {
      if (this.opts.health && this.opts.listen) {
        this.server = await listen(this.opts.health, this.opts.listen);
        this.log.info('serving probes and metrics', { host: this.server.host, port: this.server.port });
      }
      for (const inf of this.informers) {
        void inf.whenSynced().then(() => this.opts.metrics?.setInformerSynced(inf.name, true));
        this.opts.metrics?.setInformerSynced(inf.name, false);
        inf.start();
      }
      await waitForSync(this.informers, this.startAbort.signal);
      this.log.info('caches synced', { informers: this.informers.map((i) => i.name) });
    } catch (err) {
      if (this.stopping) return; // stop() was called while we waited
      await this.stop('start-failed');
      throw err;
    }
    if (this.stopping) return;
    const elector = this.elector;
    if (!elector) {
      this.startLeading();
      return;
    }
    this.opts.metrics?.setLeader(elector.name, false);
    this.log.info('waiting to lead', { lease: `${elector.namespace}/${elector.name}`, identity: elector.identity });
    // run() never rejects; it ends when leadership is lost (onStoppedLeading stops us) or on stop().
    void elector.run();
  }

  private startLeading(): void {
    if (this.stopping || this.leading) return;
    this.leading = true;
    if (this.elector) this.opts.metrics?.setLeader(this.elector.name, true);
    this.log.info('starting controllers', { controllers: this.controllers.map((c) => c.name) });
    for (const c of this.controllers) c.queue.start();
  }

  private stoppedLeading(reason: 'lost' | 'released'): void {
    if (this.elector) this.opts.metrics?.setLeader(this.elector.name, false);
    if (reason === 'lost' && this.leading) void this.stop('lost-leadership');
  }

  /** Stops everything in the safe order (see the top of this file). Idempotent; resolves when stopped. */
  stop(reason: StopReason = 'stopped'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: StopReason): Promise<void> {
    this.log.info('stopping', { reason });
    this.startAbort.abort(new Error(`manager stopping: ${reason}`));
    if (reason === 'lost-leadership') {
      // Another replica may already act: stop ours now, not after the grace period.
      for (const c of this.controllers) c.queue.abortInFlight('leadership lost');
    }
    await Promise.all(this.controllers.map((c) => c.queue.shutdown()));
    this.leading = false;
    if (this.elector) await this.elector.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    if (this.server) {
      await this.server.close().catch((err: unknown) => this.log.warn('closing the probe server failed', { error: String(err) }));
    }
    this.log.info('stopped', { reason });
    this.resolveDone(reason);
  }
}

export interface SignalOptions {
  signals?: NodeJS.Signals[];
  /** For tests: something with on/off (default: process). */
  proc?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** Called on a second signal, when a graceful stop is already running. Default: process.exit(1). */
  forceExit?: () => void;
  log?: Logger;
}

/**
 * SIGTERM/SIGINT → graceful manager.stop('signal'); a second signal exits at
 * once. Called by the entry point (never at import). Returns an uninstaller.
 */
export function handleSignals(manager: Pick<Manager, 'stop'>, opts: SignalOptions = {}): () => void {
  const proc = opts.proc ?? process;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const forceExit = opts.forceExit ?? (() => process.exit(1));
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      opts.log?.warn('second signal: exiting without waiting', { signal });
      forceExit();
      return;
    }
    received = true;
    opts.log?.info('signal received: shutting down gracefully', { signal });
    void manager.stop('signal');
  };
  for (const s of signals) proc.on(s, onSignal);
  return () => {
    for (const s of signals) proc.off(s, onSignal);
  };
}
