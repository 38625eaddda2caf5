// Clients and small helpers for tests that talk to the real local cluster
// started by test/e2e/hooks.ts.
import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { GROUP, PLURAL, VERSION } from '../../src/api/meshrevision.js';

export const E2E_KUBECONFIG_ENV = 'MESHREV_E2E_KUBECONFIG';
/** The kubectl built with the cluster (set by the harness; else kubectl from PATH). */
export const E2E_KUBECTL_ENV = 'MESHREV_E2E_KUBECTL';

/** Runs kubectl against the test cluster; rejects with its stderr when it fails. */
export function kubectl(args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const bin = process.env[E2E_KUBECTL_ENV] ?? 'kubectl';
  const kubeconfig = process.env[E2E_KUBECONFIG_ENV];
  if (!kubeconfig) throw new Error(`${E2E_KUBECONFIG_ENV} is not set`);
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['--kubeconfig', kubeconfig, ...args], { timeout: opts.timeoutMs ?? 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function testKubeConfig(): k8s.KubeConfig {
  const path = process.env[E2E_KUBECONFIG_ENV];
  if (!path) throw new Error(`${E2E_KUBECONFIG_ENV} is not set: run e2e tests through 'make test-e2e', which starts a local cluster`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  admission: k8s.AdmissionregistrationV1Api;
  objects: k8s.KubernetesObjectApi;
  custom: k8s.CustomObjectsApi;
}

export function clients(kc: k8s.KubeConfig = testKubeConfig()): Clients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
  };
}

/** A DNS-1123 name unique to this run, so tests never collide with each other or a previous run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a value other than undefined/false, or throws
 * after `timeoutMs` with the last observation, so a failing test says what it saw.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Creates a namespace and waits for its default ServiceAccount: pods created
 * before the ServiceAccount controller has made it are rejected.
 */
export async function createNamespace(c: Clients, name: string, labels: Record<string, string> = {}): Promise<void> {
  await c.core.createNamespace({ body: { metadata: { name, labels } } });
  await eventually(`ServiceAccount default in ${name}`, async () => {
    await c.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
}

export async function deleteNamespaceQuietly(c: Clients, name: string): Promise<void> {
  try {
    await c.core.deleteNamespace({ name });
  } catch {
    // already gone, or the cluster is being torn down
  }
}

export function isPodReady(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The API server's message for a failed call (ApiException keeps the Status JSON in body). */
export function errorText(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (typeof body === 'string') return body;
  if (body !== undefined) return JSON.stringify(body);
  return err instanceof Error ? err.message : String(err);
}

/** Creates a MeshRevision with strict field validation, as `kubectl apply` does by default; `dryRun` stores nothing. */
export async function createStrict(c: Clients, body: unknown, opts: { dryRun?: boolean } = {}): Promise<void> {
  await c.custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: body as object,
    fieldValidation: 'Strict',
    ...(opts.dryRun ? { dryRun: 'All' } : {}),
  });
}

/** What the API server adds per pod (the service-account token volume has a random name) and what scheduling sets, removed. */
export function comparablePod(pod: k8s.V1Pod): unknown {
  const spec = structuredClone(pod.spec ?? { containers: [] });
  const isToken = (name: string) => name.startsWith('kube-api-access-');
  spec.volumes = (spec.volumes ?? []).filter((v) => !isToken(v.name));
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    c.volumeMounts = (c.volumeMounts ?? []).filter((m) => !isToken(m.name));
  }
  delete spec.nodeName;
  return { labels: pod.metadata?.labels, annotations: pod.metadata?.annotations, spec };
}
