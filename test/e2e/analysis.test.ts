// Health-check analysis against a real Prometheus (Debian's package binary,
// started by test/support/prometheus.ts) scraping an exporter the test
// controls, and real HTTP servers on 127.0.0.1. No Kubernetes: it lives in
// the e2e suite because it starts servers. The clock handed to the analysis
// is injected, so intervals cost no waiting; only Prometheus' 1s scrape is real.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckState, HttpCheck, PrometheusCheck, QueryVars, ResolvedHttpCheck, ResolvedPrometheusCheck } from '../../src/api/health.js';
import { runHttpCheck } from '../../src/gates/http.js';
import { runPrometheusCheck } from '../../src/gates/prometheus.js';
import { evaluateMeasurement, expandChecks, gateVerdict, isDue, nextCheckState, resolveChecks } from '../../src/policy/analysis.js';
import { freePort, startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const VARS: QueryVars = { revision: '1-21', namespaces: ['shop', 'web'] };

describe('health-check analysis against a real Prometheus', function () {
  this.timeout(60_000);
  let prom: TestPrometheus | undefined;

  before(async function () {
    this.timeout(45_000);
    prom = await startPrometheus();
    const e = prom.exporter;
    // Per-namespace error ratios, as an Istio-derived recording rule would give them.
    e.set('app_error_ratio', 0.01, { namespace: 'shop', revision: '1-21' });
    e.set('app_error_ratio', 0.2, { namespace: 'web', revision: '1-21' });
    e.set('app_error_ratio', 0.9, { namespace: 'other', revision: '1-20' });
    e.set('app_latency_ms', 120, { namespace: 'shop' });
    await prom.waitForValue('count(app_error_ratio)', 3);
  });

  after(async () => {
    await prom?.stop();
  });

  function check(over: Partial<PrometheusCheck>): ResolvedPrometheusCheck {
    return resolveChecks({ prometheus: [{ name: 'c', address: prom!.address, query: 'x', max: 0.05, interval: '1s', timeout: '1s', ...over }] })[0] as ResolvedPrometheusCheck;
  }

  it('passes a max threshold on a healthy value, with the namespace and revision templated in', async () => {
    const c = check({ query: 'max(app_error_ratio{namespace="{{namespace}}",revision="{{revision}}"})', max: 0.05 });
    const m = await runPrometheusCheck(c, { ...VARS, namespace: 'shop' });
    expect(m).to.deep.equal({ kind: 'value', value: 0.01 });
    expect(evaluateMeasurement(c, m).outcome).to.equal('pass');
  });

  it('fails a max threshold on a bad value', async () => {
    const c = check({ query: 'max(app_error_ratio{namespace="{{namespace}}"})', max: 0.05 });
    const m = await runPrometheusCheck(c, { ...VARS, namespace: 'web' });
    expect(m).to.deep.equal({ kind: 'value', value: 0.2 });
    expect(evaluateMeasurement(c, m)).to.deep.equal({ outcome: 'fail', message: 'value 0.2 is above the maximum 0.05' });
  });

  it('selects the step\'s namespaces with {{namespaces}} (and nothing else)', async () => {
    const m = await runPrometheusCheck(check({ query: 'count(app_error_ratio{namespace=~"{{namespaces}}"})' }), VARS);
    expect(m).to.deep.equal({ kind: 'value', value: 2 });
    const none = await runPrometheusCheck(check({ query: 'count(app_error_ratio{namespace=~"{{namespaces}}"})' }), { revision: '1-21', namespaces: [] });
    expect(none.kind, 'a step without namespaces matches no series, not every series').to.equal('no-data');
  });

  it('reads a scalar result', async () => {
    expect(await runPrometheusCheck(check({ query: 'scalar(max(app_latency_ms))' }), VARS)).to.deep.equal({ kind: 'value', value: 120 });
  });

  it('reports a query returning several series as an error that says to aggregate', async () => {
    const m = await runPrometheusCheck(check({ query: 'app_error_ratio' }), VARS);
    expect(m.kind).to.equal('error');
    expect(m.kind === 'error' && m.message).to.match(/^query returns 3 series; aggregate it, e.g. sum\(...\)/);
  });

  it('reports a PromQL syntax error with Prometheus\' own explanation', async () => {
    const m = await runPrometheusCheck(check({ query: 'sum(app_error_ratio' }), VARS);
    expect(m.kind).to.equal('error');
    expect(m.kind === 'error' && m.message).to.contain(`Prometheus at ${prom!.address} rejected the query (bad_data)`);
  });

  describe('a query for a missing series is no-data, judged by each noData rule', () => {
    const query = 'max(app_error_ratio{namespace="does-not-exist"})';
    const cases: { rule: 'fail' | 'pass' | 'wait'; phase: string; failures: number }[] = [
      { rule: 'fail', phase: 'Failed', failures: 3 },
      { rule: 'pass', phase: 'Passing', failures: 0 },
      { rule: 'wait', phase: 'Pending', failures: 0 },
    ];
    for (const c of cases) {
      it(`noData: ${c.rule} → ${c.phase} after three empty measurements`, async () => {
        const chk = check({ query, noData: c.rule, failureThreshold: 3 });
        let state: CheckState | undefined;
        for (let i = 0; i < 3; i++) {
          const m = await runPrometheusCheck(chk, VARS);
          expect(m.kind).to.equal('no-data');
          state = nextCheckState(state, m, new Date(Date.UTC(2024, 0, 1, 0, 0, i)), chk);
        }
        expect({ phase: state!.phase, failures: state!.consecutiveFailures }).to.deep.equal({ phase: c.phase, failures: c.failures });
      });
    }

    it('treats NaN (0/0) as no data too', async () => {
      expect((await runPrometheusCheck(check({ query: 'scalar(vector(0)) / 0 - scalar(vector(0)) / 0' }), VARS)).kind).to.equal('no-data');
    });
  });

  it('reports an unreachable Prometheus address as an error, counted as Unknown', async () => {
    const port = await freePort();
    const c = resolveChecks({ prometheus: [{ name: 'down', address: `http://127.0.0.1:${port}`, query: 'up', max: 1, interval: '1s', timeout: '1s' }] })[0]!;
    const m = await runPrometheusCheck(c as ResolvedPrometheusCheck, VARS);
    expect(m.kind).to.equal('error');
    expect(m.kind === 'error' && m.message).to.match(new RegExp(`^cannot reach Prometheus at http://127.0.0.1:${port}: connection refused`));
    expect(nextCheckState(undefined, m, new Date(), c).phase).to.equal('Unknown');
  });

  it('reports a server that does not answer within the timeout as an error naming the timeout', async () => {
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = silent.address() as AddressInfo;
      const c = resolveChecks({ prometheus: [{ name: 'slow', address: `http://127.0.0.1:${port}`, query: 'up', max: 1, interval: '1s', timeout: '300ms' }] })[0] as ResolvedPrometheusCheck;
      const started = Date.now();
      const m = await runPrometheusCheck(c, VARS);
      expect(Date.now() - started).to.be.below(3000);
      expect(m.kind === 'error' && m.message).to.contain('within 300ms');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('reaches Failed after failureThreshold consecutive bad measurements over several intervals, and not before', async () => {
    const e = prom!.exporter;
    e.set('app_probe_errors', 0, { namespace: 'shop' });
    await prom!.waitForValue('sum(app_probe_errors)', 0);
    const spec = { prometheus: [{ name: 'probe', address: prom!.address, query: 'sum(app_probe_errors{namespace=~"{{namespaces}}"})', max: 0, interval: '30s', timeout: '2s', failureThreshold: 3 }] };
    const [inst] = expandChecks(spec, { revision: '1-21', namespaces: ['shop'] });
    // The executor's loop, with an injected clock one interval per reconcile and real measurements.
    const t0 = Date.UTC(2024, 0, 1);
    let state: CheckState | undefined;
    const phases: string[] = [];
    const measureAt = async (seconds: number): Promise<void> => {
      const now = new Date(t0 + seconds * 1000);
      expect(isDue(state, inst!, now)).to.equal(true);
      state = nextCheckState(state, await runPrometheusCheck(inst!.check as ResolvedPrometheusCheck, inst!.vars), now, inst!);
      expect(isDue(state, inst!, new Date(now.getTime() + 29_000)), 'not due again within the interval').to.equal(false);
      phases.push(`${state.phase}:${state.consecutiveFailures}`);
    };
    await measureAt(0); // healthy
    e.set('app_probe_errors', 4, { namespace: 'shop' });
    await prom!.waitForValue('sum(app_probe_errors)', 4);
    await measureAt(30);
    await measureAt(60);
    expect(gateVerdict([state!], [inst!]).verdict).to.equal('wait');
    await measureAt(90);
    expect(phases).to.deep.equal(['Passing:0', 'Failing:1', 'Failing:2', 'Failed:3']);
    expect(state!.lastValue).to.equal('4');
    const verdict = gateVerdict([state!], [inst!]);
    expect(verdict.verdict).to.equal('fail');
    expect(verdict.message).to.contain('prometheus check probe: 3 consecutive measurements failed').and.contain('value 4 is above the maximum 0');
  });
});

describe('HTTP health checks against a local server', function () {
  this.timeout(20_000);
  let server: Server | undefined;
  let status = 200;
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(status, { 'content-type': 'text/plain' }).end('x'.repeat(100_000));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  });

  after(async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  });

  function check(over: Partial<HttpCheck> = {}): ResolvedHttpCheck {
    const { port } = server!.address() as AddressInfo;
    return resolveChecks({ http: [{ name: 'home', url: `http://127.0.0.1:${port}/healthz?ns={{namespace}}`, interval: '1s', timeout: '1s', ...over }] })[0] as ResolvedHttpCheck;
  }

  it('passes on 200, then fails on 503, with the status as the value', async () => {
    const c = check();
    status = 200;
    const ok = await runHttpCheck(c, { ...VARS, namespace: 'shop' });
    expect(ok).to.deep.equal({ kind: 'value', value: 200 });
    let state = nextCheckState(undefined, ok, new Date(Date.UTC(2024, 0, 1, 0, 0, 0)), c);
    expect(state.phase).to.equal('Passing');

    status = 503;
    const bad = await runHttpCheck(c, { ...VARS, namespace: 'shop' });
    expect(bad).to.deep.equal({ kind: 'value', value: 503 });
    state = nextCheckState(state, bad, new Date(Date.UTC(2024, 0, 1, 0, 0, 1)), c);
    expect(state).to.deep.include({ phase: 'Failing', consecutiveFailures: 1, lastValue: '503' });
    expect(state.lastMessage).to.contain('GET answered 503, expected 200');
    expect(seen.slice(-2)).to.deep.equal(['GET /healthz?ns=shop', 'GET /healthz?ns=shop']);
  });

  it('uses the method and expected status the check gives, without following redirects', async () => {
    status = 302;
    const m = await runHttpCheck(check({ method: 'HEAD', expectedStatus: 302 }), { ...VARS, namespace: 'web' });
    expect(m).to.deep.equal({ kind: 'value', value: 302 });
    expect(seen.at(-1)).to.equal('HEAD /healthz?ns=web');
  });

  it('reports a closed port as an error with a clear message', async () => {
    const port = await freePort();
    const c = resolveChecks({ http: [{ name: 'gone', url: `http://127.0.0.1:${port}/`, timeout: '1s', interval: '1s' }] })[0] as ResolvedHttpCheck;
    const m = await runHttpCheck(c, VARS);
    expect(m.kind === 'error' && m.message).to.match(new RegExp(`^cannot reach GET http://127.0.0.1:${port}/: connection refused`));
  });
});
