// The day-2 verbs: `meshrev promote | pause | resume | rollback | retry NAME`.
// Each reads the MeshRevision, makes one JSON merge patch of
// spec.migration (src/cli/steering.ts: the same change as editing the YAML),
// applies it and prints what changed. When Argo CD or Flux manages the
// object, it warns that their next sync reverts the change and prints the
// YAML to commit instead (and still applies it, unless --dry-run).
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { outputOf } from '../io.js';
import { buildSteeringChange, detectGitOpsOwner, formatGitOpsWarning, gitOpsSnippet, type SteeringRequest, type SteeringVerb } from '../steering.js';

interface Options {
  kubeconfig?: string;
  context?: string;
  dryRun?: boolean;
  namespaces?: string;
  step?: string;
}

interface VerbSpec {
  verb: SteeringVerb;
  description: string;
  /** Past tense for the result line. */
  done: string;
  extra?: (cmd: Command) => Command;
}

const VERBS: readonly VerbSpec[] = [
  {
    verb: 'promote',
    description: 'Let a migration go on past a step whose pause is "indefinite": sets spec.migration.promotedStep to the step awaiting promotion',
    done: 'promoted',
    extra: (c) => c.option('--step <n>', 'promote up to this step (default: the one awaiting promotion, status.migration.currentStep)'),
  },
  { verb: 'pause', description: 'Suspend a migration: sets spec.migration.paused: true (what is in flight finishes, nothing new starts)', done: 'paused' },
  { verb: 'resume', description: 'Resume a suspended migration: sets spec.migration.paused: false', done: 'resumed' },
  {
    verb: 'rollback',
    description: 'Return the namespaces a migration moved to their recorded origin: sets spec.migration.rollback (all, or --namespaces)',
    done: 'rolling back',
    extra: (c) => c.option('--namespaces <a,b,...>', 'return only these namespaces (added to those already listed); they leave the migration'),
  },
  {
    verb: 'retry',
    description: 'Start a failed or rolled-back migration again: removes spec.migration.rollback (or makes the smallest spec change), so a new generation starts',
    done: 'retrying',
  },
];

function parseNamespaces(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = names.find((n) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63);
  if (bad !== undefined) throw new CliError(`--namespaces: "${bad}" is not a namespace name`, 2);
  return names;
}

function parseStep(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliError(`--step: "${text}" is not a step number (1, 2, ...)`, 2);
  return Number(text);
}

/** Attempts at a patch that conflicts with a concurrent write (the operator's status). */
const CONFLICT_RETRIES = 5;

async function steer(name: string, v: VerbSpec, opts: Options, cmd: Command): Promise<void> {
  const io = outputOf(cmd);
  const req: SteeringRequest = {
    verb: v.verb,
    ...(opts.namespaces !== undefined ? { namespaces: parseNamespaces(opts.namespaces) } : {}),
    ...(opts.step !== undefined ? { step: parseStep(opts.step) } : {}),
  };
  // Loaded here so `meshrev --help` and offline commands never load the Kubernetes client.
  const { meshRevisionClient } = await import('../../kube/meshrevision-client.js');
  const client = meshRevisionClient({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
  // The patch carries the resourceVersion it was computed on, and the operator writes status all
  // through a migration: on a conflict read again and decide again, as kubectl's retry-on-conflict does.
  for (let attempt = 1; ; attempt++) {
    const mrev = await client.get(name);
    const change = buildSteeringChange(mrev, req);
    if (change.changes.length === 0) {
      io.out(`meshrevision/${name} unchanged: ${change.unchanged.join(', ')}\n`);
      return;
    }
    try {
      await client.mergePatch(name, change.patch, { dryRun: opts.dryRun === true });
    } catch (err) {
      if (attempt < CONFLICT_RETRIES && (err as { kind?: string }).kind === 'conflict') continue;
      throw err;
    }
    const owner = detectGitOpsOwner(mrev);
    if (owner) io.err(`${formatGitOpsWarning(owner, gitOpsSnippet(mrev, change.after))}\n`);
    report(io, name, v, opts, change.changes);
    return;
  }
}

function report(io: ReturnType<typeof outputOf>, name: string, v: VerbSpec, opts: Options, changes: readonly string[]): void {
  io.out(`meshrevision/${name} ${v.done}${opts.dryRun ? ' (dry run: validated by the API server, nothing changed)' : ''}\n`);
  for (const line of changes) io.out(`  ${line}\n`);
}

export function register(program: Command): void {
  for (const v of VERBS) {
    let cmd = program
      .command(v.verb)
      .description(v.description)
      .argument('<name>', 'the MeshRevision');
    cmd = v.extra ? v.extra(cmd) : cmd;
    cmd
      .option('--dry-run', 'show the change and have the API server validate it, without storing it')
      .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)')
      .option('--context <context>', 'kubeconfig context to use')
      .action((name: string, opts: Options, c: Command) => steer(name, v, opts, c));
  }
}
