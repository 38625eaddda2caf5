// The injector's configuration for one revision: proxy image and settings,
// templates, mesh policy. Defaults make a working injector with no file; a
// YAML file (our own shape, or an IstioOperator's `spec.values` subset the
// seeds show) overrides them. Parsing is pure: callers read the file.
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { MeshInjectionSettings } from '../policy/injection.js';
import { labelSelectorError } from '../policy/selectors.js';
import { isPlainObject } from './merge.js';
import { resourceQuantityError } from './quantity.js';

/** Settings of the `istio-proxy` sidecar and the `istio-init` init container. */
export interface ProxySettings {
  /** Proxy image; also what `image: auto` means. */
  image: string;
  /** Image of `istio-init` (default: the proxy image, as upstream). */
  initImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Default sidecar resources, used when no `sidecar.istio.io/proxy*` annotation is set. */
  resources: V1ResourceRequirements;
  initResources: V1ResourceRequirements;
  logLevel: string;
  componentLogLevel: string;
  /** Envoy worker threads; 0 means one per CPU. */
  concurrency: number;
  /** Start istio-proxy first and hold the app until the proxy is ready. */
  holdApplicationUntilProxyStarts: boolean;
  uid: number;
  gid: number;
  statusPort: number;
  includeIPRanges: string;
  excludeIPRanges: string;
  includeInboundPorts: string;
  excludeInboundPorts: string;
  excludeOutboundPorts: string;
}

/** A named template: a Pod fragment (`metadata` and/or `spec`) merged into the pod. */
export interface PodFragment {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface InjectorConfig {
  /** The revision this injector serves (`istio.io/rev` on injected pods). */
  revision: string;
  proxy: ProxySettings;
  imagePullSecrets: string[];
  /** istiod address the proxy connects to. */
  discoveryAddress: string;
  trustDomain: string;
  clusterDomain: string;
  clusterId: string;
  meshId: string;
  /** Templates applied when a pod names none with `inject.istio.io/templates`. */
  defaultTemplates: string[];
  /** Custom templates by name (may also replace `sidecar` or `gateway`). */
  templates: Record<string, PodFragment>;
  mesh: MeshInjectionSettings;
  /** True while proxy.image is the default made from the revision name; kube-inject's offline path refuses to guess (it must come from the file or a flag). */
  proxyImageGuessed: boolean;
}

const BUILTIN_TEMPLATES = ['sidecar', 'gateway'] as const;
/** Proxy image used when the revision name does not look like a version. */
const DEFAULT_PROXY_IMAGE = 'docker.io/istio/proxyv2:1.24.2';

/**
 * A default image for a revision: Istio names revisions after versions with
 * dashes (`1-21`, `1-21-3`), so those get the matching proxy tag.
 */
function defaultImageFor(revision: string): string {
  const m = /^(\d+)-(\d+)(?:-(\d+))?$/.exec(revision);
  if (!m) return DEFAULT_PROXY_IMAGE;
  return `docker.io/istio/proxyv2:${m[1]}.${m[2]}.${m[3] ?? '0'}`;
}

function defaultDiscoveryAddress(revision: string): string {
  return revision === 'default' ? 'istiod.istio-system.svc:15012' : `istiod-${revision}.istio-system.svc:15012`;
}

export function defaultInjectorConfig(revision = 'default'): InjectorConfig {
  const image = defaultImageFor(revision);
  return {
    revision,
    proxy: {
      image,
      initImage: image,
      imagePullPolicy: 'IfNotPresent',
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } },
      initResources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } },
      logLevel: 'warning',
      componentLogLevel: 'misc:error',
      concurrency: 2,
      holdApplicationUntilProxyStarts: false,
      uid: 1337,
      gid: 1337,
      statusPort: 15020,
      includeIPRanges: '*',
      excludeIPRanges: '',
      includeInboundPorts: '*',
      excludeInboundPorts: '',
      excludeOutboundPorts: '',
    },
    imagePullSecrets: [],
    discoveryAddress: defaultDiscoveryAddress(revision),
    trustDomain: 'cluster.local',
    clusterDomain: 'cluster.local',
    clusterId: 'Kubernetes',
    meshId: 'cluster.local',
    defaultTemplates: ['sidecar'],
    templates: {},
    mesh: {},
    proxyImageGuessed: true,
  };
}

/** A configuration error; `path` is where in the file (e.g. `proxy.resources.limits.cpu`). */
export class InjectorConfigError extends Error {
  constructor(readonly path: string, detail: string) {
    super(path ? `injector config: ${path}: ${detail}` : `injector config: ${detail}`);
    this.name = 'InjectorConfigError';
  }
}

type Obj = Record<string, unknown>;

function checkKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new InjectorConfigError(path ? `${path}.${k}` : k, `unknown field (known: ${allowed.join(', ')})`);
    }
  }
}

function obj(v: unknown, path: string): Obj {
  if (!isPlainObject(v)) throw new InjectorConfigError(path, 'must be a map');
  return v;
}

function str(v: unknown, path: string, opts: { nonEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') throw new InjectorConfigError(path, 'must be a string');
  if (opts.nonEmpty && v === '') throw new InjectorConfigError(path, 'must not be empty');
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InjectorConfigError(path, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InjectorConfigError(path, 'must be true or false');
  return v;
}

function strList(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InjectorConfigError(path, 'must be a list of strings');
  return v as string[];
}

/** Accepts numbers too (YAML `cpu: 2`), as the API server does. */
function resources(v: unknown, path: string): V1ResourceRequirements {
  const o = obj(v, path);
  checkKeys(o, path, ['requests', 'limits']);
  const out: V1ResourceRequirements = {};
  for (const part of ['requests', 'limits'] as const) {
    if (o[part] === undefined) continue;
    const m = obj(o[part], `${path}.${part}`);
    const values: Record<string, string> = {};
    for (const [name, q] of Object.entries(m)) {
      const p = `${path}.${part}.${name}`;
      const text = typeof q === 'number' ? String(q) : str(q, p);
      const err = resourceQuantityError(text);
      if (err) throw new InjectorConfigError(p, `"${text}": ${err}`);
      values[name] = text;
    }
    out[part] = values;
  }
  return out;
}

function template(v: unknown, path: string): PodFragment {
  let value = v;
  // The seeds write templates as YAML text (`custom: |`); upstream's are Go
  // templates, which this injector does not evaluate.
  if (typeof value === 'string') {
    if (value.includes('{{')) {
      throw new InjectorConfigError(path, 'Go template expressions ({{ ... }}) are not supported; give a static Pod fragment (metadata and/or spec)');
    }
    try {
      value = parseYaml(value) as unknown;
    } catch (err) {
      throw new InjectorConfigError(path, `is not valid YAML: ${(err as Error).message}`);
    }
  }
  const o = obj(value ?? {}, path);
  checkKeys(o, path, ['metadata', 'spec']);
  const out: PodFragment = {};
  if (o['metadata'] !== undefined) {
    const md = obj(o['metadata'], `${path}.metadata`);
    checkKeys(md, `${path}.metadata`, ['labels', 'annotations']);
    out.metadata = {};
    for (const k of ['labels', 'annotations'] as const) {
      if (md[k] === undefined) continue;
      const m = obj(md[k], `${path}.metadata.${k}`);
      for (const [key, val] of Object.entries(m)) str(val, `${path}.metadata.${k}.${key}`);
      out.metadata[k] = m as Record<string, string>;
    }
  }
  if (o['spec'] !== undefined) out.spec = obj(o['spec'], `${path}.spec`);
  return out;
}

/**
 * A list of label selectors (never/alwaysInjectSelector). istiod skips one it
 * cannot read, silently at request time; here it is refused when loaded.
 */
function selectorList(v: unknown, path: string): V1LabelSelector[] {
  if (!Array.isArray(v)) throw new InjectorConfigError(path, 'must be a list of label selectors, e.g. [{matchLabels: {app: batch}}]');
  return v.map((item, i) => {
    const p = `${path}[${i}]`;
    const o = obj(item, p);
    checkKeys(o, p, ['matchLabels', 'matchExpressions']);
    if (o['matchLabels'] !== undefined) for (const [k, val] of Object.entries(obj(o['matchLabels'], `${p}.matchLabels`))) str(val, `${p}.matchLabels.${k}`);
    if (o['matchExpressions'] !== undefined && !(Array.isArray(o['matchExpressions']) && o['matchExpressions'].every(isPlainObject))) {
      throw new InjectorConfigError(`${p}.matchExpressions`, 'must be a list of {key, operator, values}');
    }
    const err = labelSelectorError(o);
    if (err) throw new InjectorConfigError(p, err);
    return o;
  });
}

function mesh(v: unknown, path: string): MeshInjectionSettings {
  const o = obj(v, path);
  checkKeys(o, path, [
    'enableNamespacesByDefault', 'autoInject', 'defaultRevision', 'tags', 'revisions', 'ignoredNamespaces', 'neverInjectSelector', 'alwaysInjectSelector',
  ]);
  const out: MeshInjectionSettings = {};
  if (o['enableNamespacesByDefault'] !== undefined) out.enableNamespacesByDefault = bool(o['enableNamespacesByDefault'], `${path}.enableNamespacesByDefault`);
  if (o['autoInject'] !== undefined) {
    const a = str(o['autoInject'], `${path}.autoInject`);
    if (a !== 'enabled' && a !== 'disabled') throw new InjectorConfigError(`${path}.autoInject`, 'must be "enabled" or "disabled"');
    out.autoInject = a;
  }
  if (o['defaultRevision'] !== undefined) {
    out.defaultRevision = o['defaultRevision'] === null ? null : str(o['defaultRevision'], `${path}.defaultRevision`, { nonEmpty: true });
  }
  if (o['tags'] !== undefined) {
    const t = obj(o['tags'], `${path}.tags`);
    for (const [k, val] of Object.entries(t)) str(val, `${path}.tags.${k}`, { nonEmpty: true });
    out.tags = t as Record<string, string>;
  }
  if (o['revisions'] !== undefined) out.revisions = strList(o['revisions'], `${path}.revisions`);
  if (o['ignoredNamespaces'] !== undefined) out.ignoredNamespaces = strList(o['ignoredNamespaces'], `${path}.ignoredNamespaces`);
  for (const k of ['neverInjectSelector', 'alwaysInjectSelector'] as const) {
    if (o[k] !== undefined && o[k] !== null) out[k] = selectorList(o[k], `${path}.${k}`);
  }
  return out;
}

const PROXY_KEYS = [
  'image', 'initImage', 'imagePullPolicy', 'resources', 'initResources', 'logLevel', 'componentLogLevel', 'concurrency',
  'holdApplicationUntilProxyStarts', 'uid', 'gid', 'statusPort', 'includeIPRanges', 'excludeIPRanges', 'includeInboundPorts',
  'excludeInboundPorts', 'excludeOutboundPorts',
] as const;

function proxy(v: unknown, path: string, base: ProxySettings): ProxySettings {
  const o = obj(v, path);
  checkKeys(o, path, PROXY_KEYS);
  const out: ProxySettings = { ...base };
  const p = (k: string) => `${path}.${k}`;
  if (o['image'] !== undefined) {
    out.image = str(o['image'], p('image'), { nonEmpty: true });
    if (o['initImage'] === undefined) out.initImage = out.image;
  }
  if (o['initImage'] !== undefined) out.initImage = str(o['initImage'], p('initImage'), { nonEmpty: true });
  if (o['imagePullPolicy'] !== undefined) {
    const pol = str(o['imagePullPolicy'], p('imagePullPolicy'));
    if (pol !== 'Always' && pol !== 'IfNotPresent' && pol !== 'Never') {
      throw new InjectorConfigError(p('imagePullPolicy'), 'must be Always, IfNotPresent or Never');
    }
    out.imagePullPolicy = pol;
  }
  if (o['resources'] !== undefined) out.resources = resources(o['resources'], p('resources'));
  if (o['initResources'] !== undefined) out.initResources = resources(o['initResources'], p('initResources'));
  for (const k of ['logLevel', 'componentLogLevel', 'includeIPRanges', 'excludeIPRanges', 'includeInboundPorts', 'excludeInboundPorts', 'excludeOutboundPorts'] as const) {
    if (o[k] !== undefined) out[k] = typeof o[k] === 'number' ? String(o[k]) : str(o[k], p(k));
  }
  if (o['concurrency'] !== undefined) out.concurrency = int(o['concurrency'], p('concurrency'), 0, 1024);
  if (o['holdApplicationUntilProxyStarts'] !== undefined) {
    out.holdApplicationUntilProxyStarts = bool(o['holdApplicationUntilProxyStarts'], p('holdApplicationUntilProxyStarts'));
  }
  if (o['uid'] !== undefined) out.uid = int(o['uid'], p('uid'), 0, 2 ** 31 - 1);
  if (o['gid'] !== undefined) out.gid = int(o['gid'], p('gid'), 0, 2 ** 31 - 1);
  if (o['statusPort'] !== undefined) out.statusPort = int(o['statusPort'], p('statusPort'), 1, 65535);
  return out;
}

const TOP_KEYS = [
  'revision', 'proxy', 'imagePullSecrets', 'discoveryAddress', 'trustDomain', 'clusterDomain', 'clusterId', 'meshId',
  'defaultTemplates', 'templates', 'mesh',
] as const;

/**
 * Builds a configuration from parsed YAML/JSON (our shape or an IstioOperator),
 * over the defaults. `revision` (e.g. from --revision) wins over the file's.
 * Throws {@link InjectorConfigError} naming the offending field.
 */
export function buildInjectorConfig(input: unknown, revision?: string): InjectorConfig {
  let raw: Obj = input === null || input === undefined ? {} : obj(input, '');
  if (raw['kind'] === 'IstioOperator') raw = fromIstioOperator(raw);
  checkKeys(raw, '', TOP_KEYS);
  const rev = revision ?? (raw['revision'] !== undefined ? str(raw['revision'], 'revision', { nonEmpty: true }) : 'default');
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(rev)) {
    throw new InjectorConfigError('revision', `"${rev}" is not a valid revision name (a DNS label: lowercase letters, digits and '-')`);
  }
  const cfg = defaultInjectorConfig(rev);
  if (raw['proxy'] !== undefined) cfg.proxy = proxy(raw['proxy'], 'proxy', cfg.proxy);
  if (isPlainObject(raw['proxy']) && raw['proxy']['image'] !== undefined) cfg.proxyImageGuessed = false;
  if (raw['imagePullSecrets'] !== undefined) cfg.imagePullSecrets = strList(raw['imagePullSecrets'], 'imagePullSecrets');
  for (const k of ['discoveryAddress', 'trustDomain', 'clusterDomain', 'clusterId', 'meshId'] as const) {
    if (raw[k] !== undefined) cfg[k] = str(raw[k], k, { nonEmpty: true });
  }
  if (raw['templates'] !== undefined) {
    const t = obj(raw['templates'], 'templates');
    for (const [name, v] of Object.entries(t)) {
      if (!/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(name)) throw new InjectorConfigError(`templates.${name}`, 'template names are letters, digits, -, _ and .');
      cfg.templates[name] = template(v, `templates.${name}`);
    }
  }
  if (raw['defaultTemplates'] !== undefined) {
    const d = strList(raw['defaultTemplates'], 'defaultTemplates');
    if (d.length === 0) throw new InjectorConfigError('defaultTemplates', 'must name at least one template');
    for (const name of d) {
      if (!isKnownTemplate(cfg, name)) throw new InjectorConfigError('defaultTemplates', `names unknown template "${name}" (known: ${knownTemplates(cfg).join(', ')})`);
    }
    cfg.defaultTemplates = d;
  }
  if (raw['mesh'] !== undefined) cfg.mesh = mesh(raw['mesh'], 'mesh');
  return cfg;
}

export function knownTemplates(cfg: InjectorConfig): string[] {
  return [...new Set([...BUILTIN_TEMPLATES, ...Object.keys(cfg.templates)])];
}

export function isKnownTemplate(cfg: InjectorConfig, name: string): boolean {
  return (BUILTIN_TEMPLATES as readonly string[]).includes(name) || Object.hasOwn(cfg.templates, name);
}

/** Parses a YAML configuration file's text. */
export function parseInjectorConfigYaml(text: string, revision?: string): InjectorConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InjectorConfigError('', `not valid YAML: ${(err as Error).message}`);
  }
  return buildInjectorConfig(doc, revision);
}

/**
 * Maps the IstioOperator fields the seeds use (`spec.revision`,
 * `spec.values.global.{hub,tag,proxy,proxy_init,imagePullSecrets}`,
 * `spec.values.sidecarInjectorWebhook.{templates,defaultTemplates,enableNamespacesByDefault,neverInjectSelector,alwaysInjectSelector}`)
 * to this injector's shape. Other IstioOperator fields are ignored: they
 * configure istiod, not injection.
 */
function fromIstioOperator(io: Obj): Obj {
  const spec = isPlainObject(io['spec']) ? io['spec'] : {};
  const values = isPlainObject(spec['values']) ? spec['values'] : {};
  const global = isPlainObject(values['global']) ? values['global'] : {};
  const gproxy = isPlainObject(global['proxy']) ? global['proxy'] : {};
  const ginit = isPlainObject(global['proxy_init']) ? global['proxy_init'] : {};
  const webhook = isPlainObject(values['sidecarInjectorWebhook']) ? values['sidecarInjectorWebhook'] : {};
  const out: Obj = {};
  if (spec['revision'] !== undefined && spec['revision'] !== '') out['revision'] = spec['revision'];
  const p: Obj = {};
  const image = (name: unknown): string | undefined => {
    if (typeof name !== 'string') return undefined;
    if (name.includes('/') || name.includes(':')) return name;
    if (typeof global['hub'] === 'string' && (typeof global['tag'] === 'string' || typeof global['tag'] === 'number')) {
      return `${global['hub']}/${name}:${String(global['tag'])}`;
    }
    return undefined;
  };
  const proxyImage = image(gproxy['image'] ?? 'proxyv2');
  if (proxyImage) p['image'] = proxyImage;
  const initImage = image(ginit['image']);
  if (initImage) p['initImage'] = initImage;
  if (gproxy['resources'] !== undefined) p['resources'] = gproxy['resources'];
  if (ginit['resources'] !== undefined) p['initResources'] = ginit['resources'];
  if (gproxy['logLevel'] !== undefined) p['logLevel'] = gproxy['logLevel'];
  if (gproxy['componentLogLevel'] !== undefined) p['componentLogLevel'] = gproxy['componentLogLevel'];
  if (gproxy['holdApplicationUntilProxyStarts'] !== undefined) p['holdApplicationUntilProxyStarts'] = gproxy['holdApplicationUntilProxyStarts'];
  if (gproxy['statusPort'] !== undefined) p['statusPort'] = gproxy['statusPort'];
  if (Object.keys(p).length) out['proxy'] = p;
  if (Array.isArray(global['imagePullSecrets'])) out['imagePullSecrets'] = global['imagePullSecrets'];
  if (webhook['templates'] !== undefined) out['templates'] = webhook['templates'];
  if (webhook['defaultTemplates'] !== undefined) out['defaultTemplates'] = webhook['defaultTemplates'];
  const m: Obj = {};
  for (const k of ['enableNamespacesByDefault', 'neverInjectSelector', 'alwaysInjectSelector']) if (webhook[k] !== undefined) m[k] = webhook[k];
  if (gproxy['autoInject'] !== undefined) m['autoInject'] = gproxy['autoInject'];
  if (Object.keys(m).length) out['mesh'] = m;
  return out;
}
