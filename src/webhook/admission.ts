// The admission app: AdmissionReview v1 in, AdmissionReview v1 out, built
// apart from any listener so tests inject requests directly (the Fastify
// habit). It never throws: every input gets a well-formed answer.
//
//   not an AdmissionReview v1 with a request.uid  -> HTTP 400, a Status body
//   not a pod CREATE                              -> allowed, no patch
//   pod that is not a well-formed Pod             -> denied, status.code 400
//   invalid annotation (templates, proxyCPU, ...) -> denied, status.code 422, message names it
//   pod the policy does not inject                -> allowed, no patch
//   pod to inject                                 -> allowed, base64 JSONPatch
import type { V1Pod } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import type { InjectorConfig } from '../injector/config.js';
import { injectPod, podShapeProblem } from '../injector/inject.js';
import { isPlainObject, jsonClone } from '../injector/merge.js';
import { decideInjection, type InjectionDecision } from '../policy/injection.js';

// fast-json-patch is CommonJS: its named exports are only reachable through the default import under NodeNext.
const { compare } = fastJsonPatch;

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface JsonPatchOperation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON array of patch operations. */
  patch?: string;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A Kubernetes-style Status, the body of non-200 answers. */
export interface StatusBody {
  apiVersion: 'v1';
  kind: 'Status';
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
}

export interface AdmissionHttpResponse {
  status: number;
  body: AdmissionReviewResponse | StatusBody;
}

/** What happened to one request, for logs and counters. */
export type AdmissionOutcome = 'injected' | 'skipped' | 'ignored' | 'denied' | 'bad-request' | 'error';

export interface AdmissionEvent {
  outcome: AdmissionOutcome;
  uid?: string;
  namespace?: string;
  pod?: string;
  decision?: InjectionDecision;
  message?: string;
}

export interface AdmissionAppOptions {
  config: InjectorConfig;
  /** Called once per request with what happened (never throws into the app). */
  onEvent?: (e: AdmissionEvent) => void;
}

export interface AdmissionApp {
  readonly config: InjectorConfig;
  /** Answers a parsed request body. */
  handle(body: unknown): AdmissionHttpResponse;
  /** Answers raw request bytes (parses JSON first). */
  handleRaw(raw: string | Buffer): AdmissionHttpResponse;
}

export function badRequest(message: string, code = 400, reason = 'BadRequest'): AdmissionHttpResponse {
  return { status: code, body: { apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message } };
}

function review(response: AdmissionResponse): AdmissionHttpResponse {
  return { status: 200, body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response } };
}

/** Encodes a JSONPatch the way AdmissionResponse.patch carries it. */
function encodePatch(ops: readonly JsonPatchOperation[]): string {
  return Buffer.from(JSON.stringify(ops), 'utf8').toString('base64');
}

/**
 * The JSONPatch turning `original` into `mutated`. fast-json-patch escapes
 * `~` and `/` in keys (`sidecar.istio.io~1status`), so annotation keys are safe.
 */
function podPatch(original: unknown, mutated: unknown): JsonPatchOperation[] {
  // Through JSON first so undefined fields never appear as operations.
  return compare(jsonClone(original) as object, jsonClone(mutated) as object) as JsonPatchOperation[];
}

export function createAdmissionApp(opts: AdmissionAppOptions): AdmissionApp {
  const emit = (e: AdmissionEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a broken logger must not break admission
    }
  };
  const handle = (body: unknown): AdmissionHttpResponse => {
    try {
      return handleReview(body, opts.config, emit);
    } catch (err) {
      // Last resort: a bug must still produce an answer the API server understands.
      const message = `internal error in the sidecar injector: ${err instanceof Error ? err.message : String(err)}`;
      const uid = isPlainObject(body) && isPlainObject(body['request']) && typeof body['request']['uid'] === 'string' ? body['request']['uid'] : undefined;
      emit({ outcome: 'error', ...(uid ? { uid } : {}), message });
      if (uid) return review({ uid, allowed: false, status: { code: 500, reason: 'InternalError', message } });
      return badRequest(message, 500, 'InternalError');
    }
  };
  return {
    config: opts.config,
    handle,
    handleRaw(raw) {
      let body: unknown;
      try {
        body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
      } catch (err) {
        emit({ outcome: 'bad-request', message: 'body is not JSON' });
        return badRequest(`request body is not valid JSON: ${(err as Error).message}`);
      }
      return handle(body);
    },
  };
}

function handleReview(body: unknown, config: InjectorConfig, emit: (e: AdmissionEvent) => void): AdmissionHttpResponse {
  const bad = (message: string) => {
    emit({ outcome: 'bad-request', message });
    return badRequest(message);
  };
  if (!isPlainObject(body)) return bad('request body is not an AdmissionReview: expected a JSON object');
  if (body['kind'] !== 'AdmissionReview') return bad(`request body has kind ${JSON.stringify(body['kind'])}, expected "AdmissionReview"`);
  if (body['apiVersion'] !== ADMISSION_API_VERSION) {
    return bad(`AdmissionReview apiVersion ${JSON.stringify(body['apiVersion'])} is not supported: register the webhook with admissionReviewVersions: [v1]`);
  }
  const req = body['request'];
  if (!isPlainObject(req)) return bad('AdmissionReview has no request object');
  const uid = req['uid'];
  if (typeof uid !== 'string' || uid === '') return bad('AdmissionReview request has no uid');

  const namespace = typeof req['namespace'] === 'string' ? req['namespace'] : undefined;
  const allow = (outcome: AdmissionOutcome, message: string, extra: Partial<AdmissionEvent> = {}) => {
    emit({ outcome, uid, ...(namespace !== undefined ? { namespace } : {}), message, ...extra });
    return review({ uid, allowed: true });
  };
  const deny = (code: number, reason: string, message: string, outcome: AdmissionOutcome = 'denied') => {
    emit({ outcome, uid, ...(namespace !== undefined ? { namespace } : {}), message });
    return review({ uid, allowed: false, status: { code, reason, message } });
  };

  // Only pod CREATE is ours; anything else a broad registration sends is let through untouched.
  const kind = isPlainObject(req['kind']) ? req['kind'] : {};
  const resource = isPlainObject(req['resource']) ? req['resource'] : {};
  const isPod = (kind['kind'] === 'Pod' && (kind['group'] ?? '') === '') || (resource['resource'] === 'pods' && (resource['group'] ?? '') === '');
  if (!isPod || (req['subResource'] !== undefined && req['subResource'] !== '')) {
    return allow('ignored', `not a pod (kind ${JSON.stringify(kind['kind'])}${req['subResource'] ? `, subresource ${JSON.stringify(req['subResource'])}` : ''})`);
  }
  if (req['operation'] !== 'CREATE') return allow('ignored', `operation ${String(req['operation'])} is not CREATE`);

  const object = req['object'];
  const shape = podShapeProblem(object);
  if (shape) return deny(400, 'BadRequest', `request.object is not a valid Pod: ${shape.message}`, 'bad-request');
  const pod = object as V1Pod;
  const nsName = namespace ?? pod.metadata?.namespace ?? '';
  const podName = pod.metadata?.name ?? pod.metadata?.generateName ?? '';

  const decision = decideInjection({
    namespace: { name: nsName },
    pod: { labels: pod.metadata?.labels ?? {}, annotations: pod.metadata?.annotations ?? {}, hostNetwork: pod.spec?.hostNetwork === true },
    via: { revision: config.revision },
    mesh: config.mesh,
  });
  if (!decision.inject) return allow('skipped', decision.reason, { pod: podName, decision });

  const result = injectPod(pod, { config, namespace: nsName });
  if (result.status === 'invalid') {
    return deny(422, 'Invalid', `sidecar injection (revision ${config.revision}) refused pod ${nsName}/${podName}: ${result.message}`);
  }
  if (result.status === 'unchanged') return allow('skipped', result.reason, { pod: podName, decision });

  const patch = podPatch(pod, result.pod);
  emit({ outcome: 'injected', uid, namespace: nsName, pod: podName, decision, message: decision.reason });
  return review({
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: encodePatch(patch),
    ...(result.warnings.length ? { warnings: result.warnings } : {}),
  });
}
