// `check-inject`'s reasoning, pure: for a namespace and a pod, which webhook
// entries the API server would call, what each injector would do, and
// whether more than one would inject (a configuration error: which revision
// wins then depends on webhook order). Without webhook configurations (fully
// offline), the policy table alone answers.
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import {
  decideInjection,
  type InjectionDecision,
  type MeshInjectionSettings,
  type PodInjectionFacts,
} from './injection.js';
import { readWebhookConfiguration } from './routing.js';
import { matchingWebhooks, type Labels, type WebhookEntryRef } from './selectors.js';

export interface PodToExplain extends PodInjectionFacts {
  /** How to name the pod in the report, e.g. `Deployment web` or `pod web-1`. */
  description: string;
}

export interface WebhookVerdict {
  entry: WebhookEntryRef;
  /** What the called injector decides (injector view). */
  decision: InjectionDecision;
}

export interface PodExplanation {
  pod: PodToExplain;
  /** What Istio's policy table says from the labels alone (cluster view). */
  policy: InjectionDecision;
  /** Entries the API server calls, with each injector's verdict; undefined when no configurations were given. */
  webhooks?: WebhookVerdict[];
  /** Entries that would inject (from more than one configuration or revision is a conflict). */
  injectors: WebhookEntryRef[];
  /** One line: the answer. */
  summary: string;
  conflict: boolean;
}

export interface ExplainInput {
  namespace: { name: string; labels?: Labels };
  pods: PodToExplain[];
  /** The cluster's MutatingWebhookConfigurations; omit when unknown (offline). */
  webhooks?: readonly V1MutatingWebhookConfiguration[];
  /** Mesh settings; with webhooks given, revisions, tags, the default revision and enableNamespacesByDefault are read from them unless set here. */
  mesh?: MeshInjectionSettings;
}

/**
 * Reads the mesh the webhook configurations describe: the revisions behind
 * them, their tags, which revision holds the default entries, and whether an
 * `auto.` entry (enableNamespacesByDefault) exists.
 */
export function meshFromWebhooks(configs: readonly V1MutatingWebhookConfiguration[]): MeshInjectionSettings {
  const revisions = new Set<string>();
  const tags: Record<string, string> = {};
  let defaultRevision: string | undefined;
  let auto = false;
  for (const w of configs.map(readWebhookConfiguration)) {
    const rev = w.revision;
    if (rev === undefined) continue;
    if (w.tagLabel !== undefined) tags[w.tagLabel] = rev;
    else revisions.add(rev);
    for (const t of w.entryTags) tags[t] = rev;
    if (w.defaultEntries.namespace) defaultRevision ??= rev;
    if (w.auto) auto = true;
  }
  return {
    revisions: [...revisions, ...Object.values(tags)].filter((r, i, all) => all.indexOf(r) === i),
    tags,
    defaultRevision: defaultRevision ?? null,
    enableNamespacesByDefault: auto,
  };
}

function entryName(e: WebhookEntryRef): string {
  return `${e.configName}/${e.webhookName}`;
}

export function explainInjection(input: ExplainInput): PodExplanation[] {
  const mesh: MeshInjectionSettings = input.webhooks ? { ...meshFromWebhooks(input.webhooks), ...input.mesh } : { ...input.mesh };
  return input.pods.map((pod) => {
    const policy = decideInjection({ namespace: input.namespace, pod, mesh });
    if (!input.webhooks) {
      const summary = policy.inject
        ? `injected by revision ${policy.revision ?? '?'} through ${policy.webhook ?? '?'}: ${policy.reason}`
        : `not injected: ${policy.reason}`;
      return { pod, policy, injectors: [], summary, conflict: false };
    }
    const called = matchingWebhooks(input.webhooks, input.namespace, pod);
    const webhooks = called.map((entry) => ({
      entry,
      decision: decideInjection({
        namespace: input.namespace,
        pod,
        via: { revision: entry.revision ?? '(unlabelled)', webhook: entry.webhookName, ...(entry.tag !== undefined ? { tag: entry.tag } : {}) },
        mesh,
      }),
    }));
    const injectors = webhooks.filter((w) => w.decision.inject).map((w) => w.entry);
    // Two entries of one configuration for one revision call the same injector
    // twice (upstream's own entries never overlap so; a hand-made configuration
    // might): the pod gets that revision either way. Anything else is a conflict.
    const conflict = new Set(injectors.map((e) => `${e.configName}\u0000${e.revision ?? ''}`)).size > 1;
    let summary: string;
    if (conflict) {
      summary = `injected by ${injectors.length} webhooks (${injectors.map((e) => `${entryName(e)} revision ${e.revision ?? '?'}`).join(', ')}): ` +
        'only the first the API server calls takes effect, so the revision depends on webhook order; remove the overlap ' +
        '(e.g. a chart-made webhook configuration for a revision meshrev also serves, or two tags on one label value)';
    } else if (injectors.length >= 1) {
      const e = injectors[0] as WebhookEntryRef;
      const why = policy.inject && policy.revision === e.revision ? policy.reason : (webhooks.find((w) => w.entry === e)?.decision.reason ?? '');
      summary = `injected by revision ${e.revision ?? '(unlabelled configuration)'} through ${entryName(e)}: ${why}`;
    } else if (webhooks.length > 0) {
      summary = `not injected: ${webhooks[0]?.decision.reason ?? ''}`;
    } else {
      summary = `not injected: no webhook matches the pod (${policy.inject ? 'although the labels select revision ' + (policy.revision ?? '?') + ' — is its webhook configuration missing?' : policy.reason})`;
    }
    return { pod, policy, webhooks, injectors, summary, conflict };
  });
}

function labelsText(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '(none)';
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** The human report `check-inject` prints. */
export function formatExplanation(namespace: { name: string; labels?: Labels }, explanations: readonly PodExplanation[]): string {
  const lines: string[] = [`Namespace ${namespace.name}  labels: ${labelsText(namespace.labels)}`];
  for (const x of explanations) {
    lines.push('', `${x.pod.description}  labels: ${labelsText(x.pod.labels)}`);
    if (x.webhooks) {
      if (x.webhooks.length === 0) {
        lines.push('  no webhook entry matches');
      } else {
        const rows = [['  WEBHOOK', 'REVISION', 'INJECTS', 'REASON']];
        for (const w of x.webhooks) {
          rows.push([`  ${entryName(w.entry)}`, w.entry.revision ?? '-', w.decision.inject ? 'yes' : 'no', w.decision.reason]);
        }
        lines.push(...table(rows));
      }
    }
    lines.push(`  => ${x.summary}`);
  }
  return `${lines.join('\n')}\n`;
}
