// Label selectors and webhook matching, evaluated exactly as the API server
// does, so the CLI and the MeshRevision controller can predict which
// injectors a pod CREATE calls without creating anything.
//
// Public API (kept small on purpose, other modules build on it):
//   matchesLabelSelector(selector, labels)        one selector vs one label set
//   matchingWebhooks(configs, namespace, pod)     every MWC entry the API server calls
//   coversPodCreate(rules)                        whether an entry's rules cover pod CREATE
//   tagOfEntryName(name)                          the tag of a `<tag>.rev.…` entry name
//   labelSelectorError(selector)                  why the API server would refuse a selector
import type { V1LabelSelector, V1MutatingWebhook, V1MutatingWebhookConfiguration, V1RuleWithOperations } from '@kubernetes/client-node';
import { LABEL_ISTIO_REV, LABEL_ISTIO_TAG, LABEL_NAMESPACE_NAME } from '../api/labels.js';

export type Labels = Readonly<Record<string, string>>;

/**
 * Whether `labels` satisfy `selector`, with Kubernetes semantics: an undefined
 * or empty selector matches everything; matchLabels and every matchExpression
 * must all hold; `NotIn` and `DoesNotExist` hold when the key is absent, `In`
 * and `Exists` do not. An unknown operator matches nothing (the API server
 * rejects such selectors, so failing closed is the safe reading).
 */
export function matchesLabelSelector(selector: V1LabelSelector | undefined | null, labels: Labels | undefined | null): boolean {
  if (!selector) return true;
  const l: Labels = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(l, key) || l[key] !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(l, expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!present || !values.includes(l[expr.key] as string)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(l[expr.key] as string)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  if (!LABEL_NAME_RE.test(name)) return `key "${key}" is not a label key (name: up to 63 letters, digits, '-', '_', '.')`;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN_RE.test(prefix))) return `key "${key}" has an invalid prefix (a DNS subdomain)`;
  return undefined;
}

/**
 * Why Kubernetes' LabelSelectorAsSelector would refuse `selector`, or
 * undefined when it is valid: `In`/`NotIn` need values, `Exists`/`DoesNotExist`
 * take none, operators are those four, keys and matchLabels values are label
 * syntax. istiod skips a never/always-inject selector it cannot convert
 * (pkg/kube/inject/inject.go injectRequired), so a refused one must not match.
 */
export function labelSelectorError(selector: V1LabelSelector): string | undefined {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const e = labelKeyError(key);
    if (e) return `matchLabels: ${e}`;
    if (value !== '' && !LABEL_NAME_RE.test(value)) return `matchLabels: value "${value}" of "${key}" is not a label value`;
  }
  for (const [i, expr] of (selector.matchExpressions ?? []).entries()) {
    const where = `matchExpressions[${i}]`;
    if (typeof expr.key !== 'string') return `${where}: key must be a string`;
    if (expr.values !== undefined && !(Array.isArray(expr.values) && expr.values.every((v) => typeof v === 'string'))) return `${where}: values must be a list of strings`;
    const e = labelKeyError(expr.key);
    if (e) return `${where}: ${e}`;
    const n = expr.values?.length ?? 0;
    if ((expr.operator === 'In' || expr.operator === 'NotIn') && n === 0) return `${where}: operator ${expr.operator} needs at least one value`;
    if ((expr.operator === 'Exists' || expr.operator === 'DoesNotExist') && n > 0) return `${where}: operator ${expr.operator} takes no values`;
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(expr.operator)) return `${where}: unknown operator "${expr.operator}" (In, NotIn, Exists, DoesNotExist)`;
  }
  return undefined;
}

/** No matchLabels and no matchExpressions: Kubernetes reads it as "everything", which istiod's selector lists skip. */
export function isEmptyLabelSelector(selector: V1LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}

/** A namespace as webhook selectors see it. */
export interface NamespaceRef {
  name: string;
  labels?: Labels;
}

/**
 * The namespace's labels plus `kubernetes.io/metadata.name`, which the API
 * server puts on every namespace; selectors (e.g. upstream's `auto.` entry)
 * may rely on it even when a caller only knows the labels a user set.
 */
function namespaceLabelsAsSeenByWebhooks(ns: NamespaceRef): Labels {
  return { ...(ns.labels ?? {}), [LABEL_NAMESPACE_NAME]: ns.name };
}

/** One webhook entry of a MutatingWebhookConfiguration that the API server would call. */
export interface WebhookEntryRef {
  /** metadata.name of the MutatingWebhookConfiguration. */
  configName: string;
  /** The entry's name, e.g. `rev.namespace.sidecar-injector.istio.io`. */
  webhookName: string;
  /** The configuration's `istio.io/rev` label: the revision whose injector serves it (undefined if unlabelled). */
  revision?: string;
  /**
   * The tag the entry selects on: the configuration's `istio.io/tag` label
   * (upstream: one MWC per tag), or the `<tag>.` prefix of a
   * `<tag>.rev.{namespace,object}.sidecar-injector.istio.io` entry (meshrev:
   * a revision's MWC carries its tags' entries).
   */
  tag?: string;
  /** Where the API server sends the request: `clientConfig.url`, or `service namespace/name[:port][path]`. */
  endpoint: string;
}

/**
 * Whether an entry's rules cover a pod CREATE (group "", version v1, resource
 * "pods"). Entries with no rules are never called.
 */
export function coversPodCreate(rules: readonly V1RuleWithOperations[] | undefined): boolean {
  return (rules ?? []).some((r) =>
    (r.operations ?? []).some((o) => o === 'CREATE' || o === '*') &&
    (r.apiGroups ?? []).some((g) => g === '' || g === '*') &&
    (r.apiVersions ?? []).some((v) => v === 'v1' || v === '*') &&
    (r.resources ?? []).some((res) => res === 'pods' || res === '*' || res === '*/*') &&
    (r.scope === undefined || r.scope === '*' || r.scope === 'Namespaced'));
}

const TAG_ENTRY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.rev\.(namespace|object)\.sidecar-injector\.istio\.io$/;

/** The tag named by a meshrev tag entry's name, if it is one. */
export function tagOfEntryName(name: string): string | undefined {
  return TAG_ENTRY_RE.exec(name)?.[1];
}

function endpointOf(w: V1MutatingWebhook): string {
  const cc = w.clientConfig;
  if (cc?.url) return cc.url;
  const s = cc?.service;
  if (s) return `service ${s.namespace}/${s.name}${s.port !== undefined ? `:${s.port}` : ''}${s.path ?? ''}`;
  return '(no clientConfig)';
}

/**
 * Every webhook entry the API server calls when `pod` is created in
 * `namespace`: entries whose rules cover pod CREATE and whose
 * namespaceSelector and objectSelector both match. Order follows the input
 * (the API server calls mutating webhooks in name order; sort the configs if
 * the order matters to you).
 */
export function matchingWebhooks(
  configs: readonly V1MutatingWebhookConfiguration[],
  namespace: NamespaceRef,
  pod: { labels?: Labels },
): WebhookEntryRef[] {
  const nsLabels = namespaceLabelsAsSeenByWebhooks(namespace);
  const out: WebhookEntryRef[] = [];
  for (const cfg of configs) {
    const cfgLabels = cfg.metadata?.labels ?? {};
    for (const w of cfg.webhooks ?? []) {
      if (!coversPodCreate(w.rules)) continue;
      if (!matchesLabelSelector(w.namespaceSelector, nsLabels)) continue;
      if (!matchesLabelSelector(w.objectSelector, pod.labels)) continue;
      const ref: WebhookEntryRef = { configName: cfg.metadata?.name ?? '', webhookName: w.name, endpoint: endpointOf(w) };
      const rev = cfgLabels[LABEL_ISTIO_REV];
      const tag = cfgLabels[LABEL_ISTIO_TAG] ?? tagOfEntryName(w.name);
      if (rev !== undefined) ref.revision = rev;
      if (tag !== undefined) ref.tag = tag;
      out.push(ref);
    }
  }
  return out;
}
