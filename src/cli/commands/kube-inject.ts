// `meshrev kube-inject`: manual injection of a manifest, like
// `istioctl kube-inject`; writes the injected manifest to stdout.
//
// By default each workload's pod template is injected by the revision's own
// injector in the cluster (src/injector/remote.ts: the webhook meshrev or the
// chart wrote, its /inject endpoint, the JSONPatch it answers applied), so the
// output is what that injector — istiod — produces. With --offline, or when
// no cluster or injector can be reached, the built-in templates do it and say
// so on stderr; they never guess the proxy image from a revision name: it
// must come from --config (proxy.image, or an IstioOperator's hub/tag) or
// --proxy-image.
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { InjectorConfig } from '../../injector/config.js';
import { kubeInjectManifest, parseManifest, renderManifest, type KubeInjectResult, type WorkloadOutcome } from '../../injector/manifest.js';
import { admissionReviewFor, applyReviewResponse, findRevisionInjector } from '../../injector/remote.js';
import { CliError } from '../errors.js';
import { outputOf, type CommandOutput } from '../io.js';
import { checkManifestDocuments, decodeInput } from '../yaml-input.js';
import { loadConfig } from './injector.js';

interface Options {
  filename: string;
  revision?: string;
  config?: string;
  proxyImage?: string;
  offline?: boolean;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  quiet?: boolean;
}

/** The text of a file, or of stdin for "-"; refuses binary data (see decodeInput). */
export async function readInput(path: string): Promise<string> {
  if (path !== '-') return decodeInput(await readFile(path), path);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return decodeInput(Buffer.concat(chunks), 'stdin');
}

/** The built-in templates' configuration, refusing a proxy image guessed from the revision name. */
async function offlineConfig(opts: Options): Promise<InjectorConfig> {
  const config = await loadConfig(opts.config, opts.revision);
  if (opts.proxyImage !== undefined) {
    if (opts.proxyImage === '') throw new CliError('--proxy-image must not be empty', 2);
    config.proxy = { ...config.proxy, image: opts.proxyImage, initImage: opts.proxyImage };
    config.proxyImageGuessed = false;
  }
  if (config.proxyImageGuessed) {
    throw new CliError('offline injection needs the proxy image: it is never guessed from the revision name', 2,
      'give --proxy-image <image>, or --config with proxy.image (or an IstioOperator with values.global.hub and tag); or reach the cluster so the revision\'s own injector injects');
  }
  return config;
}

/** A problem that makes the cluster path impossible: kube-inject then falls back to the built-in templates. */
class NoClusterInjector extends Error {}

/** Injects every workload through the revision's injector in the cluster. Throws NoClusterInjector when there is none to reach. */
async function injectThroughCluster(text: string, opts: Options, io: CommandOutput): Promise<KubeInjectResult> {
  const { loadKubeConfig } = await import('../../kube/client.js');
  const { callInjector, InjectorUnreachableError } = await import('../../kube/injector-call.js');
  const k8s = await import('@kubernetes/client-node');
  let kc;
  let configs;
  try {
    kc = loadKubeConfig({ ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}) });
    configs = (await kc.makeApiClient(k8s.AdmissionregistrationV1Api).listMutatingWebhookConfiguration()).items;
  } catch (err) {
    throw new NoClusterInjector(`cannot read the cluster's webhook configurations: ${(err as Error).message}`);
  }
  const injector = findRevisionInjector(configs, opts.revision);
  if (typeof injector === 'string') throw new NoClusterInjector(injector);
  const where = injector.clientConfig.url ?? `service ${injector.clientConfig.service?.namespace}/${injector.clientConfig.service?.name}`;
  io.err(`injecting through revision ${injector.revision}'s injector: ${injector.configName}/${injector.webhookName} (${where})\n`);
  const m = parseManifest(text);
  const outcomes: WorkloadOutcome[] = [];
  for (const w of m.workloads) {
    const namespace = w.namespace ?? opts.namespace ?? 'default';
    try {
      const answer = await callInjector(kc, injector.clientConfig, admissionReviewFor(w.pod, namespace, randomUUID()));
      outcomes.push(applyReviewResponse(w.pod, answer, injector.revision));
    } catch (err) {
      if (err instanceof InjectorUnreachableError && outcomes.length === 0) throw new NoClusterInjector(err.message);
      outcomes.push({ status: 'invalid', message: (err as Error).message });
    }
  }
  return renderManifest(m, outcomes);
}

export function register(program: Command): void {
  program
    .command('kube-inject')
    .description('Inject the sidecar into the workloads of a manifest (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs) and print it, through the revision\'s injector in the cluster')
    .requiredOption('-f, --filename <file>', 'manifest to inject (multi-document YAML; - reads stdin)')
    .option('--revision <revision>', 'revision or tag whose injector injects (default: the default revision\'s)')
    .option('-n, --namespace <namespace>', 'namespace of workloads that name none (default "default")')
    .option('--offline', 'inject with the built-in templates instead of the cluster\'s injector (needs --proxy-image or --config)')
    .option('--config <file>', 'offline: injector configuration (YAML, or an IstioOperator)')
    .option('--proxy-image <image>', 'offline: the istio-proxy image')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-q, --quiet', 'do not report skipped workloads on stderr')
    .action(async (opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const text = await readInput(opts.filename);
      checkManifestDocuments(text, opts.filename === '-' ? 'stdin' : opts.filename);
      let result: KubeInjectResult | undefined;
      if (!opts.offline) {
        try {
          result = await injectThroughCluster(text, opts, io);
        } catch (err) {
          if (!(err instanceof NoClusterInjector)) throw err;
          io.err(`warning: ${err.message}; injecting OFFLINE with meshrev's built-in templates, which are not the injector's own (use --offline to say so)\n`);
        }
      }
      if (!result) {
        const config = await offlineConfig(opts);
        if (opts.offline && !opts.quiet) io.err(`injecting offline with meshrev's built-in templates (revision ${config.revision}, proxy ${config.proxy.image})\n`);
        result = kubeInjectManifest(text, config);
      }
      if (result.errors.length) {
        throw new CliError(`cannot inject ${opts.filename}:\n  ${result.errors.join('\n  ')}`, 1);
      }
      for (const w of result.warnings) io.err(`warning: ${w}\n`);
      if (!opts.quiet) for (const s of result.skipped) io.err(`skipped ${s.object}: ${s.reason}\n`);
      io.out(result.output);
    });
}
