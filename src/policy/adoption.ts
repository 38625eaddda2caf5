// Adoption of an existing Istio install (spec.webhooks.management: External):
// which MutatingWebhookConfigurations written by istiod's Helm chart or by
// istioctl serve a revision, its tags and the default — read, never written.
//
// Upstream's layout (manifests/charts/istio-control/istio-discovery):
// * `istio-sidecar-injector-<rev>`, labelled `istio.io/rev=<rev>`, with the
//   `rev.namespace.` / `rev.object.` entries (and, for the revision installed
//   as the default with no revision name, `namespace.` / `object.`);
// * `istio-revision-tag-<tag>` (chart `revisionTags`, or `istioctl tag set`),
//   labelled `istio.io/tag=<tag>` and `istio.io/rev=<rev>`; the tag `default`
//   also carries the default entries.
// Pure: the reconcile passes the MWCs its informer holds.
import type { AdmissionregistrationV1WebhookClientConfig, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { LABEL_ISTIO_REV, LABEL_ISTIO_TAG, WEBHOOK_REV_NAMESPACE } from '../api/labels.js';
import { RESERVED_TAG_DEFAULT, type InjectorSpec } from '../api/meshrevision.js';
import { readWebhookConfiguration } from './routing.js';
import { isMeshrevWebhook } from './webhooks.js';

/** What the webhooks written outside meshrev provide for one revision. */
export interface ExternalServing {
  /** Every configuration not written by meshrev labelled `istio.io/rev=<revision>` (sorted). */
  configurations: string[];
  /** The chart's own configuration for the revision (no `istio.io/tag` label), if any: what "served" means. */
  main?: string;
  /** Tags other than `default` whose configuration points at this revision (sorted). */
  tags: string[];
  /** Whether upstream's default entries (the `default` tag, or the chart's own default entries) call this revision. */
  holdsDefault: boolean;
  /** Where the main configuration's revision entry sends requests: what the injector gate probes. */
  injector?: InjectorSpec;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An injector spec equivalent to a webhook entry's clientConfig (url, or an in-cluster Service). */
export function injectorFromClientConfig(cc: AdmissionregistrationV1WebhookClientConfig | undefined): InjectorSpec | undefined {
  if (!cc) return undefined;
  const caBundle = cc.caBundle ? { caBundle: cc.caBundle } : {};
  if (cc.url) return { url: cc.url, ...caBundle };
  const svc = cc.service;
  if (!svc?.name) return undefined;
  return {
    service: {
      name: svc.name,
      ...(svc.namespace ? { namespace: svc.namespace } : {}),
      ...(svc.port !== undefined ? { port: svc.port } : {}),
      ...(svc.path ? { path: svc.path } : {}),
    },
    ...caBundle,
  };
}

/** The webhooks written outside meshrev that serve `revision` (see ExternalServing). */
export function externalServing(revision: string, webhooks: readonly V1MutatingWebhookConfiguration[]): ExternalServing {
  const mine = webhooks.filter((w) => !isMeshrevWebhook(w) && w.metadata?.labels?.[LABEL_ISTIO_REV] === revision);
  const out: ExternalServing = { configurations: mine.map((w) => w.metadata?.name ?? '').sort(byName), tags: [], holdsDefault: false };
  const mains = mine.filter((w) => w.metadata?.labels?.[LABEL_ISTIO_TAG] === undefined).sort((a, b) => byName(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  const main = mains.find((w) => (w.webhooks ?? []).length > 0);
  if (main) {
    out.main = main.metadata?.name ?? '';
    const entry = (main.webhooks ?? []).find((e) => e.name === WEBHOOK_REV_NAMESPACE) ?? main.webhooks?.[0];
    const injector = injectorFromClientConfig(entry?.clientConfig);
    if (injector) out.injector = injector;
  }
  const tags = new Set<string>();
  for (const w of mine) {
    const read = readWebhookConfiguration(w);
    if (read.defaultEntries.namespace || read.defaultEntries.object) out.holdsDefault = true;
    const tag = read.tagLabel;
    if (tag === RESERVED_TAG_DEFAULT) out.holdsDefault = true;
    else if (tag !== undefined && (w.webhooks ?? []).length > 0) tags.add(tag);
  }
  out.tags = [...tags].sort(byName);
  return out;
}

/**
 * A MeshRevision's claim with what adopted webhooks serve: its tags and the
 * default are the chart's and istioctl's, not the spec's (which may not set
 * them in External mode). Unchanged without `external` or a claim.
 */
export function adoptedDecision<D extends { servesRevision: boolean; tags: readonly string[]; holdsDefault: boolean }>(
  decision: D | undefined,
  external: ExternalServing | undefined,
): D | undefined {
  if (!decision || !external) return decision;
  if (!decision.servesRevision) return decision;
  return { ...decision, tags: [...external.tags], holdsDefault: external.holdsDefault };
}

/**
 * The switch from External to Managed webhooks, without a moment where a pod
 * CREATE fails: meshrev's new configuration has no caBundle until istiod fills
 * it in (about a second), and with failurePolicy Fail the API server would
 * reject every pod of the revision in that second, although the chart's
 * configuration still injects them. So while a configuration written outside
 * meshrev still serves the revision and meshrev's own entries lack a caBundle
 * (none in the spec, none filled in yet), meshrev's entries use Ignore: a pod
 * the chart's webhook injected is left alone by the second call anyway (the
 * injector skips a pod that is already injected). Once istiod has filled in
 * the caBundle, the spec's failurePolicy applies. Returns `desired` unchanged
 * when none of that holds.
 */
export function handoverFailurePolicy(
  desired: V1MutatingWebhookConfiguration,
  live: V1MutatingWebhookConfiguration | undefined,
  externalMain: string | undefined,
): V1MutatingWebhookConfiguration {
  if (externalMain === undefined) return desired;
  const entries = desired.webhooks ?? [];
  if (entries.every((e) => (e.clientConfig.caBundle ?? '') !== '')) return desired;
  const liveCa = new Map((live?.webhooks ?? []).map((e) => [e.name, e.clientConfig.caBundle ?? '']));
  if (entries.every((e) => (liveCa.get(e.name) ?? '') !== '')) return desired;
  return { ...desired, webhooks: entries.map((e) => ({ ...e, failurePolicy: 'Ignore' })) };
}
