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
import {
  ANNOTATION_SIDECAR_STATUS,
  LABEL_ISTIO_INJECTION,
  LABEL_ISTIO_REV,
  LABEL_SIDECAR_INJECT,
  WEBHOOK_AUTO,
  WEBHOOK_DEFAULT_NAMESPACE as WEBHOOK_NAMESPACE,
  WEBHOOK_DEFAULT_OBJECT as WEBHOOK_OBJECT,
  WEBHOOK_REV_NAMESPACE,
  WEBHOOK_REV_OBJECT,
} from '../api/labels.js';
import type { Labels } from './selectors.js';

/** Upstream Istio's webhook entry names (DESIGN.md §1), defined once in src/api/labels.ts. */
export { WEBHOOK_AUTO, WEBHOOK_NAMESPACE, WEBHOOK_OBJECT, WEBHOOK_REV_NAMESPACE, WEBHOOK_REV_OBJECT };

/** Namespaces never injected, whatever their labels (upstream skips the Kubernetes system ones; istio-system runs the control plane). */
export const DEFAULT_IGNORED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'istio-system'];

/** Mesh-wide settings that change the decision. Every field is optional. */
export interface MeshInjectionSettings {
  /** `sidecarInjectorWebhook.enableNamespacesByDefault`: inject pods in namespaces with no injection label. Default false. */
  enableNamespacesByDefault?: boolean;
  /**
   * `global.proxy.autoInject`: with `enabled` (default) a called injector injects
   * every pod that does not opt out; with `disabled` only pods that opt in with
   * `sidecar.istio.io/inject: "true"`.
   */
  autoInject?: 'enabled' | 'disabled';
  /**
   * The revision that owns `istio-injection=enabled` namespaces and pods labelled
   * `sidecar.istio.io/inject=true`. Default: the revision of tag `default` if
   * there is one, else `default`. `null`: no default revision exists.
   */
  defaultRevision?: string | null;
  /** Revision tags: tag name -> revision. A tag selects its revision's injector. */
  tags?: Readonly<Record<string, string>>;
  /** Revisions that exist. When given, an `istio.io/rev` value that is neither one of them nor a tag injects nothing. */
  revisions?: readonly string[];
  /** Namespaces never injected. Default {@link DEFAULT_IGNORED_NAMESPACES}. */
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
export function podInjectSetting(pod: PodInjectionFacts): { value: string; source: 'label' | 'annotation' } | undefined {
  const label = pod.labels?.[LABEL_SIDECAR_INJECT];
  if (label !== undefined) return { value: label, source: 'label' };
  const annotation = pod.annotations?.[LABEL_SIDECAR_INJECT];
  if (annotation !== undefined) return { value: annotation, source: 'annotation' };
  return undefined;
}

/** The default revision, honouring a `default` tag as newer Istio does. */
export function defaultRevisionOf(mesh: MeshInjectionSettings): string | undefined {
  if (mesh.defaultRevision === null) return undefined;
  return mesh.defaultRevision ?? mesh.tags?.['default'] ?? 'default';
}

/** Resolves an `istio.io/rev` value (revision or tag) to the real revision. */
export function resolveRevision(value: string, mesh: MeshInjectionSettings): { revision: string; tag?: string } | undefined {
  const tagged = mesh.tags?.[value];
  if (tagged !== undefined) return { revision: tagged, tag: value };
  if (mesh.revisions === undefined || mesh.revisions.includes(value)) return { revision: value };
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
  const ignored = mesh.ignoredNamespaces ?? DEFAULT_IGNORED_NAMESPACES;
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

/** Which upstream entry the API server calls for this pod, per the selectors of DESIGN.md §1. */
function routeByLabels(input: InjectionInput, mesh: MeshInjectionSettings): Route | { decision: InjectionDecision } {
  const nsLabels = input.namespace.labels ?? {};
  const podLabels = input.pod.labels ?? {};
  const nsInjection = nsLabels[LABEL_ISTIO_INJECTION];
  const nsRev = nsLabels[LABEL_ISTIO_REV];
  const podRev = podLabels[LABEL_ISTIO_REV];
  const podInjectLabel = podLabels[LABEL_SIDECAR_INJECT];
  const ns = `namespace ${input.namespace.name}`;

  // Every entry's objectSelector has `sidecar.istio.io/inject NotIn [false]`
  // (or `In [true]`): a pod labelled "false" never reaches any injector.
  if (podInjectLabel === 'false') {
    return { decision: no(InjectionReason.PodOptedOut, `pod label ${LABEL_SIDECAR_INJECT}=false opts the pod out; no webhook selects it`) };
  }

  const defaultRev = defaultRevisionOf(mesh);
  const noDefault = (what: string) => ({
    decision: no(InjectionReason.NoDefaultRevision, `${what} selects the default revision, but the mesh has no default revision`),
  });
  const unknown = (what: string, value: string) => ({
    decision: no(InjectionReason.UnknownRevision, `${what}=${value} names no revision or tag of this mesh, so no webhook matches`),
  });
  const ignoring = (others: string[]) => (others.length ? `; ${others.join(' and ')} ignored: the namespace label takes precedence` : '');

  if (nsInjection !== undefined) {
    if (nsInjection !== 'enabled') {
      const what = nsInjection === 'disabled' ? 'disables injection' : 'is not "enabled", which no webhook matches';
      return {
        decision: no(InjectionReason.NamespaceDisabled,
          `${ns} label ${LABEL_ISTIO_INJECTION}=${nsInjection} ${what}; it takes precedence over ${LABEL_ISTIO_REV} and any pod label`),
      };
    }
    if (defaultRev === undefined) return noDefault(`${ns} label ${LABEL_ISTIO_INJECTION}=enabled`);
    const others = [
      ...(nsRev !== undefined ? [`its ${LABEL_ISTIO_REV}=${nsRev}`] : []),
      ...(podRev !== undefined ? [`the pod's ${LABEL_ISTIO_REV}=${podRev}`] : []),
    ];
    return {
      webhook: WEBHOOK_NAMESPACE,
      selectedAs: 'enabled',
      revision: defaultRev,
      code: InjectionReason.NamespaceInjectionEnabled,
      why: `${ns} label ${LABEL_ISTIO_INJECTION}=enabled selects the default revision ${defaultRev}${ignoring(others)}`,
    };
  }

  if (nsRev !== undefined) {
    const r = resolveRevision(nsRev, mesh);
    if (!r) return unknown(`${ns} label ${LABEL_ISTIO_REV}`, nsRev);
    return {
      webhook: WEBHOOK_REV_NAMESPACE,
      selectedAs: nsRev,
      revision: r.revision,
      code: InjectionReason.NamespaceRevision,
      why: `${ns} label ${LABEL_ISTIO_REV}=${nsRev}${r.tag ? ` (tag of revision ${r.revision})` : ''} selects revision ${r.revision}` +
        ignoring(podRev !== undefined && podRev !== nsRev ? [`the pod's ${LABEL_ISTIO_REV}=${podRev}`] : []),
    };
  }

  if (podRev !== undefined) {
    const r = resolveRevision(podRev, mesh);
    if (!r) return unknown(`pod label ${LABEL_ISTIO_REV}`, podRev);
    return {
      webhook: WEBHOOK_REV_OBJECT,
      selectedAs: podRev,
      revision: r.revision,
      code: InjectionReason.PodRevision,
      why: `${ns} has no injection label and the pod label ${LABEL_ISTIO_REV}=${podRev}` +
        `${r.tag ? ` (tag of revision ${r.revision})` : ''} selects revision ${r.revision}`,
    };
  }

  if (podInjectLabel === 'true') {
    if (defaultRev === undefined) return noDefault(`pod label ${LABEL_SIDECAR_INJECT}=true`);
    return {
      webhook: WEBHOOK_OBJECT,
      selectedAs: 'true',
      revision: defaultRev,
      code: InjectionReason.PodInjectLabel,
      why: `${ns} has no injection label and the pod label ${LABEL_SIDECAR_INJECT}=true selects the default revision ${defaultRev}`,
    };
  }

  if (mesh.enableNamespacesByDefault) {
    if (defaultRev === undefined) return noDefault('enableNamespacesByDefault');
    return {
      webhook: WEBHOOK_AUTO,
      selectedAs: 'default',
      revision: defaultRev,
      code: InjectionReason.EnabledByDefault,
      why: `no injection label on ${ns} or the pod, and enableNamespacesByDefault selects the default revision ${defaultRev}`,
    };
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
