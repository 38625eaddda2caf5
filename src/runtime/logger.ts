// Structured JSON logs (one object per line), so log pipelines can filter by
// controller, key and reconcileID. Each reconcile gets a child logger carrying
// those fields (see reconcileLogger).
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import winston from 'winston';

export type Logger = winston.Logger;

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Minimum level; default $LOG_LEVEL, then "info". */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to capture them. */
  stream?: Writable;
  /** Drop everything (tests). */
  silent?: boolean;
  /** Fields on every line (e.g. { component: 'manager' }). */
  defaultMeta?: Record<string, unknown>;
}

function resolveLevel(level: string | undefined): LogLevel {
  const wanted = (level ?? process.env.LOG_LEVEL ?? 'info').toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(wanted)) return wanted as LogLevel;
  // An unknown level must not silence the operator: fall back to info and say so once.
  process.emitWarning(`LOG_LEVEL "${wanted}" is not one of ${LOG_LEVELS.join(', ')}; using info`);
  return 'info';
}

/** Renders Error values in metadata as {name, message, code, stack} instead of the `{}` JSON.stringify gives. */
const errorsToObjects = winston.format((info) => {
  for (const [k, v] of Object.entries(info)) {
    if (v instanceof Error) info[k] = serializeError(v);
  }
  return info;
});

function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack;
  return out;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console();
  return winston.createLogger({
    level: resolveLevel(opts.level),
    silent: opts.silent ?? false,
    defaultMeta: opts.defaultMeta,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      errorsToObjects(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [transport],
  });
}

/** A logger that drops everything, for tests and optional dependencies. */
export function nullLogger(): Logger {
  return createLogger({ silent: true, level: 'error' });
}

/** The child logger for one reconcile of `key` by `controller`, with a fresh reconcileID. */
export function reconcileLogger(base: Logger, controller: string, key: string, reconcileID: string = randomUUID()): Logger {
  return base.child({ controller, key, reconcileID });
}
