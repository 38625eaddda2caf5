// Who may read the operator's /metrics (served on the pod IP): a caller with
// a bearer token the API server authenticates (TokenReview) and authorizes
// for GET on the non-resource URL /metrics (SubjectAccessReview) — what
// kubebuilder's metrics filter does. Prometheus gets it by binding the
// ClusterRole meshrev-metrics-reader to its ServiceAccount. Decisions are
// cached per token for a minute (bounded), so a 30 s scrape costs two API
// calls a minute at most.
import * as k8s from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { MetricsAuthorizer, MetricsDecision } from '../api/metrics-auth.js';

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 256;

export interface MetricsAuthApis {
  createTokenReview(p: { body: k8s.V1TokenReview }): Promise<k8s.V1TokenReview>;
  createSubjectAccessReview(p: { body: k8s.V1SubjectAccessReview }): Promise<k8s.V1SubjectAccessReview>;
}

export function metricsAuthApis(kc: k8s.KubeConfig): MetricsAuthApis {
  const authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  return {
    createTokenReview: (p) => authn.createTokenReview(p),
    createSubjectAccessReview: (p) => authz.createSubjectAccessReview(p),
  };
}

async function review(apis: MetricsAuthApis, token: string): Promise<MetricsDecision> {
  const tr = await apis.createTokenReview({ body: { spec: { token } } });
  const user = tr.status?.user;
  if (!tr.status?.authenticated || !user?.username) return { allowed: false, status: 401, reason: `the bearer token was not accepted by the API server${tr.status?.error ? `: ${tr.status.error}` : ''}` };
  const sar = await apis.createSubjectAccessReview({
    body: {
      spec: {
        user: user.username,
        groups: user.groups,
        uid: user.uid,
        extra: user.extra,
        nonResourceAttributes: { path: '/metrics', verb: 'get' },
      },
    },
  });
  if (sar.status?.allowed) return { allowed: true };
  return { allowed: false, status: 403, reason: `${user.username} may not get /metrics: bind the ClusterRole meshrev-metrics-reader to it` };
}

/** The authorizer HealthApp calls for /metrics. */
export function kubernetesMetricsAuthorizer(apis: MetricsAuthApis, now: () => number = Date.now): MetricsAuthorizer {
  const cache = new Map<string, { decision: MetricsDecision; until: number }>();
  return async (authorization) => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return { allowed: false, status: 401, reason: '/metrics needs a bearer token (Authorization: Bearer <ServiceAccount token>) allowed to get /metrics' };
    const key = createHash('sha256').update(m[1]!).digest('hex');
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.decision;
    let decision: MetricsDecision;
    try {
      decision = await review(apis, m[1]!);
    } catch (err) {
      // Not cached: the next scrape asks again.
      return { allowed: false, status: 500, reason: `could not check the token with the API server: ${(err as Error).message}` };
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key, { decision, until: now() + CACHE_TTL_MS });
    return decision;
  };
}
