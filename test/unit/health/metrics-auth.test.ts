// /metrics behind TokenReview + SubjectAccessReview (src/kube/metrics-auth.ts),
// probes open. The API calls are recorded fakes here; test/e2e/pod-like.test.ts
// checks the same against the real API server.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createHealthApp } from '../../../src/health/server.js';
import { OperatorMetrics } from '../../../src/health/metrics.js';
import { kubernetesMetricsAuthorizer, type MetricsAuthApis } from '../../../src/kube/metrics-auth.js';

/** Tokens the fake API server knows: token → [username, may get /metrics]. */
function fakeApis(known: Record<string, [string, boolean]>, calls: string[], fail = false): MetricsAuthApis {
  return {
    createTokenReview: ({ body }) => {
      calls.push(`tokenreview ${body.spec.token}`);
      if (fail) return Promise.reject(new Error('connection refused'));
      const k = known[body.spec.token];
      return Promise.resolve({ spec: body.spec, status: k ? { authenticated: true, user: { username: k[0], groups: ['system:serviceaccounts'] } } : { authenticated: false, error: 'invalid bearer token' } });
    },
    createSubjectAccessReview: ({ body }) => {
      const user = body.spec.user!;
      calls.push(`sar ${user} ${body.spec.nonResourceAttributes?.verb} ${body.spec.nonResourceAttributes?.path}`);
      const allowed = Object.values(known).some(([u, ok]) => u === user && ok);
      return Promise.resolve({ spec: body.spec, status: { allowed } } as k8s.V1SubjectAccessReview);
    },
  };
}

describe('health: /metrics authorization', function () {
  const known: Record<string, [string, boolean]> = {
    prom: ['system:serviceaccount:monitoring:prometheus', true],
    other: ['system:serviceaccount:apps:web', false],
  };

  const table: { name: string; authorization?: string; status: number; body: RegExp }[] = [
    { name: 'no Authorization header', status: 401, body: /needs a bearer token/ },
    { name: 'not a bearer token', authorization: 'Basic dXNlcjpwdw==', status: 401, body: /needs a bearer token/ },
    { name: 'a token the API server rejects', authorization: 'Bearer nope', status: 401, body: /not accepted by the API server: invalid bearer token/ },
    { name: 'a valid token without the permission', authorization: 'Bearer other', status: 403, body: /system:serviceaccount:apps:web may not get \/metrics: bind the ClusterRole meshrev-metrics-reader/ },
    { name: 'a token allowed to get /metrics', authorization: 'Bearer prom', status: 200, body: /meshrev_build_info/ },
  ];
  for (const row of table) {
    it(`answers ${row.status} for ${row.name}`, async function () {
      const calls: string[] = [];
      const app = createHealthApp({ metrics: new OperatorMetrics({ processMetrics: false }), authorizeMetrics: kubernetesMetricsAuthorizer(fakeApis(known, calls)) });
      const r = await app.inject({ url: '/metrics', ...(row.authorization ? { authorization: row.authorization } : {}) });
      expect(r.statusCode).to.equal(row.status);
      expect(r.body).to.match(row.body);
      if (row.status === 401) expect(r.headers['www-authenticate']).to.equal('Bearer');
    });
  }

  it('leaves /healthz and /readyz open', async function () {
    const app = createHealthApp({ metrics: new OperatorMetrics({ processMetrics: false }), authorizeMetrics: kubernetesMetricsAuthorizer(fakeApis(known, [])) });
    expect((await app.inject({ url: '/healthz' })).statusCode).to.equal(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).to.equal(200);
  });

  it('asks the API server once per token a minute, and again for a failed review', async function () {
    const calls: string[] = [];
    let t = 0;
    const authorize = kubernetesMetricsAuthorizer(fakeApis(known, calls), () => t);
    await authorize('Bearer prom');
    await authorize('Bearer prom');
    expect(calls).to.deep.equal(['tokenreview prom', 'sar system:serviceaccount:monitoring:prometheus get /metrics']);
    t = 61_000;
    await authorize('Bearer prom');
    expect(calls).to.have.length(4);
    const failing: string[] = [];
    const down = kubernetesMetricsAuthorizer(fakeApis(known, failing, true));
    expect(await down('Bearer prom')).to.deep.include({ allowed: false, status: 500 });
    await down('Bearer prom');
    expect(failing).to.deep.equal(['tokenreview prom', 'tokenreview prom']);
  });
});
