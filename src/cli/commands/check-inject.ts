// `meshrev check-inject`: explains which webhook and revision would inject a
// pod and why (like `istioctl x check-inject`), from the cluster or offline,
// and fails when more than one webhook would inject. A manifest's documents
// are each judged in their own namespace (metadata.namespace, else
// --namespace, else `default`); -o json|yaml gives
// `{namespaces: [{namespace, pods}]}`, one entry per namespace.
import type { V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { manifestWorkloads } from '../../injector/manifest.js';
import { isPlainObject } from '../../injector/merge.js';
import { explainInjection, formatExplanation, type PodToExplain } from '../../policy/explain-injection.js';
import type { MeshInjectionSettings } from '../../policy/injection.js';
import { CliError, parseKeyValues } from '../errors.js';
import { outputOf } from '../io.js';
import { OUTPUT_HELP, parseOutputFormat, renderData } from '../output.js';
import { parseYamlDocuments } from '../yaml-input.js';
import { readInput } from './kube-inject.js';

interface Options {
  namespace?: string;
  filename?: string;
  podLabels?: string;
  namespaceLabels?: string;
  webhooks?: string;
  defaultRevision?: string;
  enableNamespacesByDefault?: boolean;
  kubeconfig?: string;
  context?: string;
  output: string;
}

/** MutatingWebhookConfigurations from YAML (documents, or a List). */
function parseWebhookConfigurations(text: string, source: string): V1MutatingWebhookConfiguration[] {
  const out: V1MutatingWebhookConfiguration[] = [];
  const visit = (o: unknown) => {
    if (!isPlainObject(o)) return;
    if (Array.isArray(o['items'])) o['items'].forEach(visit);
    else if (o['kind'] === 'MutatingWebhookConfiguration') out.push(o);
  };
  for (const doc of parseYamlDocuments(text, source)) visit(doc);
  return out;
}

/** The pods to judge in one namespace, and that namespace's labels. */
interface NamespaceGroup {
  name: string;
  labels: Record<string, string>;
  pods: PodToExplain[];
}

/** Where each pod is judged: its document's metadata.namespace, else --namespace, else `default` (as kubectl apply would create it). */
function groupByNamespace(pods: readonly (PodToExplain & { namespace?: string })[], fallback: string): Map<string, PodToExplain[]> {
  const groups = new Map<string, PodToExplain[]>();
  for (const { namespace, ...pod } of pods) {
    const ns = namespace ?? fallback;
    groups.set(ns, [...(groups.get(ns) ?? []), pod]);
  }
  return groups;
}

function podFromCluster(pod: V1Pod, nsName: string, podName: string): PodToExplain {
  const md = pod.metadata ?? {};
  return {
    description: `Pod ${nsName}/${md.name ?? podName}`,
    labels: md.labels ?? {},
    annotations: md.annotations ?? {},
    hostNetwork: pod.spec?.hostNetwork === true,
  };
}

interface Inputs {
  groups: NamespaceGroup[];
  webhooks?: V1MutatingWebhookConfiguration[];
}

/**
 * The namespaces, their labels and pods, and the webhooks, from the flags, the
 * manifest and (unless --namespace-labels makes it offline) the cluster. A
 * Namespace the manifest declares has its labels merged over the cluster's
 * (or over --namespace-labels), as kubectl apply would leave them.
 */
async function gatherInputs(podName: string | undefined, opts: Options): Promise<Inputs> {
  const offline = opts.namespaceLabels !== undefined;
  const fallback = opts.namespace ?? 'default';
  const manifest = opts.filename !== undefined ? readManifest(await readInput(opts.filename), opts.filename) : undefined;
  if (manifest && manifest.pods.length === 0) throw new CliError(`${opts.filename}: no Pod or workload with a pod template found`);
  let webhooks = opts.webhooks !== undefined ? parseWebhookConfigurations(await readInput(opts.webhooks), opts.webhooks) : undefined;
  const labels = opts.podLabels !== undefined ? parseKeyValues(opts.podLabels, '--pod-labels') : {};
  let byNs = manifest
    ? groupByNamespace(manifest.pods, fallback)
    : new Map([[fallback, [{ description: `a new pod${opts.podLabels ? '' : ' with no labels'}`, labels, annotations: {}, hostNetwork: false }]]]);
  const declared = new Map((manifest?.namespaces ?? []).map((n) => [n.name, n.labels]));
  const nsLabels = new Map<string, Record<string, string>>();
  if (offline) {
    const given = parseKeyValues(opts.namespaceLabels ?? '', '--namespace-labels');
    for (const name of byNs.keys()) nsLabels.set(name, given);
  } else {
    // Loaded only here, so offline use never loads the Kubernetes client.
    const { readInjectionViewFromCluster } = await import('../../kube/injection-view.js');
    const view = await readInjectionViewFromCluster({
      namespaces: [...byNs.keys()],
      allowMissing: podName === undefined,
      ...(podName !== undefined ? { pod: podName } : {}),
      ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
      ...(opts.context !== undefined ? { context: opts.context } : {}),
    });
    const missing = view.missing.filter((n) => !declared.has(n));
    if (missing.length) {
      throw new CliError(`namespace${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in the cluster`, 1,
        'create it, add the Namespace to the manifest, or give its labels with --namespace-labels (offline)');
    }
    for (const ns of view.namespaces) nsLabels.set(ns.name, ns.labels);
    webhooks ??= view.webhooks;
    if (view.pod && podName !== undefined) byNs = new Map([[fallback, [podFromCluster(view.pod, fallback, podName)]]]);
  }
  const groups = [...byNs].map(([name, pods]) => ({ name, labels: { ...nsLabels.get(name), ...declared.get(name) }, pods }));
  return { groups, ...(webhooks ? { webhooks } : {}) };
}

/** The manifest's workloads; a file that is not YAML is an error naming the file. */
function readManifest(text: string, filename: string): ReturnType<typeof manifestWorkloads> {
  try {
    return manifestWorkloads(text);
  } catch (err) {
    throw new CliError(`${filename === '-' ? 'stdin' : filename}: ${(err as Error).message}`, 1);
  }
}

export function register(program: Command): void {
  program
    .command('check-inject')
    .description('Explain which webhook and revision would inject a pod, and why; fails if more than one would')
    .argument('[pod]', 'an existing pod in --namespace to check (read from the cluster)')
    .option('-n, --namespace <namespace>', 'namespace the pod is (or would be) created in; for -f, of documents that name none (default "default")')
    .option('-f, --filename <file>', 'pod or workload manifest to check, each document in its own namespace (each workload\'s pod template; - reads stdin)')
    .option('-l, --pod-labels <k=v,...>', 'labels of a hypothetical pod (when neither [pod] nor -f is given)')
    .option('--namespace-labels <k=v,...>', 'the namespace\'s labels (every namespace\'s, for -f); given, nothing is read from the cluster (offline)')
    .option('--webhooks <file>', 'MutatingWebhookConfigurations to evaluate, from a YAML file, instead of the cluster\'s')
    .option('--default-revision <revision>', 'offline: revision owning istio-injection=enabled (default: from the webhooks, else "default")')
    .option('--enable-namespaces-by-default', 'offline: the mesh injects pods in unlabelled namespaces')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .action(async (podName: string | undefined, opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const format = parseOutputFormat(opts.output);
      if (podName !== undefined && (opts.namespaceLabels !== undefined || opts.filename !== undefined)) {
        throw new CliError('a pod name is read from the cluster: give either [pod] with -n, or -f with a manifest', 2);
      }
      if (podName !== undefined && opts.namespace === undefined) throw new CliError('[pod] needs -n/--namespace', 2);

      const { groups, webhooks } = await gatherInputs(podName, opts);
      const mesh: MeshInjectionSettings = {
        ...(opts.defaultRevision !== undefined ? { defaultRevision: opts.defaultRevision } : {}),
        ...(opts.enableNamespacesByDefault ? { enableNamespacesByDefault: true } : {}),
      };
      const reports = groups.map((g) => {
        const namespace = { name: g.name, labels: g.labels };
        return { namespace, pods: explainInjection({ namespace, pods: g.pods, mesh, ...(webhooks ? { webhooks } : {}) }) };
      });
      io.out(format === 'text'
        ? reports.map((r) => formatExplanation(r.namespace, r.pods)).join('\n')
        : renderData({ namespaces: reports }, format));
      const conflicts = reports.flatMap((r) => r.pods).filter((x) => x.conflict);
      if (conflicts.length) {
        throw new CliError(
          `more than one webhook would inject ${conflicts.map((c) => c.pod.description).join(', ')}: ` +
          conflicts.map((c) => c.injectors.map((e) => `${e.configName}/${e.webhookName} (revision ${e.revision ?? '?'})`).join(' and ')).join('; '),
          1,
          'keep exactly one webhook per revision value: delete the duplicate MutatingWebhookConfiguration (e.g. the Helm chart\'s, when meshrev manages the revision)',
        );
      }
    });
}
