// No-op detection for a revision's MutatingWebhookConfiguration: whether
// applying the desired configuration would change the stored one, so a resync
// with nothing to do writes nothing. No I/O.
import type { V1LabelSelector, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { DEFAULT_FAILURE_POLICY, DEFAULT_INJECTOR_PORT, DEFAULT_TIMEOUT_SECONDS } from '../../api/meshrevision.js';
import { describeEntry } from '../webhooks.js';
import { isObject, quote } from './fields.js';

export interface CompareOptions {
  /**
   * The operator's server-side-apply field manager. When given, managedFields
   * tell which entries and caBundles we own, so an entry or caBundle we set
   * earlier and no longer want is seen as a difference. Without it, entries
   * whose names meshrev produces count as ours and caBundle is never compared
   * unless desired.
   */
  fieldManager?: string;
}

interface Owned {
  entries: Set<string>;
  caBundle: Set<string>;
}

/** What `fieldManager` owns in the MWC's webhooks, from managedFields (FieldsV1). */
function ownedByManager(existing: V1MutatingWebhookConfiguration, manager: string): Owned | undefined {
  const entries = existing.metadata?.managedFields?.filter((m) => m.manager === manager && m.operation === 'Apply');
  if (!entries || entries.length === 0) return undefined;
  const owned: Owned = { entries: new Set(), caBundle: new Set() };
  for (const mf of entries) {
    const webhooks = (mf.fieldsV1 as Record<string, unknown> | undefined)?.['f:webhooks'];
    if (!isObject(webhooks)) continue;
    for (const [key, fields] of Object.entries(webhooks)) {
      if (!key.startsWith('k:')) continue;
      let name: unknown;
      try {
        name = (JSON.parse(key.slice(2)) as Record<string, unknown>)['name'];
      } catch {
        continue;
      }
      if (typeof name !== 'string') continue;
      owned.entries.add(name);
      const cc = isObject(fields) ? fields['f:clientConfig'] : undefined;
      if (isObject(cc) && 'f:caBundle' in cc) owned.caBundle.add(name);
    }
  }
  return owned;
}

/** A selector in a canonical form: the API server keeps `{}`, nil and empty lists apart; they select the same. */
function normSelector(s: V1LabelSelector | undefined): unknown {
  const labels = s?.matchLabels ?? {};
  const sortedLabels = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const exprs = (s?.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] }));
  return { matchLabels: sortedLabels, matchExpressions: exprs };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The fields of an entry meshrev sets, with the server's defaults filled in (port 443, Fail, 10s). */
function comparable(w: V1MutatingWebhook, withCaBundle: boolean): Record<string, unknown> {
  const svc = w.clientConfig?.service;
  return {
    url: w.clientConfig?.url ?? null,
    service: svc ? { name: svc.name, namespace: svc.namespace, path: svc.path ?? null, port: svc.port ?? DEFAULT_INJECTOR_PORT } : null,
    caBundle: withCaBundle ? (w.clientConfig?.caBundle ?? '') : null,
    // scope is server-defaulted and not ours: left out.
    rules: (w.rules ?? []).map((r) => ({
      operations: r.operations ?? [],
      apiGroups: r.apiGroups ?? [],
      apiVersions: r.apiVersions ?? [],
      resources: r.resources ?? [],
    })),
    sideEffects: w.sideEffects,
    admissionReviewVersions: w.admissionReviewVersions ?? [],
    failurePolicy: w.failurePolicy ?? DEFAULT_FAILURE_POLICY,
    timeoutSeconds: w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    namespaceSelector: normSelector(w.namespaceSelector),
    objectSelector: normSelector(w.objectSelector),
  };
}

/**
 * Why applying `desired` would change `existing`; empty when it would not (a
 * no-op resync must write nothing). Ignores what meshrev does not set:
 * server-defaulted fields (matchPolicy, reinvocationPolicy, rule scope,
 * namespaceSelector/objectSelector `{}`), caBundle when the spec gives none
 * (istiod's), labels, annotations and entries added by others.
 */
export function webhookConfigurationDiff(
  existing: V1MutatingWebhookConfiguration | undefined,
  desired: V1MutatingWebhookConfiguration,
  opts: CompareOptions = {},
): string[] {
  if (existing === undefined) return ['does not exist'];
  const diffs: string[] = [];

  for (const [k, v] of Object.entries(desired.metadata?.labels ?? {})) {
    const have = existing.metadata?.labels?.[k];
    if (have !== v) diffs.push(`label ${k}: ${quote(have ?? null)} → ${quote(v)}`);
  }
  for (const [k, v] of Object.entries(desired.metadata?.annotations ?? {})) {
    const have = existing.metadata?.annotations?.[k];
    if (have !== v) diffs.push(`annotation ${k}: ${quote(have ?? null)} → ${quote(v)}`);
  }
  for (const ref of desired.metadata?.ownerReferences ?? []) {
    const have = existing.metadata?.ownerReferences?.find((r) => r.uid === ref.uid);
    if (!have || have.apiVersion !== ref.apiVersion || have.kind !== ref.kind || have.name !== ref.name || (have.controller ?? false) !== (ref.controller ?? false)) {
      diffs.push(`ownerReference ${ref.kind}/${ref.name} missing or different`);
    }
  }

  const owned = opts.fieldManager ? ownedByManager(existing, opts.fieldManager) : undefined;
  const existingByName = new Map((existing.webhooks ?? []).map((w) => [w.name, w]));
  const desiredNames = new Set((desired.webhooks ?? []).map((w) => w.name));

  for (const want of desired.webhooks ?? []) {
    const have = existingByName.get(want.name);
    if (!have) {
      diffs.push(`webhook ${want.name}: missing`);
      continue;
    }
    const wantCa = want.clientConfig?.caBundle !== undefined;
    // A caBundle we set before and no longer want must be released (applied without it).
    if (!wantCa && owned?.caBundle.has(want.name)) diffs.push(`webhook ${want.name}: caBundle no longer set by meshrev`);
    const a = comparable(have, wantCa);
    const b = comparable(want, wantCa);
    for (const key of Object.keys(b)) {
      if (!same(a[key], b[key])) diffs.push(`webhook ${want.name}: ${key} differs`);
    }
  }
  for (const name of existingByName.keys()) {
    if (desiredNames.has(name)) continue;
    // Only entries our apply would remove count: those we own (or, without managedFields, those we name).
    const ours = owned ? owned.entries.has(name) : describeEntry(name) !== undefined;
    if (ours) diffs.push(`webhook ${name}: no longer wanted`);
  }
  return diffs;
}

/** True when the MWC must be (re)applied. */
export function webhookConfigurationNeedsWrite(
  existing: V1MutatingWebhookConfiguration | undefined,
  desired: V1MutatingWebhookConfiguration,
  opts: CompareOptions = {},
): boolean {
  return webhookConfigurationDiff(existing, desired, opts).length > 0;
}
