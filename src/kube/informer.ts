// A typed informer: list+watch one resource into a cache keyed by
// "namespace/name" (or "name" when cluster-scoped), with handlers that only
// map objects to reconcile keys.
//
// Built on client-node's ListWatch, which by itself:
//  - relists on 410 Gone (both a 410 response and a watch ERROR event with
//    code 410 clear its resourceVersion; the stream then ends and it relists);
//  - reconnects on a clean end of the stream and on its client-side
//    inactivity timeout (Watch aborts a watch with no data for 30 s);
//  - but on any other error (list failure, connection refused, a non-200
//    watch response) emits 'error' and STOPS for good;
//  - and keeps watching after stop() if stop() lands during its reconnect
//    delay or a list.
// So this wrapper restarts it after every error with jittered, capped
// exponential backoff, refuses to open a watch once stopped, and knows when
// the first list has been applied (hasSynced). Objects from watch events are
// deserialized like list items (Dates, typed models), so the cache holds one
// shape whichever path an object came through.
import * as k8s from '@kubernetes/client-node';
// Not re-exported by the package index, but what its own typed APIs and loadYaml use to build models;
// the informer and apply unit tests fail if an upgrade moves it.
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { realClock, type Clock } from './clock.js';
import { apiErrorMessage, classifyError } from './errors.js';

export interface ResourceRef {
  /** e.g. "v1", "apps/v1", "meshrev.io/v1alpha1". */
  apiVersion: string;
  kind: string;
  /** Lower-case plural resource name, e.g. "configmaps". */
  plural: string;
  /** Watch one namespace; omit for cluster-scoped resources or all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** What the informer needs from client-node's Watch (injectable for tests). */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

export type ListFn<T extends k8s.KubernetesObject> = () => Promise<k8s.KubernetesListObject<T>>;

/**
 * What the cache keeps of an object (controller-runtime's cache TransformFunc):
 * called on every listed and watched object before it is cached and handed
 * to handlers, on the wire JSON for watched objects and on the typed model
 * for listed ones. Must keep metadata.name, namespace and resourceVersion.
 */
export type Transform = (obj: k8s.KubernetesObject) => k8s.KubernetesObject;

/** Items per LIST page (client-go's reflector pages by 500 too): a big list never sits in memory as one response. */
const LIST_PAGE_SIZE = 500;

/** Structural subset of a winston logger. */
export interface InformerLog {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface BackoffOptions {
  /** First restart delay. Default 1 s. */
  initialMs?: number;
  /** Cap. Default 30 s (ListWatch's own reconnect cap). */
  maxMs?: number;
  /** Fraction of the delay randomised away (0..1), so replicas do not restart in lockstep. Default 0.5. */
  jitter?: number;
}

export interface InformerOptions<T extends k8s.KubernetesObject> {
  resource: ResourceRef;
  /** Needed unless both `list` and `watch` are given. */
  kc?: k8s.KubeConfig;
  /** Default: KubernetesObjectApi.list with the resource's selectors. */
  list?: ListFn<T>;
  /** Default: client-node's Watch. */
  watch?: WatchLike;
  /** For logs and metrics; default "<kind>[/<namespace>][?<selectors>]". */
  name?: string;
  backoff?: BackoffOptions;
  /** Timers for restart backoff and waits; default realClock. */
  timers?: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  random?: () => number;
  log?: InformerLog;
  /** Called on each restart after an error (metrics). */
  onRestart?: (err: unknown) => void;
  /** Keep only part of each object (see Transform); default: the object as sent. */
  transform?: Transform;
}

export interface InformerHandlers<T> {
  add?(obj: T): void;
  /** `oldObj` is the cached object before the change (undefined only if the cache never held it). */
  update?(oldObj: T | undefined, newObj: T): void;
  /** The last state seen (the watch's final object, or the cached one when a relist found it gone). */
  delete?(obj: T): void;
}

const silentLog: InformerLog = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/** The cache key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: k8s.KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** The API path of a resource collection, e.g. /apis/apps/v1/namespaces/x/deployments. */
export function resourcePath(r: ResourceRef): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return r.namespace ? `${base}/namespaces/${encodeURIComponent(r.namespace)}/${r.plural}` : `${base}/${r.plural}`;
}

function isBuiltInGroup(group: string): boolean {
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io');
}

/** client-node's model name for a kind (e.g. "V1ConfigMap"), or "KubernetesObject" for custom resources. */
export function serializationType(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  if (!version || !isBuiltInGroup(group ?? '')) return 'KubernetesObject';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/**
 * Gives a raw (JSON) object the shape a typed list returns: client-node models
 * for built-in kinds, typed metadata for custom resources. Already-typed
 * objects are left alone (deserializing twice would drop renamed fields).
 */
export function toTyped<T extends k8s.KubernetesObject>(raw: unknown, apiVersion: string, kind: string): T {
  if (typeof raw !== 'object' || raw === null) return raw as T;
  const obj = raw as k8s.KubernetesObject;
  if (Object.getPrototypeOf(obj) !== Object.prototype) {
    obj.apiVersion ??= apiVersion;
    obj.kind ??= kind;
    return obj as T;
  }
  const withGvk = { ...obj, apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? kind };
  return ObjectSerializer.deserialize(withGvk, serializationType(apiVersion, kind)) as T;
}

function defaultList<T extends k8s.KubernetesObject>(kc: k8s.KubeConfig, r: ResourceRef, transform: Transform | undefined): ListFn<T> {
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  return async () => {
    // Page by page, transforming each page before the next: the cache, not the response, sets the memory.
    const items: T[] = [];
    let cont: string | undefined;
    let first: k8s.KubernetesListObject<T> | undefined;
    do {
      const page = await objects.list<T>(
        r.apiVersion,
        r.kind,
        r.namespace,
        undefined,
        undefined,
        undefined,
        r.fieldSelector,
        r.labelSelector,
        LIST_PAGE_SIZE,
        cont,
      );
      first ??= page;
      // List items carry no apiVersion/kind; custom resources' items come back raw.
      for (const i of page.items) items.push(toTyped<T>(transform ? transform(i) : i, r.apiVersion, r.kind));
      page.items = [];
      // Typed lists carry it as _continue; a custom resource's list metadata may keep the wire name.
      cont = page.metadata?._continue || (page.metadata as { continue?: string } | undefined)?.continue || undefined;
      // A multi-page list is one consistent snapshot: the first page's resourceVersion is the one to watch from.
    } while (cont);
    first.items = items;
    return first;
  };
}

/** The read side of an informer's cache: all a reconcile needs. */
export interface Store<T> {
  get(key: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
  keys(): string[];
  /** The resourceVersion the cache has seen changes up to (Informer.lastSyncResourceVersion), when known. */
  lastSyncResourceVersion?(): string | undefined;
}

export class Informer<T extends k8s.KubernetesObject> implements Store<T> {
  readonly name: string;
  readonly resource: ResourceRef;
  private readonly lw: k8s.ListWatch<T>;
  private readonly innerWatch: WatchLike;
  private readonly timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  private readonly random: () => number;
  private readonly log: InformerLog;
  private readonly backoff: Required<BackoffOptions>;
  private readonly onRestart: ((err: unknown) => void) | undefined;
  private readonly store = new Map<string, T>();
  /** namespace → keys in it: list(namespace) costs the namespace's size, not the cache's. */
  private readonly byNamespace = new Map<string, Set<string>>();
  /** Results of our own writes the watch has not delivered yet (see assume()). */
  private readonly assumed = new Map<string, T>();
  private readonly transform: Transform | undefined;
  private lastRv: string | undefined;
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly syncWaiters: (() => void)[] = [];

  private started = false;
  private stopped = false;
  private synced = false;
  private failures = 0;
  private restartTimer: unknown;
  private currentWatch: AbortController | undefined;
  private readonly sleepers = new Set<() => void>();
  private lastErr: string | undefined;

  constructor(opts: InformerOptions<T>) {
    this.resource = opts.resource;
    const r = opts.resource;
    const selectors = [r.labelSelector, r.fieldSelector].filter(Boolean).join(',');
    this.name = opts.name ?? `${r.kind}${r.namespace ? `/${r.namespace}` : ''}${selectors ? `?${selectors}` : ''}`;
    this.timers = opts.timers ?? realClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? silentLog;
    this.onRestart = opts.onRestart;
    this.backoff = { initialMs: 1_000, maxMs: 30_000, jitter: 0.5, ...opts.backoff };
    const kc = opts.kc;
    if (!kc && (!opts.list || !opts.watch)) throw new Error(`informer ${this.name}: pass kc, or both list and watch`);
    this.transform = opts.transform;
    const transform = opts.transform;
    const listFn: ListFn<T> = opts.list
      ? async () => {
          const list = await opts.list!();
          if (transform) list.items = list.items.map((i) => toTyped<T>(transform(i), r.apiVersion, r.kind));
          return list;
        }
      : defaultList<T>(kc!, r, transform);
    this.innerWatch = opts.watch ?? new k8s.Watch(kc!);

    // ListWatch takes a Watch; ours forwards to the real one with the guards described above.
    const guardedWatch: WatchLike = { watch: (path, query, cb, done) => this.guardedWatch(path, query, cb, done) };
    const guardedList: ListFn<T> = async () => {
      const list = await listFn();
      this.failures = 0;
      return list;
    };
    this.lw = new k8s.ListWatch<T>(
      resourcePath(r),
      guardedWatch as unknown as k8s.Watch,
      guardedList,
      false,
      r.labelSelector,
      r.fieldSelector,
      { delayFn: (ms) => this.sleep(ms) },
    );
    this.lw.on(k8s.ADD, (obj: T) => this.onAdd(obj));
    this.lw.on(k8s.UPDATE, (obj: T) => this.onUpdate(obj));
    this.lw.on(k8s.DELETE, (obj: T) => this.onDelete(obj));
    this.lw.on(k8s.ERROR, (err?: unknown) => this.onError(err));
  }

  /** Registers handlers; call before start() to see the initial list as adds. */
  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
  }

  /** Calls `fn` for every add, update (new object) and delete: enough to map objects to keys. */
  onChange(fn: (obj: T) => void): void {
    this.addHandlers({ add: fn, update: (_old, obj) => fn(obj), delete: fn });
  }

  /** Starts listing and watching in the background; errors are retried, never thrown. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) this.timers.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const wake of this.sleepers) wake();
    this.currentWatch?.abort();
    await this.lw.stop();
  }

  /** True once the first list has been applied to the cache (stays true across restarts). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once synced. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The last list/watch error, while the informer is recovering from it. */
  lastError(): string | undefined {
    return this.lastErr;
  }

  /**
   * The resourceVersion of the last list or watch event (bookmarks included)
   * applied to the cache: it reflects every change up to there (client-go's
   * LastSyncResourceVersion). Undefined before the first list.
   */
  lastSyncResourceVersion(): string | undefined {
    return this.lastRv;
  }

  get(key: string): T | undefined {
    return this.fresher(key, this.store.get(key));
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.store.keys()].map((k) => this.fresher(k, this.store.get(k))!);
    const keys = this.byNamespace.get(namespace);
    return keys ? [...keys].map((k) => this.fresher(k, this.store.get(k))!) : [];
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  /**
   * Records the object a write of ours returned, so reads see it before the
   * watch delivers it (client-go's MutationCache): get() and list() serve it
   * while the cached copy is older, and drop it as soon as the cache holds
   * that version or a newer one. Without it, a reconcile that runs between a
   * write and its watch event acts on the state before the write — restarts
   * a workload again, relabels a namespace again, writes a status again.
   * Needs integer resourceVersions (see resourceVersionOlder); otherwise it
   * is ignored. An object not in the cache is not assumed (no resurrection).
   */
  assume(obj: T): void {
    const key = objectKey(obj);
    const cached = this.store.get(key);
    const rv = obj.metadata?.resourceVersion;
    if (!cached || !isIntegerRv(rv) || !isIntegerRv(cached.metadata?.resourceVersion)) return;
    if (BigInt(rv!) <= BigInt(cached.metadata!.resourceVersion!)) return;
    const prev = this.assumed.get(key);
    if (prev && BigInt(prev.metadata!.resourceVersion!) >= BigInt(rv!)) return;
    this.assumed.set(key, toTyped<T>(this.transform ? this.transform(obj) : obj, this.resource.apiVersion, this.resource.kind));
  }

  /** The assumed object for `key` while it is newer than the cached one. */
  private fresher(key: string, cached: T | undefined): T | undefined {
    const mine = this.assumed.get(key);
    if (!mine) return cached;
    const rv = cached?.metadata?.resourceVersion;
    if (!cached || !isIntegerRv(rv) || BigInt(rv!) >= BigInt(mine.metadata!.resourceVersion!)) {
      this.assumed.delete(key);
      return cached;
    }
    return mine;
  }

  private run(): void {
    this.restartTimer = undefined;
    if (this.stopped) return;
    // start() resolves once the watch is open or the attempt failed (then 'error' fired); it does not reject,
    // but a bug there must not become an unhandled rejection.
    this.lw.start().catch((err: unknown) => this.onError(err));
  }

  private async guardedWatch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    cb: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.stopped) return new AbortController(); // the chain ends here: no watch after stop()
    // ListWatch opens the watch only after applying a list to its cache: the cache is usable now,
    // and reflects everything up to the version the watch starts from.
    if (query.resourceVersion !== undefined && query.resourceVersion !== '') this.lastRv = String(query.resourceVersion);
    this.markSynced();
    const { apiVersion, kind } = this.resource;
    const forward = (phase: string, obj: unknown, watchObj?: unknown) => {
      this.failures = 0;
      this.lastErr = undefined;
      if (phase === 'ERROR') {
        const info = classifyError({ body: obj, code: (obj as { code?: number } | null)?.code });
        this.log.info('watch ended with an error event', { informer: this.name, code: info.code, message: info.message });
        cb(phase, obj, watchObj);
        return;
      }
      const rv = (obj as k8s.KubernetesObject | null)?.metadata?.resourceVersion;
      if (rv) this.lastRv = rv;
      if (phase === 'BOOKMARK') {
        cb(phase, obj, watchObj);
        return;
      }
      const transform = this.transform;
      cb(phase, toTyped<T>(transform ? transform(obj as k8s.KubernetesObject) : obj, apiVersion, kind), watchObj);
    };
    try {
      // Bookmarks keep the resourceVersion of a quiet resource fresh, so a reconnect rarely needs a relist.
      this.currentWatch = await this.innerWatch.watch(path, { ...query, allowWatchBookmarks: true }, forward, done);
      // A stop() while the watch was being opened had nothing to abort yet: without this the stream
      // (and its socket, keeping a CLI process alive) would stay open until the server or the inactivity timeout ends it.
      if (this.stopped) this.currentWatch.abort();
      return this.currentWatch;
    } catch (err) {
      // e.g. credentials could not be loaded: report it the way a failed request is.
      done(err);
      return new AbortController();
    }
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.log.debug('informer synced', { informer: this.name, objects: this.store.size });
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private onError(err: unknown): void {
    if (this.stopped) return; // aborting the watch on stop() reports an AbortError
    if (this.restartTimer !== undefined) return;
    const capped = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    const delay = Math.round(capped * (1 - this.backoff.jitter * this.random()));
    this.failures++;
    this.lastErr = apiErrorMessage(err);
    this.log.warn('list/watch failed; restarting', { informer: this.name, error: this.lastErr, retryInMs: delay, failures: this.failures });
    this.onRestart?.(err);
    this.restartTimer = this.timers.setTimeout(() => this.run(), delay);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.timers.clearTimeout(handle);
        this.sleepers.delete(wake);
        resolve();
      };
      const handle = this.timers.setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private put(key: string, obj: T): void {
    this.store.set(key, obj);
    this.fresher(key, obj); // drops an assumed object this version catches up with
    const ns = obj.metadata?.namespace ?? '';
    let keys = this.byNamespace.get(ns);
    if (!keys) this.byNamespace.set(ns, (keys = new Set()));
    keys.add(key);
  }

  private remove(key: string, obj: T): void {
    this.store.delete(key);
    this.assumed.delete(key);
    const ns = obj.metadata?.namespace ?? '';
    const keys = this.byNamespace.get(ns);
    keys?.delete(key);
    if (keys?.size === 0) this.byNamespace.delete(ns);
  }

  private onAdd(obj: T): void {
    const key = objectKey(obj);
    const old = this.store.get(key);
    this.put(key, obj);
    // ListWatch reports an object it already had (e.g. after a relist) as an add only if its cache lost it.
    if (old) this.emit((h) => h.update?.(old, obj));
    else this.emit((h) => h.add?.(obj));
  }

  private onUpdate(obj: T): void {
    const key = objectKey(obj);
    const old = this.store.get(key);
    this.put(key, obj);
    this.emit((h) => h.update?.(old, obj));
  }

  private onDelete(obj: T): void {
    this.remove(objectKey(obj), obj);
    this.emit((h) => h.delete?.(obj));
  }

  private emit(call: (h: InformerHandlers<T>) => void): void {
    // A list that completes after stop() still updates the cache, but nobody should be told.
    if (this.stopped) return;
    for (const h of this.handlers) {
      try {
        call(h);
      } catch (err) {
        // A throwing handler must not break ListWatch's update loop.
        this.log.warn('informer handler threw', { informer: this.name, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
}

function isIntegerRv(rv: string | undefined): boolean {
  return rv !== undefined && /^\d+$/.test(rv);
}

/** Resolves once every informer has synced; rejects if `signal` aborts first. */
export async function waitForSync(informers: Iterable<{ whenSynced(): Promise<void> }>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const all = Promise.all([...informers].map((i) => i.whenSynced()));
  if (!signal) {
    await all;
    return;
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('waiting for informer caches to sync was aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([all, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
