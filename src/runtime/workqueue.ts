// A keyed work queue with controller-runtime's semantics, on p-queue:
//  - a request is a key (e.g. "name" or "namespace/name"), never an event;
//  - adding a key that is already waiting is a no-op (dedup);
//  - at most one reconcile per key runs at a time; a key added while its
//    reconcile runs is run exactly once more afterwards;
//  - an error retries the key with per-key exponential backoff, reset by a
//    success; a TerminalError is recorded (log, metric) and not retried;
//  - `{ requeueAfter }` runs the key again after that delay;
//  - concurrency across keys is bounded (p-queue `concurrency`);
//  - shutdown() stops accepting keys and waits for in-flight reconciles.
// Time comes from an injected Clock, so tests drive it without sleeping.
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { realClock, type Clock } from '../kube/clock.js';
import { apiErrorMessage } from '../kube/errors.js';
import type { ReconcileOutcome, WorkQueueMetrics } from '../health/metrics.js';
import { nullLogger, reconcileLogger, type Logger } from './logger.js';

/** What a reconcile asks for when it succeeds. `{}`: done until the next event. */
export interface ReconcileResult {
  /** Run this key again after this many milliseconds (a timed wait: grace periods, soak times, polls). */
  requeueAfter?: number;
  /** Run this key again soon, with the same backoff as an error but without counting as one. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** Child logger with { controller, key, reconcileID }. */
  log: Logger;
  /** Aborted when the operator shuts down past its grace period or loses leadership: stop and return. */
  signal: AbortSignal;
}

/** Throwing = retry with backoff; throwing TerminalError = record, don't retry. */
export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

/**
 * An error retrying cannot fix (e.g. an invalid spec that the user must
 * change). The queue records it and forgets the key until it is added again
 * (typically by the next watch event on the object).
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** True for a TerminalError, or an error whose cause chain holds one. */
export function isTerminalError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof TerminalError || e.name === 'TerminalError') return true;
  }
  return false;
}

/** Decides how long a failing key waits before its next try. */
export interface RateLimiter {
  /** The delay before the next retry of `key`; counts a failure. */
  when(key: string): number;
  /** Resets `key` after a success. */
  forget(key: string): void;
  /** Failures counted for `key` since it last succeeded. */
  numRequeues(key: string): number;
}

/** controller-runtime's per-item exponential backoff: base * 2^failures, capped at max. */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(
    readonly baseDelayMs = 5,
    readonly maxDelayMs = 1_000_000,
  ) {
    if (baseDelayMs <= 0 || maxDelayMs < baseDelayMs) throw new Error(`invalid backoff: base ${baseDelayMs}ms, max ${maxDelayMs}ms`);
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity long after it passed the cap, so min() is enough.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

const noMetrics: WorkQueueMetrics = {
  add: () => {},
  depth: () => {},
  retry: () => {},
  queueLatency: () => {},
  workDuration: () => {},
  activeWorkers: () => {},
  reconciled: () => {},
};

export interface WorkQueueOptions {
  /** Controller name: in logs and metric labels. */
  name: string;
  reconcile: Reconciler;
  /** Keys reconciled at once (different keys; never two of the same key). Default 1. */
  concurrency?: number;
  rateLimiter?: RateLimiter;
  clock?: Clock;
  metrics?: WorkQueueMetrics;
  logger?: Logger;
  /** Start processing at once (default true). The manager starts queues only while it leads. */
  autoStart?: boolean;
  /** How long shutdown() waits for in-flight reconciles before aborting their signals. Default 30 s. */
  shutdownGraceMs?: number;
  /** Reconcile IDs for log lines; injectable for tests. */
  newReconcileID?: () => string;
}

interface Delayed {
  at: number;
  handle: unknown;
}

export class WorkQueue {
  readonly name: string;
  private readonly reconcile: Reconciler;
  private readonly limiter: RateLimiter;
  private readonly clock: Clock;
  private readonly metrics: WorkQueueMetrics;
  private readonly log: Logger;
  private readonly shutdownGraceMs: number;
  private readonly newReconcileID: () => string;
  private readonly pq: PQueue;

  /** Keys waiting to run: queued in p-queue, or waiting for their own in-flight reconcile to end. */
  private readonly dirty = new Set<string>();
  /** Keys whose reconcile is running, with the controller aborting it. */
  private readonly processing = new Map<string, AbortController>();
  /** When each dirty key was first added (for workqueue_queue_duration_seconds). */
  private readonly addedAt = new Map<string, number>();
  /** Keys scheduled to be added later (requeueAfter, backoff), keeping the soonest time per key. */
  private readonly delayed = new Map<string, Delayed>();
  private shuttingDown = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.limiter = opts.rateLimiter ?? new ItemExponentialFailureRateLimiter();
    this.clock = opts.clock ?? realClock;
    this.metrics = opts.metrics ?? noMetrics;
    this.log = opts.logger ?? nullLogger();
    this.shutdownGraceMs = opts.shutdownGraceMs ?? 30_000;
    this.newReconcileID = opts.newReconcileID ?? randomUUID;
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
    this.pq = new PQueue({ concurrency, autoStart: opts.autoStart ?? true });
  }

  /** Queues `key` unless it is already waiting. Ignored after shutdown. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics.add();
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    this.metrics.depth(this.dirty.size);
    // A key being reconciled runs again when that reconcile ends (see process).
    if (!this.processing.has(key)) this.schedule(key);
  }

  /** Adds `key` after `delayMs`. If the key is already scheduled sooner, the sooner time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, handle });
  }

  /** Adds `key` after its backoff delay, counting a retry. */
  addRateLimited(key: string): number {
    const delay = this.limiter.when(key);
    this.metrics.retry();
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the backoff of `key`. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** Keys waiting to run (not counting running ones unless they were re-added). */
  get depth(): number {
    return this.dirty.size;
  }

  /** Reconciles running now. */
  get active(): number {
    return this.processing.size;
  }

  isWaiting(key: string): boolean {
    return this.dirty.has(key);
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** When `key` is scheduled to be added (requeueAfter or backoff), if it is. */
  scheduledAt(key: string): number | undefined {
    return this.delayed.get(key)?.at;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Starts processing (for a queue created with autoStart: false). */
  start(): void {
    if (!this.shuttingDown) this.pq.start();
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  onIdle(): Promise<void> {
    return this.pq.onIdle();
  }

  /** Aborts the signals of running reconciles (e.g. leadership lost). They are not retried if the queue is shutting down. */
  abortInFlight(reason: string): void {
    for (const ac of this.processing.values()) ac.abort(new Error(reason));
  }

  /**
   * Stops accepting keys, drops the ones not started, and waits for running
   * reconciles. Past the grace period their signals are aborted, and the wait
   * continues until they return. Idempotent.
   */
  shutdown(graceMs: number = this.shutdownGraceMs): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(graceMs);
    return this.shutdownPromise;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.handle);
    this.delayed.clear();
    this.pq.clear();
    for (const key of this.dirty) this.addedAt.delete(key);
    this.dirty.clear();
    this.metrics.depth(0);
    if (this.processing.size === 0) return;
    const graceTimer = this.clock.setTimeout(() => this.abortInFlight(`${this.name}: shutdown grace period of ${graceMs}ms passed`), graceMs);
    try {
      await this.pq.onIdle();
    } finally {
      this.clock.clearTimeout(graceTimer);
    }
  }

  private schedule(key: string): void {
    // process() never rejects, so the p-queue promise needs no handler.
    void this.pq.add(() => this.process(key));
  }

  private async process(key: string): Promise<void> {
    if (this.shuttingDown || !this.dirty.has(key)) return;
    const start = this.clock.now();
    this.dirty.delete(key);
    const added = this.addedAt.get(key) ?? start;
    this.addedAt.delete(key);
    this.metrics.depth(this.dirty.size);
    this.metrics.queueLatency((start - added) / 1000);

    const ac = new AbortController();
    this.processing.set(key, ac);
    this.metrics.activeWorkers(this.processing.size);
    const log = reconcileLogger(this.log, this.name, key, this.newReconcileID());

    let outcome: ReconcileOutcome;
    let terminal = false;
    try {
      const result = await this.reconcile(key, { log, signal: ac.signal });
      const requeueAfter = result?.requeueAfter;
      if (requeueAfter !== undefined && requeueAfter > 0) {
        outcome = 'requeue_after';
        this.limiter.forget(key);
        this.addAfter(key, requeueAfter);
      } else if (result?.requeue) {
        outcome = 'requeue';
        this.addRateLimited(key);
      } else {
        outcome = 'success';
        this.limiter.forget(key);
      }
    } catch (err) {
      outcome = 'error';
      if (isTerminalError(err)) {
        terminal = true;
        this.limiter.forget(key);
        log.error('reconcile failed with a terminal error; not retrying', { error: apiErrorMessage(err) });
      } else if (this.shuttingDown) {
        log.info('reconcile failed during shutdown; not retrying', { error: apiErrorMessage(err) });
      } else {
        const retryInMs = this.addRateLimited(key);
        log.error('reconcile failed; retrying with backoff', {
          error: apiErrorMessage(err),
          retryInMs,
          failures: this.limiter.numRequeues(key),
        });
      }
    } finally {
      this.processing.delete(key);
      this.metrics.activeWorkers(this.processing.size);
    }
    const seconds = (this.clock.now() - start) / 1000;
    this.metrics.workDuration(seconds);
    this.metrics.reconciled(outcome, seconds, terminal);
    // Added while it ran: run once more now.
    if (this.dirty.has(key) && !this.shuttingDown) this.schedule(key);
  }
}
