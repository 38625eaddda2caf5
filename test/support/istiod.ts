// Real istiods (Istio's pilot-discovery) for the e2e tier, one per revision,
// started on the local cluster by hack/localcluster/cluster.sh (which renders
// their ConfigMaps with Istio's own renderer) and stopped by pid — also when a
// test fails (stopMesh, and cluster.sh down stops any left running).
//
// Istio itself is the judge of what Istio does: these are the injectors
// whose decisions the real-istiod tests compare meshrev with.
import { execFile, execFileSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { E2E_KUBECONFIG_ENV } from './kube.js';

const run = promisify(execFile);
const clusterScript = join(process.cwd(), 'hack', 'localcluster', 'cluster.sh');

export interface RealIstiod {
  revision: string;
  /** `https://127.0.0.1:<port>/inject`: istiod's webhook, its certificate signed by istiod's own CA (caBundle left to istiod). */
  url: string;
  /** Istio's build version (pilot-discovery's), e.g. 1.31.0-dev.eed52ebb. */
  version: string;
  pid: number;
  log: string;
  /** No caBundle: istiod fills in the webhook's clientConfig.caBundle itself. */
  caBundle?: undefined;
  stop(): Promise<void>;
}

/** The local cluster the e2e harness runs on: the directory holding its kubeconfig ($MESHREV_CACHE/clusters/<name>/kubeconfig). */
export function e2eClusterName(): string {
  const kubeconfig = process.env[E2E_KUBECONFIG_ENV];
  if (!kubeconfig) throw new Error(`${E2E_KUBECONFIG_ENV} is not set: run the e2e suite through its mocha config (test/e2e/hooks.ts)`);
  return basename(dirname(kubeconfig));
}

function field(out: string, key: string): string {
  const v = new RegExp(`^${key}=(.+)$`, 'm').exec(out)?.[1];
  if (v === undefined) throw new Error(`cluster.sh istiod printed no ${key}= line:\n${out}`);
  return v;
}

/** Starts (or reuses) a real istiod for `revision` on the e2e cluster; resolves once it is ready. */
export async function startIstiod(revision: string): Promise<RealIstiod> {
  const cluster = e2eClusterName();
  const { stdout } = await run(clusterScript, ['istiod', cluster, revision], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return {
    revision,
    url: field(stdout, 'ISTIOD_INJECT_URL'),
    version: field(stdout, 'ISTIOD_VERSION'),
    pid: Number(field(stdout, 'ISTIOD_PID')),
    log: field(stdout, 'ISTIOD_LOG'),
    stop: async () => {
      await run(clusterScript, ['istiod-stop', cluster, revision], { encoding: 'utf8' });
    },
  };
}

/**
 * What istiod's Helm chart would install as webhooks for `revision` — rendered by Istio's own
 * renderer (operator/pkg/render), never hand-written: `istio-sidecar-injector-<revision>` and one
 * `istio-revision-tag-<tag>` per tag (`default` included), all calling `url`.
 */
export function renderChartWebhooks(revision: string, url: string, tags: readonly string[] = []): string {
  const args = ['render', '--kind', 'MutatingWebhookConfiguration', '--set', 'profile=minimal', '--set', `revision=${revision}`,
    '--set', `values.istiodRemote.injectionURL=${url}`];
  tags.forEach((t, i) => args.push('--set', `values.revisionTags[${i}]=${t}`));
  return execFileSync(clusterScript, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 4 << 20 });
}
