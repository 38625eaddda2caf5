// kube-inject through a revision's own injector, as `istioctl kube-inject`
// does with the in-cluster webhook (istioctl/pkg/kubeinject ExternalInjector):
// find the webhook entry that serves the revision, send its injector an
// AdmissionReview for the workload's pod template, and apply the JSONPatch
// it answers with. The output is then whatever that injector (istiod, or
// `meshrev injector`) makes of the pod. Pure: the HTTP call is
// src/kube/injector-call.ts.
import type { AdmissionregistrationV1WebhookClientConfig, V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import { LABEL_ISTIO_REV, LABEL_ISTIO_TAG, WEBHOOK_DEFAULT_NAMESPACE, WEBHOOK_REV_NAMESPACE } from '../api/labels.js';
import { isPlainObject } from './merge.js';

// fast-json-patch is CommonJS: its named exports are only reachable through the default import under NodeNext.
const { applyPatch } = fastJsonPatch;

/** The webhook entry kube-inject sends its reviews to. */
export interface RevisionInjector {
  /** metadata.name of the MutatingWebhookConfiguration and the entry's name. */
  configName: string;
  webhookName: string;
  /** The real revision (the configuration's istio.io/rev label). */
  revision: string;
  clientConfig: AdmissionregistrationV1WebhookClientConfig;
}

function entry(cfg: V1MutatingWebhookConfiguration, name: string): RevisionInjector | undefined {
  const w = (cfg.webhooks ?? []).find((x) => x.name === name);
  const revision = cfg.metadata?.labels?.[LABEL_ISTIO_REV];
  if (!w || revision === undefined) return undefined;
  return { configName: cfg.metadata?.name ?? '', webhookName: w.name, revision, clientConfig: w.clientConfig };
}

/**
 * The injector serving `value` (a revision or a tag), or with no value the
 * default revision's: the `rev.namespace.` entry of the revision's own
 * configuration (meshrev's or the chart's: labelled istio.io/rev, no
 * istio.io/tag), else a tag's (istioctl's `istio-revision-tag-<tag>`, or
 * meshrev's `<tag>.rev.namespace.` entry), else for no value the
 * `namespace.` entry (istio-injection=enabled). A string says what is missing.
 */
export function findRevisionInjector(configs: readonly V1MutatingWebhookConfiguration[], value: string | undefined): RevisionInjector | string {
  const sorted = [...configs].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const labels = (c: V1MutatingWebhookConfiguration) => c.metadata?.labels ?? {};
  let found: RevisionInjector | undefined;
  if (value === undefined) {
    found = sorted.map((c) => entry(c, WEBHOOK_DEFAULT_NAMESPACE)).find((e) => e !== undefined);
    if (!found) return 'no webhook configuration holds the default revision (an entry namespace.sidecar-injector.istio.io): name one with --revision';
    return found;
  }
  found = sorted.filter((c) => labels(c)[LABEL_ISTIO_REV] === value && labels(c)[LABEL_ISTIO_TAG] === undefined)
    .map((c) => entry(c, WEBHOOK_REV_NAMESPACE)).find((e) => e !== undefined)
    ?? sorted.filter((c) => labels(c)[LABEL_ISTIO_TAG] === value).map((c) => entry(c, WEBHOOK_REV_NAMESPACE)).find((e) => e !== undefined)
    ?? sorted.map((c) => entry(c, `${value}.${WEBHOOK_REV_NAMESPACE}`)).find((e) => e !== undefined);
  return found ?? `no webhook configuration serves revision or tag "${value}" (an entry ${WEBHOOK_REV_NAMESPACE} labelled istio.io/rev=${value}, or a tag's)`;
}

/** The AdmissionReview istioctl sends: the pod as the template gives it, in the workload's namespace. */
export function admissionReviewFor(pod: V1Pod, namespace: string, uid: string): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      ...(pod.metadata?.name ? { name: pod.metadata.name } : {}),
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'meshrev-kube-inject' },
      object: pod,
      dryRun: true,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** What an injector's answer means for one pod. */
export type ReviewOutcome =
  | { status: 'injected'; pod: V1Pod }
  | { status: 'skipped'; reason: string }
  | { status: 'invalid'; message: string };

/**
 * Reads an injector's AdmissionReview answer: a refusal is `invalid` with the
 * injector's message, an answer with no patch is `skipped` (its injection
 * policy said no), a JSONPatch is applied to a copy of `pod`.
 */
export function applyReviewResponse(pod: V1Pod, answer: unknown, revision: string): ReviewOutcome {
  const response = isPlainObject(answer) && isPlainObject(answer['response']) ? answer['response'] : undefined;
  if (!response) return { status: 'invalid', message: `the injector of revision ${revision} answered without an AdmissionReview response` };
  if (response['allowed'] !== true) {
    const status = isPlainObject(response['status']) ? response['status'] : {};
    return { status: 'invalid', message: `the injector of revision ${revision} refused the pod: ${typeof status['message'] === 'string' ? status['message'] : 'no reason given'}` };
  }
  if (typeof response['patch'] !== 'string' || response['patch'] === '') {
    return { status: 'skipped', reason: `the injector of revision ${revision} left it unchanged (its injection policy: opted out, hostNetwork, or an ignored namespace)` };
  }
  if (response['patchType'] !== undefined && response['patchType'] !== 'JSONPatch') {
    return { status: 'invalid', message: `the injector of revision ${revision} answered with patchType ${JSON.stringify(response['patchType'])}, not JSONPatch` };
  }
  try {
    const ops = JSON.parse(Buffer.from(response['patch'], 'base64').toString('utf8')) as fastJsonPatch.Operation[];
    const patched = applyPatch(structuredClone(pod), ops, true, false).newDocument;
    return { status: 'injected', pod: patched };
  } catch (err) {
    return { status: 'invalid', message: `the injector of revision ${revision} answered with a patch that does not apply: ${(err as Error).message}` };
  }
}
