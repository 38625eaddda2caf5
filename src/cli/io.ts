// How commands write: through the program's output configuration, so main()
// (and tests) decide where text goes. Commands never touch process.stdout.
import type { Command } from 'commander';

export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

export function outputOf(cmd: Command): CommandOutput {
  const cfg = cmd.configureOutput();
  return {
    out: (text) => (cfg.writeOut ? cfg.writeOut(text) : process.stdout.write(text)),
    err: (text) => (cfg.writeErr ? cfg.writeErr(text) : process.stderr.write(text)),
  };
}
