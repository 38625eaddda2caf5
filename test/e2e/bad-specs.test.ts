// Bad MeshRevision specs against the real API server with the CRD from
// crds/ (issue 17, defects 3 and 6): a duration too large to compute, a
// migration from one of the object's own names, and revision "default". Each
// is rejected at admission with a message that names the field and says what
// to fix, and none is stored. No operator runs: this is the CRD alone.
import { expect } from 'chai';
import { API_VERSION, KIND } from '../../src/api/meshrevision.js';
import { clients, createStrict, errorText, uniqueName, type Clients } from '../support/kube.js';
import { installOperatorManifests } from '../support/operator.js';

const url = 'https://injector.example.com:15017/inject';

function meshRevision(spec: Record<string, unknown>) {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: uniqueName('bad') }, spec: { revision: uniqueName('r'), injector: { url }, ...spec } };
}

/** The message of the API server's Status (errorText gives its JSON, quotes escaped). */
function statusMessage(err: unknown): string {
  const text = errorText(err);
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === 'string' ? message : text;
  } catch {
    return text;
  }
}

const check = (extra: Record<string, unknown>) => ({ name: 'home', url: 'http://frontend.shop:8080/healthz', ...extra });

/** Each bad spec: the field the API server must name, and words of the message that say what to fix. */
const rejected: { what: string; spec: Record<string, unknown>; field: string; says: RegExp }[] = [
  {
    what: 'a pause too large to compute (was read as no pause)',
    spec: { migration: { from: ['1-20'], steps: [{ percent: 50, pause: '3000000000h' }, { percent: 100 }] } },
    field: 'spec.migration.steps[0].pause',
    says: /pause "3000000000h" is out of range: use at most 720h \(30 days\), or "indefinite"/,
  },
  {
    what: 'a pause of 721h',
    spec: { migration: { from: ['1-20'], steps: [{ percent: 100, pause: '721h' }] } },
    field: 'spec.migration.steps[0].pause',
    says: /at most 720h/,
  },
  {
    what: 'a pause over 720h written in the densest form the pattern allows',
    spec: { migration: { from: ['1-20'], steps: [{ percent: 100, pause: '999999999s'.repeat(6) }] } },
    field: 'spec.migration.steps[0].pause',
    says: /at most 720h/,
  },
  {
    what: 'a check interval too large to compute',
    spec: { healthChecks: { http: [check({ interval: '3000000000h' })] } },
    field: 'spec.healthChecks.http[0].interval',
    says: /interval "3000000000h" is out of range: use from 1s to 1h/,
  },
  {
    what: 'a check timeout too large to compute',
    spec: { healthChecks: { http: [check({ interval: '1h', timeout: `${'9'.repeat(28)}s` })] } },
    field: 'spec.healthChecks.http[0].timeout',
    says: /is out of range: use more than 0s and at most 60s/,
  },
  {
    what: 'from listing one of its own tags',
    spec: { tags: ['canary'], migration: { from: ['1-20', 'canary'] } },
    field: 'spec.migration.from',
    says: /spec\.migration\.from must not list "canary": it is a tag of this MeshRevision/,
  },
  {
    what: 'from "default" on the default revision',
    spec: { default: true, migration: { from: ['default'] } },
    field: 'spec.migration.from',
    says: /must not list "default" while spec\.default is true/,
  },
  {
    what: 'revision "default"',
    spec: { revision: 'default' },
    field: 'spec.revision',
    says: /revision "default" is reserved: istio\.io\/rev=default selects whichever revision is the default/,
  },
];

describe('bad MeshRevision specs at the API server', function () {
  let c: Clients;
  const names = async () => (await c.objects.list(API_VERSION, KIND)).items.map((m) => m.metadata!.name!).sort();

  before(async function () {
    this.timeout(180_000);
    c = clients();
    await installOperatorManifests(c);
  });

  for (const r of rejected) {
    it(`rejects ${r.what}, naming ${r.field} and what to fix, and stores nothing`, async () => {
      const obj = meshRevision(r.spec);
      let err: unknown;
      try {
        await createStrict(c, obj);
      } catch (e) {
        err = e;
      }
      expect(err, `${r.what} should be rejected`).to.be.instanceOf(Error);
      expect((err as { code?: number }).code, r.what).to.equal(422);
      const text = statusMessage(err);
      expect(text, r.what).to.contain(`${r.field}: Invalid value`);
      expect(text, r.what).to.match(r.says);
      expect(await names()).to.not.include(obj.metadata.name);
    });
  }

  it('accepts the bounds and the aliases that are not its own (dry run)', async () => {
    const before = await names();
    const ok = [
      { migration: { from: ['default', '1-20'], steps: [{ percent: 50, pause: '720h' }, { percent: 100, pause: '2592000000ms' }] } },
      { default: false, tags: ['canary'], migration: { from: ['default', 'stable'] } },
      { healthChecks: { http: [check({ interval: '1h', timeout: '60s' })] } },
    ];
    for (const spec of ok) await createStrict(c, meshRevision(spec), { dryRun: true });
    expect(await names()).to.deep.equal(before);
  });
});
