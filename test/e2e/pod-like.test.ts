// The image's contents run as in a pod (issue 14): the root filesystem of the
// Containerfile's layout (hack/rootfs.sh: Node.js 20, its libraries, the
// bundle, /etc/passwd — nothing else), started with the release manifest's
// exact Deployment command, args and env, as UID 65532 with a read-only root,
// in-cluster configuration from a TokenRequest token and the cluster CA at
// /var/run/secrets/kubernetes.io/serviceaccount, under the shipped RBAC and
// admission policies — migrating 5 namespaces and rolling them back.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInfo } from '../../src/api/build-info.js';
import { captureContractRow } from '../support/contract.js';
import { clients, eventually, kubectl, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  patchMigration,
  startMeshInjectors,
  declareOldRevision,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { buildRootfs, podlikeUnavailable, renderRelease, startPodLike, type PodLike } from '../support/podlike.js';

const VERSION = '0.0.0-e2e';
const SCRAPER = 'metrics-scraper-e2e';

async function tokenFor(c: Clients, serviceAccount: string): Promise<string> {
  const tr = await c.core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace: 'meshrev-system', body: { spec: { audiences: [], expirationSeconds: 600 } } });
  if (!tr.status?.token) throw new Error(`TokenRequest for ${serviceAccount} returned no token`);
  return tr.status.token;
}

/** A ServiceAccount bound to the shipped meshrev-metrics-reader, as Prometheus's would be; returns its token. */
async function metricsScraper(c: Clients): Promise<string> {
  await kubectl(['apply', '--server-side', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SCRAPER, namespace: 'meshrev-system' } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: SCRAPER },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'meshrev-metrics-reader' },
          subjects: [{ kind: 'ServiceAccount', name: SCRAPER, namespace: 'meshrev-system' }],
        },
      ],
    }),
  });
  return tokenFor(c, SCRAPER);
}
const IMAGE = 'registry.invalid/meshrev';

describe('the image\'s contents run as in a pod', function () {
  this.timeout(300_000);
  let c: Clients;
  let dir: string;
  let pod: PodLike | undefined;
  let mesh: Mesh | undefined;
  let deployment: k8s.V1Deployment;
  let scraperToken: string;
  const apps: string[] = [];

  before(async function () {
    c = clients();
    dir = mkdtempSync(join(tmpdir(), 'meshrev-podlike-'));
    const rootfs = buildRootfs();
    const why = podlikeUnavailable(rootfs);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const objects = renderRelease(join(dir, 'install.yaml'), VERSION, IMAGE);
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(dir, 'install.yaml')]);
    deployment = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
    expect(deployment.spec?.template.spec?.containers[0]?.image).to.equal(`${IMAGE}:${VERSION}`);
    // The injectors listen on the host's loopback; the pod reaches them there through relays (in a cluster: their Service).
    mesh = await startMeshInjectors();
    const hostPorts = [mesh.oldInjector, mesh.newInjector].map((i) => Number(new URL(i.url).port));
    pod = await startPodLike(c, { rootfs, dir, deployment, podName: 'meshrev-operator-podlike', hostPorts });
    scraperToken = await metricsScraper(c);
    // KUBERNETES_SERVICE_HOST is the `kubernetes` Service IP when the serving certificate names it; the local cluster's names only loopback.
    console.log(`      the pod reaches the API server at ${pod.apiAddress}`);
    await eventually('the pod-like operator is ready', async () => (await pod!.get('/readyz').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 60_000 });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !pod) return;
    const mr = mesh ? await getMeshRevision(c, mesh.newRev).catch(() => undefined) : undefined;
    console.log(`pod-like operator's output (end):\n${pod.output().slice(-6000)}\nMeshRevision status: ${JSON.stringify(mr?.status, null, 1)?.slice(0, 4000)}`);
  });

  after(async function () {
    this.timeout(180_000);
    await stopMesh(c, mesh);
    if (pod) {
      const exit = await pod.stop();
      if (exit.code !== 0) console.log(`pod-like operator exited ${JSON.stringify(exit)}; its output:\n${pod.output().slice(-4000)}`);
    }
    await kubectl(['delete', 'clusterrolebinding', SCRAPER, '--ignore-not-found']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs as UID/GID 65532 without capabilities, on a read-only root, with in-cluster credentials', async function () {
    const pid = pod!.pid()!;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).to.match(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(status).to.match(/^Gid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(status).to.match(/^CapEff:\s+0+$/m);
    expect(status).to.match(/^NoNewPrivs:\s+1$/m);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).to.deep.equal([
      ...deployment.spec!.template.spec!.containers[0]!.command!,
      ...deployment.spec!.template.spec!.containers[0]!.args!.map((a) => a.replace('$(POD_NAMESPACE)', 'meshrev-system')),
    ]);
    // Its root (seen from its chroot, "/") is mounted read-only; so is the ServiceAccount volume client-node's in-cluster config reads.
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' '));
    const optionsAt = (point: string) => mounts.filter((f) => f[4] === point).at(-1)?.[5]?.split(',');
    expect(optionsAt('/'), 'root mount').to.include('ro');
    expect(optionsAt('/var/run/secrets/kubernetes.io/serviceaccount'), 'ServiceAccount volume').to.include('ro');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    expect(environ).to.include(`KUBERNETES_SERVICE_HOST=${pod!.apiAddress.split(':')[0]}`);
    expect(environ).to.include('POD_NAMESPACE=meshrev-system');
    expect(environ.some((e) => e.startsWith('KUBECONFIG=')), 'no kubeconfig: in-cluster config').to.equal(false);
    expect(pod!.output()).to.contain(`"version":"${buildInfo().version}"`);
    const metrics = await pod!.get('/metrics', scraperToken);
    expect(metrics.status, metrics.body).to.equal(200);
    expect(metrics.body).to.match(new RegExp(`meshrev_build_info\\{version="${buildInfo().version}",commit="[0-9a-f]{40}(-dirty)?",node="v20\\.[0-9.]+"\\} 1`));
    // Its informers list as the ServiceAccount: the API server's audit of who asked is the Lease it holds.
    const lease = await c.objects.read<k8s.V1Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'meshrev-leader', namespace: 'meshrev-system' } });
    expect(lease.spec?.holderIdentity).to.contain('meshrev-operator-podlike');
  });

  it('serves /metrics on the pod IP only to a token allowed to get it (TokenReview + SubjectAccessReview); probes stay open', async function () {
    expect(await pod!.get('/metrics')).to.deep.include({ status: 401 });
    const other = await tokenFor(c, 'default');
    const denied = await pod!.get('/metrics', other);
    expect(denied.status).to.equal(403);
    expect(denied.body).to.contain('may not get /metrics: bind the ClusterRole meshrev-metrics-reader');
    expect((await pod!.get('/metrics', 'not-a-token')).status).to.equal(401);
    expect((await pod!.get('/metrics', scraperToken)).status).to.equal(200);
    expect((await pod!.get('/healthz')).status).to.equal(200);
  });

  it('migrates 5 namespaces to the new revision and rolls them back', async function () {
    const m = mesh!;
    await declareOldRevision(c, m);
    for (let i = 0; i < 5; i++) apps.push(await createAppNamespace(c, m, `podlike${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web' }] }));
    for (const ns of apps) expect((await waitSettled(c, ns, 2)).every((p) => p.revision === m.oldRev), `${ns} starts on ${m.oldRev}`).to.equal(true);

    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, {
      migration: migrationFor(m, { steps: [{ namespaces: 1 }, { percent: 100 }], maxConcurrentNamespaces: 2 }),
    }));
    const done = await waitMigrationPhase(c, m.newRev, 'Succeeded', 180_000);
    captureContractRow('succeeded', done);
    expect(done.status?.migration?.counts).to.include({ eligible: 5, migrated: 5, failed: 0 });
    for (const ns of apps) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': m.newRev });
      expect((await waitSettled(c, ns, 2)).map((p) => p.revision), ns).to.deep.equal([m.newRev, m.newRev]);
    }

    await patchMigration(c, m.newRev, { rollback: { all: true } });
    const back = await waitMigrationPhase(c, m.newRev, 'RolledBack', 180_000);
    expect(back.status?.migration?.counts?.rolledBack).to.equal(5);
    for (const ns of apps) {
      expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio-injection': 'enabled' });
      expect((await waitSettled(c, ns, 2)).map((p) => p.revision), ns).to.deep.equal([m.oldRev, m.oldRev]);
    }
    const metrics = await pod!.get('/metrics', scraperToken);
    expect(metrics.body).to.match(/meshrev_namespace_migration_duration_seconds_count\{direction="rollback"\} ([5-9]|\d\d+)/);
  });

  it('stops on SIGTERM as the kubelet sends it: drains, releases the Lease, exits 0', async function () {
    // Delete the mesh's MeshRevisions while the operator still runs (it removes their finalizers).
    await stopMesh(c, mesh);
    mesh = undefined;
    const exit = await pod!.stop();
    expect(exit, pod!.output().slice(-2000)).to.deep.equal({ code: 0, signal: null });
    pod = undefined;
    const lease = await c.objects.read<k8s.V1Lease>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'meshrev-leader', namespace: 'meshrev-system' } });
    expect(lease.spec?.holderIdentity ?? '').to.equal('');
  });
});
