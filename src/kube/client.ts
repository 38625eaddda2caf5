// Loading cluster credentials. src/kube is the only folder that imports the
// Kubernetes client library; everything else receives what it builds.
import * as k8s from '@kubernetes/client-node';

export interface KubeConfigOptions {
  /** Path to a kubeconfig file; when absent: $KUBECONFIG, then in-cluster, then ~/.kube/config. */
  kubeconfig?: string;
  /** Context to use from the kubeconfig (default: its current context). */
  context?: string;
}

/**
 * What kubectl says when it finds no configuration at all (no $KUBECONFIG,
 * no ~/.kube/config, not in a pod), followed by how to give one.
 */
export const NO_CONFIGURATION_MESSAGE =
  'no configuration has been provided: found no $KUBECONFIG, no ~/.kube/config and no in-cluster service account; ' +
  'pass --kubeconfig <file>, set KUBECONFIG, or run in a pod with a service account';

/**
 * True for what client-node's loadFromDefault falls back to when it finds no
 * configuration: one context "loaded-context" pointing at http://localhost:8080
 * with an empty user. Requests then fail with "HTTP protocol is not allowed
 * when skipTLSVerify is not set or false", which says nothing useful.
 */
function isNoConfigurationFallback(kc: k8s.KubeConfig): boolean {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  return kc.getCurrentContext() === 'loaded-context' && kc.getContexts().length === 1 &&
    cluster?.name === 'cluster' && cluster.server === 'http://localhost:8080' &&
    user?.name === 'user' && !user.token && !user.certFile && !user.certData && !user.authProvider && !user.exec;
}

export function loadKubeConfig(opts: KubeConfigOptions = {}): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) {
    kc.loadFromFile(opts.kubeconfig);
  } else {
    // loadFromDefault honours $KUBECONFIG, then ~/.kube/config, then the in-cluster service account.
    kc.loadFromDefault();
    if (isNoConfigurationFallback(kc)) throw new Error(NO_CONFIGURATION_MESSAGE);
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
      throw new Error(`kubeconfig has no context "${opts.context}" (known: ${known})`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set $KUBECONFIG, or run in a pod with a service account');
  }
  return reuseConnections(kc);
}

type DispatcherFactory = (cluster: k8s.Cluster | null, agentOptions: Record<string, unknown>) => unknown;

/** Distinct TLS identities kept (a rotating client certificate makes a new one now and then). */
const MAX_DISPATCHERS = 4;

/**
 * Makes `kc` reuse its HTTP connections. client-node 2.0 builds a new undici
 * Agent for every request (KubeConfig.createDispatcher, called from
 * applySecurityAuthentication), so every request opened a new TLS connection:
 * a handshake on both ends and a new SecureContext — about a sixth of the
 * operator's CPU during a migration, and as much again on the API server.
 * This keeps one Agent per set of dispatcher options (server, proxy, CA,
 * client certificate and key), as client-node already does for its
 * https.Agent path (agentCache). Bearer tokens travel in headers, so a
 * refreshed token needs no new connection; a rotated client certificate gets
 * a new Agent. Pinned by test/unit/kube/client.test.ts.
 */
export function reuseConnections(kc: k8s.KubeConfig): k8s.KubeConfig {
  const target = kc as unknown as { createDispatcher?: DispatcherFactory; createDispatcherOptions: DispatcherFactory };
  const create = target.createDispatcher;
  if (typeof create !== 'function') throw new Error('@kubernetes/client-node changed: KubeConfig.createDispatcher is gone (see src/kube/client.ts)');
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify([cluster?.server, target.createDispatcherOptions.call(kc, cluster, agentOptions)]);
    if (cache.has(key)) return cache.get(key);
    const dispatcher = create.call(kc, cluster, agentOptions);
    if (cache.size >= MAX_DISPATCHERS) cache.delete(cache.keys().next().value!);
    cache.set(key, dispatcher);
    return dispatcher;
  };
  return kc;
}

/** The typed API groups the operator uses directly (the rest goes through informers and KubeWriter). */
export interface Apis {
  core: k8s.CoreV1Api;
  /** One GET of a workload's whole pod template (the admission dry run; the cache keeps a projection). */
  apps: k8s.AppsV1Api;
  coordination: k8s.CoordinationV1Api;
  discovery: k8s.DiscoveryV1Api;
}

export function makeApis(kc: k8s.KubeConfig): Apis {
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    discovery: kc.makeApiClient(k8s.DiscoveryV1Api),
  };
}

/** Ready endpoints behind a Service, from its EndpointSlices (one LIST; used by the injector gate). */
export async function readyEndpoints(discovery: k8s.DiscoveryV1Api, namespace: string, service: string): Promise<number> {
  const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  let n = 0;
  for (const s of slices.items) for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) n++;
  return n;
}
