// `meshrev kube-inject`: manual injection of a manifest, like
// `istioctl kube-inject`; writes the injected manifest to stdout.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { kubeInjectManifest } from '../../injector/manifest.js';
import { CliError } from '../errors.js';
import { outputOf } from '../io.js';
import { checkManifestDocuments, decodeInput } from '../yaml-input.js';
import { loadConfig } from './injector.js';

interface Options {
  filename: string;
  revision?: string;
  config?: string;
  quiet?: boolean;
}

/** The text of a file, or of stdin for "-"; refuses binary data (see decodeInput). */
export async function readInput(path: string): Promise<string> {
  if (path !== '-') return decodeInput(await readFile(path), path);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return decodeInput(Buffer.concat(chunks), 'stdin');
}

export function register(program: Command): void {
  program
    .command('kube-inject')
    .description('Inject the sidecar into the workloads of a manifest (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs) and print it')
    .requiredOption('-f, --filename <file>', 'manifest to inject (multi-document YAML; - reads stdin)')
    .option('--revision <revision>', 'revision to inject (default: the config\'s, else "default")')
    .option('--config <file>', 'injector configuration (YAML)')
    .option('-q, --quiet', 'do not report skipped workloads on stderr')
    .action(async (opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const config = await loadConfig(opts.config, opts.revision);
      const text = await readInput(opts.filename);
      checkManifestDocuments(text, opts.filename === '-' ? 'stdin' : opts.filename);
      const result = kubeInjectManifest(text, config);
      if (result.errors.length) {
        throw new CliError(`cannot inject ${opts.filename}:\n  ${result.errors.join('\n  ')}`, 1);
      }
      for (const w of result.warnings) io.err(`warning: ${w}\n`);
      if (!opts.quiet) for (const s of result.skipped) io.err(`skipped ${s.object}: ${s.reason}\n`);
      io.out(result.output);
    });
}
