// `meshrev injector`: serves the sidecar injection webhook for one revision
// over HTTPS until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { buildInjectorConfig, parseInjectorConfigYaml, type InjectorConfig } from '../../injector/config.js';
import { createLogger } from '../../runtime/logger.js';
import { createAdmissionApp } from '../../webhook/admission.js';
import { watchCertificate } from '../../webhook/cert-reload.js';
import { startWebhookServer } from '../../webhook/server.js';
import { CliError } from '../errors.js';
import { outputOf } from '../io.js';

interface Options {
  revision: string;
  cert: string;
  key: string;
  port: number;
  address: string;
  config?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new CliError(`--port: "${value}" is not a port number (0-65535; 0 picks a free port)`, 2);
  return n;
}

/** Reads --config (if any) and applies --revision. */
export async function loadConfig(path: string | undefined, revision: string | undefined): Promise<InjectorConfig> {
  if (path === undefined) return buildInjectorConfig({}, revision);
  const text = await readFile(path, 'utf8');
  return parseInjectorConfigYaml(text, revision);
}

function waitForSignal(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handlers = signals.map((s) => {
      const h = () => {
        handlers.forEach(([sig, fn]) => process.off(sig, fn));
        resolve(s);
      };
      process.on(s, h);
      return [s, h] as const;
    });
  });
}

export function register(program: Command): void {
  program
    .command('injector')
    .description('Serve the sidecar injection webhook (POST /inject, GET /healthz) for one revision over HTTPS')
    .requiredOption('--revision <revision>', 'revision this injector serves (istio.io/rev on injected pods)')
    .requiredOption('--cert <file>', 'PEM serving certificate (chain)')
    .requiredOption('--key <file>', 'PEM private key of the certificate')
    .option('--port <port>', 'port to listen on (0 picks a free port)', parsePort, 9443)
    .option('--address <ip>', 'address to bind', '127.0.0.1')
    .option('--config <file>', 'injector configuration (YAML: proxy image and settings, templates, mesh policy)')
    .action(async (opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const config = await loadConfig(opts.config, opts.revision);
      const [cert, key] = await Promise.all([readFile(opts.cert), readFile(opts.key)]);
      const log = createLogger({ defaultMeta: { component: 'injector', revision: config.revision } });
      const app = createAdmissionApp({
        config,
        onEvent: (e) => log.log(e.outcome === 'error' ? 'error' : e.outcome === 'injected' || e.outcome === 'denied' ? 'info' : 'debug',
          e.message ?? e.outcome, { outcome: e.outcome, uid: e.uid, namespace: e.namespace, pod: e.pod, reason: e.decision?.code }),
      });
      const server = await startWebhookServer({ app, cert, key, port: opts.port, address: opts.address });
      io.err(`injector for revision ${config.revision} listening on ${server.url()} (image ${config.proxy.image})\n`);
      // cert-manager renews the certificate in place: serve the new one without a restart.
      const reloader = watchCertificate({
        certFile: opts.cert,
        keyFile: opts.key,
        apply: (c, k) => server.setCertificate(c, k),
        onReload: (err) => (err ? log.error(err.message) : log.info('serving certificate reloaded', { cert: opts.cert })),
      });
      const signal = await waitForSignal();
      io.err(`received ${signal}, shutting down\n`);
      reloader.close();
      await server.close();
    });
}
