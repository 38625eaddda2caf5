// Runs the operator in the test process under the ServiceAccount and RBAC
// from config/ (installed with `kubectl apply -k config/default`), with a
// token from the TokenRequest API — so every e2e proves the role suffices.
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_NAME } from '../../src/api/meshrevision.js';
import { startOperator, type RunningOperator } from '../../src/operator.js';
import { createLogger } from '../../src/runtime/logger.js';
import { eventually, kubectl, type Clients } from './kube.js';

export const OPERATOR_NAMESPACE = 'meshrev-system';
export const OPERATOR_SERVICE_ACCOUNT = 'meshrev';

/** Applies config/default (CRD, namespace, RBAC, Deployment) and waits for the CRD to be served. */
export async function installOperatorManifests(c: Clients): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-k', 'config/default']);
  await eventually(`CRD ${CRD_NAME} Established`, async () => {
    const crd = await c.objects.read<k8s.V1CustomResourceDefinition>({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD_NAME },
    });
    return crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  });
}

/** A kubeconfig for the cluster that authenticates as the operator's ServiceAccount. */
export async function serviceAccountKubeConfig(c: Clients): Promise<k8s.KubeConfig> {
  const tr = await c.core.createNamespacedServiceAccountToken({
    name: OPERATOR_SERVICE_ACCOUNT,
    namespace: OPERATOR_NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  const cluster = c.kc.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'e2e' }],
    users: [{ name: 'meshrev-sa', token }],
    contexts: [{ name: 'meshrev-sa', cluster: 'e2e', user: 'meshrev-sa' }],
    currentContext: 'meshrev-sa',
  });
  return kc;
}

/** Installs the manifests and starts the operator as its ServiceAccount, on loopback, leading on a Lease. */
export async function startOperatorAsServiceAccount(c: Clients, lease = 'meshrev-leader-e2e'): Promise<RunningOperator> {
  await installOperatorManifests(c);
  const kc = await serviceAccountKubeConfig(c);
  return startOperator({
    kc,
    listen: { host: '127.0.0.1', port: 0 },
    leaderElection: { namespace: OPERATOR_NAMESPACE, name: lease },
    log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  });
}

/** Writes a kubeconfig file for `kc` (token auth), for an operator run as a separate process. */
export function writeKubeConfig(kc: k8s.KubeConfig, dir: string): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

export interface OperatorProcess {
  child: ChildProcess;
  /** Everything it logged so far. */
  output(): string;
  /** SIGKILL: no shutdown code runs, as when a node dies. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit: its code, or the signal that ended it. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `meshrev operator` from the shipped bundle (dist/meshrev.mjs; another build's with `bundle`)
 * as a child process with the given kubeconfig, on loopback.
 */
export function spawnOperator(kubeconfig: string, extraArgs: string[] = [], bundle?: string): OperatorProcess {
  const main = bundle ?? fileURLToPath(new URL('../../meshrev.mjs', import.meta.url));
  const child = spawn(process.execPath, [main, 'operator', '--kubeconfig', kubeconfig, '--health-address', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
