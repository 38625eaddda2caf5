// Release artifacts on the real local cluster: the release manifest applies
// cleanly (server-side dry run), and the Helm chart installs, runs the
// operator from its Deployment as in a pod (test/support/podlike.ts),
// upgrades keeping the CRD and state, and uninstalls leaving namespaces as
// they are.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, CRD_NAME, KIND } from '../../src/api/meshrevision.js';
import { buildHelm, helm } from '../support/helm.js';
import { clients, E2E_KUBECONFIG_ENV, eventually, kubectl, type Clients } from '../support/kube.js';
import {
  createAppNamespace,
  createMeshRevision,
  declareOldRevision,
  getMeshRevision,
  meshRevisionObject,
  migrationFor,
  namespaceLabels,
  startMeshInjectors,
  stopMesh,
  waitMigrationPhase,
  waitSettled,
  type Mesh,
} from '../support/mesh.js';
import { buildRootfs, podlikeUnavailable, renderRelease, startPodLike, type PodLike } from '../support/podlike.js';
import { repoPath } from '../support/repo.js';

describe('release manifest', function () {
  this.timeout(120_000);

  it('applies cleanly with kubectl apply --dry-run=server', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'meshrev-release-'));
    try {
      const objects = renderRelease(join(dir, 'install.yaml'), '1.2.3', 'registry.example.com/meshrev');
      expect(objects.map((o) => o.kind)).to.include.members(['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'Deployment', 'ValidatingAdmissionPolicy']);
      const deploy = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
      expect(deploy.spec?.template.spec?.containers[0]?.image).to.equal('registry.example.com/meshrev:1.2.3');
      const out = await kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', join(dir, 'install.yaml')]);
      const lines = out.trim().split('\n');
      expect(lines).to.have.length(objects.length);
      for (const l of lines) expect(l).to.match(/ (serverside-applied|created|configured|unchanged) \(server dry run\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const NS = 'meshrev-helm';

describe('helm chart: install, upgrade, uninstall', function () {
  this.timeout(300_000);
  let c: Clients;
  let bin: string;
  let dir: string;
  let mesh: Mesh | undefined;
  let pod: PodLike | undefined;
  let rootfs: string;
  const apps: string[] = [];
  const run = (...args: string[]) => helm(bin, [...args, '--kubeconfig', process.env[E2E_KUBECONFIG_ENV]!]);

  before(function () {
    this.timeout(1_200_000); // a cold helm build (once per machine)
    c = clients();
    bin = buildHelm();
    dir = mkdtempSync(join(tmpdir(), 'meshrev-helm-'));
    rootfs = buildRootfs();
    const why = podlikeUnavailable(rootfs);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
  });

  after(async function () {
    this.timeout(180_000);
    await pod?.stop();
    // With no operator left, drop the MeshRevisions' finalizers so they can go.
    for (const name of mesh?.meshRevisions ?? []) {
      await c.objects
        .patch({ apiVersion: API_VERSION, kind: KIND, metadata: { name, finalizers: null } } as unknown as k8s.KubernetesObject, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch)
        .catch(() => undefined);
    }
    await stopMesh(c, mesh);
    try {
      run('uninstall', 'meshrev', '--namespace', NS, '--ignore-not-found');
    } catch {
      // already gone
    }
    await c.core.deleteNamespace({ name: NS }).catch(() => undefined);
    // The other e2e files install config/default themselves; put its cluster-wide objects back as they were.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-k', 'config/default']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lints clean (helm lint --strict)', function () {
    expect(helm(bin, ['lint', '--strict', repoPath('charts/meshrev')])).to.contain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('installs, and the operator run from its Deployment migrates namespaces', async function () {
    // The suite's other files applied config/default's cluster-wide objects (same names) with kubectl: remove them, as
    // on a cluster meshrev was never installed on (the CRD stays: Helm installs crds/ only when absent, and keeps them).
    await kubectl(['delete', 'clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding', '-l', 'app.kubernetes.io/name=meshrev', '--ignore-not-found']);
    const notes = run('install', 'meshrev', repoPath('charts/meshrev'), '--namespace', NS, '--create-namespace',
      '--set', 'image.repository=registry.invalid/meshrev');
    expect(notes).to.contain('BEFORE YOU UNINSTALL: roll migrations back first');
    const deployment = await c.apps.readNamespacedDeployment({ name: 'meshrev-operator', namespace: NS });
    expect(deployment.spec?.replicas).to.equal(2);
    mesh = await startMeshInjectors();
    const hostPorts = [mesh.oldInjector.url, mesh.newInjector.url].map((u) => Number(new URL(u).port));
    pod = await startPodLike(c, { rootfs, dir, deployment, podName: 'meshrev-operator-helm', hostPorts });
    await eventually('the operator is ready', async () => (await pod!.get('/readyz').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 60_000 });
    const m = mesh;
    await declareOldRevision(c, m);
    for (let i = 0; i < 2; i++) apps.push(await createAppNamespace(c, m, `helm${i}`, { 'istio-injection': 'enabled' }, { deployments: [{ name: 'web', replicas: 1 }] }));
    for (const ns of apps) await waitSettled(c, ns, 1);
    await createMeshRevision(c, m, meshRevisionObject(m.newRev, m.newInjector, { migration: migrationFor(m, { steps: [{ percent: 100 }] }) }));
    await waitMigrationPhase(c, m.newRev, 'Succeeded', 120_000);
    for (const ns of apps) expect(await namespaceLabels(c, ns)).to.deep.equal({ 'istio.io/rev': m.newRev });
  });

  it('upgrades: values change the Deployment; the CRD and the MeshRevisions\' state stay', async function () {
    const crdBefore = await c.objects.read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME } });
    run('upgrade', 'meshrev', repoPath('charts/meshrev'), '--namespace', NS, '--reuse-values', '--set', 'replicaCount=1', '--set', 'logLevel=debug');
    const d = await c.apps.readNamespacedDeployment({ name: 'meshrev-operator', namespace: NS });
    expect(d.spec?.replicas).to.equal(1);
    expect(d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'LOG_LEVEL')?.value).to.equal('debug');
    expect((await c.kc.makeApiClient(k8s.PolicyV1Api).listNamespacedPodDisruptionBudget({ namespace: NS })).items, 'no PDB for 1 replica').to.have.length(0);
    const crdAfter = await c.objects.read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME } });
    expect(crdAfter.metadata?.uid).to.equal(crdBefore.metadata?.uid);
    const mr = await getMeshRevision(c, mesh!.newRev);
    expect(mr?.status?.migration?.phase).to.equal('Succeeded');
    expect(mr?.status?.migration?.counts).to.include({ migrated: 2 });
  });

  it('uninstalls leaving namespaces labelled as they are, the CRD and the MeshRevisions in place', async function () {
    // As when the Deployment goes: its pods get SIGTERM.
    const exit = await pod!.stop();
    pod = undefined;
    expect(exit.code).to.equal(0);
    run('uninstall', 'meshrev', '--namespace', NS);
    await eventually('the Deployment gone', async () => (await c.apps.listNamespacedDeployment({ namespace: NS })).items.length === 0);
    for (const ns of apps) expect(await namespaceLabels(c, ns), ns).to.deep.equal({ 'istio.io/rev': mesh!.newRev });
    await c.objects.read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD_NAME } });
    expect((await getMeshRevision(c, mesh!.newRev))?.status?.migration?.phase).to.equal('Succeeded');
  });
});
