// Kubernetes Events (core/v1) about an object, as `kubectl describe` shows
// them. Like client-go's recorder:
//  - an event about a cluster-scoped object (a MeshRevision, a Namespace)
//    goes in the "default" namespace with an involvedObject that has no
//    namespace: kubectl describe lists events in all namespaces with
//    involvedObject.{name,namespace="",kind,uid}, so it finds them there;
//  - the same type+reason+message about the same object within a window is
//    one Event whose count grows, and repeats are patched at most once per
//    interval, so a hot reconcile loop cannot flood the API server;
//  - recording never throws: losing an event must not fail a reconcile.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { KubeWriter } from './apply.js';
import { apiErrorMessage, isNotFound } from './errors.js';

export type EventType = 'Normal' | 'Warning';

export interface EventLog {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface EventRecorderOptions {
  core: Pick<k8s.CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  /** source.component and reportingComponent. Default "meshrev". */
  component?: string;
  /** reportingInstance, e.g. the pod name. Default $POD_NAME or "". */
  instance?: string;
  /** Repeats within this window update one Event. Default 10 min (client-go's aggregation window). */
  dedupWindowMs?: number;
  /** A repeat is sent at most this often (its count is carried to the next send). Default 60 s. */
  minPatchIntervalMs?: number;
  /** Distinct series remembered; the oldest is forgotten beyond this. Default 4096. */
  maxSeries?: number;
  now?: () => number;
  /** Counts the writes (verb "event"). */
  writer?: Pick<KubeWriter, 'write'>;
  log?: EventLog;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastMs: number;
  sentMs: number;
}

/** Where events about `obj` are stored: its namespace, or "default" for cluster-scoped objects. */
function eventNamespace(obj: k8s.KubernetesObject): string {
  return obj.metadata?.namespace || 'default';
}

export class EventRecorder {
  private readonly core: EventRecorderOptions['core'];
  private readonly component: string;
  private readonly instance: string;
  private readonly windowMs: number;
  private readonly minPatchIntervalMs: number;
  private readonly maxSeries: number;
  private readonly now: () => number;
  private readonly writer: Pick<KubeWriter, 'write'> | undefined;
  private readonly log: EventLog | undefined;
  /** Insertion-ordered, so the first entry is the least recently used. */
  private readonly series = new Map<string, Series>();

  constructor(opts: EventRecorderOptions) {
    this.core = opts.core;
    this.component = opts.component ?? 'meshrev';
    this.instance = opts.instance ?? process.env.POD_NAME ?? '';
    this.windowMs = opts.dedupWindowMs ?? 10 * 60_000;
    this.minPatchIntervalMs = opts.minPatchIntervalMs ?? 60_000;
    this.maxSeries = opts.maxSeries ?? 4096;
    this.now = opts.now ?? Date.now;
    this.writer = opts.writer;
    this.log = opts.log;
  }

  /** Records an event about `obj` (which needs apiVersion, kind, metadata.name, and uid for kubectl describe to match). */
  async record(obj: k8s.KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    try {
      await this.recordOrThrow(obj, type, reason, message);
    } catch (err) {
      this.log?.warn('recording an event failed', { reason, error: apiErrorMessage(err) });
    }
  }

  normal(obj: k8s.KubernetesObject, reason: string, message: string): Promise<void> {
    return this.record(obj, 'Normal', reason, message);
  }

  warning(obj: k8s.KubernetesObject, reason: string, message: string): Promise<void> {
    return this.record(obj, 'Warning', reason, message);
  }

  private async recordOrThrow(obj: k8s.KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = this.now();
    const meta = obj.metadata ?? {};
    const id = `${meta.uid ?? `${meta.namespace ?? ''}/${meta.name ?? ''}`}\u0000${type}\u0000${reason}\u0000${message}`;
    const prev = this.series.get(id);
    if (prev && now - prev.lastMs <= this.windowMs) {
      prev.count++;
      prev.lastMs = now;
      this.touch(id, prev);
      if (now - prev.sentMs < this.minPatchIntervalMs) {
        this.log?.debug('event repeated; sending the count later', { reason, count: prev.count });
        return;
      }
      try {
        await this.send('patch', prev, () =>
          this.core.patchNamespacedEvent(
            { name: prev.name, namespace: prev.namespace, body: { count: prev.count, lastTimestamp: new Date(now).toISOString() } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          ),
        );
        prev.sentMs = now;
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // The Event expired (TTL) or was deleted: start a new one below.
      }
    }
    const s: Series = { namespace: eventNamespace(obj), name: eventName(meta.name ?? 'unknown', now), count: 1, lastMs: now, sentMs: now };
    const event: k8s.CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: s.name, namespace: s.namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: meta.name,
        namespace: meta.namespace || undefined,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      type,
      reason,
      message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
      count: 1,
      firstTimestamp: new Date(now),
      lastTimestamp: new Date(now),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
    };
    await this.send('create', s, () => this.core.createNamespacedEvent({ namespace: s.namespace, body: event }));
    this.touch(id, s);
  }

  private async send<R>(what: 'create' | 'patch', s: Series, call: () => Promise<R>): Promise<R> {
    if (!this.writer) return call();
    return this.writer.write({ verb: 'event', kind: 'Event', namespace: s.namespace, name: `${s.name} (${what})` }, call);
  }

  private touch(id: string, s: Series): void {
    this.series.delete(id);
    this.series.set(id, s);
    while (this.series.size > this.maxSeries) {
      const oldest = this.series.keys().next().value;
      if (oldest === undefined) break;
      this.series.delete(oldest);
    }
  }
}

/** client-go names events "<object>.<unix nanos in hex>"; a random tail avoids clashes within one millisecond. */
function eventName(objectName: string, nowMs: number): string {
  const nanos = BigInt(nowMs) * 1_000_000n + BigInt(randomBytes(2).readUInt16BE() % 1_000_000);
  // Names are at most 253 characters; keep room for the suffix.
  return `${objectName.slice(0, 253 - 18)}.${nanos.toString(16)}`;
}
