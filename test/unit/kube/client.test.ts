// Connection reuse (src/kube/client.ts reuseConnections): requests of one
// KubeConfig share a TLS connection instead of handshaking every time.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig, reuseConnections } from '../../../src/kube/client.js';
import { makeServingCert } from '../../support/certs.js';

describe('kube client connections', () => {
  const cert = makeServingCert();
  let server: Server;
  let handshakes = 0;
  let url = '';
  let dir = '';

  before(async () => {
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
    });
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'meshrev-kc-'));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeconfig = () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${url}", certificate-authority-data: ${b64(cert.caPem)}}}]
users: [{name: u, user: {client-certificate-data: ${b64(cert.certPem)}, client-key-data: ${b64(cert.keyPem)}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    return file;
  };

  const tenLists = async (kc: k8s.KubeConfig) => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 10; i++) expect((await core.listNamespace()).items).to.deep.equal([]);
  };

  it('sends the requests of a loaded kubeconfig over a pool of kept-alive TLS connections', async () => {
    handshakes = 0;
    await tenLists(loadKubeConfig({ kubeconfig: kubeconfig() }));
    // undici may open a second connection while the first is finishing a response; then both are reused.
    expect(handshakes).to.be.within(1, 2);
  });

  it('is needed: client-node alone handshakes for every request (drop reuseConnections once this fails)', async () => {
    handshakes = 0;
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig());
    await tenLists(kc);
    expect(handshakes).to.equal(10);
  });

  it('keeps one dispatcher per TLS identity', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig());
    reuseConnections(kc);
    const a = new k8s.RequestContext(`${url}/api/v1/namespaces`, k8s.HttpMethod.GET);
    const b = new k8s.RequestContext(`${url}/api/v1/pods`, k8s.HttpMethod.GET);
    await kc.applySecurityAuthentication(a);
    await kc.applySecurityAuthentication(b);
    expect(a.getDispatcher()).to.not.equal(undefined);
    expect(a.getDispatcher()).to.equal(b.getDispatcher());
  });
});
