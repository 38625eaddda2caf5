// Pure: the two questions every part of meshrev asks about Istio's routing
// (DESIGN.md §1), answered once.
//
// 1. Selection — what do injection labels select?
//    `istio-injection` on a namespace (any value) beats `istio.io/rev`:
//    `enabled` selects the default revision, any other value (`disabled`)
//    means never inject. Otherwise the namespace's `istio.io/rev` selects a
//    revision or tag; a namespace's `istio.io/rev` beats a pod's. With no
//    namespace label, the pod's labels decide, and with none there either the
//    mesh's enableNamespacesByDefault does.
//
// 2. Serving — which revision serves `default`, a tag or a revision name?
//    Built from MeshRevision claims (policy/webhooks.ts resolveClaims, or as
//    recorded in status) and from the webhook configurations meshrev does not
//    own (istiod's chart's `istio-sidecar-injector-<rev>`, istioctl's
//    `istio-revision-tag-<tag>`). **Claims win**: a value served both by a
//    MeshRevision and by a foreign webhook resolves to the MeshRevision's
//    revision (the MeshRevision reports the overlap as ChartWebhookConflict),
//    and a foreign webhook only answers for values no MeshRevision serves.
//    `istio.io/rev=default` is served by the default revision, as upstream's
//    chart does (the non-revisioned install's `rev.` entries and the
//    `istio-revision-tag-default` webhook both select it).
//
// The `from` vocabulary (spec.migration.from, origin records, status) uses
// "default" for `istio-injection=enabled`; resolveFrom reads it that way.
// No I/O.
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import {
  LABEL_ISTIO_INJECTION,
  LABEL_ISTIO_REV,
  LABEL_ISTIO_TAG,
  LABEL_SIDECAR_INJECT,
  WEBHOOK_AUTO,
  WEBHOOK_DEFAULT_NAMESPACE,
  WEBHOOK_DEFAULT_OBJECT,
  WEBHOOK_REV_NAMESPACE,
  WEBHOOK_REV_OBJECT,
} from '../api/labels.js';
import type { MeshRevision } from '../api/meshrevision.js';
import { FROM_DEFAULT } from '../api/migration.js';
import { tagOfEntryName } from './selectors.js';
import { isMeshrevWebhook, type ClaimDecision } from './webhooks.js';

/** Labels as read from an object or an origin record; an undefined value counts as absent. */
export type LabelSet = Readonly<Record<string, string | undefined>>;

// ---------------------------------------------------------------------------
// Selection

/** What a namespace's injection labels select. */
export type NamespaceSelection =
  /** `istio-injection=enabled`: the default revision; an `istio.io/rev` beside it is ignored. */
  | { kind: 'default'; ignoredRevision?: string }
  /** `istio-injection` with any other value (`disabled`): never injected, whatever else is set. */
  | { kind: 'disabled'; injection: string; ignoredRevision?: string }
  /** `istio.io/rev=<value>` and no `istio-injection`: the revision or tag `value`. */
  | { kind: 'revision'; value: string }
  /**
   * No injection label: the pods' labels decide. With the mesh's
   * enableNamespacesByDefault, pods that name nothing get the default revision.
   */
  | { kind: 'unlabelled'; enabledByDefault: boolean };

/** Mesh settings that change what labels select. */
export interface SelectionSettings {
  /** `sidecarInjectorWebhook.enableNamespacesByDefault`. Default false. */
  enableNamespacesByDefault?: boolean;
}

function ignored(revision: string | undefined): { ignoredRevision?: string } {
  return revision !== undefined ? { ignoredRevision: revision } : {};
}

/** Reads a namespace's labels with Istio's precedence (see the file comment). */
export function namespaceSelection(labels: LabelSet, mesh: SelectionSettings = {}): NamespaceSelection {
  const injection = labels[LABEL_ISTIO_INJECTION];
  const rev = labels[LABEL_ISTIO_REV];
  if (injection !== undefined) {
    return injection === 'enabled' ? { kind: 'default', ...ignored(rev) } : { kind: 'disabled', injection, ...ignored(rev) };
  }
  if (rev !== undefined) return { kind: 'revision', value: rev };
  return { kind: 'unlabelled', enabledByDefault: mesh.enableNamespacesByDefault === true };
}

/**
 * The `from` value a namespace selection stands for: "default"
 * (`istio-injection=enabled`), a revision or tag, or undefined (never
 * injected, or no namespace label).
 */
function selectedValue(selection: NamespaceSelection): string | undefined {
  switch (selection.kind) {
    case 'default':
      return FROM_DEFAULT;
    case 'revision':
      return selection.value;
    default:
      return undefined;
  }
}

/**
 * The `from` value a set of injection labels selects: "default", a
 * revision/tag, or undefined (none, or `istio-injection` not `enabled`).
 * Same answer as policy/migration.ts `sourceOf`, which it replaces.
 */
export function sourceOfLabels(labels: LabelSet): string | undefined {
  return selectedValue(namespaceSelection(labels));
}

/** Which upstream webhook entry selects a pod, and on what. */
export type PodRoute =
  /** Pod label `sidecar.istio.io/inject=false`: no entry's objectSelector matches it. */
  | { kind: 'optedOut' }
  /** Namespace `istio-injection` other than `enabled`. */
  | { kind: 'disabled'; injection: string }
  /** No label on the namespace or the pod selects anything. */
  | { kind: 'none' }
  /** An entry of the default revision selects it. */
  | { kind: 'default'; by: 'namespaceInjection' | 'podInjectLabel' | 'enabledByDefault'; webhook: string; selectedAs: string }
  /** An entry of the revision or tag `value` selects it. */
  | { kind: 'revision'; by: 'namespaceRevision' | 'podRevision'; value: string; webhook: string };

/**
 * Which entry the API server calls for a pod, from the namespace's and the
 * pod's labels alone (DESIGN.md §1 selectors): namespace labels first, then
 * the pod's `istio.io/rev`, then its `sidecar.istio.io/inject=true`, then
 * enableNamespacesByDefault. The injector's own pod rules (annotations,
 * hostNetwork) come after this; see policy/injection.ts.
 */
export function podRoute(nsLabels: LabelSet, podLabels: LabelSet, mesh: SelectionSettings = {}): PodRoute {
  if (podLabels[LABEL_SIDECAR_INJECT] === 'false') return { kind: 'optedOut' };
  const ns = namespaceSelection(nsLabels, mesh);
  switch (ns.kind) {
    case 'disabled':
      return { kind: 'disabled', injection: ns.injection };
    case 'default':
      return { kind: 'default', by: 'namespaceInjection', webhook: WEBHOOK_DEFAULT_NAMESPACE, selectedAs: 'enabled' };
    case 'revision':
      return { kind: 'revision', by: 'namespaceRevision', value: ns.value, webhook: WEBHOOK_REV_NAMESPACE };
    case 'unlabelled': {
      const podRev = podLabels[LABEL_ISTIO_REV];
      if (podRev !== undefined) return { kind: 'revision', by: 'podRevision', value: podRev, webhook: WEBHOOK_REV_OBJECT };
      if (podLabels[LABEL_SIDECAR_INJECT] === 'true') return { kind: 'default', by: 'podInjectLabel', webhook: WEBHOOK_DEFAULT_OBJECT, selectedAs: 'true' };
      // upstream's `auto.` entry: `sidecar.istio.io/inject DoesNotExist` (any value, even "", keeps it out).
      if (ns.enabledByDefault && podLabels[LABEL_SIDECAR_INJECT] === undefined) {
        return { kind: 'default', by: 'enabledByDefault', webhook: WEBHOOK_AUTO, selectedAs: 'default' };
      }
      return { kind: 'none' };
    }
  }
}

/** The `from` value a pod route stands for ("default" for the default revision's entries), or undefined when nothing selects the pod. */
export function routeValue(route: PodRoute): string | undefined {
  if (route.kind === 'default') return FROM_DEFAULT;
  if (route.kind === 'revision') return route.value;
  return undefined;
}

// ---------------------------------------------------------------------------
// Serving

/** Who serves one `istio.io/rev` value. */
export interface ServedValue {
  /** The real revision whose injector is called. */
  revision: string;
  /** Set when the value is a tag of `revision`. */
  tag?: string;
  /** A MeshRevision claim, a foreign webhook configuration (named), or mesh settings given by hand. */
  source: 'claim' | 'webhook' | 'settings';
  /** metadata.name of the foreign webhook configuration, for source `webhook`. */
  configuration?: string;
}

/** The answer to "which revision serves default / a tag / a revision", as plain data. */
export interface Serving {
  /** The revision serving `istio-injection=enabled` (and `from: default`); undefined when none does. */
  defaultRevision: string | undefined;
  /** `istio.io/rev` values (revision names and tags) and who serves each. */
  values: ReadonlyMap<string, ServedValue>;
  /** The revisions are not known (offline): a value nothing lists names a revision of that name. */
  anyRevision: boolean;
}

/** What one MeshRevision serves: the fields of policy/webhooks.ts ClaimDecision this module reads. */
export type ServingClaim = Pick<ClaimDecision, 'revision' | 'servesRevision' | 'holdsDefault' | 'tags'>;

/** What one MutatingWebhookConfiguration says about serving, read from its labels and entry names. */
export interface WebhookServes {
  /** metadata.name. */
  name: string;
  /** meshrev's own: labelled `meshrev.io/meshrevision`. */
  managed: boolean;
  /** Its `istio.io/rev` label: the revision whose injector its entries call. */
  revision?: string;
  /** Its `istio.io/tag` label (istioctl's `istio-revision-tag-<tag>`). */
  tagLabel?: string;
  /** Tags named by `<tag>.rev.{namespace,object}.sidecar-injector.istio.io` entries (meshrev's layout), in entry order. */
  entryTags: string[];
  /** Upstream's default entries present: `namespace.` (istio-injection=enabled) and `object.` (inject=true pods). */
  defaultEntries: { namespace: boolean; object: boolean };
  /** Upstream's `auto.` entry (enableNamespacesByDefault). */
  auto: boolean;
}

/** Reads one webhook configuration (see WebhookServes). */
export function readWebhookConfiguration(cfg: V1MutatingWebhookConfiguration): WebhookServes {
  const labels = cfg.metadata?.labels ?? {};
  const out: WebhookServes = {
    name: cfg.metadata?.name ?? '',
    managed: isMeshrevWebhook(cfg),
    entryTags: [],
    defaultEntries: { namespace: false, object: false },
    auto: false,
  };
  if (labels[LABEL_ISTIO_REV] !== undefined) out.revision = labels[LABEL_ISTIO_REV];
  if (labels[LABEL_ISTIO_TAG] !== undefined) out.tagLabel = labels[LABEL_ISTIO_TAG];
  for (const e of cfg.webhooks ?? []) {
    const tag = tagOfEntryName(e.name);
    if (tag !== undefined) out.entryTags.push(tag);
    if (e.name === WEBHOOK_DEFAULT_NAMESPACE) out.defaultEntries.namespace = true;
    if (e.name === WEBHOOK_DEFAULT_OBJECT) out.defaultEntries.object = true;
    if (e.name === WEBHOOK_AUTO) out.auto = true;
  }
  return out;
}

function isMap<K, V>(x: ReadonlyMap<K, V> | Iterable<V>): x is ReadonlyMap<K, V> {
  return x instanceof Map;
}

/**
 * Serving built from MeshRevision claims and the webhook configurations
 * meshrev does not own (`webhooks` may hold meshrev's own too: they are
 * skipped, their claims say the same).
 *
 * Precedence, first match wins: a serving claim's revision name, then a
 * serving claim's tag, then each foreign configuration in the order given
 * (its `istio.io/rev`, its `istio.io/tag`, its tag entries). The default: the
 * first serving claim holding it, else the first foreign configuration with
 * upstream's default entries. Claims that do not serve their revision (lost a
 * collision) serve nothing. For claims from resolveClaims every value has one
 * holder, so the order among claims never matters there.
 */
export function servingFrom(
  claims: ReadonlyMap<string, ServingClaim> | Iterable<ServingClaim>,
  webhooks: readonly V1MutatingWebhookConfiguration[] = [],
): Serving {
  const serving = [...(isMap(claims) ? claims.values() : claims)].filter((c) => c.servesRevision);
  const values = new Map<string, ServedValue>();
  const add = (value: string, served: ServedValue) => {
    if (!values.has(value)) values.set(value, served);
  };
  for (const c of serving) add(c.revision, { revision: c.revision, source: 'claim' });
  for (const c of serving) for (const tag of c.tags) add(tag, { revision: c.revision, tag, source: 'claim' });
  const holder = serving.find((c) => c.holdsDefault);
  // The default revision's webhooks also serve `istio.io/rev=default` (upstream's default tag).
  if (holder) add(FROM_DEFAULT, { revision: holder.revision, tag: FROM_DEFAULT, source: 'claim' });
  const foreign = webhooks.map(readWebhookConfiguration).filter((w) => !w.managed);
  for (const w of foreign) {
    const revision = w.revision;
    if (revision === undefined) continue;
    for (const value of [revision, ...(w.tagLabel !== undefined ? [w.tagLabel] : []), ...w.entryTags]) {
      add(value, { revision, ...(value !== revision ? { tag: value } : {}), source: 'webhook', configuration: w.name });
    }
  }
  const foreignDefault = holder ? undefined : foreign.find((w) => w.revision !== undefined && (w.defaultEntries.namespace || w.defaultEntries.object));
  const defaultRevision = holder ? holder.revision : foreignDefault?.revision;
  if (foreignDefault?.revision !== undefined) {
    add(FROM_DEFAULT, { revision: foreignDefault.revision, tag: FROM_DEFAULT, source: 'webhook', configuration: foreignDefault.name });
  }
  return { defaultRevision, values, anyRevision: false };
}

/** Revisions, tags and the default given by hand (check-inject's flags, or read from webhook configurations). */
export interface ServingSettings {
  /**
   * The revision that owns `istio-injection=enabled` namespaces and pods labelled
   * `sidecar.istio.io/inject=true`. Default: the revision of tag `default` if
   * there is one, else `default`. `null`: no default revision exists.
   */
  defaultRevision?: string | null;
  /** Revision tags: tag name -> revision. A tag selects its revision's injector. */
  tags?: Readonly<Record<string, string>>;
  /** Revisions that exist. When given, an `istio.io/rev` value that is neither one of them nor a tag is served by nothing. */
  revisions?: readonly string[];
}

/** Serving from settings: a tag beats a revision of the same name; the default honours a `default` tag as newer Istio does. */
export function servingFromSettings(settings: ServingSettings): Serving {
  const values = new Map<string, ServedValue>();
  for (const [tag, revision] of Object.entries(settings.tags ?? {})) values.set(tag, { revision, tag, source: 'settings' });
  for (const revision of settings.revisions ?? []) if (!values.has(revision)) values.set(revision, { revision, source: 'settings' });
  const defaultRevision = settings.defaultRevision === null ? undefined : (settings.defaultRevision ?? settings.tags?.['default'] ?? 'default');
  if (defaultRevision !== undefined && !values.has(FROM_DEFAULT)) values.set(FROM_DEFAULT, { revision: defaultRevision, tag: FROM_DEFAULT, source: 'settings' });
  return { defaultRevision, values, anyRevision: settings.revisions === undefined };
}

/** Who serves an `istio.io/rev` value (a revision name or a tag); undefined when nothing does. */
export function resolveValue(serving: Serving, value: string): ServedValue | undefined {
  return serving.values.get(value) ?? (serving.anyRevision ? { revision: value, source: 'settings' } : undefined);
}

/** The real revision behind a `from` value: "default" → the default revision, a tag → its revision, a revision → itself. */
export function resolveFrom(serving: Serving, from: string): string | undefined {
  return from === FROM_DEFAULT ? serving.defaultRevision : resolveValue(serving, from)?.revision;
}

/** The revision whose injector serves a `from` value ("default", a tag or a revision). */
export type RevisionResolver = (from: string) => string | undefined;

/**
 * resolveFrom over servingFrom(claims, webhooks). Without webhooks it gives
 * the same answers as the MeshRevision controller's resolver over
 * resolveClaims' decisions, which it replaces.
 */
export function resolverFrom(
  claims: ReadonlyMap<string, ServingClaim> | Iterable<ServingClaim>,
  webhooks: readonly V1MutatingWebhookConfiguration[] = [],
): RevisionResolver {
  const serving = servingFrom(claims, webhooks);
  return (from) => resolveFrom(serving, from);
}

/**
 * The claims as the operator last recorded them on each MeshRevision's status
 * (status.defaultRevision, status.activeTags), for the CLI, which reads the
 * cluster rather than deciding. A declared revision counts as served from the
 * start, so a MeshRevision not yet reconciled still resolves its own name.
 */
export function recordedClaims(meshRevisions: readonly MeshRevision[]): ServingClaim[] {
  return meshRevisions.map((m) => ({
    revision: m.spec.revision,
    servesRevision: true,
    holdsDefault: m.status?.defaultRevision === true,
    tags: [...(m.status?.activeTags ?? [])],
  }));
}

/** What `meshrev status` and `plan` resolve with: recorded claims, then foreign webhooks. */
export function recordedResolver(
  meshRevisions: readonly MeshRevision[],
  webhooks: readonly V1MutatingWebhookConfiguration[] = [],
): RevisionResolver {
  return resolverFrom(recordedClaims(meshRevisions), webhooks);
}
