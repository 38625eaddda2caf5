// Pure policy: which MeshRevision holds which `istio.io/rev` value and the
// default (resolveClaims), and the MutatingWebhookConfiguration each one
// should have (desiredWebhookConfiguration). No I/O.
//
// Shape of what we produce, and why:
// - One MWC per MeshRevision, named `meshrev-sidecar-injector-<revision>`,
//   labelled like upstream's (`app=sidecar-injector`, `istio.io/rev=<rev>`) so
//   istiod patches its caBundle and istioctl finds it as the revision's
//   canonical webhook (istioctl selects `istio.io/rev=<rev>,!istio.io/tag`).
// - It holds the revision's two entries under upstream's names, the default
//   entries under upstream's names when the revision holds the default, and
//   two entries per tag. The default revision also serves the `default` tag
//   (`istio.io/rev=default`), as upstream's chart does for the non-revisioned
//   install and for `istio-revision-tag-default`, and with
//   spec.enableNamespacesByDefault upstream's `auto.` entry. Every entry's
//   selectors equal the chart's, entry by entry (test/unit/policy/webhooks.test.ts
//   compares them with Istio's own render in test/fixtures/istio-chart). Upstream puts each tag in its own MWC
//   (`istio-revision-tag-<tag>`, labelled `istio.io/tag=<tag>`) and so reuses
//   the `rev.namespace.` / `rev.object.` names; in one MWC names must be unique,
//   so tag entries are `<tag>.rev.namespace.sidecar-injector.istio.io` and
//   `<tag>.rev.object.sidecar-injector.istio.io`. The names keep the
//   `sidecar-injector.istio.io` suffix because that is what istiod matches
//   when it patches caBundle, and what istioctl matches to find injector
//   entries. A tag is a DNS-1123 label, so the prefix never contains a dot and
//   selectors.ts `tagOfEntryName` parses it back.
// - No `istio.io/tag` label: it is per MWC and one MWC carries several tags;
//   putting it there would also make istioctl take the revision's own MWC for
//   a tag webhook. Tag entries are identified by name.
import type {
  V1LabelSelector,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
  V1OwnerReference,
} from '@kubernetes/client-node';
import {
  LABEL_APP,
  LABEL_APP_SIDECAR_INJECTOR,
  LABEL_ISTIO_INJECTION,
  LABEL_ISTIO_REV,
  LABEL_ISTIO_TAG,
  LABEL_MANAGED_BY,
  LABEL_MANAGED_BY_MESHREVISION,
  LABEL_SIDECAR_INJECT,
  MANAGED_BY_VALUE,
  LABEL_NAMESPACE_NAME,
  WEBHOOK_AUTO,
  WEBHOOK_DEFAULT_NAMESPACE,
  WEBHOOK_DEFAULT_OBJECT,
  WEBHOOK_REV_NAMESPACE,
  WEBHOOK_REV_OBJECT,
} from '../api/labels.js';
import {
  API_VERSION,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_INJECTOR_NAMESPACE,
  DEFAULT_INJECTOR_PATH,
  DEFAULT_INJECTOR_PORT,
  DEFAULT_TIMEOUT_SECONDS,
  KIND,
  REASON_DEFAULT_CLAIMED_ELSEWHERE,
  REASON_REVISION_COLLISION,
  REASON_TAG_COLLISION,
  RESERVED_TAG_DEFAULT,
  type MeshRevision,
} from '../api/meshrevision.js';
import { INJECTOR_IGNORED_NAMESPACES } from './injection.js';
import { coversPodCreate, matchingWebhooks, tagOfEntryName, type Labels, type NamespaceRef } from './selectors.js';

const MWC_NAME_PREFIX = 'meshrev-sidecar-injector-';

/**
 * Whether meshrev wrote this webhook configuration. meshrev always sets both of its labels
 * (see desiredWebhookConfiguration); either one counts, so a configuration that lost one
 * is still never taken for a chart's or istioctl's. The one definition: adoption, routing
 * and the foreign-webhook conflict check all ask here.
 */
export function isMeshrevWebhook(cfg: Pick<V1MutatingWebhookConfiguration, 'metadata'>): boolean {
  const labels = cfg.metadata?.labels ?? {};
  return labels[LABEL_MANAGED_BY_MESHREVISION] !== undefined || labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE;
}

/** The MWC meshrev applies for a revision. Deterministic, so a restarted operator finds its own object. */
export function webhookConfigurationName(revision: string): string {
  return `${MWC_NAME_PREFIX}${revision}`;
}

/** Names of a tag's two entries. */
function tagWebhookNames(tag: string): { namespace: string; object: string } {
  return { namespace: `${tag}.${WEBHOOK_REV_NAMESPACE}`, object: `${tag}.${WEBHOOK_REV_OBJECT}` };
}

export type EntryKind = 'revision' | 'tag' | 'default';

/** What a webhook entry name means (for the CLI and for reading an MWC back). Undefined for names we don't produce. */
export function describeEntry(name: string): { kind: EntryKind; selects: 'namespace' | 'object'; tag?: string } | undefined {
  if (name === WEBHOOK_REV_NAMESPACE) return { kind: 'revision', selects: 'namespace' };
  if (name === WEBHOOK_REV_OBJECT) return { kind: 'revision', selects: 'object' };
  if (name === WEBHOOK_DEFAULT_NAMESPACE) return { kind: 'default', selects: 'namespace' };
  if (name === WEBHOOK_DEFAULT_OBJECT) return { kind: 'default', selects: 'object' };
  if (name === WEBHOOK_AUTO) return { kind: 'default', selects: 'namespace' };
  const tag = tagOfEntryName(name);
  if (tag !== undefined) return { kind: 'tag', selects: name.endsWith(`.${WEBHOOK_REV_NAMESPACE}`) ? 'namespace' : 'object', tag };
  return undefined;
}

// ---------------------------------------------------------------------------
// Selectors, exactly as upstream Istio's chart renders them (DESIGN.md §1).

/** `sidecar.istio.io/inject NotIn [false]`: the pod has not opted out. A fresh object each time, so callers may mutate. */
const notOptedOut = () => ({ key: LABEL_SIDECAR_INJECT, operator: 'NotIn', values: ['false'] });

/** `rev.namespace.`: the namespace is labelled `istio.io/rev=<value>` and has no istio-injection label. */
function revisionNamespaceSelectors(value: string): { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector } {
  return {
    namespaceSelector: {
      matchExpressions: [
        { key: LABEL_ISTIO_REV, operator: 'In', values: [value] },
        { key: LABEL_ISTIO_INJECTION, operator: 'DoesNotExist' },
      ],
    },
    objectSelector: { matchExpressions: [notOptedOut()] },
  };
}

/** `rev.object.`: the namespace has neither label and the pod is labelled `istio.io/rev=<value>`. */
function revisionObjectSelectors(value: string): { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector } {
  return {
    namespaceSelector: {
      matchExpressions: [
        { key: LABEL_ISTIO_REV, operator: 'DoesNotExist' },
        { key: LABEL_ISTIO_INJECTION, operator: 'DoesNotExist' },
      ],
    },
    objectSelector: {
      matchExpressions: [
        notOptedOut(),
        { key: LABEL_ISTIO_REV, operator: 'In', values: [value] },
      ],
    },
  };
}

/** `namespace.`: the namespace is labelled `istio-injection=enabled`. Default revision only. */
function defaultNamespaceSelectors(): { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector } {
  return {
    namespaceSelector: { matchExpressions: [{ key: LABEL_ISTIO_INJECTION, operator: 'In', values: ['enabled'] }] },
    objectSelector: { matchExpressions: [notOptedOut()] },
  };
}

/** `object.`: no namespace label, the pod opts in with `sidecar.istio.io/inject=true` and names no revision. Default revision only. */
function defaultObjectSelectors(): { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector } {
  return {
    namespaceSelector: {
      matchExpressions: [
        { key: LABEL_ISTIO_INJECTION, operator: 'DoesNotExist' },
        { key: LABEL_ISTIO_REV, operator: 'DoesNotExist' },
      ],
    },
    objectSelector: {
      matchExpressions: [
        { key: LABEL_SIDECAR_INJECT, operator: 'In', values: ['true'] },
        { key: LABEL_ISTIO_REV, operator: 'DoesNotExist' },
      ],
    },
  };
}

/**
 * `auto.` (sidecarInjectorWebhook.enableNamespacesByDefault): the namespace has
 * neither label and is not one istiod ignores, and the pod has neither
 * `sidecar.istio.io/inject` (any value) nor `istio.io/rev`. Default revision only.
 */
function autoSelectors(): { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector } {
  return {
    namespaceSelector: {
      matchExpressions: [
        { key: LABEL_ISTIO_INJECTION, operator: 'DoesNotExist' },
        { key: LABEL_ISTIO_REV, operator: 'DoesNotExist' },
        { key: LABEL_NAMESPACE_NAME, operator: 'NotIn', values: [...INJECTOR_IGNORED_NAMESPACES] },
      ],
    },
    objectSelector: {
      matchExpressions: [
        { key: LABEL_SIDECAR_INJECT, operator: 'DoesNotExist' },
        { key: LABEL_ISTIO_REV, operator: 'DoesNotExist' },
      ],
    },
  };
}

// ---------------------------------------------------------------------------
// Claims: who holds which `istio.io/rev` value, and the default.

/** A claim this MeshRevision made that another one holds. Reported on its status; see the REASON_* docs. */
export interface ClaimConflict {
  reason: typeof REASON_DEFAULT_CLAIMED_ELSEWHERE | typeof REASON_TAG_COLLISION | typeof REASON_REVISION_COLLISION;
  /** The spec field to change, e.g. `spec.tags`. */
  field: string;
  /** The contested value: the revision or tag name, or `default`. */
  value: string;
  /** metadata.name of the MeshRevision that holds it. */
  holder: string;
  /** What happened and what to do. */
  message: string;
}

/** What one MeshRevision may serve, given all the others. */
export interface ClaimDecision {
  /** metadata.name of the MeshRevision. */
  name: string;
  revision: string;
  /** It holds its own revision name. When false it gets no MWC at all (desiredWebhookConfiguration returns undefined). */
  servesRevision: boolean;
  /** It holds the default: its MWC carries the istio-injection entries. */
  holdsDefault: boolean;
  /** Tags whose entries go into its MWC, sorted. */
  tags: string[];
  /** Claims lost to another MeshRevision, in spec order (revision, tags, default). */
  conflicts: ClaimConflict[];
}

function creationMillis(m: MeshRevision): number {
  const ts = m.metadata.creationTimestamp;
  if (ts === undefined) return Number.POSITIVE_INFINITY; // e.g. read from a file: after everything the server has seen
  const ms = new Date(ts).getTime();
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

function nameOf(m: MeshRevision): string {
  return m.metadata.name ?? '';
}

/** Order of claimants when nothing is recorded: oldest first, then by name. Total, so the result never depends on list order. */
function compareAge(a: MeshRevision, b: MeshRevision): number {
  const d = creationMillis(a) - creationMillis(b);
  if (d !== 0 && !Number.isNaN(d)) return d < 0 ? -1 : 1;
  const na = nameOf(a);
  const nb = nameOf(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function uniqueTags(m: MeshRevision): string[] {
  return [...new Set((m.spec?.tags ?? []).filter((t) => typeof t === 'string' && t !== ''))];
}

/** Status says this MeshRevision serves its revision (it was granted before and its MWC applied). */
function recordsRevision(m: MeshRevision): boolean {
  return m.status?.webhookConfiguration === webhookConfigurationName(m.spec.revision);
}

interface ValueClaim {
  owner: MeshRevision;
  kind: 'revision' | 'tag';
  value: string;
  recorded: boolean;
}

function describeHolder(holder: MeshRevision): string {
  return `MeshRevision "${nameOf(holder)}" (revision ${holder.spec.revision})`;
}

/**
 * Decides, for every MeshRevision in the cluster, what it may serve.
 *
 * Every `istio.io/rev` value (a revision name or a tag) and the default are
 * held by at most one MeshRevision, otherwise two webhooks would inject the
 * same pod. The first claimant keeps a claim: "first" is, in order,
 *   1. the one whose status records holding it (status.webhookConfiguration
 *      for its revision, status.activeTags for a tag, status.defaultRevision
 *      for the default) — so a claim never moves because someone else shows
 *      up, whatever the creation times say;
 *   2. the oldest creationTimestamp (none, as in a file, counts as newest);
 *   3. the smaller metadata.name.
 * Revision names and tags share one namespace of values, as in upstream
 * (istioctl refuses a tag named like an existing revision), and the same rule
 * decides between them: a newer tag does not hijack a revision's namespaces,
 * and a newer revision does not hijack a tag's.
 *
 * A MeshRevision that loses its own revision name serves nothing (its MWC
 * name would clash, and its tags and default would point at a revision we do
 * not configure); its tag and default claims are withdrawn, not counted
 * against others. A MeshRevision that loses a tag or the default keeps
 * everything else exactly as it was: the failed claim changes nothing about
 * its webhooks, and it is reported (Ready=False, Stalled=True) with a message
 * naming the holder. When the holder lets go, the next claimant gets it on the
 * next resolution.
 *
 * MeshRevisions being deleted still hold their claims: their webhooks stay
 * until their finalizer removes them.
 */
export function resolveClaims(all: readonly MeshRevision[]): Map<string, ClaimDecision> {
  const decisions = new Map<string, ClaimDecision>();
  const valid = all.filter((m) => typeof m.spec?.revision === 'string' && m.spec.revision !== '');
  for (const m of all) {
    decisions.set(nameOf(m), {
      name: nameOf(m),
      revision: m.spec?.revision ?? '',
      servesRevision: false,
      holdsDefault: false,
      tags: [],
      conflicts: [],
    });
  }

  // Greedy over all value claims in precedence order. A revision claim sorts
  // before the same owner's tag claims (a tag counts as recorded only if its
  // owner's revision does), so an owner's revision is decided before its tags.
  const claims: ValueClaim[] = [];
  for (const m of valid) {
    const revRecorded = recordsRevision(m);
    claims.push({ owner: m, kind: 'revision', value: m.spec.revision, recorded: revRecorded });
    const active = new Set(m.status?.activeTags ?? []);
    for (const tag of uniqueTags(m)) {
      // A tag equal to its own revision is a spec error (validation); it never claims anything.
      if (tag === m.spec.revision) continue;
      claims.push({ owner: m, kind: 'tag', value: tag, recorded: revRecorded && active.has(tag) });
    }
  }
  claims.sort((a, b) => {
    if (a.recorded !== b.recorded) return a.recorded ? -1 : 1;
    const age = compareAge(a.owner, b.owner);
    if (age !== 0) return age;
    if (a.kind !== b.kind) return a.kind === 'revision' ? -1 : 1;
    return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  });

  const holders = new Map<string, ValueClaim>();
  const lost: { claim: ValueClaim; holder: ValueClaim }[] = [];
  for (const c of claims) {
    const decision = decisions.get(nameOf(c.owner))!;
    if (c.kind === 'tag' && !decision.servesRevision) continue; // withdrawn with its revision
    const held = holders.get(c.value);
    if (held === undefined) {
      holders.set(c.value, c);
      if (c.kind === 'revision') decision.servesRevision = true;
      else decision.tags.push(c.value);
    } else {
      lost.push({ claim: c, holder: held });
    }
  }
  for (const { claim, holder } of lost) {
    decisions.get(nameOf(claim.owner))!.conflicts.push(valueConflict(claim, holder));
  }

  decideDefault(valid, decisions);

  for (const d of decisions.values()) {
    d.tags.sort();
    d.conflicts.sort((a, b) => conflictRank(a) - conflictRank(b) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }
  return decisions;
}

/** The default: among those serving their revision and asking for it, the one that holds it already, else the oldest; the others get a conflict. */
function decideDefault(valid: readonly MeshRevision[], decisions: Map<string, ClaimDecision>): void {
  const defaultClaimants = valid
    .filter((m) => m.spec.default === true && decisions.get(nameOf(m))!.servesRevision)
    .sort((a, b) => {
      const ra = a.status?.defaultRevision === true;
      const rb = b.status?.defaultRevision === true;
      if (ra !== rb) return ra ? -1 : 1;
      return compareAge(a, b);
    });
  const defaultHolder = defaultClaimants[0];
  if (defaultHolder !== undefined) {
    decisions.get(nameOf(defaultHolder))!.holdsDefault = true;
    for (const m of defaultClaimants.slice(1)) {
      decisions.get(nameOf(m))!.conflicts.push({
        reason: REASON_DEFAULT_CLAIMED_ELSEWHERE,
        field: 'spec.default',
        value: 'default',
        holder: nameOf(defaultHolder),
        message:
          `spec.default: ${describeHolder(defaultHolder)} already holds the default revision ` +
          `(istio-injection=enabled namespaces); this MeshRevision's webhooks were left unchanged. ` +
          `To move the default here, set spec.default: false on "${nameOf(defaultHolder)}".`,
      });
    }
  }
}

function conflictRank(c: ClaimConflict): number {
  return c.reason === REASON_REVISION_COLLISION ? 0 : c.reason === REASON_TAG_COLLISION ? 1 : 2;
}

function valueConflict(claim: ValueClaim, holder: ValueClaim): ClaimConflict {
  const who = describeHolder(holder.owner);
  const holderName = nameOf(holder.owner);
  if (claim.kind === 'revision') {
    const message =
      holder.kind === 'revision'
        ? `spec.revision: revision "${claim.value}" is already configured by ${who}; ` +
          `this MeshRevision gets no webhooks. Delete it (spec.revision is immutable) or delete "${holderName}".`
        : `spec.revision: "${claim.value}" is already a tag of ${who}, whose webhooks inject istio.io/rev=${claim.value} ` +
          `workloads; this MeshRevision gets no webhooks until "${claim.value}" is removed from spec.tags of "${holderName}".`;
    return { reason: REASON_REVISION_COLLISION, field: 'spec.revision', value: claim.value, holder: holderName, message };
  }
  const message =
    holder.kind === 'revision'
      ? `spec.tags: tag "${claim.value}" is the revision name of ${who}; a tag cannot reuse a revision name. ` +
        `Its webhook entries were not added here; remove "${claim.value}" from spec.tags.`
      : `spec.tags: tag "${claim.value}" is already held by ${who}. Its webhook entries were not added here; ` +
        `remove "${claim.value}" from spec.tags of this MeshRevision or of "${holderName}".`;
  return { reason: REASON_TAG_COLLISION, field: 'spec.tags', value: claim.value, holder: holderName, message };
}

// ---------------------------------------------------------------------------
// The desired MWC.

function entry(
  name: string,
  selectors: { namespaceSelector: V1LabelSelector; objectSelector: V1LabelSelector },
  common: Omit<V1MutatingWebhook, 'name' | 'namespaceSelector' | 'objectSelector'>,
): V1MutatingWebhook {
  return {
    name,
    clientConfig: structuredClone(common.clientConfig),
    rules: structuredClone(common.rules),
    sideEffects: common.sideEffects,
    admissionReviewVersions: [...common.admissionReviewVersions],
    failurePolicy: common.failurePolicy,
    timeoutSeconds: common.timeoutSeconds,
    namespaceSelector: selectors.namespaceSelector,
    objectSelector: selectors.objectSelector,
  };
}

/**
 * The MWC meshrev server-side-applies for `mrev`, given its ClaimDecision.
 * Returns undefined when the MeshRevision does not hold its revision name: the
 * operator must then neither apply nor delete that MWC name (it may be the
 * holder's).
 *
 * Only fields meshrev owns are set: no caBundle unless the spec gives one (so
 * istiod's patching is never fought), no server-defaulted fields
 * (matchPolicy, reinvocationPolicy, rule scope) — server-side apply then owns
 * exactly what we set.
 */
export function desiredWebhookConfiguration(
  mrev: MeshRevision,
  decision: ClaimDecision,
): V1MutatingWebhookConfiguration | undefined {
  const { revision, injector } = mrev.spec;
  // Without an injector (External webhooks) meshrev writes no configuration.
  if (!decision.servesRevision || !injector) return undefined;
  const clientConfig: V1MutatingWebhook['clientConfig'] =
    injector.url !== undefined
      ? { url: injector.url }
      : {
          service: {
            name: injector.service?.name ?? '',
            namespace: injector.service?.namespace ?? DEFAULT_INJECTOR_NAMESPACE,
            port: injector.service?.port ?? DEFAULT_INJECTOR_PORT,
            path: injector.service?.path ?? DEFAULT_INJECTOR_PATH,
          },
        };
  if (injector.caBundle !== undefined && injector.caBundle !== '') clientConfig.caBundle = injector.caBundle;

  const common = {
    clientConfig,
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: injector.failurePolicy ?? DEFAULT_FAILURE_POLICY,
    timeoutSeconds: injector.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
  };

  const webhooks: V1MutatingWebhook[] = [
    entry(WEBHOOK_REV_NAMESPACE, revisionNamespaceSelectors(revision), common),
    entry(WEBHOOK_REV_OBJECT, revisionObjectSelectors(revision), common),
  ];
  if (decision.holdsDefault) {
    webhooks.push(entry(WEBHOOK_DEFAULT_NAMESPACE, defaultNamespaceSelectors(), common));
    webhooks.push(entry(WEBHOOK_DEFAULT_OBJECT, defaultObjectSelectors(), common));
    if (mrev.spec.enableNamespacesByDefault === true) webhooks.push(entry(WEBHOOK_AUTO, autoSelectors(), common));
    const names = tagWebhookNames(RESERVED_TAG_DEFAULT);
    webhooks.push(entry(names.namespace, revisionNamespaceSelectors(RESERVED_TAG_DEFAULT), common));
    webhooks.push(entry(names.object, revisionObjectSelectors(RESERVED_TAG_DEFAULT), common));
  }
  for (const tag of [...decision.tags].sort()) {
    const names = tagWebhookNames(tag);
    webhooks.push(entry(names.namespace, revisionNamespaceSelectors(tag), common));
    webhooks.push(entry(names.object, revisionObjectSelectors(tag), common));
  }

  const ownerReferences: V1OwnerReference[] | undefined =
    mrev.metadata.uid !== undefined && mrev.metadata.name !== undefined
      ? [{ apiVersion: API_VERSION, kind: KIND, name: mrev.metadata.name, uid: mrev.metadata.uid, controller: true }]
      : undefined;

  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: webhookConfigurationName(revision),
      labels: {
        [LABEL_APP]: LABEL_APP_SIDECAR_INJECTOR,
        [LABEL_ISTIO_REV]: revision,
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_MANAGED_BY_MESHREVISION]: mrev.metadata.name ?? '',
      },
      // Garbage collection removes the MWC should the finalizer ever be bypassed.
      ...(ownerReferences ? { ownerReferences } : {}),
    },
    webhooks,
  };
}

// ---------------------------------------------------------------------------
// Webhooks meshrev does not manage that would inject the same pods.

/** A MutatingWebhookConfiguration not managed by meshrev that duplicates part of what a MeshRevision serves. */
export interface ForeignWebhookConflict {
  /** metadata.name of the foreign MWC. */
  name: string;
  /** Why it overlaps: its istio.io/rev or istio.io/tag label, or the pods its entries would also inject. */
  why: string;
}

/** A kind of pod a MeshRevision's webhooks inject, as the labels that select it. */
interface Path {
  what: string;
  namespace: NamespaceRef;
  pod: { labels: Labels };
}

const PROBE_NAMESPACE = 'meshrev-probe';

/** One representative pod per selector path `decision`'s MWC serves (revision, tags, `default`, istio-injection=enabled, inject=true). */
function servedPaths(decision: ClaimDecision): Path[] {
  const values = [decision.revision, ...decision.tags, ...(decision.holdsDefault ? [RESERVED_TAG_DEFAULT] : [])];
  const paths = values.flatMap((v): Path[] => [
    { what: `${LABEL_ISTIO_REV}=${v} namespaces`, namespace: { name: PROBE_NAMESPACE, labels: { [LABEL_ISTIO_REV]: v } }, pod: { labels: {} } },
    { what: `${LABEL_ISTIO_REV}=${v} pods`, namespace: { name: PROBE_NAMESPACE }, pod: { labels: { [LABEL_ISTIO_REV]: v } } },
  ]);
  if (decision.holdsDefault) {
    paths.push(
      { what: `${LABEL_ISTIO_INJECTION}=enabled namespaces`, namespace: { name: PROBE_NAMESPACE, labels: { [LABEL_ISTIO_INJECTION]: 'enabled' } }, pod: { labels: {} } },
      { what: `${LABEL_SIDECAR_INJECT}=true pods`, namespace: { name: PROBE_NAMESPACE }, pod: { labels: { [LABEL_SIDECAR_INJECT]: 'true' } } },
    );
  }
  return paths;
}

/** The sidecar-injector entries of a configuration that cover pod CREATE (other admission webhooks never count). */
function injectorEntries(cfg: V1MutatingWebhookConfiguration): V1MutatingWebhookConfiguration {
  return { ...cfg, webhooks: (cfg.webhooks ?? []).filter((w) => w.name.endsWith(INJECTOR_ENTRY_SUFFIX) && coversPodCreate(w.rules)) };
}

const INJECTOR_ENTRY_SUFFIX = 'sidecar-injector.istio.io';

/**
 * MWCs not managed by meshrev (not labelled managed-by=meshrev: istiod's Helm
 * chart, `istioctl tag set`, a leftover of an old install) that would also
 * inject pods `decision` serves, so a pod would have two injection paths
 * (DESIGN.md §1): report ChartWebhookConflict, never delete someone else's
 * object. Found two ways: by labels (`istio.io/rev=<revision>` on a
 * non-tag MWC, or `istio.io/tag=<tag>` for a tag it serves, `default` when it
 * holds the default), and by what the foreign injector entries' selectors
 * select — one representative pod per path this revision serves — which also
 * catches the non-revisioned `istio-sidecar-injector` (labelled
 * `istio.io/rev=default`, or not at all on old installs) next to the default
 * revision.
 */
export function foreignWebhookConflicts(
  decision: ClaimDecision,
  configs: readonly V1MutatingWebhookConfiguration[],
): ForeignWebhookConflict[] {
  if (!decision.servesRevision) return [];
  const tags = new Set(decision.tags);
  if (decision.holdsDefault) tags.add(RESERVED_TAG_DEFAULT);
  const paths = servedPaths(decision);
  const out: ForeignWebhookConflict[] = [];
  for (const cfg of configs) {
    if (isMeshrevWebhook(cfg)) continue;
    const labels = cfg.metadata?.labels ?? {};
    const name = cfg.metadata?.name ?? '';
    const rev = labels[LABEL_ISTIO_REV];
    const tag = labels[LABEL_ISTIO_TAG];
    if (tag !== undefined && tags.has(tag)) {
      out.push({ name, why: `${LABEL_ISTIO_TAG}=${tag}` });
    } else if (tag === undefined && rev === decision.revision) {
      out.push({ name, why: `${LABEL_ISTIO_REV}=${rev}` });
    } else {
      const injector = [injectorEntries(cfg)];
      const also = paths.filter((p) => matchingWebhooks(injector, p.namespace, p.pod).length > 0).map((p) => p.what);
      if (also.length > 0) out.push({ name, why: `its entries also inject ${also.join(', ')}` });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
