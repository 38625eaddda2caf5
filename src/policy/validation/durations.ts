// Go-style durations ("30s", "1h30m", "500ms") as spec fields write them:
// the syntax the CRD accepts, the parser the executor and the health checks
// use, and the check of a bounded duration field. No I/O.
import { quote, type FieldError } from './fields.js';

/** The duration syntax the CRD accepts: Go-style durations in ms, s, m and h. */
export const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The exact sum of a duration's parts in ms (not rounded; Infinity when a part is too large for a number). */
function sumMs(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/**
 * A Go-style duration ("30s", "1h30m", "500ms", "2.5s") in milliseconds,
 * rounded to a whole millisecond; undefined for anything else, including
 * "indefinite" (PAUSE_INDEFINITE, which callers test first), an empty string,
 * a sign, units other than ms, s, m and h, and a duration too long to count
 * exactly in ms (beyond Number.MAX_SAFE_INTEGER, e.g. "3000000000h"): what it
 * returns is always a safe, finite integer.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  const rounded = Math.round(sumMs(text));
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** A whole number of ms in the largest unit that divides it, as the bounds are written ("1h", "60s"). */
export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** What a duration field accepts: at most `maxLength` characters and a value from `minMs` to `maxMs`. */
export interface DurationBounds {
  /** Inclusive; with `minExclusive`, the value must be more than this. */
  minMs: number;
  minExclusive?: boolean;
  /** Inclusive. */
  maxMs: number;
  maxLength: number;
}

/** What to write instead, for the two ways a duration field goes wrong. */
export interface DurationHints {
  /** After `<what> "<value>"` when it is not a Go-style duration. */
  syntax: string;
  /** After the range when it is out of range, e.g. an alternative to a longer duration. */
  range?: string;
}

const GO_STYLE: DurationHints = { syntax: 'is not a duration: write it Go style, e.g. "30s", "1m" or "500ms" (units ms, s, m, h)' };

function describeBounds(b: DurationBounds): string {
  const max = formatMs(b.maxMs);
  if (b.minExclusive) return `more than ${b.minMs === 0 ? '0' : formatMs(b.minMs)} and at most ${max}`;
  return b.minMs === 0 ? `at most ${max}` : `from ${formatMs(b.minMs)} to ${max}`;
}

/**
 * A duration field, in ms when it is Go style and within its bounds; reports
 * what is wrong otherwise. The bounds are compared with the exact value, as
 * the API server's CEL duration() does, so "720h0.4ms" is over 720h here too;
 * a duration too large to compute is out of range, never "no duration".
 */
export function checkDuration(value: unknown, field: string, what: string, bounds: DurationBounds, errors: FieldError[], hints: DurationHints = GO_STYLE): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > bounds.maxLength || !DURATION.test(value)) {
    errors.push({ field, message: `${what} ${quote(value)} ${hints.syntax}` });
    return undefined;
  }
  const exact = sumMs(value);
  const aboveMin = bounds.minExclusive ? exact > bounds.minMs : exact >= bounds.minMs;
  if (!(aboveMin && exact <= bounds.maxMs)) {
    errors.push({ field, message: `${what} ${quote(value)} is out of range: use ${describeBounds(bounds)}${hints.range ?? ''}` });
    return undefined;
  }
  return Math.round(exact);
}
