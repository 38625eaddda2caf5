// `meshrev plan -f mrev.yaml`: a dry run of a MeshRevision's migration
// against the cluster as it is now — its steps, the namespaces each moves, the
// workloads each would restart or leave alone, the pods it would only report —
// computed by the operator's own planner. Validation errors stop it before
// anything is read from the cluster. With --namespaces-from snapshot.yaml
// (src/cli/snapshot.ts) no cluster is contacted at all.
import type { Command } from 'commander';
import { KIND, type MeshRevision } from '../../api/meshrevision.js';
import { isPlainObject } from '../../injector/merge.js';
import { validateMeshRevision } from '../../policy/validation/index.js';
import { CliError } from '../errors.js';
import { outputOf } from '../io.js';
import { buildPlan, formatPlanText, planJson, type PlanInput } from '../plan-view.js';
import { readSnapshot, SNAPSHOT_COMMAND, snapshotNote } from '../snapshot.js';
import { OUTPUT_HELP, parseOutputFormat, renderData } from '../output.js';
import { parseYamlDocuments } from '../yaml-input.js';
import { readInput } from './kube-inject.js';

interface Options {
  filename: string;
  namespacesFrom?: string;
  kubeconfig?: string;
  context?: string;
  output: string;
}

/**
 * The one MeshRevision in a YAML text (a single document, or the one of kind
 * MeshRevision among several), validated; throws a CliError with exit code 2
 * naming every bad field.
 */
/**
 * The largest file `plan -f` reads: the API server's limit on a request body
 * (3 MiB), so nothing larger could have been applied. Parsing is linear
 * (src/cli/yaml-input.ts), and this keeps the answer within seconds.
 */
export const MAX_PLAN_INPUT_BYTES = 3 * 1024 * 1024;

export function readMeshRevisionFile(text: string, source: string): MeshRevision {
  if (Buffer.byteLength(text) > MAX_PLAN_INPUT_BYTES) {
    throw new CliError(`${source} is larger than 3 MiB: the API server accepts no request that large, so no ${KIND} in it could be applied`, 1,
      `plan the MeshRevision alone (e.g. extract it with yq 'select(.kind == "${KIND}")')`);
  }
  // What the file holds is input, not usage: exit 1 (README, "The CLI").
  const docs = parseYamlDocuments(text, source, 1);
  const mrevs = docs.length === 1 ? docs : docs.filter((d) => isPlainObject(d) && d['kind'] === KIND);
  if (mrevs.length !== 1) {
    throw new CliError(
      mrevs.length === 0 ? `${source}: no ${KIND} found` : `${source}: ${mrevs.length} ${KIND}s found; plan one at a time`,
      1,
    );
  }
  const obj = mrevs[0];
  const errors = validateMeshRevision(obj);
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.field || '(object)'}: ${e.message}`).join('\n');
    throw new CliError(`${source} is not a valid ${KIND} (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${lines}`, 1);
  }
  const mrev = obj as MeshRevision;
  if (!mrev.spec.migration) {
    throw new CliError(`${source}: ${KIND} ${mrev.metadata.name ?? ''} has no spec.migration: nothing to plan`, 1,
      'add spec.migration (from, steps) to plan moving namespaces to this revision');
  }
  return mrev;
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('Dry-run a MeshRevision\'s migration: the steps, the namespaces each moves, the workloads it would restart')
    .requiredOption('-f, --filename <file>', 'MeshRevision manifest (YAML; - reads stdin)')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('-o, --output <format>', OUTPUT_HELP, 'text')
    .option('--namespaces-from <file>', `plan offline from a snapshot of the cluster instead of reading it (YAML or JSON, - reads stdin): what "${SNAPSHOT_COMMAND}" prints`)
    .action(async (opts: Options, cmd: Command) => {
      const io = outputOf(cmd);
      const format = parseOutputFormat(opts.output);
      checkSources(opts);
      const mrev = readMeshRevisionFile(await readInput(opts.filename), sourceName(opts.filename));
      const cluster = opts.namespacesFrom !== undefined ? await fromSnapshot(opts.namespacesFrom) : await fromCluster(opts);
      const report = buildPlan({ meshRevision: mrev, now: new Date(), ...cluster.input });
      report.notes.push(...cluster.notes);
      io.out(format === 'text' ? formatPlanText(report) : renderData(planJson(report), format));
    });
}

type ClusterInput = { input: Omit<PlanInput, 'meshRevision' | 'now'>; notes: string[] };

const sourceName = (path: string) => (path === '-' ? 'stdin' : path);

/** Usage errors between the file options, before anything is read. */
function checkSources(opts: Options): void {
  if (opts.namespacesFrom === undefined) return;
  if (opts.kubeconfig !== undefined || opts.context !== undefined) {
    throw new CliError('--namespaces-from plans from a file and contacts no cluster: drop --kubeconfig/--context, or drop --namespaces-from to read the cluster', 2);
  }
  if (opts.namespacesFrom === '-' && opts.filename === '-') throw new CliError('-f and --namespaces-from cannot both read stdin: give one of them a file', 2);
}

async function fromSnapshot(path: string): Promise<ClusterInput> {
  const source = sourceName(path);
  const snap = readSnapshot(await readInput(path), source);
  return {
    input: { namespaces: snap.namespaces, pods: snap.pods, workloads: snap.workloads, clusterMeshRevisions: snap.meshRevisions, webhooks: snap.webhooks },
    notes: [snapshotNote(snap, source)],
  };
}

async function fromCluster(opts: Options): Promise<ClusterInput> {
  // Loaded only once the file is valid: a bad file never touches the cluster.
  const { readMeshViewFromCluster } = await import('../../kube/mesh-view.js');
  const view = await readMeshViewFromCluster({
    workloads: true,
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
  return {
    input: { namespaces: view.namespaces, pods: view.pods, workloads: view.workloads, clusterMeshRevisions: view.meshRevisions, webhooks: view.webhooks },
    notes: [],
  };
}
