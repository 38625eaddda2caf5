// Built-in gate: is the target revision's injector reachable and ready? Run
// before any namespace moves and while it moves (DESIGN.md §4): with
// failurePolicy Fail, pods created while it is down are refused, so a
// migration must not restart workloads towards a dead injector.
import * as tls from 'node:tls';
import type { InjectorSpec } from '../api/meshrevision.js';
import { DEFAULT_INJECTOR_NAMESPACE, DEFAULT_INJECTOR_PORT } from '../api/meshrevision.js';

/** Reads the ready endpoints of a Service (EndpointSlices); injected so tests and the CLI can supply their own. */
export type ReadyEndpoints = (namespace: string, service: string) => Promise<number>;

export interface InjectorProbeOptions {
  timeoutMs?: number;
  readyEndpoints?: ReadyEndpoints;
}

/** Undefined when the injector is reachable; otherwise why not, in words that say what to check. */
export async function probeInjector(injector: InjectorSpec | undefined, opts: InjectorProbeOptions = {}): Promise<string | undefined> {
  if (!injector) return 'no injector to check: the revision has no webhook that calls one yet';
  const timeoutMs = opts.timeoutMs ?? 3000;
  if (injector.url !== undefined) return tlsHandshake(injector.url, injector.caBundle, timeoutMs);
  const svc = injector.service;
  if (!svc) return 'spec.injector names neither a service nor a url';
  const namespace = svc.namespace ?? DEFAULT_INJECTOR_NAMESPACE;
  if (!opts.readyEndpoints) return undefined; // nothing to ask: the webhook itself will tell
  try {
    const ready = await opts.readyEndpoints(namespace, svc.name);
    return ready > 0 ? undefined : `injector Service ${namespace}/${svc.name} has no ready endpoints: is istiod for this revision running?`;
  } catch (err) {
    return `cannot read the endpoints of injector Service ${namespace}/${svc.name}: ${(err as Error).message}`;
  }
}

/** A TLS handshake to the URL's host and port, verified against caBundle when given. */
function tlsHandshake(url: string, caBundle: string | undefined, timeoutMs: number): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(`injector url ${url} is not a URL`);
  }
  const port = u.port ? Number(u.port) : DEFAULT_INJECTOR_PORT;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const ca = caBundle ? Buffer.from(caBundle, 'base64').toString('utf8') : undefined;
  return new Promise((resolve) => {
    let settled = false;
    const done = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(why);
    };
    const socket = tls.connect({ host, port, ...(ca ? { ca } : {}), servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: ca !== undefined }, () =>
      done(undefined),
    );
    socket.setTimeout(timeoutMs, () => done(`injector ${url} did not answer a TLS handshake within ${timeoutMs} ms`));
    socket.on('error', (err: NodeJS.ErrnoException) => done(`injector ${url} is unreachable: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim()));
  });
}
