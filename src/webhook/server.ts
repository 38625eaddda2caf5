// The HTTPS listener around the admission app: POST /inject (and /inject/...,
// which upstream uses for cluster/network parameters) and GET /healthz.
// Binds 127.0.0.1 unless told otherwise; port 0 picks a free port.
//
// Bounded so that small reviews stay fast while large ones arrive (the API
// server gives a webhook 10 s, and failurePolicy Fail turns a late answer into
// a refused pod): a body declared larger than maxBodyBytes gets 413 at once,
// unread; a body larger than largeBodyBytes (declared, or once that much has
// arrived) waits for one of maxConcurrentLarge slots before it is read further,
// parsed and answered, its socket paused meanwhile (TCP backpressure, no TLS
// decryption); at most maxQueuedLarge wait, more get 503 at once. Small bodies
// never wait for a slot.
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
  /** Bodies above this are "large" and take a slot (default 256 KiB; ordinary pods are a few KiB). */
  largeBodyBytes?: number;
  /** Large bodies read, parsed and answered at once (default 2). */
  maxConcurrentLarge?: number;
  /** Large bodies waiting for a slot; beyond this they get 503 at once (default 32). */
  maxQueuedLarge?: number;
}

export interface WebhookServerStats {
  /** Requests to /inject, whatever their outcome. */
  injectRequests: number;
  /** Answers other than 200 on /inject. */
  injectErrors: number;
  /** Large bodies that waited for a slot. */
  largeQueued: number;
  /** Large bodies refused with 503 because the queue was full. */
  largeRejected: number;
}

export interface WebhookServer {
  readonly address: string;
  readonly port: number;
  /** `https://<address>:<port><path>`, path default `/inject`. */
  url(path?: string): string;
  stats(): WebhookServerStats;
  /** Serves new connections with this certificate and key (a renewal); open connections keep theirs. */
  setCertificate(cert: string | Buffer, key: string | Buffer): void;
  /** Stops accepting connections, closes idle ones, and resolves when the server is closed. */
  close(): Promise<void>;
}

const INJECT_PATH = '/inject';
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
const DEFAULT_LARGE_BODY = 256 * 1024;
const DEFAULT_MAX_CONCURRENT_LARGE = 2;
const DEFAULT_MAX_QUEUED_LARGE = 32;

/** A counting semaphore with a bounded FIFO queue. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number, private readonly maxWaiting: number) {
    this.free = size;
  }
  /** Resolves with a release function once a slot is held; undefined at once when the queue is full. */
  acquire(onQueued: () => void): Promise<() => void> | undefined {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.maxWaiting) return undefined;
    onQueued();
    return new Promise((resolve) => this.waiting.push(() => resolve(release)));
  }
}

class QueueFull extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * The body, or 'too-large' past `limit` (the rest is not kept). Once it is
 * known to be large (declared, or `largeAt` bytes arrived) reading pauses until
 * `takeSlot` yields a slot; the slot is handed back with the body for the
 * caller to release after answering. Rejects when the client goes away.
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  largeAt: number,
  takeSlot: () => Promise<() => void> | undefined,
): Promise<{ body: Buffer | 'too-large'; release?: () => void }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let ended = false;
    let release: (() => void) | undefined;
    let waiting = false;
    let onSlot: (() => void) | undefined;
    const fail = (err: Error) => {
      release?.();
      release = undefined;
      reject(err);
    };
    const needSlot = () => {
      if (release || waiting) return;
      const slot = takeSlot();
      if (!slot) {
        req.pause();
        fail(new QueueFull('too many large admission reviews are waiting'));
        return;
      }
      waiting = true;
      req.pause();
      void slot.then((r) => {
        waiting = false;
        if (req.destroyed && !ended) {
          r();
          return;
        }
        release = r;
        req.resume();
        onSlot?.();
      });
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > largeAt) needSlot();
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
      if (size > largeAt) needSlot();
    });
    req.on('end', () => {
      ended = true;
      // A body that grew large on its last chunk waits for its slot before it is parsed.
      const finish = () => resolve({ body: over ? 'too-large' : Buffer.concat(chunks), ...(release ? { release } : {}) });
      if (waiting) onSlot = finish;
      else finish();
    });
    req.on('error', fail);
    req.on('close', () => {
      if (!ended) fail(new Error('the client closed the connection before the body ended'));
    });
  });
}

/** POST /inject: refuse what is too large unread, queue large bodies for a slot, answer the review. */
function injectHandler(
  app: WebhookServerOptions['app'],
  limit: number,
  largeAt: number,
  stats: WebhookServerStats,
  takeSlot: () => Promise<() => void> | undefined,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const tooLarge = () => badRequest(`request body is larger than ${limit} bytes`, 413, 'RequestEntityTooLarge');
  return async (req, res) => {
    stats.injectRequests++;
    let answer: AdmissionHttpResponse;
    if (req.method !== 'POST') {
      answer = badRequest(`method ${req.method ?? ''} not allowed on ${INJECT_PATH}: POST an AdmissionReview`, 405, 'MethodNotAllowed');
      res.setHeader('Allow', 'POST');
    } else if (Number(req.headers['content-length']) > limit) {
      // Refused unread: no decryption or buffering of a body that cannot be accepted.
      answer = tooLarge();
      res.setHeader('Connection', 'close');
    } else {
      let read: Awaited<ReturnType<typeof readBody>>;
      try {
        read = await readBody(req, limit, largeAt, takeSlot);
      } catch (err) {
        if (!(err instanceof QueueFull)) throw err;
        stats.largeRejected++;
        stats.injectErrors++;
        res.setHeader('Connection', 'close');
        res.setHeader('Retry-After', '1');
        send(res, 503, badRequest(`the injector is busy: ${err.message}; retry`, 503, 'ServiceUnavailable').body);
        return;
      }
      try {
        answer = read.body === 'too-large'
          ? tooLarge()
          : app.handleRaw(read.body);
      } finally {
        read.release?.();
      }
    }
    if (answer.status !== 200) stats.injectErrors++;
    send(res, answer.status, answer.body);
  };
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const address = opts.address ?? '127.0.0.1';
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const largeAt = Math.min(opts.largeBodyBytes ?? DEFAULT_LARGE_BODY, limit);
  const stats: WebhookServerStats = { injectRequests: 0, injectErrors: 0, largeQueued: 0, largeRejected: 0 };
  const slots = new Slots(opts.maxConcurrentLarge ?? DEFAULT_MAX_CONCURRENT_LARGE, opts.maxQueuedLarge ?? DEFAULT_MAX_QUEUED_LARGE);
  const takeSlot = () => slots.acquire(() => stats.largeQueued++);

  const onInject = injectHandler(opts.app, limit, largeAt, stats, takeSlot);

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
  // A client trickling a body must not hold a slot or a socket for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
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
    setCertificate: (cert, key) => server.setSecureContext({ cert, key }),
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
