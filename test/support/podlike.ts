// Runs the operator as the image would run in a pod, without a container
// runtime: the root filesystem hack/rootfs.sh assembles (the Containerfile's
// layout), started by hack/podlike.sh in its own namespaces as UID 65532 with
// a read-only root, the pod's ServiceAccount files (a TokenRequest token, the
// cluster CA, the namespace) at the standard path, KUBERNETES_SERVICE_HOST/PORT,
// and the command, args and env of the release manifest's Deployment.
import * as k8s from '@kubernetes/client-node';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { parseAllDocuments } from 'yaml';
import { repoPath } from './repo.js';
import { E2E_KUBECTL_ENV, type Clients } from './kube.js';

const TOOLS = ['unshare', 'setpriv', 'chroot', 'ip', 'mount'];

/** Why pod-like runs cannot work on this machine, or undefined when they can (checked by running one). */
export function podlikeUnavailable(rootfs: string): string | undefined {
  if (process.platform !== 'linux') return `needs Linux namespaces; this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'hack/podlike.sh must run as root to create the mount, PID and network namespaces (it drops to UID 65532 itself); run the e2e suite as root';
  const missing = TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) return `missing ${missing.join(', ')} (Debian: util-linux, coreutils, iproute2)`;
  const sa = join(rootfs, '..', 'probe-sa');
  mkdirSync(sa, { recursive: true });
  try {
    execFileSync(repoPath('hack/podlike.sh'), [rootfs, sa, '--', '--', '/nodejs/bin/node', '-e', '0'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (err) {
    return `hack/podlike.sh could not start a process here (unshare of mount/PID/network namespaces or chroot refused): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  return undefined;
}

/** Assembles (or reuses) the image's root filesystem; returns its directory. */
export function buildRootfs(): string {
  const out = execFileSync(repoPath('hack/rootfs.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = /^ROOTFS=(.+)$/m.exec(out)?.[1];
  if (!dir) throw new Error(`hack/rootfs.sh printed no ROOTFS= line: ${out}`);
  return dir;
}

/** Renders the release manifest (hack/release.mjs) into `file`; returns its objects. */
export function renderRelease(file: string, version: string, image: string): k8s.KubernetesObject[] {
  execFileSync(process.execPath, [repoPath('hack/release.mjs'), '--version', version, '--image', image, '--out', file, '--kubectl', process.env[E2E_KUBECTL_ENV] ?? 'kubectl'], {
    cwd: repoPath('.'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as k8s.KubernetesObject);
}

/**
 * The container's command line and environment as the kubelet builds them:
 * env values and fieldRefs (metadata.name, metadata.namespace), then $(VAR)
 * in command and args expanded from that environment.
 */
export function containerProcess(deploy: k8s.V1Deployment, pod: { name: string; namespace: string }, extraEnv: Record<string, string>): { argv: string[]; env: Record<string, string> } {
  const c = deploy.spec?.template.spec?.containers[0];
  if (!c?.command?.length) throw new Error('the Deployment has no container with a command');
  const env: Record<string, string> = { ...extraEnv };
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (path === 'metadata.name') env[e.name] = pod.name;
    else if (path === 'metadata.namespace') env[e.name] = pod.namespace;
    else if (e.value !== undefined) env[e.name] = e.value;
    else throw new Error(`env ${e.name}: only values and metadata fieldRefs are supported here`);
  }
  const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
  return { argv: [...c.command, ...(c.args ?? [])].map(expand), env };
}

/** A unix socket whose connections are relayed to host:port (the pod's way to the API server). */
async function relayToTcp(socket: string, host: string, port: number): Promise<Server> {
  rmSync(socket, { force: true });
  const server = createServer((client) => {
    const target = connect(port, host);
    client.pipe(target).pipe(client);
    const end = () => {
      client.destroy();
      target.destroy();
    };
    client.on('error', end);
    target.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return server;
}

/** The IP addresses in the API server's serving certificate (to give the pod the Service IP when it is one of them). */
async function servingCertIPs(host: string, port: number, ca: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, ca, servername: host === '127.0.0.1' ? undefined : host }, () => {
      const alt = s.getPeerCertificate().subjectaltname ?? '';
      s.end();
      resolve([...alt.matchAll(/IP Address:([0-9a-fA-F.:]+)/g)].map((m) => m[1]!));
    });
    s.on('error', reject);
  });
}

export interface PodLike {
  child: ChildProcess;
  /** The operator's PID on the host (the pod's PID 1). */
  pid(): number | undefined;
  output(): string;
  /** GET a path of the pod's 127.0.0.1:8080 (probes and metrics) through the relay, with a bearer token if given. */
  get(path: string, token?: string): Promise<{ status: number; body: string }>;
  /** Where the pod reaches the API server (KUBERNETES_SERVICE_HOST:PORT). */
  apiAddress: string;
  /** SIGTERM to the pod's PID 1, as the kubelet does; resolves with the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface PodLikeOptions {
  rootfs: string;
  /** Scratch directory (ServiceAccount files, sockets). */
  dir: string;
  deployment: k8s.V1Deployment;
  podName: string;
  /** Host TCP addresses (127.0.0.1:port) the pod reaches at the same address, e.g. loopback injectors. */
  hostPorts?: number[];
}

/** Writes the ServiceAccount volume a pod gets: token (TokenRequest), ca.crt, namespace. */
async function serviceAccountVolume(c: Clients, deploy: k8s.V1Deployment, dir: string): Promise<string> {
  const namespace = deploy.metadata!.namespace!;
  const name = deploy.spec!.template.spec!.serviceAccountName!;
  const tr = await c.core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = c.kc.getCurrentCluster();
  const ca = cluster?.caData ? Buffer.from(cluster.caData, 'base64') : cluster?.caFile ? readFileSync(cluster.caFile) : undefined;
  if (!tr.status?.token || !ca) throw new Error('no token from TokenRequest, or no CA in the admin kubeconfig');
  const sa = join(dir, 'serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), tr.status.token, { mode: 0o644 });
  writeFileSync(join(sa, 'ca.crt'), ca, { mode: 0o644 });
  writeFileSync(join(sa, 'namespace'), namespace, { mode: 0o644 });
  return sa;
}

export async function startPodLike(c: Clients, opts: PodLikeOptions): Promise<PodLike> {
  const server = new URL(c.kc.getCurrentCluster()!.server);
  const apiHost = server.hostname;
  const apiPort = Number(server.port || 443);
  const sa = await serviceAccountVolume(c, opts.deployment, opts.dir);
  // In a pod: the `kubernetes` Service's IP and port 443, when the serving certificate names that IP.
  const svc = await c.core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
  const svcIP = svc.spec?.clusterIP;
  const ips = await servingCertIPs(apiHost, apiPort, readFileSync(join(sa, 'ca.crt'), 'utf8'));
  const [podApiHost, podApiPort] = svcIP && ips.includes(svcIP) ? [svcIP, 443] : ['127.0.0.1', 6443];
  const apiSock = join(opts.dir, 'api.sock');
  const healthSock = join(opts.dir, 'health.sock');
  const relays = [await relayToTcp(apiSock, apiHost, apiPort)];
  const hostForwards: string[] = [];
  for (const port of opts.hostPorts ?? []) {
    const sock = join(opts.dir, `host-${port}.sock`);
    relays.push(await relayToTcp(sock, '127.0.0.1', port));
    hostForwards.push('--forward', `in:127.0.0.1:${port}=${sock}`);
  }
  const ns = opts.deployment.metadata!.namespace!;
  const { argv, env } = containerProcess(opts.deployment, { name: opts.podName, namespace: ns }, {
    KUBERNETES_SERVICE_HOST: podApiHost,
    KUBERNETES_SERVICE_PORT: String(podApiPort),
    HOSTNAME: opts.podName,
  });
  const child = spawn(repoPath('hack/podlike.sh'), [
    opts.rootfs, sa,
    '--forward', `in:${podApiHost}:${podApiPort}=${apiSock}`,
    '--forward', `out:${healthSock}=127.0.0.1:8080`,
    ...hostForwards,
    '--', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '--', ...argv,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => relays.forEach((r) => r.close()));
  // unshare --fork: its one child becomes (after exec) the pod's PID 1, the operator.
  const pid = (): number | undefined => {
    const f = `/proc/${child.pid}/task/${child.pid}/children`;
    const first = existsSync(f) ? readFileSync(f, 'utf8').trim().split(/\s+/)[0] : undefined;
    return first ? Number(first) : undefined;
  };
  const get = (path: string, token?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: healthSock, path, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const stop = async () => {
    const p = pid();
    if (child.exitCode === null && child.signalCode === null) {
      if (p) process.kill(p, 'SIGTERM');
      else child.kill('SIGKILL');
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const r = await exited;
    clearTimeout(killer);
    return r;
  };
  return { child, pid, output: () => out, get, apiAddress: `${podApiHost}:${podApiPort}`, stop };
}
