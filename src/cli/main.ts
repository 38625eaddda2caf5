#!/usr/bin/env node
// The `meshrev` command line: a registry of commands, one module per command
// under commands/, each exporting register(program). main() never calls
// process.exit: it sets process.exitCode and returns the code, so it can be
// called from tests and the process ends when its work is done.
//
// Exit codes (README "Exit codes"): 0 success, 1 failure (the cluster said
// no, a check failed, a file could not be read), 2 usage (a bad flag or
// argument, whichever layer noticed it: commander or a command).
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as checkInject from './commands/check-inject.js';
import * as injector from './commands/injector.js';
import * as kubeInject from './commands/kube-inject.js';
import * as operator from './commands/operator.js';
import * as plan from './commands/plan.js';
import * as status from './commands/status.js';
import * as steer from './commands/steer.js';
import * as version from './commands/version.js';
import { exitCodeOf, formatError } from './errors.js';
import { versionLine } from './version.js';

interface CommandModule {
  register(program: Command): void;
}

/** Every command, in help order. Add a command by adding its module here. */
const COMMANDS: readonly CommandModule[] = [operator, injector, status, plan, steer, kubeInject, checkInject, version];

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Commander's exits that are not errors: --help, --version, `help`. */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.version']);

/** The exit code for a CommanderError: 0 for help and version, else 2 (commander only fails on usage: unknown option, missing argument, no command...). */
export function commanderExitCode(err: CommanderError): number {
  return COMMANDER_SUCCESS.has(err.code) || err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
}

/** `kubectl meshrev` when run as the kubectl plugin (an executable named kubectl-meshrev), else `meshrev`. */
export function programName(argv1: string | undefined = process.argv[1]): string {
  return argv1 !== undefined && basename(argv1).replace(/\.(m?js|cmd|exe)$/, '') === 'kubectl-meshrev' ? 'kubectl meshrev' : 'meshrev';
}

/** Where output goes (default: the process's stdout and stderr). */
export interface MainIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
}

function buildProgram(io?: MainIO): Command {
  const program = new Command(programName())
    .description('Migrate an Istio data plane between control-plane revisions, and inject sidecars')
    .version(versionLine(), '--version', 'print the version, git commit and Node.js, and exit')
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
      code = commanderExitCode(err);
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

/**
 * Makes a closed stdout (`meshrev status | head`) end the process quietly:
 * the reader is gone, so there is nothing to say and no one to say it to.
 * Without this, the EPIPE of the next write is an unhandled 'error' event and
 * Node prints a stack trace. Any other stream error is reported and exits 1.
 */
export function exitQuietlyOnBrokenPipe(
  stream: NodeJS.EventEmitter,
  exit: (code: number) => void = (code) => process.exit(code),
  report: (text: string) => void = (text) => process.stderr.write(text),
): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      exit(EXIT_OK);
      return;
    }
    report(`${formatError(err)}\n`);
    exit(EXIT_FAILURE);
  });
}

if (isEntryPoint()) {
  exitQuietlyOnBrokenPipe(process.stdout);
  // `2>&1 | head` closes stderr too; there is nowhere left to report to.
  exitQuietlyOnBrokenPipe(process.stderr, undefined, () => {});
  void main();
}
