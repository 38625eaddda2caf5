// A corpus of bad input, applied to the real API server (issue 17): MeshRevisions
// that are wrong in every field the spec has, and CLI invocations that are
// wrong in every way a person types them. Each MeshRevision is rejected at
// admission with a message naming the field — or, where only the operator can
// tell, stored and reported on its status as InvalidSpec naming the field with
// nothing else changed. Each CLI invocation exits 2 (usage) or 1 with a message
// that says what to fix. Before and after: the same webhook configurations,
// namespaces' labels and MeshRevisions — zero cluster changes.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, KIND } from '../../src/api/meshrevision.js';
import { main } from '../../src/cli/main.js';
import type { RunningOperator } from '../../src/operator.js';
import { E2E_KUBECONFIG_ENV, clients, createNamespace, createStrict, errorText, eventually, uniqueName, type Clients } from '../support/kube.js';
import { getMeshRevision } from '../support/mesh.js';
import { startOperatorAsServiceAccount } from '../support/operator.js';

const url = 'https://injector.example.com:15017/inject';
const check = (extra: Record<string, unknown> = {}) => ({ name: 'home', url: 'http://frontend.shop:8080/healthz', ...extra });
const prom = (extra: Record<string, unknown> = {}) => ({ name: 'errors', address: 'http://prometheus.istio-system:9090', query: 'sum(up)', max: 1, ...extra });
const mig = (extra: Record<string, unknown> = {}) => ({ migration: { from: ['1-20'], ...extra } });

interface Case {
  what: string;
  /** Merged over a valid spec ({revision, injector: {url}}); null removes a key. */
  spec: Record<string, unknown>;
  /** The field the error must name (a prefix is enough for the API server's paths). */
  field: string;
  /** Words the message must also carry, where the fix is not obvious from the field. */
  says?: RegExp;
}

const cases: Case[] = [
  // spec.revision
  { what: 'revision empty', spec: { revision: '' }, field: 'spec.revision' },
  { what: 'revision upper case', spec: { revision: 'Canary' }, field: 'spec.revision' },
  { what: 'revision with a dot', spec: { revision: '1.20' }, field: 'spec.revision' },
  { what: 'revision of 64 characters', spec: { revision: 'r'.repeat(64) }, field: 'spec.revision' },
  { what: 'revision "default"', spec: { revision: 'default' }, field: 'spec.revision' },
  { what: 'revision missing', spec: { revision: null }, field: 'spec.revision' },
  { what: 'revision a number', spec: { revision: 120 }, field: 'spec.revision' },
  // spec.default / spec.tags
  { what: 'default a string', spec: { default: 'yes' }, field: 'spec.default' },
  { what: 'tag upper case', spec: { tags: ['Stable'] }, field: 'spec.tags[0]' },
  { what: 'tag "default"', spec: { tags: ['default'] }, field: 'spec.tags[0]' },
  { what: 'tag equal to the revision', spec: { revision: 'r-tag-self', tags: ['r-tag-self'] }, field: 'spec.tags' },
  { what: 'tag listed twice', spec: { tags: ['a', 'a'] }, field: 'spec.tags' },
  { what: '17 tags', spec: { tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, field: 'spec.tags' },
  { what: 'tags a string', spec: { tags: 'stable' }, field: 'spec.tags' },
  // spec.injector
  { what: 'injector missing', spec: { injector: null }, field: 'spec' },
  { what: 'injector with both service and url', spec: { injector: { url, service: { name: 'istiod' } } }, field: 'spec.injector' },
  { what: 'injector with neither service nor url', spec: { injector: { failurePolicy: 'Fail' } }, field: 'spec.injector' },
  { what: 'injector url over http', spec: { injector: { url: 'http://injector.example.com/inject' } }, field: 'spec.injector.url' },
  { what: 'injector url with a query', spec: { injector: { url: `${url}?x=1` } }, field: 'spec.injector.url' },
  { what: 'injector url with user info', spec: { injector: { url: 'https://u:p@injector.example.com/inject' } }, field: 'spec.injector.url' },
  { what: 'injector url not a URL', spec: { injector: { url: 'injector' } }, field: 'spec.injector.url' },
  { what: 'injector service name upper case', spec: { injector: { service: { name: 'Istiod' } } }, field: 'spec.injector.service.name' },
  { what: 'injector service without a name', spec: { injector: { service: { namespace: 'istio-system' } } }, field: 'spec.injector.service.name' },
  { what: 'injector service port 0', spec: { injector: { service: { name: 'istiod', port: 0 } } }, field: 'spec.injector.service.port' },
  { what: 'injector service port 70000', spec: { injector: { service: { name: 'istiod', port: 70000 } } }, field: 'spec.injector.service.port' },
  { what: 'injector service path without a slash', spec: { injector: { service: { name: 'istiod', path: 'inject' } } }, field: 'spec.injector.service.path' },
  { what: 'injector service namespace invalid', spec: { injector: { service: { name: 'istiod', namespace: 'Istio_System' } } }, field: 'spec.injector.service.namespace' },
  { what: 'caBundle not base64', spec: { injector: { url, caBundle: 'not base64!' } }, field: 'spec.injector.caBundle' },
  { what: 'caBundle as raw PEM text', spec: { injector: { url, caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } }, field: 'spec.injector.caBundle', says: /base64 -w0 ca\.crt/ },
  { what: 'failurePolicy unknown', spec: { injector: { url, failurePolicy: 'Retry' } }, field: 'spec.injector.failurePolicy' },
  { what: 'timeoutSeconds 0', spec: { injector: { url, timeoutSeconds: 0 } }, field: 'spec.injector.timeoutSeconds' },
  { what: 'timeoutSeconds 31', spec: { injector: { url, timeoutSeconds: 31 } }, field: 'spec.injector.timeoutSeconds' },
  // spec.webhooks
  { what: 'webhooks.management unknown', spec: { webhooks: { management: 'Helm' } }, field: 'spec.webhooks.management' },
  { what: 'External with spec.default', spec: { injector: null, webhooks: { management: 'External' }, default: true }, field: 'spec.default' },
  { what: 'External with spec.tags', spec: { injector: null, webhooks: { management: 'External' }, tags: ['prod'] }, field: 'spec.tags' },
  { what: 'Managed without an injector', spec: { injector: null, webhooks: { management: 'Managed' } }, field: 'spec' },
  // spec.migration
  { what: 'migration without from', spec: { migration: {} }, field: 'spec.migration.from' },
  { what: 'migration from empty', spec: mig({ from: [] }), field: 'spec.migration.from' },
  { what: 'migration from the revision itself', spec: { revision: 'r-from-self', migration: { from: ['r-from-self'] } }, field: 'spec.migration.from' },
  { what: 'migration from its own tag', spec: { tags: ['canary'], migration: { from: ['canary'] } }, field: 'spec.migration.from' },
  { what: 'migration from default on the default', spec: { default: true, migration: { from: ['default'] } }, field: 'spec.migration.from' },
  { what: 'migration from an invalid name', spec: mig({ from: ['1.20'] }), field: 'spec.migration.from[0]' },
  { what: '21 steps', spec: mig({ steps: Array.from({ length: 21 }, (_, i) => ({ namespaces: i + 1 })) }), field: 'spec.migration.steps' },
  { what: 'step with neither percent nor namespaces', spec: mig({ steps: [{ pause: '10s' }] }), field: 'spec.migration.steps[0]' },
  { what: 'step with both percent and namespaces', spec: mig({ steps: [{ percent: 50, namespaces: 2 }] }), field: 'spec.migration.steps[0]' },
  { what: 'step percent 0', spec: mig({ steps: [{ percent: 0 }] }), field: 'spec.migration.steps[0].percent' },
  { what: 'step percent 101', spec: mig({ steps: [{ percent: 101 }] }), field: 'spec.migration.steps[0].percent' },
  { what: 'step namespaces 0', spec: mig({ steps: [{ namespaces: 0 }] }), field: 'spec.migration.steps[0].namespaces' },
  { what: 'steps going down', spec: mig({ steps: [{ percent: 50 }, { percent: 20 }] }), field: 'spec.migration.steps' },
  { what: 'pause without a unit', spec: mig({ steps: [{ percent: 100, pause: '10' }] }), field: 'spec.migration.steps[0].pause' },
  { what: 'pause too large', spec: mig({ steps: [{ percent: 100, pause: '3000000000h' }] }), field: 'spec.migration.steps[0].pause' },
  { what: 'pause negative', spec: mig({ steps: [{ percent: 100, pause: '-5s' }] }), field: 'spec.migration.steps[0].pause' },
  { what: 'maxConcurrentNamespaces 0', spec: mig({ maxConcurrentNamespaces: 0 }), field: 'spec.migration.maxConcurrentNamespaces' },
  { what: 'maxConcurrentRestarts negative', spec: mig({ maxConcurrentRestarts: -1 }), field: 'spec.migration.maxConcurrentRestarts' },
  { what: 'rolloutTimeoutSeconds 0', spec: mig({ rolloutTimeoutSeconds: 0 }), field: 'spec.migration.rolloutTimeoutSeconds' },
  { what: 'onFailure unknown', spec: mig({ onFailure: 'retry' }), field: 'spec.migration.onFailure' },
  { what: 'promotedStep negative', spec: mig({ promotedStep: -1 }), field: 'spec.migration.promotedStep' },
  { what: 'paused a string', spec: mig({ paused: 'true' }), field: 'spec.migration.paused' },
  { what: 'rollback namespaces invalid', spec: mig({ rollback: { namespaces: ['Shop'] } }), field: 'spec.migration.rollback.namespaces[0]' },
  { what: 'namespaceSelector with an unknown operator', spec: mig({ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Equals', values: ['a'] }] } }), field: 'spec.migration.namespaceSelector.matchExpressions[0].operator' },
  { what: 'namespaceSelector Exists with values', spec: mig({ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] } }), field: 'spec.migration.namespaceSelector.matchExpressions[0]' },
  { what: 'namespaceSelector In without values', spec: mig({ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In' }] } }), field: 'spec.migration.namespaceSelector.matchExpressions[0]' },
  // spec.healthChecks
  { what: 'http check with a link-local url', spec: { healthChecks: { http: [check({ url: 'http://169.254.169.254/latest/meta-data' })] } }, field: 'spec.healthChecks.http[0].url' },
  { what: 'http check url not http(s)', spec: { healthChecks: { http: [check({ url: 'file:///etc/passwd' })] } }, field: 'spec.healthChecks.http[0].url' },
  { what: 'http check method unknown', spec: { healthChecks: { http: [check({ method: 'DELETE' })] } }, field: 'spec.healthChecks.http[0].method' },
  { what: 'http check expectedStatus 99', spec: { healthChecks: { http: [check({ expectedStatus: 99 })] } }, field: 'spec.healthChecks.http[0].expectedStatus' },
  { what: 'http check interval too short', spec: { healthChecks: { http: [check({ interval: '100ms' })] } }, field: 'spec.healthChecks.http[0].interval' },
  { what: 'http check failureThreshold 0', spec: { healthChecks: { http: [check({ failureThreshold: 0 })] } }, field: 'spec.healthChecks.http[0].failureThreshold' },
  { what: 'two checks with the same name', spec: { healthChecks: { http: [check(), check()] } }, field: 'spec.healthChecks' },
  { what: 'check name invalid', spec: { healthChecks: { http: [check({ name: 'Home Page' })] } }, field: 'spec.healthChecks.http[0].name' },
  { what: 'prometheus query empty', spec: { healthChecks: { prometheus: [prom({ query: '' })] } }, field: 'spec.healthChecks.prometheus[0].query' },
  { what: 'prometheus without min or max', spec: { healthChecks: { prometheus: [prom({ max: null })] } }, field: 'spec.healthChecks.prometheus[0]' },
  { what: 'prometheus min above max', spec: { healthChecks: { prometheus: [prom({ min: 5, max: 1 })] } }, field: 'spec.healthChecks.prometheus[0]' },
  { what: 'prometheus address link-local', spec: { healthChecks: { prometheus: [prom({ address: 'http://169.254.169.254' })] } }, field: 'spec.healthChecks.prometheus[0].address' },
  { what: 'prometheus address not a URL', spec: { healthChecks: { prometheus: [prom({ address: 'prometheus:9090' })] } }, field: 'spec.healthChecks.prometheus[0].address' },
  { what: 'prometheus noData unknown', spec: { healthChecks: { prometheus: [prom({ noData: 'ignore' })] } }, field: 'spec.healthChecks.prometheus[0].noData' },
  { what: 'onFailure of the checks unknown', spec: { healthChecks: { onFailure: 'page', http: [check()] } }, field: 'spec.healthChecks' },
  // unknown fields (the API server would prune them silently; strict validation refuses)
  { what: 'an unknown spec field', spec: { revisions: ['1-20'] }, field: 'spec.revisions' },
  { what: 'an unknown migration field', spec: mig({ stepz: [] }), field: 'spec.migration.stepz' },
];

function merged(spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { revision: uniqueName('r'), injector: { url } };
  for (const [k, v] of Object.entries(spec)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** What no bad input may change: webhook configurations, namespaces' labels, MeshRevisions. */
async function clusterState(c: Clients): Promise<string> {
  const mwcs = (await c.admission.listMutatingWebhookConfiguration()).items.map((w) => `${w.metadata?.name}@${w.metadata?.resourceVersion}`).sort();
  const nss = (await c.core.listNamespace()).items.map((n) => `${n.metadata?.name}:${JSON.stringify(n.metadata?.labels ?? {})}`).sort();
  const mrevs = (await c.objects.list(API_VERSION, KIND)).items.map((m) => `${m.metadata?.name}@${m.metadata?.resourceVersion}`).sort();
  return JSON.stringify({ mwcs, nss, mrevs });
}

describe('bad-input corpus: MeshRevisions at the API server, CLI invocations', function () {
  this.timeout(300_000);
  let c: Clients;
  let op: RunningOperator | undefined;
  let dir: string;
  const outcomes: string[] = [];

  before(async function () {
    c = clients();
    op = await startOperatorAsServiceAccount(c, 'meshrev-leader-corpus');
    dir = mkdtempSync(join(tmpdir(), 'meshrev-corpus-'));
  });

  after(async function () {
    await op?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`rejects or reports each of ${cases.length} bad MeshRevisions, naming the field, with zero cluster changes`, async function () {
    expect(cases.length).to.be.at.least(60);
    const before = await clusterState(c);
    const failures: string[] = [];
    let rejected = 0;
    let reported = 0;
    for (const k of cases) {
      const name = uniqueName('bad');
      const obj = { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: merged(k.spec) };
      try {
        await createStrict(c, obj);
      } catch (err) {
        const text = errorText(err);
        const code = (err as { code?: number }).code;
        if ((code === 422 || code === 400) && text.includes(k.field) && (!k.says || k.says.test(text))) rejected++;
        else failures.push(`${k.what}: rejected with ${code} but the message does not name ${k.field}${k.says ? ` or say ${k.says}` : ''}: ${text.slice(0, 300)}`);
        continue;
      }
      // Stored: only the operator can tell. It must say so on status, naming the field, and change nothing.
      try {
        const mr = await eventually(`${k.what} reported`, async () => {
          const m = await getMeshRevision(c, name);
          return m?.status?.phase === 'Invalid' ? m : false;
        }, { timeoutMs: 15_000 });
        const message = mr.status?.conditions?.find((x) => x.type === 'Ready')?.message ?? '';
        if (message.includes(k.field)) reported++;
        else failures.push(`${k.what}: reported Invalid but the message does not name ${k.field}: ${message.slice(0, 300)}`);
      } catch {
        failures.push(`${k.what}: accepted by the API server and not reported Invalid by the operator`);
      } finally {
        await c.objects.delete({ apiVersion: API_VERSION, kind: KIND, metadata: { name } }).catch(() => undefined);
        await eventually(`${name} gone`, async () => (await getMeshRevision(c, name)) === undefined, { timeoutMs: 30_000 });
      }
    }
    const after = await clusterState(c);
    outcomes.push(`${cases.length} MeshRevisions: ${rejected} rejected by the API server, ${reported} reported Invalid on status, ${failures.length} not`);
    console.log(`      ${outcomes.at(-1)}`);
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(after, 'zero cluster changes (webhooks, namespace labels, MeshRevisions)').to.equal(before);
  });

  it('answers each of 25 bad CLI invocations with exit 2 (usage) or 1 and a message saying what to fix, with zero cluster changes', async function () {
    const kubeconfig = process.env[E2E_KUBECONFIG_ENV] ?? '';
    const ns = uniqueName('corpus-cli');
    await createNamespace(c, ns, { 'istio-injection': 'enabled' });
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const garbage = file('garbage.yaml', 'this: is: not: yaml: [');
    const notMrev = file('deploy.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n');
    const badMrev = file('bad-mrev.yaml', `apiVersion: ${API_VERSION}\nkind: ${KIND}\nmetadata: {name: x}\nspec: {revision: X, injector: {url: 'http://x'}}\n`);
    const empty = file('empty.yaml', '');
    const kc = ['--kubeconfig', kubeconfig];
    const invocations: { args: string[]; code: 1 | 2; says: RegExp }[] = [
      { args: ['no-such-command'], code: 2, says: /unknown command/ },
      { args: ['status', '--no-such-flag'], code: 2, says: /unknown option/ },
      { args: ['status', '-o', 'xml', ...kc], code: 2, says: /text, json or yaml|output/ },
      { args: ['plan'], code: 2, says: /-f|name/ },
      { args: ['plan', '-f', join(dir, 'missing.yaml')], code: 1, says: /missing\.yaml/ },
      { args: ['plan', '-f', garbage, ...kc], code: 1, says: /garbage\.yaml/ },
      { args: ['plan', '-f', notMrev, ...kc], code: 1, says: /MeshRevision/ },
      { args: ['plan', '-f', badMrev, ...kc], code: 1, says: /spec\.revision/ },
      { args: ['plan', '-f', empty, ...kc], code: 1, says: /empty|no MeshRevision|MeshRevision/ },
      { args: ['promote', ...kc], code: 2, says: /name/ },
      { args: ['promote', 'no-such-mrev', ...kc], code: 1, says: /no-such-mrev/ },
      { args: ['promote', 'x', '--step', 'two', ...kc], code: 2, says: /step/ },
      { args: ['pause', 'no-such-mrev', ...kc], code: 1, says: /no-such-mrev/ },
      { args: ['resume', 'no-such-mrev', ...kc], code: 1, says: /no-such-mrev/ },
      { args: ['rollback', 'no-such-mrev', ...kc], code: 1, says: /no-such-mrev/ },
      { args: ['rollback', 'x', '--namespaces', 'Bad_NS', ...kc], code: 2, says: /Bad_NS|namespace/ },
      { args: ['retry', 'no-such-mrev', ...kc], code: 1, says: /no-such-mrev/ },
      { args: ['check-inject', 'some-pod', ...kc], code: 2, says: /-n|namespace/ },
      { args: ['check-inject', '-n', ns, '-l', 'a', ...kc], code: 2, says: /k=v|pod-labels|label/ },
      { args: ['check-inject', '-n', ns, '-f', garbage, ...kc], code: 1, says: /garbage\.yaml/ },
      { args: ['check-inject', '-n', ns, '-o', 'table', ...kc], code: 2, says: /text, json or yaml|output/ },
      { args: ['kube-inject'], code: 2, says: /-f|filename/ },
      { args: ['kube-inject', '-f', garbage, '--offline', '--proxy-image', 'docker.io/istio/proxyv2:1.31.0'], code: 1, says: /garbage\.yaml/ },
      { args: ['kube-inject', '-f', notMrev, '--offline'], code: 2, says: /proxy-image|--config/ },
      { args: ['status', '--kubeconfig', join(dir, 'no-kubeconfig')], code: 1, says: /no-kubeconfig/ },
    ];
    const before = await clusterState(c);
    const failures: string[] = [];
    for (const inv of invocations) {
      let out = '';
      let err = '';
      const code = await main(inv.args, { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
      const said = `${err}${out}`;
      if (code !== inv.code) failures.push(`meshrev ${inv.args.join(' ')}: exit ${code}, expected ${inv.code}: ${said.slice(0, 300)}`);
      else if (!inv.says.test(said)) failures.push(`meshrev ${inv.args.join(' ')}: message does not match ${inv.says}: ${said.slice(0, 300)}`);
      else if (/\n\s+at .+\(.*:\d+:\d+\)/.test(said)) failures.push(`meshrev ${inv.args.join(' ')}: printed a stack trace`);
    }
    expect(invocations.length).to.be.at.least(20);
    console.log(`      ${invocations.length} CLI invocations: ${invocations.length - failures.length} answered as expected`);
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(await clusterState(c), 'zero cluster changes').to.equal(before);
    await c.core.deleteNamespace({ name: ns });
  });
});
