// Which revision (if any) injects a pod, and why — Istio's injection policy
// as a pure function. Two questions share the rules:
//
// * Cluster view (no `via`): given the namespace and pod labels, which of
//   upstream's webhook entries (DESIGN.md §1) would be called, for which
//   revision, and would that injector then inject? This is the seeds' policy
//   table with Istio's precedence, used by `check-inject` and planning.
// * Injector view (`via` set): a webhook entry of revision R has been called
//   (the API server already applied its selectors); the injector applies only
//   the pod-level rules, exactly like upstream's injectRequired(). This is what
//   the /inject webhook and `kube-inject` run.
//
// Order of the rules (DESIGN.md §6): hostNetwork and system namespaces are
// skipped; an already-injected pod is left alone; a disabling label beats an
// enabling one; namespace labels beat pod labels (`istio-injection` beats
// `istio.io/rev`); the `sidecar.istio.io/inject` label beats the annotation of
// the same name; with no label at all, `enableNamespacesByDefault` decides.
import { ANNOTATION_SIDECAR_STATUS, LABEL_ISTIO_INJECTION, LABEL_ISTIO_REV, LABEL_SIDECAR_INJECT } from '../api/labels.js';
import { SYSTEM_NAMESPACES } from '../api/migration.js';
import { podRoute, resolveValue, servingFromSettings, type SelectionSettings, type ServingSettings } from './routing.js';
import type { Labels } from './selectors.js';

/** Mesh-wide settings that change the decision. Every field is optional; the revisions, tags and default are read as policy/routing.ts servingFromSettings reads them. */
export interface MeshInjectionSettings extends SelectionSettings, ServingSettings {
  /**
   * `global.proxy.autoInject`: with `enabled` (default) a called injector injects
   * every pod that does not opt out; with `disabled` only pods that opt in with
   * `sidecar.istio.io/inject: "true"`.
   */
  autoInject?: 'enabled' | 'disabled';
  /** Namespaces never injected. Default SYSTEM_NAMESPACES (src/api/migration.ts). */
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
  AlreadyInjected: 'AlreadyInjected',
  PodOptedOut: 'PodOptedOut',
  PodNotOptedIn: 'PodNotOptedIn',
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
 * How upstream reads `sidecar.istio.io/inject` (label, else annotation):
 * YAML 1.1 truthy words inject, an empty value means "no opinion", anything
 * else opts out.
 */
export function parseInjectValue(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (v === '') return undefined;
  return v === 'y' || v === 'yes' || v === 'true' || v === 'on';
}

/** The pod's `sidecar.istio.io/inject` setting: the label wins over the annotation. */
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
  // hostNetwork pod would rewrite the node's routing.
  if (pod.hostNetwork) {
    return no(InjectionReason.HostNetwork, 'pod uses hostNetwork: the iptables redirection would change the node\'s own routing, so it is never injected');
  }
  const ignored = mesh.ignoredNamespaces ?? SYSTEM_NAMESPACES;
  if (ignored.includes(input.namespace.name)) {
    return no(InjectionReason.SystemNamespace, `namespace ${input.namespace.name} is a system namespace and is never injected`);
  }
  const status = pod.annotations?.[ANNOTATION_SIDECAR_STATUS];
  if (status !== undefined && status !== '') {
    return no(InjectionReason.AlreadyInjected, `pod already carries ${ANNOTATION_SIDECAR_STATUS}: it is injected once only`);
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
  const podInjectLabel = podLabels[LABEL_SIDECAR_INJECT];
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

  // Nothing selects the pod. Say why the near misses do not count.
  const notes: string[] = [];
  if (podInjectLabel !== undefined) {
    notes.push(`pod label ${LABEL_SIDECAR_INJECT}=${podInjectLabel} is not exactly "true", the only value webhook selectors match`);
  }
  const annotation = input.pod.annotations?.[LABEL_SIDECAR_INJECT];
  if (podInjectLabel === undefined && annotation !== undefined && parseInjectValue(annotation) === true) {
    notes.push(`the annotation ${LABEL_SIDECAR_INJECT}=${annotation} cannot select a webhook (selectors only see labels)`);
  }
  return {
    decision: no(InjectionReason.NoInjectionLabel,
      `${notes.length ? `${notes.join('; ')}; ` : ''}no injection label on ${ns} or the pod, and enableNamespacesByDefault is off`),
  };
}

/** What the called injector does (upstream injectRequired): the pod's own setting, then the mesh policy. */
function applyPodRules(pod: PodInjectionFacts, mesh: MeshInjectionSettings, route: Route): InjectionDecision {
  const setting = podInjectSetting(pod);
  const parsed = setting ? parseInjectValue(setting.value) : undefined;
  if (setting && parsed === false) {
    const overrode = setting.source === 'label' && pod.annotations?.[LABEL_SIDECAR_INJECT] !== undefined
      ? ` (the label wins over the annotation ${LABEL_SIDECAR_INJECT}=${pod.annotations[LABEL_SIDECAR_INJECT]})` : '';
    return no(InjectionReason.PodOptedOut,
      `${route.why}, but the pod ${setting.source} ${LABEL_SIDECAR_INJECT}=${setting.value} opts it out${overrode}`, route);
  }
  if (parsed === undefined && mesh.autoInject === 'disabled') {
    return no(InjectionReason.PodNotOptedIn,
      `${route.why}, but the mesh's autoInject policy is disabled and the pod does not opt in with ${LABEL_SIDECAR_INJECT}: "true"`, route);
  }
  const optIn = setting && parsed === true && !(route.code === InjectionReason.PodInjectLabel && setting.source === 'label')
    ? ` (pod ${setting.source} ${LABEL_SIDECAR_INJECT}=${setting.value})` : '';
  return {
    inject: true,
    ...routeFields(route),
    code: route.code,
    reason: `${route.why}${optIn}`,
  };
}
