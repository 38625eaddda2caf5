// The injector serves a renewed certificate without a restart: the files are
// replaced the way the kubelet updates a mounted Secret (a new directory,
// then the ..data symlink swapped), and a bad pair keeps the current one.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { defaultInjectorConfig } from '../../../src/injector/config.js';
import { createAdmissionApp } from '../../../src/webhook/admission.js';
import { watchCertificate, type CertReloader } from '../../../src/webhook/cert-reload.js';
import { startWebhookServer, type WebhookServer } from '../../../src/webhook/server.js';
import { makeServingCert, type ServingCert } from '../../support/certs.js';

/** The serial number of the certificate the server presents to a new connection. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('webhook: serving certificate reload', function () {
  this.timeout(30_000);
  let dir: string;
  let server: WebhookServer;
  let reloader: CertReloader;
  let first: ServingCert;
  const reloads: (Error | undefined)[] = [];
  let generation = 0;

  /** Writes a Secret volume's new contents as the kubelet does: a fresh directory, then an atomic swap of ..data. */
  function publish(cert: string, key: string): void {
    const gen = join(dir, `..gen${++generation}`);
    mkdirSync(gen);
    writeFileSync(join(gen, 'tls.crt'), cert);
    writeFileSync(join(gen, 'tls.key'), key);
    symlinkSync(`..gen${generation}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'meshrev-certreload-'));
    first = makeServingCert();
    publish(first.certPem, first.keyPem);
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    const app = createAdmissionApp({ config: defaultInjectorConfig('1-21') });
    server = await startWebhookServer({ app, cert: first.certPem, key: first.keyPem, port: 0 });
    reloader = watchCertificate({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), apply: (c, k) => server.setCertificate(c, k), onReload: (e) => reloads.push(e), debounceMs: 50 });
  });

  after(async function () {
    reloader?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the renewed certificate to new connections once the files change', async function () {
    expect(await servedSerial(server.port)).to.equal(serialOf(first.certPem));
    const renewed = makeServingCert();
    publish(renewed.certPem, renewed.keyPem);
    await until('the renewed certificate served', async () => (await servedSerial(server.port)) === serialOf(renewed.certPem));
    expect(reloads.at(-1)).to.equal(undefined);
  });

  it('keeps the current certificate when the new key does not match, and says so', async function () {
    const current = await servedSerial(server.port);
    const a = makeServingCert();
    const b = makeServingCert();
    const before = reloads.length;
    publish(a.certPem, b.keyPem);
    await until('a reload attempt', () => Promise.resolve(reloads.slice(before).some((e) => e !== undefined)));
    expect(reloads.slice(before).find((e) => e)?.message).to.match(/do not load as a certificate and its key .*keeping the current certificate/);
    expect(await servedSerial(server.port)).to.equal(current);
    // The next good pair is taken.
    publish(a.certPem, a.keyPem);
    await until('the good pair served', async () => (await servedSerial(server.port)) === serialOf(a.certPem));
  });
});
