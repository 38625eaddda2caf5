// Kubernetes resource quantities (`100m`, `0.5`, `128Mi`, `1e3`), parsed
// exactly (no floating point) so the injector can reject what the API server
// would reject and compare a request with a limit before the pod is created.
// Grammar: k8s.io/apimachinery/pkg/api/resource/quantity.go.

/** value = num / 10^scale, exactly. */
export interface Quantity {
  num: bigint;
  scale: number;
}

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
const DECIMAL_SI: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SI: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
// Exponents far beyond any real resource would only make big integers; the API server caps them too.
const MAX_EXPONENT = 100;

const QUANTITY_HINT = 'a number with an optional suffix, such as 100m, 0.5, 2, 128Mi or 1Gi';

/** Parses a quantity, or returns a short reason why it is not one. */
export function parseQuantity(text: string): { quantity: Quantity } | { error: string } {
  if (text === '') return { error: 'it is empty' };
  const m = QUANTITY_RE.exec(text);
  if (!m) {
    const why = /\s/.test(text) ? 'it contains whitespace' : 'it is not a Kubernetes quantity';
    return { error: `${why} (expected ${QUANTITY_HINT})` };
  }
  const [, sign = '', number = '', suffix = ''] = m;
  const [intPart = '', fracPart = ''] = number.split('.');
  let num = BigInt((intPart + fracPart) || '0');
  let scale = fracPart.length;
  let exponent = 0;
  if (suffix in BINARY_SI) {
    num *= 1024n ** BigInt(BINARY_SI[suffix] ?? 0);
  } else if (suffix in DECIMAL_SI) {
    exponent = DECIMAL_SI[suffix] ?? 0;
  } else if (suffix !== '') {
    exponent = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_EXPONENT) {
      return { error: `its exponent ${suffix} is out of range` };
    }
  }
  if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else scale += -exponent;
  if (sign === '-') num = -num;
  return { quantity: { num, scale } };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const l = a.num * 10n ** BigInt(Math.max(0, b.scale - a.scale));
  const r = b.num * 10n ** BigInt(Math.max(0, a.scale - b.scale));
  return l < r ? -1 : l > r ? 1 : 0;
}

/**
 * Validates a quantity used as a container resource: it must parse and must
 * not be negative. Returns the reason it is invalid, or undefined.
 */
export function resourceQuantityError(text: string): string | undefined {
  const p = parseQuantity(text);
  if ('error' in p) return p.error;
  if (p.quantity.num < 0n) return 'a resource quantity must not be negative';
  return undefined;
}
