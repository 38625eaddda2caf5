// CLI errors: a typed error for "the user asked for something wrong", and
// one pure function turning any error into the message people see. Commands
// throw; main() formats and sets the exit code.

/** An error the user can fix; `exitCode` is what the process exits with. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly hint?: string) {
    super(message);
    this.name = 'CliError';
  }
}

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
};

/**
 * The text printed for an error (without a trailing newline): `error: ...`
 * and, for a CliError with a hint, a second line. Never throws, whatever it is given.
 */
export function formatError(err: unknown): string {
  try {
    if (err instanceof CliError) return `error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`;
    const code = field(err, 'code');
    const path = field(err, 'path');
    if (typeof code === 'string' && typeof path === 'string' && SYSTEM_ERRORS[code]) {
      return `error: cannot read ${path}: ${SYSTEM_ERRORS[code]}`;
    }
    if (err instanceof Error) {
      const cause = field(err, 'cause');
      const causeText = cause instanceof Error && !err.message.includes(cause.message) ? ` (${cause.message})` : '';
      return `error: ${err.message || err.name}${causeText}`;
    }
    if (typeof err === 'string') return `error: ${err}`;
    return `error: ${JSON.stringify(err) ?? String(err)}`;
  } catch {
    return 'error: (an error that could not be displayed)';
  }
}

/** The exit code for an error: a CliError's own, else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : 1;
}

/** Parses `k=v,k2=v2` (a label list, as kubectl writes them). Throws a CliError naming the flag. */
export function parseKeyValues(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CliError(`${flag}: "${part}" is not key=value`, 2);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
