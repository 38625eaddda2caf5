// Mocha global fixtures for the e2e suite: one real local cluster per run
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK on
// 127.0.0.1), started before the first test and torn down after the last one,
// also when tests fail or the run is interrupted.
//
// Set MESHREV_E2E_KUBECONFIG to run against a cluster you already started
// (`make cluster`); the harness then neither starts nor stops anything.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_KUBECONFIG_ENV, E2E_KUBECTL_ENV } from '../support/kube.js';

// The suite runs from the repository root (make test-e2e, npm run test:e2e).
const clusterScript = join(process.cwd(), 'hack', 'localcluster', 'cluster.sh');

let startedCluster: string | undefined;

function clusterCmd(...args: string[]): string {
  return execFileSync(clusterScript, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function teardown(): void {
  if (!startedCluster) return;
  const name = startedCluster;
  startedCluster = undefined;
  try {
    clusterCmd('down', name);
  } catch (err) {
    console.error(`e2e: tearing down cluster ${name} failed: ${(err as Error).message}`);
  }
}

export function mochaGlobalSetup(): void {
  if (process.env[E2E_KUBECONFIG_ENV]) {
    console.log(`e2e: using the existing cluster in ${process.env[E2E_KUBECONFIG_ENV]}`);
    return;
  }
  if (!existsSync(clusterScript)) throw new Error(`${clusterScript} not found: run the e2e suite from the repository root`);
  // Clusters left behind by runs that were killed (their owner process is gone).
  clusterCmd('prune');
  const name = `e2e-${process.pid}-${randomBytes(2).toString('hex')}`;
  startedCluster = name;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      teardown();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  process.once('exit', teardown);
  const out = clusterCmd('up', name, '--owner-pid', String(process.pid));
  const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(out)?.[1];
  if (!kubeconfig) throw new Error(`cluster.sh up printed no KUBECONFIG= line:\n${out}`);
  process.env[E2E_KUBECONFIG_ENV] = kubeconfig;
  const kubectl = /^KUBECTL=(.+)$/m.exec(out)?.[1];
  if (kubectl) process.env[E2E_KUBECTL_ENV] = kubectl;
}

export function mochaGlobalTeardown(): void {
  teardown();
}
