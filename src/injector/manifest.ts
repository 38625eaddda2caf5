// Manual injection (`meshrev kube-inject`): injects the pod templates of the
// workloads in a multi-document YAML manifest and leaves everything else
// byte for byte as it was. Idempotent: an injected template carries
// `sidecar.istio.io/status`, so a second run changes nothing.
import type { V1Pod } from '@kubernetes/client-node';
import { parseDocument, type Document } from 'yaml';
import { decideInjection } from '../policy/injection.js';
import type { InjectorConfig } from './config.js';
import { injectPod } from './inject.js';
import { isPlainObject } from './merge.js';
import { firstDuplicateKey } from './yaml-keys.js';

/** Where each workload kind keeps its pod template; `[]` means the object is the pod. */
const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface KubeInjectResult {
  /** The manifest with workloads injected; equal to the input when nothing was injected. */
  output: string;
  /** `Kind namespace/name` of each injected object. */
  injected: string[];
  /** Workloads left alone, and why. */
  skipped: Array<{ object: string; reason: string }>;
  warnings: string[];
  /** Problems that make the result unusable (invalid YAML, invalid annotations). */
  errors: string[];
}

/**
 * Splits a YAML stream into its documents' source text, so untouched documents
 * are emitted exactly as written. Document markers at column 0 cannot occur
 * inside a document's content (YAML 1.2 "c-forbidden"), so a line scan is exact.
 * The pieces concatenate back to the input.
 */
export function splitYamlDocuments(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const docs: string[] = [];
  let current = '';
  let hasContent = false;
  const flush = () => {
    if (current !== '') docs.push(current);
    current = '';
    hasContent = false;
  };
  for (const line of lines) {
    if (/^---(?:[ \t\r]|\n|$)/.test(line)) {
      if (hasContent) flush();
      current += line;
      hasContent = true;
    } else if (/^\.\.\.(?:[ \t\r]|\n|$)/.test(line)) {
      current += line;
      flush();
    } else {
      current += line;
      if (!/^\s*(#.*)?$/.test(line) && !line.startsWith('%')) hasContent = true;
    }
  }
  flush();
  return docs;
}

function describe(obj: Record<string, unknown>): string {
  const md = isPlainObject(obj['metadata']) ? obj['metadata'] : {};
  const ns = typeof md['namespace'] === 'string' ? `${md['namespace']}/` : '';
  return `${String(obj['kind'])} ${ns}${typeof md['name'] === 'string' ? md['name'] : '(unnamed)'}`;
}

/** Label/annotation maps as strings, whatever YAML made of the values (kubectl rejects non-strings later). */
function strings(v: unknown): Record<string, string> {
  return isPlainObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
}

// kubectl reads manifests as YAML 1.1 (`yes`, `on`, `0777` are not strings
// there); parsing and printing the same way keeps such strings quoted.
// uniqueKeys: the package's check is quadratic; firstDuplicateKey does it in linear time.
const YAML_OPTIONS = { version: '1.1', uniqueKeys: false } as const;

/** The first error of a parsed document, including a duplicate key. */
function documentError(doc: Document): string | undefined {
  if (doc.errors.length) return doc.errors[0]?.message ?? 'parse error';
  const dup = firstDuplicateKey(doc);
  return dup ? `duplicate key ${JSON.stringify(dup.key)}` : undefined;
}

function getIn(obj: unknown, path: readonly (string | number)[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (Array.isArray(cur) && typeof k === 'number') cur = cur[k];
    else if (isPlainObject(cur) && typeof k === 'string') cur = cur[k];
    else return undefined;
  }
  return cur;
}

/** One workload to inject: its pod (template metadata and spec) and where that lives in its document. */
export interface WorkloadToInject {
  /** `Kind namespace/name`. */
  what: string;
  pod: V1Pod;
  /** The workload's metadata.namespace, if it names one. */
  namespace?: string;
  /** The workload's metadata.name. */
  workloadName?: string;
  /** Document index and path of the pod template (`[]`: the object is a Pod). */
  doc: number;
  path: (string | number)[];
}

/** What injecting one workload gave: the injected pod, or why it was left alone, or an error. */
export type WorkloadOutcome =
  | { status: 'injected'; pod: V1Pod; warnings?: string[] }
  | { status: 'skipped'; reason: string }
  | { status: 'invalid'; message: string };

/** A manifest split into documents, and the workloads found in them. */
export interface ParsedManifest {
  sources: string[];
  docs: (Document | undefined)[];
  workloads: WorkloadToInject[];
  result: KubeInjectResult;
}

function collectWorkloads(obj: Record<string, unknown>, doc: number, at: (string | number)[], m: ParsedManifest): void {
  const kind = obj['kind'];
  if (kind === 'List' && Array.isArray(obj['items'])) {
    obj['items'].forEach((item, i) => { if (isPlainObject(item)) collectWorkloads(item, doc, [...at, 'items', i], m); });
    return;
  }
  if (typeof kind !== 'string' || !Object.hasOwn(POD_TEMPLATE_PATHS, kind)) return;
  const tplPath = POD_TEMPLATE_PATHS[kind] ?? [];
  const what = describe(obj);
  const template = tplPath.length ? getIn(obj, tplPath) : obj;
  if (!isPlainObject(template) || !isPlainObject(template['spec'])) {
    m.result.warnings.push(`${what}: no pod template at ${tplPath.join('.') || 'spec'}; left unchanged`);
    return;
  }
  const md = isPlainObject(obj['metadata']) ? obj['metadata'] : {};
  m.workloads.push({
    what,
    pod: { metadata: template['metadata'] ?? {}, spec: template['spec'] } as unknown as V1Pod,
    ...(typeof md['namespace'] === 'string' ? { namespace: md['namespace'] } : {}),
    ...(typeof md['name'] === 'string' ? { workloadName: md['name'] } : {}),
    doc,
    path: [...at, ...tplPath],
  });
}

/** Splits a manifest into documents and finds its workloads. Invalid documents are reported in result.errors and left as they are. */
export function parseManifest(text: string): ParsedManifest {
  const m: ParsedManifest = { sources: splitYamlDocuments(text), docs: [], workloads: [], result: { output: '', injected: [], skipped: [], warnings: [], errors: [] } };
  for (const [i, source] of m.sources.entries()) {
    const doc: Document = parseDocument(source, YAML_OPTIONS);
    const error = documentError(doc);
    if (error !== undefined) {
      m.result.errors.push(`document ${i + 1}: invalid YAML: ${error}`);
      m.docs.push(undefined);
      continue;
    }
    m.docs.push(doc);
    const obj = doc.toJS() as unknown;
    if (isPlainObject(obj)) collectWorkloads(obj, i, [], m);
  }
  return m;
}

/** The manifest with each injected workload's template replaced; untouched documents byte for byte as they were. */
export function renderManifest(m: ParsedManifest, outcomes: readonly WorkloadOutcome[]): KubeInjectResult {
  const result = m.result;
  const changed = new Set<number>();
  m.workloads.forEach((w, i) => {
    const out = outcomes[i];
    if (!out) return;
    if (out.status === 'invalid') result.errors.push(`${w.what}: ${out.message}`);
    else if (out.status === 'skipped') result.skipped.push({ object: w.what, reason: out.reason });
    else {
      const doc = m.docs[w.doc];
      if (!doc) return;
      result.injected.push(w.what);
      result.warnings.push(...(out.warnings ?? []).map((x) => `${w.what}: ${x}`));
      doc.setIn([...w.path, 'metadata'], doc.createNode(out.pod.metadata));
      doc.setIn([...w.path, 'spec'], doc.createNode(out.pod.spec));
      changed.add(w.doc);
    }
  });
  result.output = m.sources.map((source, i) => (changed.has(i) ? (m.docs[i] as Document).toString({ lineWidth: 0 }) : source)).join('');
  return result;
}

/** Injects one workload with the built-in templates (the offline path). */
function injectLocally(w: WorkloadToInject, config: InjectorConfig): WorkloadOutcome {
  const tmd = w.pod.metadata ?? {};
  const decision = decideInjection({
    namespace: { name: w.namespace ?? '' },
    pod: { labels: strings(tmd.labels), annotations: strings(tmd.annotations), hostNetwork: w.pod.spec?.hostNetwork === true },
    via: { revision: config.revision, webhook: 'kube-inject' },
    mesh: config.mesh,
  });
  if (!decision.inject) return { status: 'skipped', reason: decision.reason };
  const out = injectPod(w.pod, {
    config,
    ...(w.namespace !== undefined ? { namespace: w.namespace } : {}),
    ...(w.workloadName !== undefined ? { workloadName: w.workloadName } : {}),
  });
  if (out.status === 'invalid') return { status: 'invalid', message: out.message };
  if (out.status === 'unchanged') return { status: 'skipped', reason: out.reason };
  return { status: 'injected', pod: out.pod, warnings: out.warnings };
}

/** Injects every workload in a multi-document manifest with `config` and the built-in templates. Pure. */
export function kubeInjectManifest(text: string, config: InjectorConfig): KubeInjectResult {
  const m = parseManifest(text);
  return renderManifest(m, m.workloads.map((w) => injectLocally(w, config)));
}

/** A workload's pod template as the injection policy sees it. */
export interface WorkloadPod {
  /** `Kind namespace/name`. */
  description: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostNetwork: boolean;
}

/** A Namespace object of a manifest: the labels it will have once applied. */
export interface ManifestNamespace {
  name: string;
  labels: Record<string, string>;
}

/** The pod templates of every workload in a manifest (for check-inject), and the Namespaces it declares. Throws on invalid YAML. */
export function manifestWorkloads(text: string): { pods: WorkloadPod[]; namespaces: ManifestNamespace[] } {
  const out: WorkloadPod[] = [];
  const namespaces: ManifestNamespace[] = [];
  const visit = (obj: Record<string, unknown>) => {
    if (obj['kind'] === 'List' && Array.isArray(obj['items'])) {
      for (const item of obj['items']) if (isPlainObject(item)) visit(item);
      return;
    }
    const kind = obj['kind'];
    if (kind === 'Namespace' && isPlainObject(obj['metadata']) && typeof obj['metadata']['name'] === 'string') {
      namespaces.push({ name: obj['metadata']['name'], labels: strings(obj['metadata']['labels']) });
      return;
    }
    if (typeof kind !== 'string' || !Object.hasOwn(POD_TEMPLATE_PATHS, kind)) return;
    const path = POD_TEMPLATE_PATHS[kind] ?? [];
    const tpl = path.length ? getIn(obj, path) : obj;
    if (!isPlainObject(tpl)) return;
    const md = isPlainObject(obj['metadata']) ? obj['metadata'] : {};
    const tmd = isPlainObject(tpl['metadata']) ? tpl['metadata'] : {};
    const spec = isPlainObject(tpl['spec']) ? tpl['spec'] : {};
    out.push({
      description: describe(obj),
      ...(typeof md['namespace'] === 'string' ? { namespace: md['namespace'] } : {}),
      labels: strings(tmd['labels']),
      annotations: strings(tmd['annotations']),
      hostNetwork: spec['hostNetwork'] === true,
    });
  };
  for (const [i, source] of splitYamlDocuments(text).entries()) {
    const doc = parseDocument(source, YAML_OPTIONS);
    const error = documentError(doc);
    if (error !== undefined) throw new Error(`document ${i + 1}: invalid YAML: ${error}`);
    const obj = doc.toJS() as unknown;
    if (isPlainObject(obj)) visit(obj);
  }
  return { pods: out, namespaces };
}

/** The pod templates of every workload in a manifest. Throws on invalid YAML. */
export function workloadPods(text: string): WorkloadPod[] {
  return manifestWorkloads(text).pods;
}
