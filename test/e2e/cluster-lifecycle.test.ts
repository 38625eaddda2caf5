// The realistic pod lifecycle of the local cluster (issue 16): `cluster.sh up
// --pod-startup 3s±1s --pod-terminating 2s±1s` runs KWOK with Stages, so a new
// pod is ContainerCreating, then Running but not Ready, then Ready 2–4 s after
// it was scheduled, and a deleted pod stays Terminating 1–3 s. Runs on a
// cluster of its own (the suite's shared cluster stays instant; cluster.test.ts
// checks that it is), stopped in after() whatever happened.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clients, eventually, isPodReady, type Clients } from '../support/kube.js';

const script = join(process.cwd(), 'hack', 'localcluster', 'cluster.sh');

function cluster(...args: string[]): string {
  return execFileSync(script, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

/** Runs cluster.sh expecting it may fail: exit code and stderr. */
function clusterStatus(...args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(script, args, { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stderr: r.stderr };
}

const seconds = (a: string | Date | undefined, b: string | Date | undefined) => (new Date(b!).getTime() - new Date(a!).getTime()) / 1000;

const readyAt = (p: k8s.V1Pod) => p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;

describe('local cluster with a realistic pod lifecycle', function () {
  this.timeout(240_000);
  const name = `e2e-life-${process.pid}-${randomBytes(2).toString('hex')}`;
  let c: Clients;
  let dir = '';

  before(function () {
    const out = cluster('up', name, '--owner-pid', String(process.pid), '--pod-startup', '3s±1s', '--pod-terminating', '2s±1s');
    const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(out)![1]!;
    dir = dirname(kubeconfig);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    c = clients(kc);
  });

  after(function () {
    try {
      cluster('down', name);
    } catch {
      /* best effort: `cluster.sh prune` removes it with its owner gone */
    }
  });

  it('refuses a malformed delay with the format it expects, before creating anything', function () {
    const bad = `e2e-bad-${process.pid}-${randomBytes(2).toString('hex')}`;
    const r = clusterStatus('up', bad, '--pod-startup', 'banana');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain("--pod-startup 'banana' is not a delay");
    expect(r.stderr).to.contain('DURATION[±JITTER]');
    expect(r.stderr).to.contain('5s+-2s');
    const neg = clusterStatus('up', bad, '--pod-terminating', '1s±2s');
    expect(neg.code).to.equal(2);
    expect(neg.stderr).to.contain('jitter is larger than the duration');
    expect(existsSync(join(dirname(dir), bad))).to.equal(false);
  });

  it('takes a new pod through ContainerCreating and Running-not-Ready to Ready 2–4 s after it was scheduled', async function () {
    const labels = { app: 'slow' };
    await c.apps.createNamespacedDeployment({
      namespace: 'default',
      body: { metadata: { name: 'slow' }, spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } } },
    });
    const t0 = Date.now();
    const seen = new Set<string>();
    let firstReadyMs: number | undefined;
    const pods = await eventually('2 Ready pods of slow', async () => {
      const list = (await c.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=slow' })).items;
      for (const p of list) {
        const waiting = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        seen.add(isPodReady(p) ? 'Ready' : `${p.status?.phase ?? 'none'}${waiting ? `/${waiting}` : ''}`);
        if (isPodReady(p) && firstReadyMs === undefined) firstReadyMs = Date.now() - t0;
      }
      return list.length === 2 && list.every(isPodReady) ? list : false;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    expect([...seen]).to.include.members(['Pending/ContainerCreating', 'Running', 'Ready']);
    // The API's own timestamps (1 s resolution): scheduled → Ready at least 2 s (3 s − 1 s); at most 4 s, plus rounding and slack for a loaded machine.
    for (const p of pods) {
      const created = p.metadata?.creationTimestamp;
      const ready = readyAt(p);
      const d = seconds(created, ready);
      expect(d, `${p.metadata?.name}: created ${String(created)}, Ready ${String(ready)}`).to.be.within(2, 8);
      const running = p.status?.containerStatuses?.[0]?.state?.running?.startedAt;
      expect(running, 'container running').to.not.equal(undefined);
    }
    expect(firstReadyMs, 'the first Ready pod, by the test clock').to.be.greaterThan(1_500);
  });

  it('keeps a deleted pod Terminating 1–3 s, and a rollout waits for the new pods start-up', async function () {
    const before = (await c.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=slow' })).items.map((p) => p.metadata!.name!);
    const victim = before[0]!;
    const t0 = Date.now();
    await c.core.deleteNamespacedPod({ name: victim, namespace: 'default' });
    let stillThere = 0;
    await eventually(`pod ${victim} to be gone`, async () => {
      const list = (await c.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=slow' })).items;
      const p = list.find((x) => x.metadata?.name === victim);
      if (p) {
        expect(p.metadata?.deletionTimestamp, 'a deleted pod that is still there is Terminating').to.not.equal(undefined);
        stillThere = Date.now() - t0;
      }
      return !p;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    expect(stillThere, 'ms the deleted pod stayed Terminating').to.be.greaterThan(700);
    expect(Date.now() - t0, 'ms until it was gone').to.be.lessThan(10_000);

    // A rollout restart of 2 replicas (maxSurge 1, maxUnavailable 0) starts its new pods one after the other.
    const t1 = Date.now();
    await c.apps.patchNamespacedDeployment(
      { name: 'slow', namespace: 'default', body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    await eventually('the restart rolled out', async () => {
      const d = await c.apps.readNamespacedDeployment({ name: 'slow', namespace: 'default' });
      const s = d.status;
      return s?.observedGeneration === d.metadata?.generation && s?.updatedReplicas === 2 && s?.availableReplicas === 2 && s?.replicas === 2;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    expect(Date.now() - t1, 'ms for a 2-replica rollout of pods starting in 2–4 s').to.be.greaterThan(3_500);
  });

  it('reuses the cluster only with the same lifecycle, however it is spelled', function () {
    const same = cluster('up', name, '--pod-startup', '3000ms+-1s', '--pod-terminating', '2s~1s');
    expect(same).to.match(/^KUBECONFIG=/m);
    const other = clusterStatus('up', name);
    expect(other.code).to.not.equal(0);
    expect(other.stderr).to.contain(`cluster ${name} exists with pod lifecycle 'startup=3000±1000ms terminating=2000±1000ms', not the 'instant' asked for`);
  });
});
