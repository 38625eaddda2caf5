// The HTTPS listener around the admission app: POST /inject (and /inject/...,
// which upstream uses for cluster/network parameters) and GET /healthz.
// Binds 127.0.0.1 unless told otherwise; port 0 picks a free port.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdmissionApp, AdmissionHttpResponse } from './admission.js';
import { badRequest } from './admission.js';

export interface WebhookServerOptions {
  app: AdmissionApp;
  /** PEM serving certificate (chain) and key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Default 9443; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  address?: string;
  /** Largest request body accepted (default 8 MiB; the API server's objects are at most ~1.5 MiB). */
  maxBodyBytes?: number;
}

export interface WebhookServerStats {
  /** Requests to /inject, whatever their outcome. */
  injectRequests: number;
  /** Answers other than 200 on /inject. */
  injectErrors: number;
}

export interface WebhookServer {
  readonly address: string;
  readonly port: number;
  /** `https://<address>:<port><path>`, path default `/inject`. */
  url(path?: string): string;
  stats(): WebhookServerStats;
  /** Stops accepting connections, closes idle ones, and resolves when the server is closed. */
  close(): Promise<void>;
}

const INJECT_PATH = '/inject';
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const address = opts.address ?? '127.0.0.1';
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const stats: WebhookServerStats = { injectRequests: 0, injectErrors: 0 };

  const onInject = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.injectRequests++;
    let answer: AdmissionHttpResponse;
    if (req.method !== 'POST') {
      answer = badRequest(`method ${req.method ?? ''} not allowed on ${INJECT_PATH}: POST an AdmissionReview`, 405, 'MethodNotAllowed');
      res.setHeader('Allow', 'POST');
    } else {
      const body = await readBody(req, limit);
      answer = body === 'too-large'
        ? badRequest(`request body is larger than ${limit} bytes`, 413, 'RequestEntityTooLarge')
        : opts.app.handleRaw(body);
    }
    if (answer.status !== 200) stats.injectErrors++;
    send(res, answer.status, answer.body);
  };

  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const done = (p: Promise<void>) => p.catch((err: unknown) => {
      // The body stream failed (client went away): answer if still possible, never crash.
      if (!res.headersSent) send(res, 500, badRequest(`reading the request failed: ${(err as Error).message}`, 500, 'InternalError').body);
      else res.destroy();
    });
    if (path === INJECT_PATH || path.startsWith(`${INJECT_PATH}/`)) {
      void done(onInject(req, res));
    } else if (path === '/healthz' || path === '/readyz') {
      send(res, 200, 'ok');
    } else {
      send(res, 404, badRequest(`no such path ${path}: the injector serves POST ${INJECT_PATH} and GET /healthz`, 404, 'NotFound').body);
    }
  });
  // TLS handshakes from scanners or clients with the wrong CA must not take the process down.
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9443, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | undefined;
  return {
    address: bound.address,
    port: bound.port,
    url: (path = INJECT_PATH) => `https://${host}:${bound.port}${path}`,
    stats: () => ({ ...stats }),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        // Keep-alive connections with a request in flight get a moment to finish, then go.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}
