// `meshrev status`: the revisions, the namespaces using injection (labelled
// revision vs the revisions their pods run) and the migrations with what to
// do next. Once (a few LISTs), or with --watch from informers' caches —
// after their first LIST, only watch events, no polling — redrawn on change
// until the migrations it saw running have ended (as `kubectl rollout
// status` waits for a rollout), or until Ctrl-C with --keep-watching.
import { Option, type Command } from 'commander';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WatchedMeshView } from '../../kube/mesh-watch.js';
import { parsePause } from '../../policy/migration.js';
import { CliError, formatError } from '../errors.js';
import { outputOf } from '../io.js';
import { OUTPUT_HELP, parseOutputFormat, renderData, type OutputFormat } from '../output.js';
import { buildStatusReport, formatStatusText, runningMigrations, watchExitCode, type StatusInput, type StatusReport } from '../status-view.js';

interface Options {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  output: string;
  watch?: boolean;
  keepWatching?: boolean;
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

/** One frame of --watch: its text, and the exit code once the watch should end (see watchExitCode). */
export interface WatchFrame {
  text: string;
  exitCode?: number;
}

export interface WatchOptions {
  /** Renders the current state; a throw is shown in the frame and the watch goes on. */
  frame: () => WatchFrame;
  /** Registers the callback the source calls on every change. */
  subscribe: (changed: () => void) => void;
  write: (text: string) => void;
  /** At most one frame per this many ms: a burst of changes (a rollout's pods) is drawn once. */
  intervalMs: number;
  /** Clear the screen before each frame (a terminal), else separate frames with `separator`. */
  tty: boolean;
  /** Between frames when not on a terminal; default FRAME_SEPARATOR ("" for JSON Lines). */
  separator?: string;
  /** Ends the watch (SIGINT) with exit code 0. */
  signal?: AbortSignal;
  /** Ends the watch after this many frames (tests, scripts). */
  maxIterations?: number;
  /** Header line for a terminal frame, e.g. the time; omitted when absent. */
  header?: () => string;
  /** Injectable for tests. */
  timers?: { setTimeout: (fn: () => void, ms: number) => unknown; clearTimeout: (h: unknown) => void; now: () => number };
}

export interface WatchResult {
  frames: number;
  exitCode: number;
}

const realTimers = { setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout), now: () => Date.now() };

/**
 * Draws a frame now and again after each change (at most one per interval),
 * skipping frames identical to the last one drawn; ends when a frame carries
 * an exit code, after maxIterations frames, or on `signal`. Nothing is polled:
 * frames follow `subscribe`'s notifications.
 */
export function runWatch(o: WatchOptions): Promise<WatchResult> {
  const timers = o.timers ?? realTimers;
  const separator = o.separator ?? FRAME_SEPARATOR;
  return new Promise<WatchResult>((resolve) => {
    let frames = 0;
    let last: string | undefined;
    let lastDrawAt = -Infinity;
    let pending: unknown;
    let ended = false;
    const end = (exitCode: number) => {
      if (ended) return;
      ended = true;
      if (pending !== undefined) timers.clearTimeout(pending);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ frames, exitCode });
    };
    const onAbort = () => end(0);
    const draw = () => {
      pending = undefined;
      if (ended) return;
      lastDrawAt = timers.now();
      let f: WatchFrame;
      try {
        f = o.frame();
      } catch (err) {
        f = { text: `${formatError(err)}\n` };
      }
      if (f.text !== last) {
        if (o.tty) o.write(CLEAR_SCREEN + (o.header ? `${o.header()}\n\n` : ''));
        else if (frames > 0 && separator !== '') o.write(separator);
        o.write(f.text);
        last = f.text;
        frames++;
      }
      if (f.exitCode !== undefined) end(f.exitCode);
      else if (o.maxIterations !== undefined && frames >= o.maxIterations) end(0);
    };
    const changed = () => {
      if (ended || pending !== undefined) return;
      pending = timers.setTimeout(draw, Math.max(0, lastDrawAt + o.intervalMs - timers.now()));
    };
    if (o.signal?.aborted) return end(0);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    o.subscribe(changed);
    draw();
  });
}

/** The input of the report, from what was read; throws when -n names a namespace that does not exist. */
function statusInput(view: WatchedMeshView, namespace: string | undefined, program: string): StatusInput {
  if (namespace !== undefined && !view.namespaces.some((n) => n.metadata?.name === namespace)) {
    throw new CliError(`namespace ${namespace} does not exist`, 1, 'kubectl get namespaces lists them');
  }
  return { ...view, ...(namespace !== undefined ? { namespace } : {}), program };
}

/** What --watch prints when it ends because a migration it watched failed (the frame above says what to do). */
function failedWatchError(report: StatusReport, seen: ReadonlySet<string>): CliError {
  const failed = report.migrations.filter((m) => seen.has(m.meshRevision) && m.outcome === 'failed').map((m) => `${m.meshRevision} (${m.phase ?? 'Failed'})`);
  return new CliError(`migration ${failed.join(', ')} failed`, 1);
}

interface WatchCommand {
  kc: KubeConfig;
  opts: Options;
  format: OutputFormat;
  intervalMs: number;
  maxIterations: number | undefined;
  program: string;
  out: (text: string) => void;
}

/** `status --watch`: informers (src/kube/mesh-watch.ts) feed runWatch; ends as watchExitCode says unless --keep-watching. */
async function watchStatus(w: WatchCommand): Promise<void> {
  const { startMeshWatch } = await import('../../kube/mesh-watch.js');
  let notify: () => void = () => undefined;
  const watch = await startMeshWatch(w.kc, { ...(w.opts.namespace !== undefined ? { namespace: w.opts.namespace } : {}), onChange: () => notify() });
  let lastReport: StatusReport | undefined;
  const seen = new Set<string>();
  const frame = (): WatchFrame => {
    const report = buildStatusReport(statusInput(watch.view(), w.opts.namespace, w.program));
    lastReport = report;
    for (const name of runningMigrations(report)) seen.add(name);
    const problem = watch.problem();
    const text = w.format === 'text' ? formatStatusText(report) : renderData(report, w.format, true);
    // Said in text frames only: JSON and YAML frames keep the report's schema.
    const warn = problem !== undefined && w.format === 'text' ? `\nwatch interrupted, retrying (showing what was last seen): ${problem}\n` : '';
    const exitCode = w.opts.keepWatching ? undefined : watchExitCode(report, seen);
    return { text: text + warn, ...(exitCode !== undefined ? { exitCode } : {}) };
  };
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await runWatch({
      frame,
      subscribe: (changed) => { notify = changed; },
      write: w.out,
      intervalMs: w.intervalMs,
      // Only a terminal gets escape codes; pipes and logs get separators.
      tty: w.format === 'text' && process.stdout.isTTY === true,
      // JSON frames are one line each (JSON Lines), so a consumer can split them.
      separator: w.format === 'json' ? '' : FRAME_SEPARATOR,
      signal: abort.signal,
      ...(w.maxIterations !== undefined ? { maxIterations: w.maxIterations } : {}),
      header: () => `${w.program} status --watch    ${new Date().toISOString()}    (redrawn on change; Ctrl-C to stop)`,
    });
    if (result.exitCode !== 0 && lastReport) throw failedWatchError(lastReport, seen);
  } finally {
    process.removeListener('SIGINT', onSigint);
    await watch.stop();
  }
}

export function register(program: Command): void {
  program
    .command('status')
    .description('Show revisions and tags, which revision each namespace selects and which ones its pods run, and migration progress')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'show only this namespace (and read only its pods)')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .option('-w, --watch', 'redraw on every change until the migrations seen running have ended (exit 0; 1 if one failed)')
    .option('--keep-watching', 'with --watch: keep watching after the migrations end, until Ctrl-C')
    .option('--interval <duration>', 'with --watch: at most one redraw per interval', '1s')
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
      if (opts.keepWatching && !opts.watch) throw new CliError('--keep-watching needs --watch', 2);
      const name = cmd.parent?.name() ?? 'meshrev';
      // Loaded here so `meshrev --help` and offline commands never load the Kubernetes client.
      const { loadMeshKubeConfig, readMeshView } = await import('../../kube/mesh-view.js');
      const kc = loadMeshKubeConfig({
        ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
        ...(opts.context !== undefined ? { context: opts.context } : {}),
      });
      if (opts.watch) {
        await watchStatus({ kc, opts, format, intervalMs, maxIterations, program: name, out: (t) => io.out(t) });
        return;
      }
      const view = await readMeshView(kc, opts.namespace !== undefined ? { namespace: opts.namespace } : {});
      io.out(renderStatus(statusInput(view, opts.namespace, name), format));
    });
}
