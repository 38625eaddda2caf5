// `meshrev status`: the revisions, the namespaces using injection (labelled
// revision vs the revisions their pods run) and the migrations, once or
// redrawn every --interval until Ctrl-C.
import { Option, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePause } from '../../policy/migration.js';
import { CliError, formatError } from '../errors.js';
import { outputOf } from '../io.js';
import { OUTPUT_HELP, parseOutputFormat, renderData, type OutputFormat } from '../output.js';
import { buildStatusReport, formatStatusText, type StatusInput } from '../status-view.js';

interface Options {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  output: string;
  watch?: boolean;
  interval: string;
  maxIterations?: string;
}

/** ANSI: cursor home, clear screen. Only for a terminal. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';
/** Printed between frames when the output is not a terminal (a log, a pipe). */
export const FRAME_SEPARATOR = '---\n';
const MIN_INTERVAL_MS = 100;

export { parseOutputFormat, type OutputFormat } from '../output.js';

/** Go-style duration ("2s", "500ms", "1m") for --interval, at least 100ms. */
export function parseInterval(value: string): number {
  const p = parsePause(value);
  if (p?.kind !== 'duration') throw new CliError(`--interval: "${value}" is not a duration; write it like 2s, 500ms or 1m`, 2);
  if (p.ms < MIN_INTERVAL_MS) throw new CliError(`--interval: ${value} is too short; use at least ${MIN_INTERVAL_MS}ms`, 2);
  return p.ms;
}

/** Renders one frame: the report in the requested format. */
export function renderStatus(input: StatusInput, format: OutputFormat, compactJson = false): string {
  const report = buildStatusReport(input);
  return format === 'text' ? formatStatusText(report) : renderData(report, format, compactJson);
}

export interface WatchOptions {
  /** Produces one frame; a rejection is shown in the frame and the loop goes on. */
  frame: () => Promise<string>;
  write: (text: string) => void;
  intervalMs: number;
  /** Clear the screen before each frame (a terminal), else separate frames with `separator`. */
  tty: boolean;
  /** Between frames when not on a terminal; default FRAME_SEPARATOR ("" for JSON Lines). */
  separator?: string;
  /** Ends the loop (SIGINT); the loop also stops after maxIterations frames. */
  signal?: AbortSignal;
  maxIterations?: number;
  /** Header line for a terminal frame, e.g. the time; omitted when absent. */
  header?: () => string;
  /** Injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    if ((err as { name?: string }).name !== 'AbortError') throw err;
  }
}

/** Redraws `frame()` every interval until aborted or maxIterations; resolves with the number of frames drawn. */
export async function runWatch(o: WatchOptions): Promise<number> {
  const pause = o.sleep ?? abortableSleep;
  let frames = 0;
  while (!o.signal?.aborted && (o.maxIterations === undefined || frames < o.maxIterations)) {
    let text: string;
    try {
      text = await o.frame();
    } catch (err) {
      // A failed read (API server restarting, network blip) is shown, not fatal: the next frame may succeed.
      text = `${formatError(err)} (retrying every ${o.intervalMs / 1000}s)\n`;
    }
    if (o.signal?.aborted) break;
    if (o.tty) o.write(CLEAR_SCREEN + (o.header ? `${o.header()}\n\n` : ''));
    else if (frames > 0 && (o.separator ?? FRAME_SEPARATOR) !== '') o.write(o.separator ?? FRAME_SEPARATOR);
    o.write(text);
    frames++;
    if (o.maxIterations !== undefined && frames >= o.maxIterations) break;
    await pause(o.intervalMs, o.signal);
  }
  return frames;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('Show revisions and tags, which revision each namespace selects and which ones its pods run, and migration progress')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'show only this namespace (and read only its pods)')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .option('-w, --watch', 'redraw every --interval until Ctrl-C')
    .option('--interval <duration>', 'how often --watch redraws', '2s')
    // For tests and scripts: stop --watch after this many frames.
    .addOption(new Option('--max-iterations <n>').hideHelp())
    .action(async (opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const format = parseOutputFormat(opts.output);
      const intervalMs = parseInterval(opts.interval);
      const maxIterations = opts.maxIterations === undefined ? undefined : Number(opts.maxIterations);
      if (maxIterations !== undefined && (!Number.isInteger(maxIterations) || maxIterations < 1)) {
        throw new CliError(`--max-iterations: "${opts.maxIterations}" is not a positive integer`, 2);
      }
      // Loaded here so `meshrev --help` and offline commands never load the Kubernetes client.
      const { loadMeshKubeConfig, readMeshView } = await import('../../kube/mesh-view.js');
      const kc = loadMeshKubeConfig({
        ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
        ...(opts.context !== undefined ? { context: opts.context } : {}),
      });
      const frame = async (compactJson: boolean) => {
        const view = await readMeshView(kc, opts.namespace !== undefined ? { namespace: opts.namespace } : {});
        if (opts.namespace !== undefined && !view.namespaces.some((n) => n.metadata?.name === opts.namespace)) {
          throw new CliError(`namespace ${opts.namespace} does not exist`, 1, 'kubectl get namespaces lists them');
        }
        const input: StatusInput = {
          meshRevisions: view.meshRevisions,
          crdInstalled: view.crdInstalled,
          namespaces: view.namespaces,
          pods: view.pods,
          webhooks: view.webhooks,
          ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        };
        return renderStatus(input, format, compactJson);
      };
      if (!opts.watch) {
        io.out(await frame(false));
        return;
      }
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        await runWatch({
          // JSON frames are one line each (JSON Lines), so a consumer can split them.
          frame: () => frame(true),
          write: (t) => io.out(t),
          intervalMs,
          // Only a terminal gets escape codes; pipes and logs get separators.
          tty: format === 'text' && process.stdout.isTTY === true,
          separator: format === 'json' ? '' : FRAME_SEPARATOR,
          signal: abort.signal,
          ...(maxIterations !== undefined ? { maxIterations } : {}),
          header: () => `Every ${opts.interval}: meshrev status    ${new Date().toISOString()}    (Ctrl-C to stop)`,
        });
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
