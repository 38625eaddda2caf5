// Injection of one pod: validates what the pod asks for (templates,
// resource annotations), renders the selected templates in order, merges
// them into the pod, re-applies the user's own `istio-proxy` / `istio-init`
// containers on top (the seeds' customisation), and stamps the
// `istio.io/rev` and `sidecar.istio.io/status` annotations. Pure: the webhook
// turns the result into a JSONPatch, kube-inject into YAML.
//
// Whether a pod should be injected at all is src/policy/injection.ts's job;
// this module only refuses to inject a pod twice.
import type { V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import {
  ANNOTATION_INJECT_TEMPLATES,
  ANNOTATION_ISTIO_REV,
  ANNOTATION_PROXY_CPU,
  ANNOTATION_PROXY_CPU_LIMIT,
  ANNOTATION_PROXY_MEMORY,
  ANNOTATION_PROXY_MEMORY_LIMIT,
  ANNOTATION_SIDECAR_STATUS,
  CONTAINER_ISTIO_PROXY,
} from '../api/labels.js';
import { isKnownTemplate, knownTemplates, type InjectorConfig, type PodFragment } from './config.js';
import { isPlainObject, jsonClone, strategicMerge } from './merge.js';
import { compareQuantities, parseQuantity, resourceQuantityError, type Quantity } from './quantity.js';
import { BUILTIN_TEMPLATE_RENDERERS, type TemplateContext, type TemplatePod } from './templates.js';

/** Something in the pod that stops injection; `annotation` or `field` says where. */
export interface InjectionProblem {
  annotation?: string;
  field?: string;
  message: string;
}

export type InjectOutcome =
  | { status: 'injected'; pod: V1Pod; templates: string[]; warnings: string[] }
  | { status: 'unchanged'; pod: V1Pod; reason: string }
  | { status: 'invalid'; problems: InjectionProblem[]; message: string };

export interface InjectOptions {
  config: InjectorConfig;
  /** Namespace the pod is created in (the AdmissionRequest's); defaults to the pod's own, then `default`. */
  namespace?: string;
  /** Name of the owning workload, when known (kube-inject); otherwise derived from the pod's name. */
  workloadName?: string;
}

/** The `sidecar.istio.io/status` annotation's content, as upstream writes it. */
export interface SidecarStatus {
  initContainers: string[] | null;
  containers: string[] | null;
  volumes: string[] | null;
  imagePullSecrets: string[] | null;
  revision: string;
}

export function parseSidecarStatus(text: string | undefined): SidecarStatus | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!isPlainObject(v) || typeof v['revision'] !== 'string') return undefined;
    return v as unknown as SidecarStatus;
  } catch {
    return undefined;
  }
}

const RESOURCE_ANNOTATIONS = [
  { annotation: ANNOTATION_PROXY_CPU, part: 'requests', resource: 'cpu' },
  { annotation: ANNOTATION_PROXY_CPU_LIMIT, part: 'limits', resource: 'cpu' },
  { annotation: ANNOTATION_PROXY_MEMORY, part: 'requests', resource: 'memory' },
  { annotation: ANNOTATION_PROXY_MEMORY_LIMIT, part: 'limits', resource: 'memory' },
] as const;

/**
 * The sidecar's resources from the `sidecar.istio.io/proxy*` annotations.
 * As upstream, any of them replaces the default resources entirely, so a
 * request without a limit means no limit — the seeds warn about exactly that,
 * and so do we. A request above its limit is an error (the API server would
 * reject the pod less clearly).
 */
function proxyResourcesFromAnnotations(
  annotations: Readonly<Record<string, string>>,
  defaults: V1ResourceRequirements,
): { resources: V1ResourceRequirements; warnings: string[]; problems: InjectionProblem[] } {
  const problems: InjectionProblem[] = [];
  const warnings: string[] = [];
  const set = RESOURCE_ANNOTATIONS.filter((r) => annotations[r.annotation] !== undefined);
  if (set.length === 0) return { resources: jsonClone(defaults), warnings, problems };

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  const parsed = new Map<string, Quantity>();
  for (const r of set) {
    const value = annotations[r.annotation] ?? '';
    const err = resourceQuantityError(value);
    if (err) {
      problems.push({ annotation: r.annotation, message: `annotation ${r.annotation}: "${value}" is invalid: ${err}` });
      continue;
    }
    const p = parseQuantity(value);
    if ('quantity' in p) parsed.set(r.annotation, p.quantity);
    (r.part === 'requests' ? requests : limits)[r.resource] = value;
  }
  for (const [req, lim, resource] of [
    [ANNOTATION_PROXY_CPU, ANNOTATION_PROXY_CPU_LIMIT, 'CPU'],
    [ANNOTATION_PROXY_MEMORY, ANNOTATION_PROXY_MEMORY_LIMIT, 'memory'],
  ] as const) {
    const rq = parsed.get(req);
    const lq = parsed.get(lim);
    if (rq && lq && compareQuantities(rq, lq) > 0) {
      problems.push({
        annotation: req,
        message: `annotation ${req}: "${annotations[req]}" is more than ${lim} "${annotations[lim]}": a ${resource} request must not exceed its limit`,
      });
    }
    const hasReq = annotations[req] !== undefined;
    const hasLim = annotations[lim] !== undefined;
    if (hasReq && !hasLim) {
      warnings.push(`${req} is set without ${lim}: the istio-proxy container gets no ${resource} limit`);
    } else if (!hasReq && hasLim) {
      warnings.push(`${lim} is set without ${req}: Kubernetes sets the ${resource} request to the limit (${annotations[lim]})`);
    } else if (!hasReq && !hasLim) {
      warnings.push(`resource annotations replace the default proxy resources: istio-proxy has no ${resource} request or limit; set ${req} and ${lim}`);
    }
  }
  const resources: V1ResourceRequirements = {};
  if (Object.keys(limits).length) resources.limits = limits;
  if (Object.keys(requests).length) resources.requests = requests;
  return { resources, warnings, problems };
}

/** Template names from `inject.istio.io/templates` (comma separated, in order), or the configured defaults. */
function selectedTemplates(
  annotations: Readonly<Record<string, string>>,
  config: InjectorConfig,
): { templates: string[]; problems: InjectionProblem[] } {
  const raw = annotations[ANNOTATION_INJECT_TEMPLATES];
  if (raw === undefined) return { templates: [...config.defaultTemplates], problems: [] };
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) {
    return { templates: [], problems: [{ annotation: ANNOTATION_INJECT_TEMPLATES, message: `annotation ${ANNOTATION_INJECT_TEMPLATES} is empty: name at least one template (known: ${knownTemplates(config).join(', ')})` }] };
  }
  const unknown = names.filter((n) => !isKnownTemplate(config, n));
  if (unknown.length) {
    return {
      templates: [],
      problems: [{
        annotation: ANNOTATION_INJECT_TEMPLATES,
        message: `annotation ${ANNOTATION_INJECT_TEMPLATES}: unknown template${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${knownTemplates(config).join(', ')})`,
      }],
    };
  }
  return { templates: names, problems: [] };
}

const isNamedList = (v: unknown): boolean =>
  v === undefined || (Array.isArray(v) && v.every((x) => isPlainObject(x) && typeof x['name'] === 'string'));

/**
 * Checks the fields injection reads or rewrites, so malformed input becomes
 * a clear problem instead of a crash or a broken patch.
 */
export function podShapeProblem(pod: unknown): InjectionProblem | undefined {
  if (!isPlainObject(pod)) return { field: 'object', message: 'the object is not a Pod (expected a JSON object)' };
  const md = pod['metadata'];
  if (md !== undefined && !isPlainObject(md)) return { field: 'metadata', message: 'metadata must be an object' };
  if (isPlainObject(md)) {
    for (const k of ['labels', 'annotations'] as const) {
      const m = md[k];
      if (m === undefined || m === null) continue;
      if (!isPlainObject(m)) return { field: `metadata.${k}`, message: `metadata.${k} must map strings to strings` };
      const bad = Object.entries(m).find(([, v]) => typeof v !== 'string');
      if (bad) return { field: `metadata.${k}`, message: `metadata.${k}["${bad[0]}"] must be a string, not ${JSON.stringify(bad[1])} (quote it in YAML)` };
    }
    for (const k of ['name', 'generateName', 'namespace'] as const) {
      if (md[k] !== undefined && typeof md[k] !== 'string') return { field: `metadata.${k}`, message: `metadata.${k} must be a string` };
    }
  }
  const spec = pod['spec'];
  if (!isPlainObject(spec)) return { field: 'spec', message: 'spec must be an object' };
  if (!Array.isArray(spec['containers'])) return { field: 'spec.containers', message: 'spec.containers must be a list' };
  for (const k of ['containers', 'initContainers', 'volumes', 'imagePullSecrets'] as const) {
    if (spec[k] !== null && !isNamedList(spec[k])) return { field: `spec.${k}`, message: `spec.${k} must be a list of objects with a string name` };
  }
  for (const [i, c] of (spec['containers'] as Array<Record<string, unknown>>).entries()) {
    if (c['ports'] !== undefined && !(Array.isArray(c['ports']) && c['ports'].every(isPlainObject))) {
      return { field: `spec.containers[${i}].ports`, message: `spec.containers[${i}].ports must be a list of objects` };
    }
  }
  if (spec['hostNetwork'] !== undefined && typeof spec['hostNetwork'] !== 'boolean') return { field: 'spec.hostNetwork', message: 'spec.hostNetwork must be a boolean' };
  return undefined;
}

/** `web-7d9c5b8f6-` (a Deployment's pod) -> `web`; `web-0` keeps its name. */
function workloadNameOf(pod: V1Pod): string {
  const md = pod.metadata ?? {};
  if (md.generateName) {
    const base = md.generateName.replace(/-$/, '');
    // A ReplicaSet's name is its Deployment's plus a pod-template hash.
    return /^(.+)-[a-z0-9]{6,10}$/.exec(base)?.[1] ?? base;
  }
  return md.name ?? 'unknown';
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.filter(isPlainObject).map((x) => String(x['name'])) : [];
}

/**
 * Kubernetes sets a missing request to the limit; doing it here makes
 * kube-inject's output equal to what the API server stores (the seeds'
 * `proxyMemoryLimit: 5Gi` example shows `requests.memory: 5Gi`), and lets us
 * check request <= limit before the API server does.
 */
function defaultRequestsAndCheck(c: Record<string, unknown>, where: string, problems: InjectionProblem[]): void {
  const res = c['resources'];
  if (!isPlainObject(res)) return;
  const limits = isPlainObject(res['limits']) ? res['limits'] : {};
  const requests = isPlainObject(res['requests']) ? { ...res['requests'] } : {};
  for (const [k, lim] of Object.entries(limits)) {
    if (requests[k] === undefined) requests[k] = lim;
    const r = parseQuantity(String(requests[k]));
    const l = parseQuantity(String(lim));
    if ('error' in l) {
      problems.push({ field: `${where}.resources.limits.${k}`, message: `${where} resources.limits.${k} "${String(lim)}" is invalid: ${l.error}` });
    } else if ('error' in r) {
      problems.push({ field: `${where}.resources.requests.${k}`, message: `${where} resources.requests.${k} "${String(requests[k])}" is invalid: ${r.error}` });
    } else if (compareQuantities(r.quantity, l.quantity) > 0) {
      problems.push({
        field: `${where}.resources`,
        message: `${where} requests ${k} "${String(requests[k])}" but its limit is "${String(lim)}": a request must not exceed its limit (set both together)`,
      });
    }
  }
  if (Object.keys(requests).length) res['requests'] = requests;
}

/**
 * Injects `pod` (not changed) and returns the injected copy, or why not.
 * `pod` may be unvalidated input; its shape is checked first.
 */
export function injectPod(pod: V1Pod, opts: InjectOptions): InjectOutcome {
  const shape = podShapeProblem(pod);
  if (shape) return { status: 'invalid', problems: [shape], message: shape.message };
  const config = opts.config;
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[ANNOTATION_SIDECAR_STATUS]) {
    return { status: 'unchanged', pod, reason: `already injected (${ANNOTATION_SIDECAR_STATUS} is set)` };
  }

  const problems: InjectionProblem[] = [];
  const sel = selectedTemplates(annotations, config);
  problems.push(...sel.problems);
  const res = proxyResourcesFromAnnotations(annotations, config.proxy.resources);
  problems.push(...res.problems);
  if (problems.length) return invalid(problems);

  const fragments = renderFragments(pod, opts, sel.templates, res.resources);
  let out = jsonClone(pod) as Record<string, unknown>;
  for (const f of fragments) out = strategicMerge(out, f) as Record<string, unknown>;

  const added = {
    containers: unique(fragments.flatMap((f) => names(f.spec?.['containers']))),
    initContainers: unique(fragments.flatMap((f) => names(f.spec?.['initContainers']))),
  };
  const spec = out['spec'] as Record<string, unknown>;
  reapplyOverwrittenContainers(pod, spec, added);
  if (config.proxy.holdApplicationUntilProxyStarts && sel.templates.includes('sidecar')) proxyFirst(spec);
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of (spec[list] ?? []) as Array<Record<string, unknown>>) {
      if (added[list].includes(String(c['name']))) defaultRequestsAndCheck(c, `container ${String(c['name'])}`, problems);
    }
  }
  if (problems.length) return invalid(problems);

  const status: SidecarStatus = {
    initContainers: orNull(added.initContainers),
    containers: orNull(added.containers),
    volumes: orNull(unique(fragments.flatMap((f) => names(f.spec?.['volumes'])))),
    imagePullSecrets: orNull(unique(fragments.flatMap((f) => names(f.spec?.['imagePullSecrets'])))),
    revision: config.revision,
  };
  const md = (out['metadata'] ??= {}) as Record<string, unknown>;
  md['annotations'] = {
    ...((md['annotations']) ?? {}),
    [ANNOTATION_ISTIO_REV]: config.revision,
    [ANNOTATION_SIDECAR_STATUS]: JSON.stringify(status),
  };
  return { status: 'injected', pod: out, templates: sel.templates, warnings: res.warnings };
}

/** The selected templates rendered for `pod`, in order: custom templates as given, built-ins rendered. */
function renderFragments(pod: V1Pod, opts: InjectOptions, templates: string[], proxyResources: TemplateContext['proxyResources']): PodFragment[] {
  const config = opts.config;
  const templatePod: TemplatePod = {
    ...(pod.metadata?.name !== undefined ? { name: pod.metadata.name } : {}),
    labels: { ...(pod.metadata?.labels ?? {}) },
    annotations: { ...(pod.metadata?.annotations ?? {}) },
    appContainers: (pod.spec?.containers ?? [])
      .filter((c) => c.name !== CONTAINER_ISTIO_PROXY)
      .map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports } : {}) })),
  };
  const ctx: TemplateContext = {
    pod: templatePod,
    namespace: opts.namespace ?? pod.metadata?.namespace ?? 'default',
    workloadName: opts.workloadName ?? workloadNameOf(pod),
    config,
    proxyResources,
  };
  return templates.map((name) => {
    const custom = config.templates[name];
    if (custom) return custom;
    const render = BUILTIN_TEMPLATE_RENDERERS[name];
    return render ? render(ctx) : {};
  });
}

/**
 * The user's own containers with a template container's name override the
 * template's fields (upstream reapplyOverwrittenContainers); `image: auto`
 * means "keep the injector's image". Changes `spec` (the merged copy).
 */
function reapplyOverwrittenContainers(pod: V1Pod, spec: Record<string, unknown>, added: Record<'containers' | 'initContainers', string[]>): void {
  for (const list of ['containers', 'initContainers'] as const) {
    const original = (pod.spec?.[list] ?? []);
    const current = (spec[list] ?? []) as Array<Record<string, unknown>>;
    for (const name of added[list]) {
      const mine = original.find((c) => c.name === name);
      const at = current.findIndex((c) => c['name'] === name);
      if (!mine || at < 0) continue;
      const override: Record<string, unknown> = { ...jsonClone(mine) };
      if (override['image'] === 'auto' || override['image'] === '') delete override['image'];
      current[at] = strategicMerge(current[at], override) as Record<string, unknown>;
    }
  }
}

/** holdApplicationUntilProxyStarts: containers start in order, so the proxy goes first and the app never runs without it. */
function proxyFirst(spec: Record<string, unknown>): void {
  const containers = (spec['containers'] ?? []) as Array<Record<string, unknown>>;
  const at = containers.findIndex((c) => c['name'] === CONTAINER_ISTIO_PROXY);
  if (at > 0) containers.unshift(...containers.splice(at, 1));
}

function invalid(problems: InjectionProblem[]): InjectOutcome {
  return { status: 'invalid', problems, message: problems.map((p) => p.message).join('; ') };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function orNull(xs: string[]): string[] | null {
  return xs.length ? xs : null;
}
