import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { OperatorMetrics } from '../../../src/health/metrics.js';
import { createHealthApp, listen } from '../../../src/health/server.js';
import { repoPath } from '../../support/repo.js';

describe('health app', () => {
  it('answers /healthz with 200 while the process runs', async () => {
    const app = createHealthApp();
    const r = await app.inject({ url: '/healthz' });
    expect(r.statusCode).to.equal(200);
    expect(r.body).to.equal('ok\n');
  });

  it('answers /readyz with 503 naming the failing checks until they pass, then 200', async () => {
    const app = createHealthApp();
    let synced = false;
    app.addReadyCheck('informers-synced', () => {
      if (!synced) throw new Error('waiting for caches: Namespace');
      return true;
    });
    app.addReadyCheck('webhook-cert', () => true);

    const before = await app.inject({ url: '/readyz' });
    expect(before.statusCode).to.equal(503);
    expect(before.body).to.contain('[-]informers-synced failed: waiting for caches: Namespace');
    expect(before.body).to.contain('[+]webhook-cert ok');
    expect(before.body).to.contain('readyz check failed: informers-synced');

    synced = true;
    const after = await app.inject({ url: '/readyz' });
    expect(after.statusCode).to.equal(200);
    expect(after.body).to.equal('ok\n');
  });

  it('treats a check returning false, or one that hangs past the timeout, as failing', async () => {
    const app = createHealthApp({ checkTimeoutMs: 20 });
    app.addReadyCheck('says-no', () => false);
    app.addReadyCheck('hangs', () => new Promise<boolean>(() => {}));
    const r = await app.inject({ url: '/readyz' });
    expect(r.statusCode).to.equal(503);
    expect(r.body).to.contain('[-]says-no failed: not ready');
    expect(r.body).to.contain('[-]hangs failed: timed out after 20ms');
  });

  it('lists every check with ?verbose and serves one check at /readyz/<name>', async () => {
    const app = createHealthApp();
    app.addReadyCheck('informers-synced', () => true);
    const v = await app.inject({ url: '/readyz?verbose' });
    expect(v.statusCode).to.equal(200);
    expect(v.body).to.contain('[+]ping ok\n[+]informers-synced ok\nreadyz check passed');
    expect((await app.inject({ url: '/readyz/informers-synced' })).statusCode).to.equal(200);
    expect((await app.inject({ url: '/readyz/nope' })).statusCode).to.equal(404);
  });

  it('refuses methods other than GET and HEAD, and unknown paths', async () => {
    const app = createHealthApp();
    expect((await app.inject({ method: 'POST', url: '/healthz' })).statusCode).to.equal(405);
    expect((await app.inject({ url: '/nope' })).statusCode).to.equal(404);
  });

  it('rejects a duplicate check name', () => {
    const app = createHealthApp();
    app.addReadyCheck('x', () => true);
    expect(() => app.addReadyCheck('x', () => true)).to.throw(/already registered/);
  });

  it('serves controller-runtime and workqueue metrics from its own registry at /metrics', async () => {
    const metrics = new OperatorMetrics();
    const q = metrics.forController('meshrevision', 2);
    q.add();
    q.depth(1);
    q.retry();
    q.queueLatency(0.01);
    q.workDuration(0.2);
    q.reconciled('success', 0.2, false);
    q.reconciled('error', 0.1, true);
    metrics.setLeader('meshrev-leader', true);
    metrics.writeMetrics.write('apply', 'Namespace');
    const app = createHealthApp({ metrics });
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).to.equal(200);
    expect(r.headers['content-type']).to.contain('text/plain');
    for (const name of [
      'controller_runtime_reconcile_total{controller="meshrevision",result="success"} 1',
      'controller_runtime_reconcile_total{controller="meshrevision",result="requeue_after"} 0',
      'controller_runtime_reconcile_errors_total{controller="meshrevision"} 1',
      'controller_runtime_terminal_reconcile_errors_total{controller="meshrevision"} 1',
      'controller_runtime_reconcile_time_seconds_bucket',
      'controller_runtime_max_concurrent_reconciles{controller="meshrevision"} 2',
      'workqueue_depth{name="meshrevision"} 1',
      'workqueue_adds_total{name="meshrevision"} 1',
      'workqueue_retries_total{name="meshrevision"} 1',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_work_duration_seconds_bucket',
      'leader_election_master_status{name="meshrev-leader"} 1',
      'meshrev_kube_write_requests_total{verb="apply",kind="Namespace"} 1',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(r.body, name).to.contain(name);
    }
  });

  it('serves meshrev_build_info = 1 labelled with the version, commit and Node.js', async () => {
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    const own = await createHealthApp({ metrics: new OperatorMetrics({ processMetrics: false }) }).inject({ url: '/metrics' });
    expect(own.body).to.contain(`meshrev_build_info{version="${pkg.version}",commit="unknown",node="${process.version}"} 1`);
    const given = new OperatorMetrics({ processMetrics: false, buildInfo: { version: '9.8.7', commit: 'abc123', node: 'v20.0.0' } });
    expect((await given.render()).body).to.contain('meshrev_build_info{version="9.8.7",commit="abc123",node="v20.0.0"} 1');
  });

  it('listens on a free port when given port 0 and closes cleanly', async () => {
    const app = createHealthApp();
    const server = await listen(app, { host: '127.0.0.1', port: 0 });
    try {
      expect(server.port).to.be.greaterThan(0);
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/healthz' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).to.equal(200);
      expect(body).to.equal('ok\n');
    } finally {
      await server.close();
    }
  });
});
