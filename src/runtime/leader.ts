// Leader election on a coordination.k8s.io/v1 Lease, with client-go's
// semantics, so two replicas never reconcile at once:
//  - a candidate takes the lease when it does not exist, was released (empty
//    holder), or has not changed for leaseDurationSeconds *as measured on the
//    candidate's own clock since it last saw the lease change* (client-go's
//    rule: no trust in the holder's clock);
//  - writes are optimistic (resourceVersion): a 409 means another replica won;
//  - the leader renews every retryPeriod and steps down when it has not
//    renewed for renewDeadline. renewDeadline < leaseDuration, so the old
//    leader stops before anyone else may start;
//  - on graceful shutdown the leader clears holderIdentity so a standby takes
//    over at its next retry instead of waiting for expiry.
// decideLease() is the pure part (lease, now, identity → action), table-tested;
// LeaderElector does the I/O with an injected clock.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { V1Lease } from '@kubernetes/client-node';
import { realClock, type Clock } from '../kube/clock.js';
import { apiErrorMessage, isAlreadyExists, isConflict, isNotFound } from '../kube/errors.js';
import { nullLogger, type Logger } from './logger.js';

/** The fields of a Lease's spec that election reads and writes, times in epoch milliseconds. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTimeMs?: number;
  renewTimeMs?: number;
  leaseTransitions?: number;
}

export type LeaseDecision =
  /** No Lease yet: create it holding it. */
  | { action: 'create'; record: LeaseRecord }
  /** Take it over from a released or expired holder. */
  | { action: 'acquire'; record: LeaseRecord; reason: 'released' | 'expired' }
  /** We hold it: refresh renewTime. */
  | { action: 'renew'; record: LeaseRecord }
  /** Someone else holds a valid lease. */
  | { action: 'wait'; holder: string; expiresAtMs: number };

export interface DecideInput {
  /** The lease as read; undefined when it does not exist. */
  current: LeaseRecord | undefined;
  /** Local time at which `current` was first seen in its present form (see observeLease). */
  observedAtMs: number;
  nowMs: number;
  identity: string;
  /** Our lease duration, written when we take or renew the lease. */
  leaseDurationSeconds: number;
}

/** Pure: what a candidate should do given the lease it read. */
export function decideLease(input: DecideInput): LeaseDecision {
  const { current, observedAtMs, nowMs, identity, leaseDurationSeconds } = input;
  const ours = (acquireTimeMs: number, leaseTransitions: number): LeaseRecord => ({
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTimeMs,
    renewTimeMs: nowMs,
    leaseTransitions,
  });
  if (current === undefined) return { action: 'create', record: ours(nowMs, 0) };
  const transitions = current.leaseTransitions ?? 0;
  const holder = current.holderIdentity ?? '';
  if (holder === identity) {
    return { action: 'renew', record: ours(current.acquireTimeMs ?? nowMs, transitions) };
  }
  if (holder === '') return { action: 'acquire', reason: 'released', record: ours(nowMs, transitions + 1) };
  // The holder's own duration decides its validity, timed from when *we* saw it change.
  const expiresAtMs = observedAtMs + (current.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
  if (nowMs >= expiresAtMs) return { action: 'acquire', reason: 'expired', record: ours(nowMs, transitions + 1) };
  return { action: 'wait', holder, expiresAtMs };
}

export interface LeaseObservation {
  resourceVersion: string | undefined;
  observedAtMs: number;
}

/**
 * Pure: when we first saw the lease in its present form. Any write (a
 * renewal, a new holder) changes its resourceVersion and restarts the clock.
 */
export function observeLease(prev: LeaseObservation | undefined, resourceVersion: string | undefined, nowMs: number): LeaseObservation {
  if (prev && resourceVersion !== undefined && prev.resourceVersion === resourceVersion) return prev;
  return { resourceVersion, observedAtMs: nowMs };
}

/** Pure: a leader that has not renewed for renewDeadline must stop acting. */
export function renewDeadlinePassed(lastRenewMs: number, nowMs: number, renewDeadlineMs: number): boolean {
  return nowMs - lastRenewMs >= renewDeadlineMs;
}

/** metav1.MicroTime: the API server parses exactly six fractional digits (RFC3339Micro). */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().slice(0, -1) + '000Z';
  }
}

function toMs(v: unknown): number | undefined {
  // client-node does not deserialize MicroTime: reads give strings, our writes give Dates.
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export function leaseRecord(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? undefined,
    leaseDurationSeconds: s.leaseDurationSeconds ?? undefined,
    acquireTimeMs: toMs(s.acquireTime),
    renewTimeMs: toMs(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? undefined,
  };
}

function leaseSpec(r: LeaseRecord): NonNullable<V1Lease['spec']> {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTimeMs !== undefined ? new MicroTime(r.acquireTimeMs) : undefined,
    renewTime: r.renewTimeMs !== undefined ? new MicroTime(r.renewTimeMs) : undefined,
    leaseTransitions: r.leaseTransitions,
  };
}

/** The subset of client-node's CoordinationV1Api the elector uses (object-parameter style). */
export interface LeaseApi {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(param: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(param: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

export type StoppedReason = 'lost' | 'released';

export interface LeaderElectorOptions {
  api: LeaseApi;
  namespace: string;
  name: string;
  /** Default: $POD_NAME (or the hostname) + "_" + random suffix, so a restarted pod never mistakes its predecessor's lease for its own. */
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  /** Uniform [0,1) source for retry jitter. */
  random?: () => number;
  log?: Logger;
  onStartedLeading?: () => void;
  /** 'lost': renewal failed past the deadline (stop acting at once). 'released': stop() gave the lease up. */
  onStoppedLeading?: (reason: StoppedReason) => void;
  /** A different holder was observed (for logs). */
  onNewLeader?: (identity: string) => void;
}

const DEFAULT_LEASE_DURATION_SECONDS = 15;
const DEFAULT_RENEW_DEADLINE_MS = 10_000;
const DEFAULT_RETRY_PERIOD_MS = 2_000;
// client-go's JitterFactor for retries while not leading.
const JITTER_FACTOR = 1.2;

function defaultIdentity(): string {
  return `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  private readonly api: LeaseApi;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly opts: LeaderElectorOptions;

  private leading = false;
  private stopped = false;
  private lastRenewMs = 0;
  /** The lease as we last read or wrote it (its resourceVersion makes our writes optimistic). */
  private lease: V1Lease | undefined;
  private observation: LeaseObservation | undefined;
  private lastHolder: string | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.api = opts.api;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity ?? defaultIdentity();
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = opts.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.log = (opts.log ?? nullLogger()).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
    // client-go's validation: the old leader must give up before a standby may take over.
    if (this.leaseDurationSeconds * 1000 <= this.renewDeadlineMs) {
      throw new Error(`leaseDuration (${this.leaseDurationSeconds}s) must be greater than renewDeadline (${this.renewDeadlineMs}ms)`);
    }
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) {
      throw new Error(`renewDeadline (${this.renewDeadlineMs}ms) must be greater than ${JITTER_FACTOR} x retryPeriod (${this.retryPeriodMs}ms)`);
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns, then renews, until stop() or until leadership is lost. Resolves
   * then; never rejects (API errors are retried).
   */
  run(): Promise<void> {
    this.loop ??= this.campaign();
    return this.loop;
  }

  /** Stops campaigning and, if leading, releases the lease. Call after the work guarded by the lease has stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    const wasLeading = this.leading;
    this.leading = false;
    // Release even if we never got to act: a write may have won just as stop() was called.
    await this.release();
    if (wasLeading) this.opts.onStoppedLeading?.('released');
  }

  private async campaign(): Promise<void> {
    while (!this.stopped) {
      const attemptStartMs = this.clock.now();
      // A leader's attempt may not outlive its deadline; a hung request counts as a failure.
      const budgetMs = this.leading ? Math.max(1, this.lastRenewMs + this.renewDeadlineMs - attemptStartMs) : this.renewDeadlineMs;
      const ok = await this.withTimeout(this.tryAcquireOrRenew(), budgetMs);
      if (this.stopped) return;
      if (ok) {
        // Count from when the request was sent: the server accepted it no earlier.
        this.lastRenewMs = attemptStartMs;
        if (!this.leading) {
          this.leading = true;
          this.log.info('became leader');
          this.opts.onStartedLeading?.();
        }
      } else if (this.leading && renewDeadlinePassed(this.lastRenewMs, this.clock.now(), this.renewDeadlineMs)) {
        this.leading = false;
        this.log.error('failed to renew the lease before the renew deadline; stepping down', { renewDeadlineMs: this.renewDeadlineMs });
        this.opts.onStoppedLeading?.('lost');
        return;
      }
      const wait = this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + this.random() * JITTER_FACTOR);
      await this.sleep(wait);
    }
  }

  /** One round: read, decide, write. True when we hold the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    let current: V1Lease | undefined;
    try {
      current = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn('reading the lease failed', { error: apiErrorMessage(err) });
        return false;
      }
    }
    const nowMs = this.clock.now();
    const record = current ? leaseRecord(current) : undefined;
    if (current) {
      this.lease = current;
      this.observation = observeLease(this.observation, current.metadata?.resourceVersion, nowMs);
      this.noteHolder(record?.holderIdentity);
    }
    const decision = decideLease({
      current: record,
      observedAtMs: this.observation?.observedAtMs ?? nowMs,
      nowMs,
      identity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
    });
    try {
      switch (decision.action) {
        case 'wait':
          return false;
        case 'create':
          this.lease = await this.api.createNamespacedLease({
            namespace: this.namespace,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.name, namespace: this.namespace },
              spec: leaseSpec(decision.record),
            },
          });
          break;
        case 'acquire':
        case 'renew':
          this.lease = await this.api.replaceNamespacedLease({
            name: this.name,
            namespace: this.namespace,
            body: { ...current, metadata: { ...current?.metadata, name: this.name, namespace: this.namespace }, spec: leaseSpec(decision.record) },
          });
          if (decision.action === 'acquire') this.log.info('acquired the lease', { reason: decision.reason, previousHolder: record?.holderIdentity ?? '' });
          break;
      }
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        this.log.debug('another replica wrote the lease first', { action: decision.action });
      } else {
        this.log.warn('writing the lease failed', { action: decision.action, error: apiErrorMessage(err) });
      }
      return false;
    }
    this.observation = observeLease(this.observation, this.lease.metadata?.resourceVersion, nowMs);
    this.noteHolder(this.identity);
    return true;
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    const record = leaseRecord(this.lease);
    if (record.holderIdentity !== this.identity) return;
    const nowMs = this.clock.now();
    try {
      // client-go's release: empty holder, 1 s duration, so any standby takes over at its next retry.
      this.lease = await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: {
          ...this.lease,
          spec: leaseSpec({ holderIdentity: '', leaseDurationSeconds: 1, acquireTimeMs: nowMs, renewTimeMs: nowMs, leaseTransitions: record.leaseTransitions }),
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      // Not fatal: the lease expires after leaseDuration anyway.
      this.log.warn('releasing the lease failed; it will expire instead', { error: apiErrorMessage(err) });
    }
  }

  private noteHolder(holder: string | undefined): void {
    if (holder && holder !== this.lastHolder) {
      this.lastHolder = holder;
      if (holder !== this.identity) this.log.info('observed a new leader', { leader: holder });
      this.opts.onNewLeader?.(holder);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.clock.clearTimeout(handle);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.log.warn('lease request timed out', { timeoutMs: ms });
        resolve(false);
      }, ms);
      p.then(
        (v) => {
          this.clock.clearTimeout(handle);
          resolve(v);
        },
        () => {
          this.clock.clearTimeout(handle);
          resolve(false);
        },
      );
    });
  }
}
