// The test bed survives an API server outage (issue 17, item 9): when
// kube-apiserver is away longer than their lease renewal, the controller
// manager and the scheduler exit and nothing brings them back — so a fault
// test that restarts the API server would leave a cluster that no longer
// rolls anything out. `cluster.sh supervise` starts what exited and
// `cluster.sh restart` restarts a component under supervision. Runs on a
// cluster of its own, so the shared one is never disturbed.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clients, eventually, isPodReady, type Clients } from '../support/kube.js';

const script = join(process.cwd(), 'hack', 'localcluster', 'cluster.sh');

function cluster(...args: string[]): string {
  return execFileSync(script, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

function running(pidsDir: string, component: string): boolean {
  try {
    process.kill(Number(readFileSync(join(pidsDir, `${component}.pid`), 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

describe('local cluster supervision', function () {
  this.timeout(240_000);
  const name = `e2e-sup-${process.pid}-${randomBytes(2).toString('hex')}`;
  let c: Clients;
  let pids: string;

  before(function () {
    const out = cluster('up', name, '--owner-pid', String(process.pid));
    const kubeconfig = /^KUBECONFIG=(.+)$/m.exec(out)![1]!;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    c = clients(kc);
    pids = join(dirname(kubeconfig), 'pids');
  });

  after(function () {
    try {
      cluster('down', name);
    } catch {
      /* best effort: `cluster.sh prune` removes it with its owner gone */
    }
  });

  async function rollsOut(deployment: string): Promise<void> {
    const labels = { app: deployment };
    await c.apps.createNamespacedDeployment({
      namespace: 'default',
      body: { metadata: { name: deployment }, spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } } } },
    });
    await eventually(`2 Ready pods of ${deployment}`, async () => {
      const pods = await c.core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${deployment}` });
      return pods.items.filter(isPodReady).length === 2;
    });
  }

  it('brings back the controller manager and scheduler that exit while kube-apiserver is away, and the cluster rolls out again', async function () {
    // Only a leader exits when it cannot renew its lease: wait until both lead.
    const coordination = c.kc.makeApiClient(k8s.CoordinationV1Api);
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) {
      await eventually(`${lease} to hold its lease`, async () => Boolean((await coordination.readNamespacedLease({ name: lease, namespace: 'kube-system' })).spec?.holderIdentity));
    }
    const apiserver = Number(readFileSync(join(pids, 'kube-apiserver.pid'), 'utf8').trim());
    process.kill(apiserver, 'SIGSTOP');
    try {
      await eventually('the controller manager and the scheduler to exit', () =>
        Promise.resolve(!running(pids, 'kube-controller-manager') && !running(pids, 'kube-scheduler')));
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    cluster('supervise', name, '--settle', '3');
    for (const comp of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok-controller']) expect(running(pids, comp), comp).to.equal(true);
    await rollsOut('after-outage');
  });

  it('restarts kube-apiserver under supervision: every component runs afterwards and pods still roll out', async function () {
    const before = readFileSync(join(pids, 'kube-apiserver.pid'), 'utf8').trim();
    cluster('restart', name, 'kube-apiserver', '--kill');
    expect(readFileSync(join(pids, 'kube-apiserver.pid'), 'utf8').trim()).to.not.equal(before);
    for (const comp of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok-controller']) expect(running(pids, comp), comp).to.equal(true);
    await rollsOut('after-restart');
  });
});
