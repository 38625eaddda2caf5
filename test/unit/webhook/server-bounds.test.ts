import { expect } from 'chai';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { createAdmissionApp } from '../../../src/webhook/admission.js';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/server.js';
import { appPod, podReview } from '../../support/admission.js';
import { makeServingCert, type ServingCert } from '../../support/certs.js';
import { httpsCall } from '../../support/injector.js';

describe('webhook: HTTPS server bounds (issue 17 item 8)', function () {
  this.timeout(60_000);
  let cert: ServingCert;
  let server: WebhookServer | undefined;

  before(function () {
    cert = makeServingCert();
  });
  afterEach(async function () {
    await server?.close();
    server = undefined;
  });

  const start = async (opts: { maxQueuedLarge?: number; maxConcurrentLarge?: number; maxBodyBytes?: number } = {}) => {
    const app = createAdmissionApp({ config: defaultInjectorConfig('1-21') });
    server = await startWebhookServer({ app, cert: cert.certPem, key: cert.keyPem, port: 0, ...opts });
    return server;
  };
  const large = (i: number) => JSON.stringify(podReview(appPod({ big: `${i}`.padEnd(2 * 1024 * 1024, 'x') })));

  it('answers a small review while 20 reviews of ~2 MB are in flight before most of them', async function () {
    const s = await start();
    const order: string[] = [];
    const t0 = Date.now();
    const bigs = Array.from({ length: 20 }, (_, i) =>
      httpsCall(s.url(), { method: 'POST', body: large(i), caPem: cert.caPem }).then((r) => {
        expect(r.status).to.equal(200);
        order.push(`large-${i}@${Date.now() - t0}`);
      }),
    );
    // Let the large ones connect and start sending first.
    await new Promise((r) => setTimeout(r, 50));
    const small = httpsCall(s.url(), { method: 'POST', body: JSON.stringify(podReview(appPod())), caPem: cert.caPem }).then((r) => {
      expect(r.status).to.equal(200);
      order.push(`small@${Date.now() - t0}`);
    });
    await Promise.all([...bigs, small]);
    const before = order.findIndex((o) => o.startsWith('small'));
    // Relative, not absolute: unbounded, the small one came 18th of 21 here; bounded, about 10th.
    expect(before, order.join(' ')).to.be.below(15);
    expect(s.stats().largeQueued).to.be.above(0);
  });

  it('refuses a body declared over the limit with 413 without reading it', async function () {
    const s = await start({ maxBodyBytes: 1024 * 1024 });
    const r = await httpsCall(s.url(), { method: 'POST', body: large(0), caPem: cert.caPem });
    expect(r.status).to.equal(413);
    expect(r.body).to.contain('larger than 1048576 bytes');
  });

  it('answers 503 at once when too many large reviews are already waiting', async function () {
    const s = await start({ maxConcurrentLarge: 1, maxQueuedLarge: 1 });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => httpsCall(s.url(), { method: 'POST', body: large(i), caPem: cert.caPem })));
    const codes = answers.map((a) => a.status);
    expect(codes).to.include(200);
    expect(codes).to.include(503);
    expect(codes.every((c) => c === 200 || c === 503), codes.join(',')).to.equal(true);
    expect(s.stats().largeRejected).to.equal(codes.filter((c) => c === 503).length);
  });
});
