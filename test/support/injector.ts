// Loopback sidecar injectors for tests and the demo: the real webhook server
// from src/webhook, in-process, on 127.0.0.1 with a free port and a throwaway
// CA, so an API server on the same machine can call it through
// `clientConfig.url` + `caBundle`.
import { request as httpsRequest, Agent } from 'node:https';
import { buildInjectorConfig, type InjectorConfig } from '../../src/injector/config.js';
import { createAdmissionApp, type AdmissionEvent } from '../../src/webhook/admission.js';
import { startWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import { makeServingCert, type ServingCert } from './certs.js';

export interface LoopbackInjector {
  revision: string;
  config: InjectorConfig;
  /** `https://127.0.0.1:<port>/inject`, for a webhook's clientConfig.url. */
  url: string;
  /** base64 of the CA's PEM, for a webhook's clientConfig.caBundle. */
  caBundle: string;
  /** The CA's PEM, for clients in the test. */
  caPem: string;
  port: number;
  /** Requests served on /inject so far. */
  requests(): number;
  /** What happened to each admission request, in order. */
  events: AdmissionEvent[];
  stop(): Promise<void>;
}

export interface StartInjectorOptions {
  revision: string;
  /** Configuration in the YAML file's shape (see src/injector/config.ts); revision is forced to `revision`. */
  config?: unknown;
  /** Reuse a certificate (making one with openssl takes ~100 ms). */
  cert?: ServingCert;
}

export async function startInjector(opts: StartInjectorOptions): Promise<LoopbackInjector> {
  const config = buildInjectorConfig(opts.config ?? {}, opts.revision);
  const cert = opts.cert ?? makeServingCert();
  const events: AdmissionEvent[] = [];
  const app = createAdmissionApp({ config, onEvent: (e) => events.push(e) });
  const server: WebhookServer = await startWebhookServer({ app, cert: cert.certPem, key: cert.keyPem, port: 0, address: '127.0.0.1' });
  return {
    revision: config.revision,
    config,
    url: server.url(),
    caBundle: Buffer.from(cert.caPem).toString('base64'),
    caPem: cert.caPem,
    port: server.port,
    requests: () => server.stats().injectRequests,
    events,
    stop: () => server.close(),
  };
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request trusting `caPem`; `agent` enables keep-alive reuse (bench). */
export function httpsCall(
  url: string,
  opts: { method?: string; body?: string | Buffer; caPem: string; agent?: Agent; headers?: Record<string, string> },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: opts.method ?? 'GET',
      ca: opts.caPem,
      ...(opts.agent ? { agent: opts.agent } : {}),
      headers: { ...(opts.body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(opts.body) } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
