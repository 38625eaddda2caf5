// The vocabulary every part of MeshRevision validation shares: the error
// shape, unknown-field detection with "did you mean", and the checks of a
// single field (DNS labels, bounded integers). No I/O.

/** One problem with a MeshRevision: the field path (as `kubectl explain` spells it) and what to fix. */
export interface FieldError {
  field: string;
  message: string;
}

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_LABEL = 63;

/** A DNS-1123 label of at most 63 characters: a revision, tag or namespace name. */
export function isDnsLabel(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v.length <= MAX_LABEL && DNS1123_LABEL.test(v);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function quote(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Levenshtein distance, for "did you mean" on unknown fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Reports the keys of `obj` not in `known`: the API server would prune them silently. */
export function unknownFields(obj: Record<string, unknown>, known: readonly string[], path: string, errors: FieldError[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const best = known
      .map((k) => ({ k, d: distance(key, k) }))
      .sort((a, b) => a.d - b.d)
      .find((c) => c.d <= Math.max(2, Math.floor(c.k.length / 3)) || c.k.toLowerCase().startsWith(key.toLowerCase()));
    const hint = best ? `did you mean "${best.k}"?` : `known fields: ${known.join(', ')}`;
    errors.push({
      field: `${path}.${key}`,
      message: `unknown field "${key}" (the API server would silently drop it); ${hint}`,
    });
  }
}

/** A required DNS-1123 (or, with `pattern`, DNS-1035) label; `what` names it in the message. */
export function dnsLabel(value: unknown, field: string, what: string, errors: FieldError[], pattern = DNS1123_LABEL): void {
  if (typeof value !== 'string' || value === '') {
    errors.push({ field, message: `${what} is required and must be a string` });
    return;
  }
  if (value.length > MAX_LABEL) {
    errors.push({ field, message: `${what} ${quote(value)} is ${value.length} characters; use at most ${MAX_LABEL}` });
    return;
  }
  if (!pattern.test(value)) {
    const rule =
      pattern === DNS1035_LABEL
        ? 'lower-case letters, digits and "-", starting with a letter and ending with a letter or digit'
        : 'lower-case letters, digits and "-", starting and ending with a letter or digit (e.g. "1-21")';
    errors.push({ field, message: `${what} ${quote(value)} is not valid: use ${rule}` });
  }
}

/** An integer in [min, max] when set; `hint` says what the number means. */
export function intInRange(value: unknown, field: string, what: string, min: number, max: number | undefined, hint: string, errors: FieldError[]): void {
  if (value === undefined) return;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && (max === undefined || value <= max)) return;
  const range = max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  errors.push({ field, message: `${what} ${quote(value)} is not valid: use ${range} (${hint})` });
}
