// Go-style durations ("30s", "1h30m", "500ms") as spec fields write them:
// the syntax the CRD accepts, the parser the executor and the health checks
// use, and the check of a bounded duration field. No I/O.
import { MAX_DURATION_LENGTH } from '../../api/health.js';
import { quote, type FieldError } from './fields.js';

/** The duration syntax the CRD accepts: Go-style durations in ms, s, m and h. */
export const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go-style duration ("30s", "1h30m", "500ms", "2.5s") in milliseconds,
 * rounded to a whole millisecond; undefined for anything else, including
 * "indefinite" (PAUSE_INDEFINITE, which callers test first), an empty string,
 * a sign, or units other than ms, s, m and h.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** A whole number of ms in the largest unit that divides it, as the bounds are written ("1h", "60s"). */
export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A duration field, in ms when valid and within [min, max]; reports what is wrong otherwise. */
export function checkDuration(value: unknown, field: string, what: string, min: number, max: number, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && value.length <= MAX_DURATION_LENGTH ? parseDuration(value) : undefined;
  if (ms === undefined) {
    errors.push({ field, message: `${what} ${quote(value)} is not a duration: write it Go style, e.g. "30s", "1m" or "500ms" (units ms, s, m, h)` });
    return undefined;
  }
  if (ms < min || ms > max) {
    const bounds = min > 1 ? `from ${formatMs(min)} to ${formatMs(max)}` : `more than 0 and at most ${formatMs(max)}`;
    errors.push({ field, message: `${what} ${quote(value)} is out of range: use ${bounds}` });
    return undefined;
  }
  return ms;
}
