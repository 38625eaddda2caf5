#!/usr/bin/env node
// The `meshrev` command line: a registry of commands, one module per command
// under commands/, each exporting register(program). main() never calls
// process.exit: it sets process.exitCode and returns the code, so it can be
// called from tests and the process ends when its work is done.
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as checkInject from './commands/check-inject.js';
import * as injector from './commands/injector.js';
import * as kubeInject from './commands/kube-inject.js';
import * as operator from './commands/operator.js';
import * as plan from './commands/plan.js';
import * as status from './commands/status.js';
import { exitCodeOf, formatError } from './errors.js';

interface CommandModule {
  register(program: Command): void;
}

/** Every command, in help order. Add a command by adding its module here. */
const COMMANDS: readonly CommandModule[] = [operator, injector, status, plan, kubeInject, checkInject];

/** Where output goes (default: the process's stdout and stderr). */
export interface MainIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
}

function buildProgram(io?: MainIO): Command {
  const program = new Command('meshrev')
    .description('Migrate an Istio data plane between control-plane revisions, and inject sidecars')
    .showHelpAfterError('(run with --help for usage)');
  // Before registering: subcommands copy these settings when they are created.
  program.exitOverride();
  if (io) program.configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr });
  for (const c of COMMANDS) c.register(program);
  return program;
}

/**
 * Runs the CLI with `args` (the arguments after the program name, e.g.
 * `['kube-inject', '-f', 'app.yaml']`). Resolves to the exit code, which it
 * also sets as process.exitCode.
 */
export async function main(args: readonly string[] = process.argv.slice(2), io?: MainIO): Promise<number> {
  const program = buildProgram(io);
  let code = 0;
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help / version).
      code = err.exitCode;
    } else {
      const write = io?.writeErr ?? ((t: string) => process.stderr.write(t));
      write(`${formatError(err)}\n`);
      code = exitCodeOf(err);
    }
  }
  process.exitCode = code;
  return code;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) void main();
