// Prometheus checks under the same address policy as HTTP checks (issue 17,
// item 8): the address was requested without it, and redirects were followed.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedPrometheusCheck } from '../../../src/api/health.js';
import { runPrometheusCheck } from '../../../src/gates/prometheus.js';

const vars = { revision: '1-31' };

describe('gates: Prometheus checks under the URL policy', () => {
  let server: Server;
  let requests = 0;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      requests++;
      if (req.url?.startsWith('/moved')) {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '0.5'] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const check = (address: string) =>
    ({ kind: 'prometheus', name: 'p', address, query: 'sum(up)', max: 1, timeoutMs: 2000, intervalMs: 10_000, interval: '10s', failureThreshold: 3, noData: 'fail' }) as unknown as ResolvedPrometheusCheck;

  it('queries a loopback Prometheus as before', async () => {
    expect(await runPrometheusCheck(check(`http://127.0.0.1:${port}`), vars)).to.deep.equal({ kind: 'value', value: 0.5 });
  });

  it('refuses a literal metadata address without sending anything', async () => {
    const m = await runPrometheusCheck(check('http://169.254.169.254'), vars);
    expect(m.kind).to.equal('error');
    expect((m as { message: string }).message).to.contain('refused by the operator\'s health-check URL policy').and.contain('169.254.0.0/16');
  });

  it('refuses a host name that resolves to a link-local address, and sends nothing', async () => {
    const before = requests;
    const m = await runPrometheusCheck(check(`http://prom.example:${port}`), vars, { resolve: () => Promise.resolve(['fe80::1']) });
    expect((m as { message: string }).message).to.contain('prom.example resolves to fe80::1');
    expect(requests).to.equal(before);
  });

  it('does not follow a redirect, and says where it pointed', async () => {
    const m = await runPrometheusCheck(check(`http://127.0.0.1:${port}/moved`), vars);
    expect(m.kind).to.equal('error');
    expect((m as { message: string }).message).to.contain('answered a redirect (HTTP 302) to http://169.254.169.254/latest/meta-data/');
  });
});
