// Classifying errors from the Kubernetes client so callers branch on what
// happened (not found, conflict, transient...) instead of on HTTP codes, and
// report the API server's own message instead of client-node's dump of
// "HTTP-Code: ... Body: ... Headers: ...".
import { ApiException } from '@kubernetes/client-node';

export type KubeErrorKind =
  | 'notFound' // 404
  | 'alreadyExists' // 409, reason AlreadyExists
  | 'conflict' // 409: stale resourceVersion (optimistic concurrency)
  | 'gone' // 410: resourceVersion too old for a watch/list
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'invalid' // 422: the object failed validation (schema, CEL, admission)
  | 'badRequest' // 400
  | 'transient' // 429, 5xx, timeouts, network errors: retry
  | 'unknown';

/** One field-level cause from a Status (`details.causes`), as the API server reports it. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface KubeErrorInfo {
  kind: KubeErrorKind;
  /** HTTP status code, when the error came from an HTTP response. */
  code?: number;
  /** Status.reason (e.g. "NotFound", "Invalid", "AlreadyExists"). */
  reason?: string;
  /** The API server's message, or the error's own message. */
  message: string;
  /** Field-level causes (422 Invalid). */
  causes: StatusCause[];
  /** Whether retrying the same request later may succeed. */
  transient: boolean;
  /** Server's Retry-After for 429/503, in seconds, when given. */
  retryAfterSeconds?: number;
}

interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: StatusCause[]; retryAfterSeconds?: number };
}

// Network-level failures (undici wraps them in `TypeError: fetch failed` with a cause).
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The HTTP status code of an error from client-node (ApiException.code, or Watch's `statusCode`). */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (!isRecord(err)) return undefined;
  for (const field of ['code', 'statusCode']) {
    const v = err[field];
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  return undefined;
}

/** Parses ApiException.body (client-node 2.x keeps it as response text) into a Status, when it is one. */
function statusBody(err: unknown): StatusBody | undefined {
  if (!isRecord(err)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  if (!isRecord(body)) return undefined;
  // A Status has kind Status; watch ERROR events carry the same shape as the error itself.
  if (body.kind === 'Status' || typeof body.message === 'string' || typeof body.reason === 'string') {
    return body;
  }
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; isRecord(e) && depth < 5; e = e.cause, depth++) {
    const code = e.code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

function isAbortOrTimeout(err: unknown): boolean {
  return isRecord(err) && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

function fallbackMessage(err: unknown): string {
  if (err instanceof ApiException) {
    // ApiException's own message embeds the body and headers; keep only the first line.
    return `HTTP ${err.code}`;
  }
  if (err instanceof Error) {
    const code = networkCode(err);
    if (code && err.message === 'fetch failed') return `fetch failed (${code})`;
    return err.message;
  }
  return String(err);
}

/** Classifies any error thrown by client-node (ApiException, Watch errors, network errors). */
export function classifyError(err: unknown): KubeErrorInfo {
  const code = statusCode(err);
  const status = statusBody(err);
  const causes = status?.details?.causes ?? [];
  const base = {
    code,
    reason: status?.reason,
    message: status?.message ?? fallbackMessage(err),
    causes,
    retryAfterSeconds: status?.details?.retryAfterSeconds,
  };
  const info = (kind: KubeErrorKind, transient = false): KubeErrorInfo => ({ ...base, kind, transient });

  if (code !== undefined) {
    switch (code) {
      case 400:
        return info('badRequest');
      case 401:
        return info('unauthorized');
      case 403:
        return info('forbidden');
      case 404:
        return info('notFound');
      case 409:
        return info(status?.reason === 'AlreadyExists' ? 'alreadyExists' : 'conflict');
      case 410:
        return info('gone');
      case 422:
        return info('invalid');
      case 429:
        return info('transient', true);
      default:
        if (code >= 500) return info('transient', true);
        return info('unknown');
    }
  }
  if (networkCode(err) !== undefined || isAbortOrTimeout(err)) return info('transient', true);
  return info('unknown');
}

export const isNotFound = (err: unknown): boolean => classifyError(err).kind === 'notFound';
export const isAlreadyExists = (err: unknown): boolean => classifyError(err).kind === 'alreadyExists';
/** 409 from a stale resourceVersion (someone else wrote first); AlreadyExists is not a conflict. */
export const isConflict = (err: unknown): boolean => classifyError(err).kind === 'conflict';
export const isGone = (err: unknown): boolean => classifyError(err).kind === 'gone';
export const isForbidden = (err: unknown): boolean => classifyError(err).kind === 'forbidden';
export const isInvalid = (err: unknown): boolean => classifyError(err).kind === 'invalid';
export const isTransient = (err: unknown): boolean => classifyError(err).transient;

/**
 * One line for logs, conditions and the CLI: the API server's message (with
 * the field causes of a 422 when the message does not already list them),
 * prefixed by the HTTP code when there is one.
 */
export function apiErrorMessage(err: unknown): string {
  const info = classifyError(err);
  let msg = info.message;
  const extra = info.causes
    .map((c) => [c.field, c.message].filter(Boolean).join(': '))
    .filter((s) => s && !msg.includes(s));
  if (extra.length > 0) msg = `${msg} (${extra.join('; ')})`;
  if (info.code === undefined) return msg;
  return info.reason ? `${info.code} ${info.reason}: ${msg}` : `${info.code}: ${msg}`;
}
