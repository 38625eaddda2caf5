// `meshrev operator`: runs the controller until SIGTERM/SIGINT, in a pod
// (in-cluster credentials) or from a workstation (--kubeconfig).
import type { Command } from 'commander';
import { loadKubeConfig } from '../../kube/client.js';
import { startOperator } from '../../operator.js';
import { createLogger } from '../../runtime/logger.js';
import { CliError } from '../errors.js';

interface Options {
  kubeconfig?: string;
  context?: string;
  healthAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionName: string;
  concurrency: string;
  logLevel?: string;
  metricsAuth?: string;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** --metrics-auth: explicit, else "kubernetes" when /metrics is reachable beyond loopback. */
function metricsAuthOf(value: string | undefined, host: string): boolean {
  if (value === undefined) return !LOOPBACK.test(host);
  if (value === 'kubernetes' || value === 'none') return value === 'kubernetes';
  throw new CliError(`--metrics-auth: "${value}" is not kubernetes or none`, 2);
}

/** "host:port" → parts; the host may be empty (all interfaces, as written explicitly) or a bracketed IPv6 address. */
function parseAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError(`--health-address: "${value}" is not host:port (e.g. 0.0.0.0:8080, 127.0.0.1:0)`, 2);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function register(program: Command): void {
  program
    .command('operator')
    .description('Run the meshrev operator (MeshRevision controller) until SIGTERM')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    // Loopback by default: a workstation run does not expose metrics to its network. The Deployment
    // (config/manager/deployment.yaml) passes 0.0.0.0:8080 so the kubelet's probes and Prometheus reach the pod IP.
    .option('--health-address <host:port>', 'where /healthz, /readyz and /metrics are served (in a pod: 0.0.0.0:8080, as config/manager passes)', '127.0.0.1:8080')
    .option('--leader-elect', 'lead on a Lease so only one replica acts', false)
    .option('--leader-election-namespace <ns>', 'namespace of the Lease', process.env.POD_NAMESPACE ?? 'meshrev-system')
    .option('--leader-election-name <name>', 'name of the Lease', 'meshrev-leader')
    .option('--concurrency <n>', 'MeshRevisions reconciled at once', '2')
    .option('--log-level <level>', 'error, warn, info, debug (default: $LOG_LEVEL or info)')
    .option('--metrics-auth <mode>', 'who may read /metrics: kubernetes (a bearer token allowed to get /metrics, checked with TokenReview and SubjectAccessReview) or none (default: kubernetes unless --health-address is loopback); probes are always open')
    .action(async (opts: Options) => {
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new CliError(`--concurrency: "${opts.concurrency}" must be a whole number ≥ 1`, 2);
      const listen = parseAddress(opts.healthAddress);
      const metricsAuth = metricsAuthOf(opts.metricsAuth, listen.host);
      const log = createLogger({ level: opts.logLevel });
      const kc = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
      const op = await startOperator({
        kc,
        listen,
        concurrency,
        log,
        metricsAuth,
        handleSignals: true,
        ...(opts.leaderElect ? { leaderElection: { namespace: opts.leaderElectionNamespace, name: opts.leaderElectionName } } : {}),
      });
      const reason = await op.done;
      // Losing the lease or failing to start: exit non-zero so the pod restarts into a clean standby.
      if (reason === 'lost-leadership' || reason === 'start-failed') throw new CliError(`operator stopped: ${reason}`, 1);
    });
}
