// Which revision (if any) injects a pod, and why — Istio's injection policy
// as a pure function. Two questions share the rules:
//
// * Cluster view (no `via`): given the namespace and pod labels, which of
//   upstream's webhook entries (DESIGN.md §1) would be called, for which
//   revision, and would that injector then inject? Used by `check-inject` and
//   planning.
// * Injector view (`via` set): a webhook entry of revision R has been called
//   (the API server already applied its selectors); the injector applies only
//   the pod-level rules. This is what the /inject webhook and `kube-inject` run.
//
// The pod-level rules are upstream's injectRequired (istio/istio
// pkg/kube/inject/inject.go), line for line:
//   1. hostNetwork pods are never injected;
//   2. nor pods in the ignored namespaces (kube-system, kube-public,
//      kube-node-lease, local-path-storage — istio-system is NOT among them);
//   3. `sidecar.istio.io/inject` is read from the annotation, and a label of
//      that name, when present (even empty), replaces it. Only the exact
//      strings "true" and "false" count; "", "yes", "True", "1" or anything
//      else mean "no opinion" (istiod logs a warning), not an opt-out;
//   4. with no opinion, the first non-empty neverInjectSelector matching the
//      pod's labels says no, else the first alwaysInjectSelector says yes;
//   5. the policy (`global.proxy.autoInject`): `enabled` injects unless the
//      pod said no, `disabled` only when it said yes, any other value never.
// The `sidecar.istio.io/status` annotation does not enter the decision:
// istiod re-injects such a pod (it strips the old sidecar first).
//
// Which entry is called (cluster view) is decided by exact string matches at
// the API server (`NotIn [false]`, `In [true]`), so `inject=False` on a pod
// gets through the selectors and is then read as "no opinion" by istiod: it
// is injected. The two steps together are what decides.
import type { V1LabelSelector } from '@kubernetes/client-node';
import { LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV, LABEL_SIDECAR_INJECT } from '../api/labels.js';
import { podRoute, resolveValue, servingFromSettings, type SelectionSettings, type ServingSettings } from './routing.js';
import { isEmptyLabelSelector, labelSelectorError, matchesLabelSelector, type Labels } from './selectors.js';

/** The namespaces istiod never injects (upstream pkg/kube/inject/initializer.go IgnoredNamespaces). */
export const INJECTOR_IGNORED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];

/** Mesh-wide settings that change the decision. Every field is optional; the revisions, tags and default are read as policy/routing.ts servingFromSettings reads them. */
export interface MeshInjectionSettings extends SelectionSettings, ServingSettings {
  /**
   * `global.proxy.autoInject` (the injector ConfigMap's `policy`): with
   * `enabled` (default) a called injector injects every pod that does not opt
   * out; with `disabled` only pods that opt in. Any other value injects
   * nothing, as istiod does with an illegal policy.
   */
  autoInject?: string;
  /** `sidecarInjectorWebhook.neverInjectSelector`: pods with no opinion whose labels match one are not injected. */
  neverInjectSelector?: readonly V1LabelSelector[];
  /** `sidecarInjectorWebhook.alwaysInjectSelector`: pods with no opinion whose labels match one are injected, whatever the policy. */
  alwaysInjectSelector?: readonly V1LabelSelector[];
  /** Namespaces never injected. Default INJECTOR_IGNORED_NAMESPACES, as istiod. */
  ignoredNamespaces?: readonly string[];
}

/** What the decision needs to know about a pod. */
export interface PodInjectionFacts {
  labels?: Labels;
  annotations?: Labels;
  hostNetwork?: boolean;
}

/** The webhook entry that called the injector. */
export interface InjectionCaller {
  /** Revision of the injector that was called (the real revision, never a tag). */
  revision: string;
  /** Entry name, e.g. `rev.namespace.sidecar-injector.istio.io`; unknown inside a webhook server. */
  webhook?: string;
  /** The tag the entry selects on, when called through a tag's configuration. */
  tag?: string;
}

export interface InjectionInput {
  /** Namespace name and labels. Labels are only read in the cluster view. */
  namespace: { name: string; labels?: Labels };
  pod: PodInjectionFacts;
  /** Set when deciding inside an injector that was called; see the file comment. */
  via?: InjectionCaller;
  mesh?: MeshInjectionSettings;
}

/** Stable codes for why a pod is or is not injected. */
export const InjectionReason = {
  HostNetwork: 'HostNetwork',
  SystemNamespace: 'SystemNamespace',
  PodOptedOut: 'PodOptedOut',
  PodNotOptedIn: 'PodNotOptedIn',
  /** Not injected: the pod's labels match a neverInjectSelector. */
  NeverInjectSelector: 'NeverInjectSelector',
  /** Not injected: the mesh's autoInject policy is neither `enabled` nor `disabled`. */
  PolicyInvalid: 'PolicyInvalid',
  NamespaceDisabled: 'NamespaceDisabled',
  NoDefaultRevision: 'NoDefaultRevision',
  UnknownRevision: 'UnknownRevision',
  NoInjectionLabel: 'NoInjectionLabel',
  /** Injected: namespace `istio-injection=enabled` (default revision). */
  NamespaceInjectionEnabled: 'NamespaceInjectionEnabled',
  /** Injected: namespace `istio.io/rev`. */
  NamespaceRevision: 'NamespaceRevision',
  /** Injected: pod `istio.io/rev` in an unlabelled namespace. */
  PodRevision: 'PodRevision',
  /** Injected: pod label `sidecar.istio.io/inject=true` in an unlabelled namespace (default revision). */
  PodInjectLabel: 'PodInjectLabel',
  /** Injected: no label anywhere, `enableNamespacesByDefault` on (default revision). */
  EnabledByDefault: 'EnabledByDefault',
  /** Injected: injector view, the called webhook's revision. */
  WebhookCalled: 'WebhookCalled',
} as const;
export type InjectionReason = (typeof InjectionReason)[keyof typeof InjectionReason];

export interface InjectionDecision {
  inject: boolean;
  /** The real revision that injects; when not injecting, the revision the pod was routed to, if any. */
  revision?: string;
  /** The webhook entry that is called for the pod, if any. */
  webhook?: string;
  /** The value that entry's selector matched: the revision, a tag, or `enabled`. */
  selectedAs?: string;
  code: InjectionReason;
  /** The reason in words, for people. */
  reason: string;
}

/**
 * How istiod reads a `sidecar.istio.io/inject` value: exactly "true" opts in,
 * exactly "false" opts out, anything else ("", "yes", "True", "1") is no
 * opinion (undefined) and the mesh policy decides.
 */
export function parseInjectValue(value: string): boolean | undefined {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

/** The pod's `sidecar.istio.io/inject` setting: a label of that name, even empty, replaces the annotation. */
function podInjectSetting(pod: PodInjectionFacts): { value: string; source: 'label' | 'annotation' } | undefined {
  const label = pod.labels?.[LABEL_SIDECAR_INJECT];
  if (label !== undefined) return { value: label, source: 'label' };
  const annotation = pod.annotations?.[LABEL_SIDECAR_INJECT];
  if (annotation !== undefined) return { value: annotation, source: 'annotation' };
  return undefined;
}

interface Route {
  webhook?: string;
  selectedAs: string;
  revision: string;
  code: InjectionReason;
  why: string;
}

function routeFields(route: Route): Pick<InjectionDecision, 'revision' | 'webhook' | 'selectedAs'> {
  return { revision: route.revision, ...(route.webhook !== undefined ? { webhook: route.webhook } : {}), selectedAs: route.selectedAs };
}

const no = (code: InjectionReason, reason: string, route?: Route): InjectionDecision => ({
  inject: false,
  code,
  reason,
  ...(route ? routeFields(route) : {}),
});

/** Decides whether, and by which revision, a pod is injected. Pure; see the file comment for the two views. */
export function decideInjection(input: InjectionInput): InjectionDecision {
  const mesh = input.mesh ?? {};
  const pod = input.pod;

  // Upstream skips these inside the injector, whatever called it: iptables in a
  // hostNetwork pod would rewrite the node's routing. The namespace check is
  // by name only; the `auto.` entry also excludes these by name.
  if (pod.hostNetwork) {
    return no(InjectionReason.HostNetwork, 'pod uses hostNetwork: the iptables redirection would change the node\'s own routing, so it is never injected');
  }
  const ignored = mesh.ignoredNamespaces ?? INJECTOR_IGNORED_NAMESPACES;
  if (ignored.includes(input.namespace.name)) {
    return no(InjectionReason.SystemNamespace, `namespace ${input.namespace.name} is one istiod never injects (${ignored.join(', ')})`);
  }

  let route: Route;
  if (input.via) {
    const v = input.via;
    route = {
      ...(v.webhook !== undefined ? { webhook: v.webhook } : {}),
      selectedAs: v.tag ?? v.revision,
      revision: v.revision,
      code: InjectionReason.WebhookCalled,
      why: `called through ${v.webhook ?? 'the injection webhook'} of revision ${v.revision}${v.tag ? ` (tag ${v.tag})` : ''}`,
    };
  } else {
    const r = routeByLabels(input, mesh);
    if ('decision' in r) return r.decision;
    route = r;
  }
  return applyPodRules(pod, mesh, route);
}

/** Which upstream entry the API server calls for this pod (policy/routing.ts podRoute), and the revision behind it, in words. */
function routeByLabels(input: InjectionInput, mesh: MeshInjectionSettings): Route | { decision: InjectionDecision } {
  const nsLabels = input.namespace.labels ?? {};
  const podLabels = input.pod.labels ?? {};
  const nsRev = nsLabels[LABEL_ISTIO_REV];
  const podRev = podLabels[LABEL_ISTIO_REV];
  const ns = `namespace ${input.namespace.name}`;
  const route = podRoute(nsLabels, podLabels, mesh);
  const serving = servingFromSettings(mesh);

  const ignoring = (others: string[]) => (others.length ? `; ${others.join(' and ')} ignored: the namespace label takes precedence` : '');

  switch (route.kind) {
    case 'optedOut':
      // Every entry's objectSelector has `sidecar.istio.io/inject NotIn [false]`
      // (or `In [true]`): a pod labelled "false" never reaches any injector.
      return { decision: no(InjectionReason.PodOptedOut, `pod label ${LABEL_SIDECAR_INJECT}=false opts the pod out; no webhook selects it`) };
    case 'disabled': {
      const what = route.injection === 'disabled' ? 'disables injection' : 'is not "enabled", which no webhook matches';
      return {
        decision: no(InjectionReason.NamespaceDisabled,
          `${ns} label ${LABEL_ISTIO_INJECTION}=${route.injection} ${what}; it takes precedence over ${LABEL_ISTIO_REV} and any pod label`),
      };
    }
    case 'default': {
      const how = {
        namespaceInjection: { what: `${ns} label ${LABEL_ISTIO_INJECTION}=enabled`, code: InjectionReason.NamespaceInjectionEnabled },
        podInjectLabel: { what: `pod label ${LABEL_SIDECAR_INJECT}=true`, code: InjectionReason.PodInjectLabel },
        enabledByDefault: { what: 'enableNamespacesByDefault', code: InjectionReason.EnabledByDefault },
      }[route.by];
      const defaultRev = serving.defaultRevision;
      if (defaultRev === undefined) {
        return { decision: no(InjectionReason.NoDefaultRevision, `${how.what} selects the default revision, but the mesh has no default revision`) };
      }
      let why: string;
      if (route.by === 'namespaceInjection') {
        const others = [
          ...(nsRev !== undefined ? [`its ${LABEL_ISTIO_REV}=${nsRev}`] : []),
          ...(podRev !== undefined ? [`the pod's ${LABEL_ISTIO_REV}=${podRev}`] : []),
        ];
        why = `${how.what} selects the default revision ${defaultRev}${ignoring(others)}`;
      } else if (route.by === 'podInjectLabel') {
        why = `${ns} has no injection label and the ${how.what} selects the default revision ${defaultRev}`;
      } else {
        why = `no injection label on ${ns} or the pod, and enableNamespacesByDefault selects the default revision ${defaultRev}`;
      }
      return { webhook: route.webhook, selectedAs: route.selectedAs, revision: defaultRev, code: how.code, why };
    }
    case 'revision': {
      const label = route.by === 'namespaceRevision' ? `${ns} label ${LABEL_ISTIO_REV}` : `pod label ${LABEL_ISTIO_REV}`;
      const r = resolveValue(serving, route.value);
      if (!r) {
        return { decision: no(InjectionReason.UnknownRevision, `${label}=${route.value} names no revision or tag of this mesh, so no webhook matches`) };
      }
      const tagged = r.tag ? ` (tag of revision ${r.revision})` : '';
      const why = route.by === 'namespaceRevision'
        ? `${label}=${route.value}${tagged} selects revision ${r.revision}` +
          ignoring(podRev !== undefined && podRev !== route.value ? [`the pod's ${LABEL_ISTIO_REV}=${podRev}`] : [])
        : `${ns} has no injection label and the ${label}=${route.value}${tagged} selects revision ${r.revision}`;
      return {
        webhook: route.webhook,
        selectedAs: route.value,
        revision: r.revision,
        code: route.by === 'namespaceRevision' ? InjectionReason.NamespaceRevision : InjectionReason.PodRevision,
        why,
      };
    }
    case 'none':
      break;
  }

  return { decision: noRoute(input, mesh) };
}

/** No webhook selects the pod: say why the near misses (an inject label that is not "true", the annotation) do not count. */
function noRoute(input: InjectionInput, mesh: MeshInjectionSettings): InjectionDecision {
  const podInjectLabel = input.pod.labels?.[LABEL_SIDECAR_INJECT];
  const ns = `namespace ${input.namespace.name}`;
  const notes: string[] = [];
  if (podInjectLabel !== undefined) {
    notes.push(`pod label ${LABEL_SIDECAR_INJECT}=${podInjectLabel} is not exactly "true", the only value webhook selectors match` +
      (mesh.enableNamespacesByDefault ? ', and keeps the pod out of the auto. entry, which needs no such label' : ''));
  }
  const annotation = input.pod.annotations?.[LABEL_SIDECAR_INJECT];
  if (podInjectLabel === undefined && annotation === 'true') {
    notes.push(`the annotation ${LABEL_SIDECAR_INJECT}=${annotation} cannot select a webhook (selectors only see labels)`);
  }
  return no(InjectionReason.NoInjectionLabel,
    `${notes.length ? `${notes.join('; ')}; ` : ''}no injection label on ${ns} or the pod` +
    (mesh.enableNamespacesByDefault ? '' : ', and enableNamespacesByDefault is off'));
}

/** What the pod itself says: an explicit "true"/"false", a never/always selector, or nothing (the policy decides). */
type PodOpinion = { inject: boolean; why: string; code?: InjectionReason } | { inject?: undefined; note?: string };

function firstMatching(selectors: readonly V1LabelSelector[] | undefined, labels: Labels): V1LabelSelector | undefined {
  return (selectors ?? []).find((s) => !isEmptyLabelSelector(s) && labelSelectorError(s) === undefined && matchesLabelSelector(s, labels));
}

function selectorText(s: V1LabelSelector): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values?.length ? ` [${e.values.join(',')}]` : ''}`),
  ];
  return `{${parts.join(', ')}}`;
}

/** Steps 3 and 4 of injectRequired (file comment). */
function podOpinion(pod: PodInjectionFacts, mesh: MeshInjectionSettings): PodOpinion {
  const setting = podInjectSetting(pod);
  const parsed = setting ? parseInjectValue(setting.value) : undefined;
  if (setting && parsed !== undefined) {
    const other = pod.annotations?.[LABEL_SIDECAR_INJECT];
    const overrode = setting.source === 'label' && other !== undefined && other !== setting.value
      ? ` (the label replaces the annotation ${LABEL_SIDECAR_INJECT}=${other})` : '';
    return {
      inject: parsed,
      why: `the pod ${setting.source} ${LABEL_SIDECAR_INJECT}=${setting.value} ${parsed ? 'opts it in' : 'opts it out'}${overrode}`,
      ...(parsed ? {} : { code: InjectionReason.PodOptedOut }),
    };
  }
  const labels = pod.labels ?? {};
  const never = firstMatching(mesh.neverInjectSelector, labels);
  if (never) return { inject: false, why: `the pod's labels match the neverInjectSelector ${selectorText(never)}`, code: InjectionReason.NeverInjectSelector };
  const always = firstMatching(mesh.alwaysInjectSelector, labels);
  if (always) return { inject: true, why: `the pod's labels match the alwaysInjectSelector ${selectorText(always)}` };
  if (setting && setting.value !== '') {
    return { note: `the pod ${setting.source} ${LABEL_SIDECAR_INJECT}=${setting.value} is neither "true" nor "false", so istiod ignores it` };
  }
  return {};
}

/** What the called injector does (upstream injectRequired, steps 3 to 5 of the file comment). */
function applyPodRules(pod: PodInjectionFacts, mesh: MeshInjectionSettings, route: Route): InjectionDecision {
  const policy = mesh.autoInject ?? 'enabled';
  if (policy !== 'enabled' && policy !== 'disabled') {
    return no(InjectionReason.PolicyInvalid,
      `${route.why}, but the mesh's autoInject policy "${policy}" is neither "enabled" nor "disabled", and istiod then injects nothing`, route);
  }
  const opinion = podOpinion(pod, mesh);
  if (opinion.inject === false) return no(opinion.code ?? InjectionReason.PodOptedOut, `${route.why}, but ${opinion.why}`, route);
  const note = opinion.inject === undefined && opinion.note ? `; ${opinion.note}` : '';
  if (opinion.inject === undefined && policy === 'disabled') {
    return no(InjectionReason.PodNotOptedIn,
      `${route.why}, but the mesh's autoInject policy is disabled and the pod does not opt in with ${LABEL_SIDECAR_INJECT}: "true"${note}`, route);
  }
  const optIn = opinion.inject === true && route.code !== InjectionReason.PodInjectLabel ? ` (${opinion.why})` : '';
  return { inject: true, ...routeFields(route), code: route.code, reason: `${route.why}${optIn}${note}` };
}
