import { expect } from 'chai';
import { connect } from 'node:net';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { createAdmissionApp } from '../../../src/webhook/admission.js';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/server.js';
import { appPod, podReview } from '../../support/admission.js';
import { makeServingCert, type ServingCert } from '../../support/certs.js';
import { httpsCall, startInjector } from '../../support/injector.js';

describe('webhook: HTTPS server', function () {
  this.timeout(20_000);
  let cert: ServingCert;
  let server: WebhookServer;

  before(async function () {
    cert = makeServingCert();
    const app = createAdmissionApp({ config: defaultInjectorConfig('1-21') });
    server = await startWebhookServer({ app, cert: cert.certPem, key: cert.keyPem, port: 0, maxBodyBytes: 64 * 1024 });
  });

  after(async function () {
    await server?.close();
  });

  it('binds 127.0.0.1 on a free port when asked for port 0', function () {
    expect(server.address).to.equal('127.0.0.1');
    expect(server.port).to.be.above(0);
    expect(server.url()).to.equal(`https://127.0.0.1:${server.port}/inject`);
  });

  it('serves GET /healthz over TLS with the given certificate', async function () {
    const r = await httpsCall(server.url('/healthz'), { caPem: cert.caPem });
    expect(r).to.include({ status: 200, body: 'ok' });
  });

  it('answers POST /inject with an AdmissionReview carrying a patch', async function () {
    const r = await httpsCall(server.url(), { method: 'POST', body: JSON.stringify(podReview(appPod())), caPem: cert.caPem });
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/json');
    const body = JSON.parse(r.body) as { response: { uid: string; allowed: boolean; patchType: string } };
    expect(body.response).to.include({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' });
  });

  it('accepts the /inject/... paths upstream uses for parameters', async function () {
    const r = await httpsCall(server.url('/inject/cluster/Kubernetes/net/network1'), { method: 'POST', body: JSON.stringify(podReview(appPod())), caPem: cert.caPem });
    expect(r.status).to.equal(200);
  });

  it('answers 400 to a body that is not JSON, 405 to GET /inject, 404 elsewhere, 413 to a huge body', async function () {
    expect((await httpsCall(server.url(), { method: 'POST', body: '{nope', caPem: cert.caPem })).status).to.equal(400);
    const get = await httpsCall(server.url(), { caPem: cert.caPem });
    expect(get.status).to.equal(405);
    expect(get.headers['allow']).to.equal('POST');
    expect((await httpsCall(server.url('/mutate'), { caPem: cert.caPem })).status).to.equal(404);
    const huge = JSON.stringify(podReview(appPod({ big: 'x'.repeat(100 * 1024) })));
    expect((await httpsCall(server.url(), { method: 'POST', body: huge, caPem: cert.caPem })).status).to.equal(413);
  });

  it('counts requests to /inject and the non-200 answers', function () {
    const s = server.stats();
    expect(s.injectRequests).to.be.at.least(5);
    expect(s.injectErrors).to.be.at.least(3);
  });

  it('survives a client that is not speaking TLS', async function () {
    await new Promise<void>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port: server.port }, () => sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
      sock.resume();
    });
    expect((await httpsCall(server.url('/healthz'), { caPem: cert.caPem })).status).to.equal(200);
  });

  it('stops listening on close()', async function () {
    const app = createAdmissionApp({ config: defaultInjectorConfig('x') });
    const s = await startWebhookServer({ app, cert: cert.certPem, key: cert.keyPem, port: 0 });
    await s.close();
    await s.close();
    let failed = false;
    try {
      await httpsCall(s.url('/healthz'), { caPem: cert.caPem });
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
  });

  it('loopback test injector: reports its url, caBundle and request count', async function () {
    const inj = await startInjector({ revision: '1-20', cert });
    try {
      expect(inj.url).to.equal(`https://127.0.0.1:${inj.port}/inject`);
      expect(Buffer.from(inj.caBundle, 'base64').toString()).to.equal(cert.caPem);
      await httpsCall(inj.url, { method: 'POST', body: JSON.stringify(podReview(appPod())), caPem: inj.caPem });
      expect(inj.requests()).to.equal(1);
      expect(inj.events.map((e) => e.outcome)).to.deep.equal(['injected']);
    } finally {
      await inj.stop();
    }
  });
});
