// Who may read /metrics: the decision the health server asks for (the
// Kubernetes implementation is src/kube/metrics-auth.ts).
export type MetricsDecision = { allowed: true } | { allowed: false; status: 401 | 403 | 500; reason: string };
/** Decides from the request's Authorization header. */
export type MetricsAuthorizer = (authorization: string | undefined) => Promise<MetricsDecision>;
