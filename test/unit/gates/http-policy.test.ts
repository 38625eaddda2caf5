import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedHttpCheck } from '../../../src/api/health.js';
import { runHttpCheck } from '../../../src/gates/http.js';

describe('gates: HTTP checks under the URL policy', () => {
  let server: Server;
  let requests = 0;
  let port = 0;
  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const check = (url: string) => ({ kind: 'http', name: 'c', url, method: 'GET', expectedStatus: 200, timeoutMs: 2000, intervalMs: 10_000, interval: '10s', failureThreshold: 3 }) as unknown as ResolvedHttpCheck;

  it('measures a loopback URL as before', async () => {
    const m = await runHttpCheck(check(`http://127.0.0.1:${port}/healthz`));
    expect(m).to.deep.equal({ kind: 'value', value: 200 });
  });

  it('refuses a literal metadata address without sending anything', async () => {
    const m = await runHttpCheck(check('http://169.254.169.254/latest/meta-data/'));
    expect(m.kind).to.equal('error');
    expect((m as { message: string }).message).to.contain('refused by the operator\'s health-check URL policy').and.contain('169.254.0.0/16');
  });

  it('refuses a host name that resolves to a link-local address, and sends nothing', async () => {
    const before = requests;
    const m = await runHttpCheck(check(`http://sneaky.example:${port}/`), undefined, { resolve: () => Promise.resolve(['10.0.0.1', 'fe80::1']) });
    expect((m as { message: string }).message).to.contain('sneaky.example resolves to fe80::1 is in fe80::/10');
    expect(requests).to.equal(before);
  });

  it('lets a host that resolves to allowed addresses through', async () => {
    const m = await runHttpCheck(check(`http://localhost:${port}/`), undefined, { resolve: () => Promise.resolve(['127.0.0.1']) });
    expect(m).to.deep.equal({ kind: 'value', value: 200 });
  });
});
