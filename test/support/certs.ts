// Throwaway TLS material for servers the tests (and the demo) run on loopback:
// the API server only calls webhooks over HTTPS, so a loopback webhook needs a
// serving certificate with SAN IP 127.0.0.1 and its CA in the caBundle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServingCert {
  /** PEM of the self-signed CA that signed `cert`; goes into a webhook's caBundle. */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Makes a CA and a serving certificate for the given IPs and DNS names, using the openssl CLI. */
export function makeServingCert(opts: { ips?: string[]; dnsNames?: string[]; commonName?: string } = {}): ServingCert {
  const ips = opts.ips ?? ['127.0.0.1'];
  const dns = opts.dnsNames ?? ['localhost'];
  const dir = mkdtempSync(join(tmpdir(), 'meshrev-certs-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
      '-subj', '/CN=meshrev-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const san = [...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)].join(',');
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', `/CN=${opts.commonName ?? ips[0] ?? dns[0]}`);
    openssl('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '2', '-extfile', 'ext.cnf');
    return {
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      certPem: readFileSync(join(dir, 'tls.crt'), 'utf8'),
      keyPem: readFileSync(join(dir, 'tls.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
