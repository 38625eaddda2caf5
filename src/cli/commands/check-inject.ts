// `meshrev check-inject`: explains which webhook and revision would inject a
// pod and why (like `istioctl x check-inject`), from the cluster or offline,
// and fails when more than one webhook would inject.
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { workloadPods } from '../../injector/manifest.js';
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

export function register(program: Command): void {
  program
    .command('check-inject')
    .description('Explain which webhook and revision would inject a pod, and why; fails if more than one would')
    .argument('[pod]', 'an existing pod in --namespace to check (read from the cluster)')
    .option('-n, --namespace <namespace>', 'namespace the pod is (or would be) created in')
    .option('-f, --filename <file>', 'pod or workload manifest to check (each workload\'s pod template; - reads stdin)')
    .option('-l, --pod-labels <k=v,...>', 'labels of a hypothetical pod (when neither [pod] nor -f is given)')
    .option('--namespace-labels <k=v,...>', 'the namespace\'s labels; given, nothing is read from the cluster (offline)')
    .option('--webhooks <file>', 'MutatingWebhookConfigurations to evaluate, from a YAML file, instead of the cluster\'s')
    .option('--default-revision <revision>', 'offline: revision owning istio-injection=enabled (default: from the webhooks, else "default")')
    .option('--enable-namespaces-by-default', 'offline: the mesh injects pods in unlabelled namespaces')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .action(async (podName: string | undefined, opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const format = parseOutputFormat(opts.output);
      const offline = opts.namespaceLabels !== undefined;
      if (podName !== undefined && (offline || opts.filename !== undefined)) {
        throw new CliError('a pod name is read from the cluster: give either [pod] with -n, or -f with a manifest', 2);
      }
      if (podName !== undefined && opts.namespace === undefined) throw new CliError('[pod] needs -n/--namespace', 2);

      const fromFile = opts.filename !== undefined ? workloadPods(await readInput(opts.filename)) : undefined;
      if (fromFile && fromFile.length === 0) throw new CliError(`${opts.filename}: no Pod or workload with a pod template found`);
      const nsName = opts.namespace ?? fromFile?.find((p) => p.namespace !== undefined)?.namespace ?? 'default';

      let nsLabels: Record<string, string> = offline ? parseKeyValues(opts.namespaceLabels ?? '', '--namespace-labels') : {};
      let webhooks: V1MutatingWebhookConfiguration[] | undefined =
        opts.webhooks !== undefined ? parseWebhookConfigurations(await readInput(opts.webhooks), opts.webhooks) : undefined;
      let pods: PodToExplain[];
      let clusterPod: PodToExplain | undefined;
      if (!offline) {
        // Loaded only here, so offline use never loads the Kubernetes client.
        const { readInjectionViewFromCluster } = await import('../../kube/injection-view.js');
        const view = await readInjectionViewFromCluster({
          namespace: nsName,
          ...(podName !== undefined ? { pod: podName } : {}),
          ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
          ...(opts.context !== undefined ? { context: opts.context } : {}),
        });
        nsLabels = view.namespace?.labels ?? {};
        webhooks ??= view.webhooks;
        if (view.pod) {
          const md = view.pod.metadata ?? {};
          clusterPod = {
            description: `Pod ${nsName}/${md.name ?? podName ?? ''}`,
            labels: md.labels ?? {},
            annotations: md.annotations ?? {},
            hostNetwork: view.pod.spec?.hostNetwork === true,
          };
        }
      }
      if (clusterPod) {
        pods = [clusterPod];
      } else if (fromFile) {
        pods = fromFile;
      } else {
        const labels = opts.podLabels !== undefined ? parseKeyValues(opts.podLabels, '--pod-labels') : {};
        pods = [{ description: `a new pod${opts.podLabels ? '' : ' with no labels'}`, labels, annotations: {}, hostNetwork: false }];
      }

      const mesh: MeshInjectionSettings = {
        ...(opts.defaultRevision !== undefined ? { defaultRevision: opts.defaultRevision } : {}),
        ...(opts.enableNamespacesByDefault ? { enableNamespacesByDefault: true } : {}),
      };
      const namespace = { name: nsName, labels: nsLabels };
      const explanations = explainInjection({ namespace, pods, mesh, ...(webhooks ? { webhooks } : {}) });
      io.out(format === 'text' ? formatExplanation(namespace, explanations) : renderData({ namespace, pods: explanations }, format));
      const conflicts = explanations.filter((x) => x.conflict);
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
