// The one HTTP call of `meshrev kube-inject`'s default path: POST an
// AdmissionReview to a revision's injector, where the API server would send
// it. A `url` client config is called directly (trusting its caBundle, else
// the system's CAs); a `service` one through the API server's service proxy
// (`/api/v1/namespaces/<ns>/services/https:<name>:<port>/proxy<path>`), with
// the kubeconfig's credentials, so no port-forward is needed.
import type { AdmissionregistrationV1WebhookClientConfig } from '@kubernetes/client-node';
import type * as k8s from '@kubernetes/client-node';
import * as https from 'node:https';

/** The injector could not be reached at all (as opposed to answering badly): kube-inject may fall back to its built-in templates. */
export class InjectorUnreachableError extends Error {
  constructor(where: string, cause: unknown) {
    super(`cannot reach the injector at ${where}: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'InjectorUnreachableError';
  }
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

function post(url: URL, options: https.RequestOptions, body: string, timeoutMs: number, where: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...options, method: 'POST', headers: { ...options.headers, 'content-type': 'application/json', accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) {
          reject(new Error(`the injector at ${where} answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          return;
        }
        try {
          resolve(JSON.parse(text) as unknown);
        } catch {
          reject(new Error(`the injector at ${where} answered something that is not JSON: ${text.slice(0, 200)}`));
        }
      });
      res.on('error', (err) => reject(new InjectorUnreachableError(where, err)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new InjectorUnreachableError(where, err)));
    req.end(body);
  });
}

/** Sends `review` to the injector `clientConfig` names; resolves with its parsed answer. */
export async function callInjector(
  kc: k8s.KubeConfig,
  clientConfig: AdmissionregistrationV1WebhookClientConfig,
  review: unknown,
  timeoutMs = 10_000,
): Promise<unknown> {
  const body = JSON.stringify(review);
  if (clientConfig.url !== undefined) {
    const ca = clientConfig.caBundle ? Buffer.from(clientConfig.caBundle, 'base64') : undefined;
    return post(new URL(clientConfig.url), ca ? { ca } : {}, body, timeoutMs, clientConfig.url);
  }
  const svc = clientConfig.service;
  const server = kc.getCurrentCluster()?.server;
  if (!svc || !server) throw new Error('the webhook entry names neither a url nor a service, or the kubeconfig has no cluster');
  const proxy = `/api/v1/namespaces/${encodeURIComponent(svc.namespace)}/services/https:${encodeURIComponent(svc.name)}:${svc.port ?? 443}/proxy${svc.path ?? ''}`;
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const where = `service ${svc.namespace}/${svc.name}:${svc.port ?? 443}${svc.path ?? ''} (through the API server's proxy)`;
  return post(new URL(server.replace(/\/$/, '') + proxy), options, body, timeoutMs, where);
}
