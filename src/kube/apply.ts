// Writes to the API server. Every write goes through KubeWriter.write(), which
// counts it (tests assert "a resync with nothing to do performs 0 writes", and
// the counter feeds meshrev_kube_write_requests_total).
//
// Objects meshrev owns are written with server-side apply under ONE field
// manager ("meshrev") with force: we own exactly the fields we send, fields
// others set (istiod's caBundle on a webhook configuration, kubectl's labels)
// are left alone, and a field we stop sending is removed. Whether to write at
// all is decided before calling in here, from the informers' caches: the
// MeshRevision controller applies its webhook configuration only when
// policy/validation.ts webhookConfigurationDiff finds a change, and status
// only when policy/conditions.ts statusChanged does; the migration patches
// only what its plan changes. So a reconcile with nothing to change sends
// nothing, and this file does not compare objects.
import * as k8s from '@kubernetes/client-node';
// Not re-exported by the package index, but what its own typed APIs and loadYaml use to build models;
// the informer and apply unit tests fail if an upgrade moves it.
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { isNotFound } from './errors.js';
import { serializationType, toTyped } from './informer.js';

const FIELD_MANAGER = 'meshrev';

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
