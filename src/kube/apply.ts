// Writes to the API server. Every write goes through KubeWriter.write(), which
// counts it (tests assert "a resync with nothing to do performs 0 writes", and
// the counter feeds meshrev_kube_write_requests_total).
//
// Objects meshrev owns are written with server-side apply under ONE field
// manager ("meshrev") with force: we own exactly the fields we send, fields
// others set (istiod's caBundle on a webhook configuration, kubectl's labels)
// are left alone, and a field we stop sending is removed. needsApply()
// compares the desired object with the cached one, so a reconcile with
// nothing to change sends nothing.
import * as k8s from '@kubernetes/client-node';
// Not re-exported by the package index, but what its own typed APIs and loadYaml use to build models;
// the informer and apply unit tests fail if an upgrade moves it.
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { isNotFound } from './errors.js';
import { serializationType, toTyped } from './informer.js';

export const FIELD_MANAGER = 'meshrev';

export type WriteVerb = 'apply' | 'apply-status' | 'create' | 'update' | 'patch' | 'delete' | 'evict' | 'event';

export interface WriteRequest {
  verb: WriteVerb;
  kind: string;
  namespace?: string;
  name?: string;
}

export type WriteHook = (w: WriteRequest) => void;

/** Where a custom resource's API lives; needed for its status subresource. */
export interface CustomResourceRef {
  group: string;
  version: string;
  plural: string;
}

export interface KubeWriterOptions {
  kc: k8s.KubeConfig;
  fieldManager?: string;
  /** Called before every write request (metrics). */
  onWrite?: WriteHook;
  /** Called with the object every successful apply or patch returned (informers assume it: Informer.assume). */
  onResult?: (obj: k8s.KubernetesObject) => void;
}

export interface ApplyResult<T> {
  /** False when the live object already matched and no request was sent. */
  applied: boolean;
  object: T;
}

/** Drops what must not be in an apply configuration and converts to wire JSON. */
function applyBody<T extends k8s.KubernetesObject>(obj: T): T {
  const body = wire(obj) as T & { status?: unknown };
  if (body.metadata) {
    delete body.metadata.managedFields;
    delete body.metadata.creationTimestamp;
    delete body.metadata.uid;
    delete body.metadata.generation;
  }
  return body;
}

/** The object as JSON on the wire (typed models' Dates become strings). */
function wire(obj: unknown): Record<string, unknown> {
  const o = obj as k8s.KubernetesObject;
  const type = o.apiVersion && o.kind ? serializationType(o.apiVersion, o.kind) : 'KubernetesObject';
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(obj, type))) as Record<string, unknown>;
}

export class KubeWriter {
  readonly fieldManager: string;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly onWrite: WriteHook | undefined;
  private readonly onResult: ((obj: k8s.KubernetesObject) => void) | undefined;
  private count = 0;
  private readonly byVerb = new Map<WriteVerb, number>();

  constructor(opts: KubeWriterOptions) {
    this.fieldManager = opts.fieldManager ?? FIELD_MANAGER;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(opts.kc);
    this.custom = opts.kc.makeApiClient(k8s.CustomObjectsApi);
    this.onWrite = opts.onWrite;
    this.onResult = opts.onResult;
  }

  private returned<T extends k8s.KubernetesObject>(obj: T): T {
    this.onResult?.(obj);
    return obj;
  }

  /** Write requests sent so far (all verbs). */
  get writes(): number {
    return this.count;
  }

  writesOf(verb: WriteVerb): number {
    return this.byVerb.get(verb) ?? 0;
  }

  resetCount(): void {
    this.count = 0;
    this.byVerb.clear();
  }

  /** Counts one write request, then sends it. Use for writes not covered below (evictions, ...). */
  async write<R>(w: WriteRequest, send: () => Promise<R>): Promise<R> {
    this.count++;
    this.byVerb.set(w.verb, (this.byVerb.get(w.verb) ?? 0) + 1);
    this.onWrite?.(w);
    return send();
  }

  /** Server-side apply of `obj` (apiVersion, kind, metadata.name, [namespace], and only the fields meshrev owns). */
  async apply<T extends k8s.KubernetesObject>(obj: T): Promise<T> {
    const body = applyBody(obj);
    return this.returned(
      await this.write(describe('apply', obj), () =>
        this.objects.patch<T>(body, undefined, undefined, this.fieldManager, true, k8s.PatchStrategy.ServerSideApply),
      ),
    );
  }

  /** apply() unless `live` (e.g. from an informer) already has every field of `desired` and nothing meshrev owns was dropped. */
  async applyIfChanged<T extends k8s.KubernetesObject>(desired: T, live: T | undefined): Promise<ApplyResult<T>> {
    if (live && !needsApply(desired, live, { fieldManager: this.fieldManager })) return { applied: false, object: live };
    return { applied: true, object: await this.apply(desired) };
  }

  /**
   * Server-side apply of a custom resource's status subresource: `obj` holds
   * apiVersion, kind, metadata.name (and namespace if namespaced) and status.
   * The API server ignores everything but status on this endpoint.
   */
  async applyStatus<T extends k8s.KubernetesObject>(obj: T, crd: CustomResourceRef): Promise<T> {
    const body = applyBody(obj);
    const name = obj.metadata?.name;
    if (!name) throw new Error('applyStatus: metadata.name is required');
    const namespace = obj.metadata?.namespace;
    // The generated client sends JSON-patch content types; SSA needs application/apply-patch+yaml (JSON is valid YAML).
    const ssa = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
    const common = { ...crd, name, body, fieldManager: this.fieldManager, force: true };
    const res: unknown = await this.write(describe('apply-status', obj), () =>
      namespace
        ? this.custom.patchNamespacedCustomObjectStatus({ ...common, namespace }, ssa)
        : this.custom.patchClusterCustomObjectStatus(common, ssa),
    );
    return this.returned(toTyped<T>(res, obj.apiVersion ?? `${crd.group}/${crd.version}`, obj.kind ?? ''));
  }

  /** applyStatus() unless `live` already has that status (and meshrev still owns only fields it sends). */
  async applyStatusIfChanged<T extends k8s.KubernetesObject>(desired: T, live: T | undefined, crd: CustomResourceRef): Promise<ApplyResult<T>> {
    if (live && !needsApply(desired, live, { fieldManager: this.fieldManager, subresource: 'status', only: ['status'] })) {
      return { applied: false, object: live };
    }
    return { applied: true, object: await this.applyStatus(desired, crd) };
  }

  /**
   * JSON merge patch (RFC 7386) of `ref` (apiVersion, kind, name, namespace).
   * Put metadata.resourceVersion in the patch for optimistic concurrency: the
   * API server then answers 409 if the object changed since it was read.
   */
  async mergePatch<T extends k8s.KubernetesObject>(ref: k8s.KubernetesObject, patch: Record<string, unknown>): Promise<T> {
    const body = {
      ...patch,
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { ...((patch['metadata'] as Record<string, unknown> | undefined) ?? {}), name: ref.metadata?.name, namespace: ref.metadata?.namespace },
    } as k8s.KubernetesObject;
    return this.returned(
      await this.write(describe('patch', ref), () =>
        this.objects.patch<T>(body as T, undefined, undefined, this.fieldManager, undefined, k8s.PatchStrategy.MergePatch),
      ),
    );
  }

  /** Deletes an object; false when it was already gone. */
  async delete(
    obj: k8s.KubernetesObject,
    opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; preconditionUID?: string } = {},
  ): Promise<boolean> {
    try {
      const body = opts.preconditionUID ? { preconditions: { uid: opts.preconditionUID } } : undefined;
      await this.write(describe('delete', obj), () =>
        this.objects.delete(
          { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name, namespace: obj.metadata?.namespace } },
          undefined,
          undefined,
          undefined,
          undefined,
          opts.propagationPolicy,
          body,
        ),
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

function describe(verb: WriteVerb, obj: k8s.KubernetesObject): WriteRequest {
  return { verb, kind: obj.kind ?? 'unknown', namespace: obj.metadata?.namespace, name: obj.metadata?.name };
}

export interface NeedsApplyOptions {
  fieldManager?: string;
  /** "status" when comparing a status apply. */
  subresource?: string;
  /** Compare only these top-level fields (besides metadata ownership). */
  only?: string[];
}

/**
 * Whether applying `desired` could change `live`. False only when:
 *  - live already has an Apply entry of our field manager (else we must take ownership);
 *  - every field in desired has the same value in live (arrays: same length,
 *    element by element; maps: live may have more keys, set by others);
 *  - every field our manager owns in live is still in desired (else the apply
 *    would remove it).
 * Conservative: it may say true when an apply would change nothing (e.g. a
 * list others appended to), never false when it would change something.
 */
export function needsApply(desired: k8s.KubernetesObject, live: k8s.KubernetesObject, opts: NeedsApplyOptions = {}): boolean {
  const manager = opts.fieldManager ?? FIELD_MANAGER;
  const subresource = opts.subresource ?? '';
  const entry = (live.metadata?.managedFields ?? []).find(
    (m) => m.manager === manager && m.operation === 'Apply' && (m.subresource ?? '') === subresource,
  );
  if (!entry) return true;
  const d = applyBody(desired) as Record<string, unknown>;
  const l = wire(live);
  delete d.apiVersion;
  delete d.kind;
  if (opts.only) {
    for (const k of Object.keys(d)) if (!opts.only.includes(k)) delete d[k];
  } else {
    const meta = d.metadata as Record<string, unknown> | undefined;
    if (meta) delete meta.resourceVersion;
  }
  if (!isSubset(d, l)) return true;
  const owned = entry.fieldsV1 as Record<string, unknown> | undefined;
  if (!owned) return false;
  return ownsMissing(owned, applyBody(desired));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value in `d` is in `l` (see needsApply for list semantics). */
export function isSubset(d: unknown, l: unknown): boolean {
  if (Array.isArray(d)) {
    return Array.isArray(l) && l.length === d.length && d.every((x, i) => isSubset(x, l[i]));
  }
  if (isObject(d)) {
    if (!isObject(l)) return false;
    return Object.entries(d).every(([k, v]) => (v === null ? l[k] === undefined || l[k] === null : isSubset(v, l[k])));
  }
  return d === l;
}

/** Whether a field our manager owns (fieldsV1) is absent from `d`, so applying `d` would remove it. */
function ownsMissing(fields: Record<string, unknown>, d: unknown): boolean {
  for (const [k, sub] of Object.entries(fields)) {
    if (k === '.') continue;
    const subFields = isObject(sub) ? sub : {};
    if (k.startsWith('f:')) {
      const name = k.slice(2);
      if (!isObject(d) || d[name] === undefined || d[name] === null) return true;
      if (ownsMissing(subFields, d[name])) return true;
    } else if (k.startsWith('k:')) {
      if (!Array.isArray(d)) return true;
      const keys = JSON.parse(k.slice(2)) as Record<string, unknown>;
      // A key field the server defaulted (e.g. a port's protocol) may be absent from desired.
      const item: unknown = d.find((x) => isObject(x) && Object.entries(keys).every(([kk, kv]) => x[kk] === undefined || x[kk] === kv));
      if (item === undefined || ownsMissing(subFields, item)) return true;
    } else if (k.startsWith('v:')) {
      const value = JSON.parse(k.slice(2)) as unknown;
      if (!Array.isArray(d) || !d.some((x) => JSON.stringify(x) === JSON.stringify(value))) return true;
    } else if (k.startsWith('i:')) {
      const i = Number(k.slice(2));
      if (!Array.isArray(d) || i >= d.length || ownsMissing(subFields, d[i])) return true;
    }
  }
  return false;
}
