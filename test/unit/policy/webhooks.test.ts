import { expect } from 'chai';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { MeshRevision, MeshRevisionSpec, MeshRevisionStatus } from '../../../src/api/meshrevision.js';
import {
  describeEntry,
  desiredWebhookConfiguration,
  foreignWebhookConflicts,
  isMeshrevWebhook,
  resolveClaims,
  webhookConfigurationName,
  type ClaimDecision,
} from '../../../src/policy/webhooks.js';
import { matchingWebhooks } from '../../../src/policy/selectors.js';
import { readWebhookConfiguration } from '../../../src/policy/routing.js';
import { chartWebhook, chartWebhooks } from '../../support/istio-chart.js';
import { istioWebhookConfiguration } from '../../support/istio-webhooks.js';

interface MakeOpts {
  created?: string;
  status?: MeshRevisionStatus;
  uid?: string;
}

function mrev(name: string, spec: Partial<MeshRevisionSpec> = {}, opts: MakeOpts = {}): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: {
      name,
      ...(opts.uid ? { uid: opts.uid } : {}),
      ...(opts.created ? { creationTimestamp: opts.created } : {}),
    },
    spec: { revision: name, injector: { service: { name: `istiod-${name}` } }, ...spec },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

function decision(m: MeshRevision, d: Partial<ClaimDecision> = {}): ClaimDecision {
  return { name: m.metadata.name!, revision: m.spec.revision, servesRevision: true, holdsDefault: false, tags: [], conflicts: [], ...d };
}

function mwc(m: MeshRevision, d: Partial<ClaimDecision> = {}): V1MutatingWebhookConfiguration {
  const out = desiredWebhookConfiguration(m, decision(m, d));
  if (!out) throw new Error('expected an MWC');
  return out;
}

function entryNamed(cfg: V1MutatingWebhookConfiguration, name: string) {
  const w = cfg.webhooks?.find((x) => x.name === name);
  if (!w) throw new Error(`no entry ${name} in ${cfg.webhooks?.map((x) => x.name).join(', ')}`);
  return w;
}

const T0 = '2024-01-01T00:00:00Z';
const T1 = '2024-02-01T00:00:00Z';
const T2 = '2024-03-01T00:00:00Z';

describe('desiredWebhookConfiguration', () => {
  describe('selectors are exactly upstream Istio\'s (DESIGN.md §1)', () => {
    const cfg = mwc(mrev('1-21', { tags: ['canary'] }), { holdsDefault: true, tags: ['canary'] });
    const notFalse = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };
    const table: { entry: string; namespaceSelector: unknown; objectSelector: unknown }[] = [
      {
        entry: 'rev.namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['1-21'] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse] },
      },
      {
        entry: 'rev.object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: ['1-21'] }] },
      },
      {
        entry: 'canary.rev.namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['canary'] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse] },
      },
      {
        entry: 'canary.rev.object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: ['canary'] }] },
      },
      {
        entry: 'namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
        objectSelector: { matchExpressions: [notFalse] },
      },
      {
        entry: 'object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
      },
      {
        entry: 'default.rev.namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['default'] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse] },
      },
      {
        entry: 'default.rev.object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notFalse, { key: 'istio.io/rev', operator: 'In', values: ['default'] }] },
      },
    ];
    for (const row of table) {
      it(`${row.entry} has upstream's namespaceSelector and objectSelector`, () => {
        const w = entryNamed(cfg, row.entry);
        expect(w.namespaceSelector).to.deep.equal(row.namespaceSelector);
        expect(w.objectSelector).to.deep.equal(row.objectSelector);
      });
    }

    it('produces exactly those eight entries for a default revision with one tag (the default also serves istio.io/rev=default)', () => {
      expect(cfg.webhooks!.map((w) => w.name).sort()).to.deep.equal(table.map((r) => r.entry).sort());
    });
  });

  describe('which entry the API server calls (evaluated with the selector engine)', () => {
    const cfg = mwc(mrev('1-21', { tags: ['canary'] }), { holdsDefault: true, tags: ['canary'] });
    const cases: { name: string; ns: Record<string, string>; pod: Record<string, string>; expect: string[] }[] = [
      { name: 'namespace istio.io/rev=<rev>', ns: { 'istio.io/rev': '1-21' }, pod: {}, expect: ['rev.namespace.sidecar-injector.istio.io'] },
      { name: 'namespace istio.io/rev=<tag>', ns: { 'istio.io/rev': 'canary' }, pod: {}, expect: ['canary.rev.namespace.sidecar-injector.istio.io'] },
      { name: 'namespace istio-injection=enabled', ns: { 'istio-injection': 'enabled' }, pod: {}, expect: ['namespace.sidecar-injector.istio.io'] },
      { name: 'istio-injection beats istio.io/rev on the namespace', ns: { 'istio-injection': 'enabled', 'istio.io/rev': '1-21' }, pod: {}, expect: ['namespace.sidecar-injector.istio.io'] },
      { name: 'istio-injection=disabled never injects', ns: { 'istio-injection': 'disabled', 'istio.io/rev': '1-21' }, pod: { 'istio.io/rev': '1-21' }, expect: [] },
      { name: 'pod istio.io/rev=<rev> in an unlabelled namespace', ns: {}, pod: { 'istio.io/rev': '1-21' }, expect: ['rev.object.sidecar-injector.istio.io'] },
      { name: 'pod istio.io/rev=<tag> in an unlabelled namespace', ns: {}, pod: { 'istio.io/rev': 'canary' }, expect: ['canary.rev.object.sidecar-injector.istio.io'] },
      { name: 'pod sidecar.istio.io/inject=true in an unlabelled namespace', ns: {}, pod: { 'sidecar.istio.io/inject': 'true' }, expect: ['object.sidecar-injector.istio.io'] },
      { name: 'namespace istio.io/rev beats the pod\'s', ns: { 'istio.io/rev': 'other' }, pod: { 'istio.io/rev': '1-21' }, expect: [] },
      { name: 'pod opt-out sidecar.istio.io/inject=false', ns: { 'istio.io/rev': '1-21' }, pod: { 'sidecar.istio.io/inject': 'false' }, expect: [] },
      { name: 'no label at all', ns: {}, pod: {}, expect: [] },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.expect.length ? c.expect.join(', ') : 'no injection'}`, () => {
        const hits = matchingWebhooks([cfg], { name: 'app', labels: c.ns }, { labels: c.pod }).map((h) => h.webhookName);
        expect(hits).to.deep.equal(c.expect);
      });
    }
  });

  it('names the MWC meshrev-sidecar-injector-<revision> and labels it like upstream plus meshrev ownership', () => {
    const cfg = mwc(mrev('stable-one', { revision: '1-20' }));
    expect(cfg.metadata?.name).to.equal('meshrev-sidecar-injector-1-20');
    expect(cfg.metadata?.name).to.equal(webhookConfigurationName('1-20'));
    expect(cfg.metadata?.labels).to.deep.equal({
      app: 'sidecar-injector',
      'istio.io/rev': '1-20',
      'app.kubernetes.io/managed-by': 'meshrev',
      'meshrev.io/meshrevision': 'stable-one',
    });
  });

  it('puts no istio.io/tag label on the MWC even when it carries tags (istioctl must still see it as the revision webhook)', () => {
    const cfg = mwc(mrev('1-20', { tags: ['stable'] }), { tags: ['stable'] });
    expect(cfg.metadata?.labels).to.not.have.property('istio.io/tag');
  });

  it('gives a revision without tags or default only its two revision entries', () => {
    expect(mwc(mrev('1-21')).webhooks!.map((w) => w.name)).to.deep.equal([
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
    ]);
  });

  it('adds the default entries only when the revision holds the default, not merely when spec.default is set', () => {
    const m = mrev('1-21', { default: true });
    expect(mwc(m, { holdsDefault: false }).webhooks!.map((w) => w.name)).to.not.include('namespace.sidecar-injector.istio.io');
    expect(mwc(m, { holdsDefault: true }).webhooks!.map((w) => w.name)).to.include.members([
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
    ]);
  });

  it('adds only the granted tags, two entries each, in sorted order, all pointing at the revision\'s injector', () => {
    const cfg = mwc(mrev('1-21', { tags: ['zeta', 'alpha', 'lost'] }), { tags: ['zeta', 'alpha'] });
    const names = cfg.webhooks!.map((w) => w.name);
    expect(names).to.deep.equal([
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      'alpha.rev.namespace.sidecar-injector.istio.io',
      'alpha.rev.object.sidecar-injector.istio.io',
      'zeta.rev.namespace.sidecar-injector.istio.io',
      'zeta.rev.object.sidecar-injector.istio.io',
    ]);
    for (const w of cfg.webhooks!) expect(w.clientConfig.service?.name).to.equal('istiod-1-21');
  });

  it('keeps every entry name unique and ending in sidecar-injector.istio.io, so istiod patches their caBundle', () => {
    const cfg = mwc(mrev('1-21', { tags: ['namespace', 'object', 'rev'] }), { holdsDefault: true, tags: ['namespace', 'object', 'rev'] });
    const names = cfg.webhooks!.map((w) => w.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const n of names) expect(n.endsWith('.sidecar-injector.istio.io')).to.equal(true);
  });

  it('gives every entry the same rule, sideEffects and admissionReviewVersions as upstream', () => {
    for (const w of mwc(mrev('1-21', { tags: ['canary'] }), { holdsDefault: true, tags: ['canary'] }).webhooks!) {
      expect(w.rules).to.deep.equal([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }]);
      expect(w.sideEffects).to.equal('None');
      expect(w.admissionReviewVersions).to.deep.equal(['v1']);
    }
  });

  it('fills the service defaults istio-system, 443 and /inject when the spec leaves them out', () => {
    const w = mwc(mrev('1-21')).webhooks![0]!;
    expect(w.clientConfig).to.deep.equal({ service: { name: 'istiod-1-21', namespace: 'istio-system', port: 443, path: '/inject' } });
  });

  it('uses the spec\'s service namespace, port and path when given', () => {
    const m = mrev('1-21', { injector: { service: { name: 'injector', namespace: 'mesh', port: 15017, path: '/inject/cluster/c1' } } });
    expect(mwc(m).webhooks![0]!.clientConfig.service).to.deep.equal({ name: 'injector', namespace: 'mesh', port: 15017, path: '/inject/cluster/c1' });
  });

  it('uses clientConfig.url and no service for a URL injector', () => {
    const m = mrev('1-21', { injector: { url: 'https://injector.example.com:15017/inject' } });
    for (const w of mwc(m).webhooks!) {
      expect(w.clientConfig).to.deep.equal({ url: 'https://injector.example.com:15017/inject' });
    }
  });

  it('omits caBundle entirely when the spec gives none, so istiod\'s patching is never fought', () => {
    for (const w of mwc(mrev('1-21', { tags: ['canary'] }), { tags: ['canary'], holdsDefault: true }).webhooks!) {
      expect(w.clientConfig).to.not.have.property('caBundle');
    }
  });

  it('sets caBundle on every entry when the spec gives one', () => {
    const m = mrev('1-21', { tags: ['canary'], injector: { url: 'https://x.example.com/inject', caBundle: 'Q0E=' } });
    for (const w of mwc(m, { tags: ['canary'] }).webhooks!) expect(w.clientConfig.caBundle).to.equal('Q0E=');
  });

  it('defaults failurePolicy to Fail and timeoutSeconds to 10, and takes them from the spec when set', () => {
    const d = mwc(mrev('1-21')).webhooks![0]!;
    expect([d.failurePolicy, d.timeoutSeconds]).to.deep.equal(['Fail', 10]);
    const m = mrev('1-21', { injector: { service: { name: 'istiod-1-21' }, failurePolicy: 'Ignore', timeoutSeconds: 3 } });
    for (const w of mwc(m).webhooks!) expect([w.failurePolicy, w.timeoutSeconds]).to.deep.equal(['Ignore', 3]);
  });

  it('sets no server-defaulted fields (matchPolicy, reinvocationPolicy, rule scope), so server-side apply owns only what meshrev decides', () => {
    for (const w of mwc(mrev('1-21')).webhooks!) {
      expect(w).to.not.have.any.keys('matchPolicy', 'reinvocationPolicy', 'matchConditions');
      expect(w.rules![0]).to.not.have.property('scope');
    }
  });

  it('makes the MeshRevision the controller owner when its uid is known, as a safety net for garbage collection', () => {
    const cfg = mwc(mrev('1-21', {}, { uid: 'u-1' }));
    expect(cfg.metadata?.ownerReferences).to.deep.equal([
      { apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', name: '1-21', uid: 'u-1', controller: true },
    ]);
    expect(mwc(mrev('1-21')).metadata).to.not.have.property('ownerReferences');
  });

  it('returns no MWC for a MeshRevision that does not hold its revision name', () => {
    const m = mrev('1-21');
    expect(desiredWebhookConfiguration(m, decision(m, { servesRevision: false }))).to.equal(undefined);
  });

  it('does not share objects between entries (mutating one cannot corrupt another)', () => {
    const cfg = mwc(mrev('1-21', { tags: ['canary'] }), { tags: ['canary'] });
    cfg.webhooks![0]!.clientConfig.service!.name = 'changed';
    cfg.webhooks![0]!.objectSelector!.matchExpressions![0]!.values!.push('x');
    expect(cfg.webhooks![1]!.clientConfig.service!.name).to.equal('istiod-1-21');
    expect(cfg.webhooks![1]!.objectSelector!.matchExpressions![0]!.values).to.deep.equal(['false']);
  });
});

describe('describeEntry', () => {
  const cases: [string, ReturnType<typeof describeEntry>][] = [
    ['rev.namespace.sidecar-injector.istio.io', { kind: 'revision', selects: 'namespace' }],
    ['rev.object.sidecar-injector.istio.io', { kind: 'revision', selects: 'object' }],
    ['namespace.sidecar-injector.istio.io', { kind: 'default', selects: 'namespace' }],
    ['object.sidecar-injector.istio.io', { kind: 'default', selects: 'object' }],
    ['canary.rev.namespace.sidecar-injector.istio.io', { kind: 'tag', selects: 'namespace', tag: 'canary' }],
    ['prod-1.rev.object.sidecar-injector.istio.io', { kind: 'tag', selects: 'object', tag: 'prod-1' }],
    ['auto.sidecar-injector.istio.io', { kind: 'default', selects: 'namespace' }],
    ['a.b.rev.object.sidecar-injector.istio.io', undefined],
    ['validation.istio.io', undefined],
  ];
  for (const [name, want] of cases) {
    it(`reads ${name} back as ${want ? `${want.kind}${want.tag ? ` ${want.tag}` : ''} (${want.selects})` : 'not ours'}`, () => {
      expect(describeEntry(name)).to.deep.equal(want);
    });
  }
});

describe('resolveClaims', () => {
  function permutations<T>(xs: T[]): T[][] {
    if (xs.length <= 1) return [xs];
    return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
  }

  it('grants every claim when nothing collides', () => {
    const d = resolveClaims([
      mrev('1-20', { default: true, tags: ['stable'] }, { created: T0 }),
      mrev('1-21', { tags: ['canary'] }, { created: T1 }),
    ]);
    expect(d.get('1-20')).to.deep.include({ servesRevision: true, holdsDefault: true, tags: ['stable'], conflicts: [] });
    expect(d.get('1-21')).to.deep.include({ servesRevision: true, holdsDefault: false, tags: ['canary'], conflicts: [] });
  });

  describe('two MeshRevisions claiming the default', () => {
    it('gives the default to the older one and a DefaultClaimedElsewhere conflict naming the holder to the newer one', () => {
      const d = resolveClaims([mrev('1-21', { default: true }, { created: T1 }), mrev('1-20', { default: true }, { created: T0 })]);
      expect(d.get('1-20')!.holdsDefault).to.equal(true);
      expect(d.get('1-21')!.holdsDefault).to.equal(false);
      const [c] = d.get('1-21')!.conflicts;
      expect(c).to.include({ reason: 'DefaultClaimedElsewhere', field: 'spec.default', holder: '1-20' });
      expect(c!.message).to.contain('"1-20"').and.contain('spec.default: false');
      expect(d.get('1-20')!.conflicts).to.deep.equal([]);
    });

    it('keeps the default with the MeshRevision whose status records holding it, even when another is older', () => {
      const d = resolveClaims([
        mrev('old', { revision: '1-19', default: true }, { created: T0 }),
        mrev('holder', { revision: '1-20', default: true }, { created: T1, status: { defaultRevision: true } }),
      ]);
      expect(d.get('holder')!.holdsDefault).to.equal(true);
      expect(d.get('old')!.conflicts.map((c) => c.reason)).to.deep.equal(['DefaultClaimedElsewhere']);
    });

    it('breaks a creationTimestamp tie by name, whatever the input order', () => {
      const all = [mrev('b', { revision: 'rb', default: true }, { created: T0 }), mrev('a', { revision: 'ra', default: true }, { created: T0 }), mrev('c', { revision: 'rc', default: true }, { created: T0 })];
      for (const order of permutations(all)) {
        const d = resolveClaims(order);
        expect([d.get('a')!.holdsDefault, d.get('b')!.holdsDefault, d.get('c')!.holdsDefault]).to.deep.equal([true, false, false]);
      }
    });

    it('ranks an object without creationTimestamp (read from a file) after those the server has seen', () => {
      const d = resolveClaims([mrev('a', { revision: 'ra', default: true }), mrev('z', { revision: 'rz', default: true }, { created: T2 })]);
      expect(d.get('z')!.holdsDefault).to.equal(true);
    });

    it('leaves the losing claimant\'s webhooks exactly as they were before it claimed the default', () => {
      const holder = mrev('1-20', { default: true }, { created: T0, status: { defaultRevision: true } });
      const before = mrev('1-21', { tags: ['canary'] }, { created: T1, uid: 'u' });
      const after = mrev('1-21', { tags: ['canary'], default: true }, { created: T1, uid: 'u' });
      const d0 = resolveClaims([holder, before]).get('1-21')!;
      const d1 = resolveClaims([holder, after]).get('1-21')!;
      expect(desiredWebhookConfiguration(after, d1)).to.deep.equal(desiredWebhookConfiguration(before, d0));
    });

    it('hands the default to the next claimant once the holder clears spec.default', () => {
      const d = resolveClaims([
        mrev('1-20', { default: false }, { created: T0, status: { defaultRevision: true } }),
        mrev('1-21', { default: true }, { created: T1 }),
      ]);
      expect(d.get('1-21')!.holdsDefault).to.equal(true);
      expect(d.get('1-21')!.conflicts).to.deep.equal([]);
    });
  });

  describe('tag collisions', () => {
    it('gives a tag claimed by two MeshRevisions to the older one and a TagCollision naming the holder to the other', () => {
      const d = resolveClaims([mrev('1-21', { tags: ['stable', 'canary'] }, { created: T1 }), mrev('1-20', { tags: ['stable'] }, { created: T0 })]);
      expect(d.get('1-20')!.tags).to.deep.equal(['stable']);
      expect(d.get('1-21')!.tags).to.deep.equal(['canary']);
      const [c] = d.get('1-21')!.conflicts;
      expect(c).to.include({ reason: 'TagCollision', field: 'spec.tags', value: 'stable', holder: '1-20' });
      expect(c!.message).to.contain('"stable"').and.contain('remove');
    });

    it('moves a tag only when its holder releases it: a recorded holder keeps it against an older claimant', () => {
      const d = resolveClaims([
        mrev('1-19', { tags: ['stable'] }, { created: T0 }),
        mrev('1-20', { tags: ['stable'] }, { created: T1, status: { webhookConfiguration: 'meshrev-sidecar-injector-1-20', activeTags: ['stable'] } }),
      ]);
      expect(d.get('1-20')!.tags).to.deep.equal(['stable']);
      expect(d.get('1-19')!.tags).to.deep.equal([]);
    });

    it('refuses a tag that is an older MeshRevision\'s revision name', () => {
      const d = resolveClaims([mrev('1-20', {}, { created: T0 }), mrev('1-21', { tags: ['1-20'] }, { created: T1 })]);
      expect(d.get('1-20')).to.deep.include({ servesRevision: true, conflicts: [] });
      expect(d.get('1-21')!.tags).to.deep.equal([]);
      const [c] = d.get('1-21')!.conflicts;
      expect(c).to.include({ reason: 'TagCollision', value: '1-20', holder: '1-20' });
      expect(c!.message).to.contain('revision name');
    });

    it('does not let a newer revision take over a tag already held: that revision gets no webhooks and a RevisionCollision', () => {
      const d = resolveClaims([
        mrev('1-20', { tags: ['canary'] }, { created: T0, status: { webhookConfiguration: 'meshrev-sidecar-injector-1-20', activeTags: ['canary'] } }),
        mrev('canary', {}, { created: T1 }),
      ]);
      expect(d.get('1-20')!.tags).to.deep.equal(['canary']);
      expect(d.get('canary')!.servesRevision).to.equal(false);
      expect(d.get('canary')!.conflicts[0]).to.include({ reason: 'RevisionCollision', field: 'spec.revision', holder: '1-20' });
      expect(desiredWebhookConfiguration(mrev('canary'), d.get('canary')!)).to.equal(undefined);
    });

    it('ignores a tag equal to the MeshRevision\'s own revision (a spec error reported by validation)', () => {
      const d = resolveClaims([mrev('1-20', { tags: ['1-20'] })]);
      expect(d.get('1-20')).to.deep.include({ servesRevision: true, tags: [], conflicts: [] });
    });
  });

  describe('two MeshRevisions with the same revision', () => {
    it('serves the revision from the older one only; the newer gets no MWC, no tags, no default', () => {
      const d = resolveClaims([
        mrev('second', { revision: '1-20', default: true, tags: ['x'] }, { created: T1 }),
        mrev('first', { revision: '1-20' }, { created: T0 }),
        mrev('other', { revision: '1-21', tags: ['x'], default: true }, { created: T2 }),
      ]);
      expect(d.get('first')).to.deep.include({ servesRevision: true, holdsDefault: false });
      expect(d.get('second')).to.deep.include({ servesRevision: false, holdsDefault: false, tags: [] });
      expect(d.get('second')!.conflicts.map((c) => c.reason)).to.deep.equal(['RevisionCollision']);
      // The withdrawn claims of "second" do not block the next claimant.
      expect(d.get('other')).to.deep.include({ holdsDefault: true, tags: ['x'], conflicts: [] });
    });
  });

  it('returns the same decisions for every input order', () => {
    const all = [
      mrev('1-20', { default: true, tags: ['stable', 'prod'] }, { created: T0 }),
      mrev('1-21', { default: true, tags: ['canary', 'stable'] }, { created: T1 }),
      mrev('1-22', { tags: ['canary', '1-20'] }, { created: T1 }),
      mrev('prod', {}, { created: T2 }),
    ];
    const expected = resolveClaims(all);
    for (const order of permutations(all)) {
      expect([...resolveClaims(order).entries()].sort()).to.deep.equal([...expected.entries()].sort());
    }
    expect(expected.get('1-21')!.tags).to.deep.equal(['canary']);
    expect(expected.get('1-22')!.tags).to.deep.equal([]);
    expect(expected.get('prod')!.servesRevision).to.equal(false);
  });
});

describe('desiredWebhookConfiguration against Istio\'s own chart render (test/fixtures/istio-chart)', () => {
  // The chart puts the revision's entries in istio-sidecar-injector-1-31 and
  // each tag's (default included: namespace., object., auto.) in
  // istio-revision-tag-<tag>; meshrev puts them all in one MWC, the tags'
  // `rev.` entries renamed `<tag>.rev.`. Entry by entry, everything the API
  // server reads must be the same.
  const url = 'https://127.0.0.1:9443/inject';
  const counterpart: Record<string, [string, string]> = {
    'rev.namespace.sidecar-injector.istio.io': ['istio-sidecar-injector-1-31', 'rev.namespace.sidecar-injector.istio.io'],
    'rev.object.sidecar-injector.istio.io': ['istio-sidecar-injector-1-31', 'rev.object.sidecar-injector.istio.io'],
    'namespace.sidecar-injector.istio.io': ['istio-revision-tag-default', 'namespace.sidecar-injector.istio.io'],
    'object.sidecar-injector.istio.io': ['istio-revision-tag-default', 'object.sidecar-injector.istio.io'],
    'auto.sidecar-injector.istio.io': ['istio-revision-tag-default', 'auto.sidecar-injector.istio.io'],
    'default.rev.namespace.sidecar-injector.istio.io': ['istio-revision-tag-default', 'rev.namespace.sidecar-injector.istio.io'],
    'default.rev.object.sidecar-injector.istio.io': ['istio-revision-tag-default', 'rev.object.sidecar-injector.istio.io'],
    'prod.rev.namespace.sidecar-injector.istio.io': ['istio-revision-tag-prod', 'rev.namespace.sidecar-injector.istio.io'],
    'prod.rev.object.sidecar-injector.istio.io': ['istio-revision-tag-prod', 'rev.object.sidecar-injector.istio.io'],
  };
  for (const auto of [false, true]) {
    const fixture = auto ? 'rev-1-31-tags-default-prod-auto.yaml' : 'rev-1-31-tags-default-prod.yaml';
    describe(`${fixture} (enableNamespacesByDefault ${auto})`, () => {
      const m = mrev('1-31', { default: true, tags: ['prod'], injector: { url }, ...(auto ? { enableNamespacesByDefault: true } : {}) });
      const ours = mwc(m, { holdsDefault: true, tags: ['prod'] });
      const chart = chartWebhooks(fixture);

      it('has one entry for every entry the chart renders, and no other', () => {
        const chartEntries = chart.flatMap((c) => (c.webhooks ?? []).map((w) => `${c.metadata?.name}/${w.name}`)).sort();
        const mapped = (ours.webhooks ?? []).map((w) => counterpart[w.name]?.join('/') ?? `unmapped ${w.name}`).sort();
        expect(mapped).to.deep.equal(chartEntries);
        expect(mapped).to.have.length(auto ? 9 : 8);
      });

      for (const [name, [cfgName, entryName]] of Object.entries(counterpart)) {
        if (name.startsWith('auto.') && !auto) continue;
        it(`${name} equals the chart's ${cfgName}/${entryName} selector by selector`, () => {
          const theirs = entryNamed(chartWebhook(fixture, cfgName), entryName);
          const mine = entryNamed(ours, name);
          expect(mine.namespaceSelector, 'namespaceSelector').to.deep.equal(theirs.namespaceSelector);
          expect(mine.objectSelector, 'objectSelector').to.deep.equal(theirs.objectSelector);
          expect(mine.rules, 'rules').to.deep.equal(theirs.rules);
          expect(mine.clientConfig, 'clientConfig').to.deep.equal(theirs.clientConfig);
          for (const k of ['sideEffects', 'admissionReviewVersions', 'failurePolicy'] as const) expect(mine[k], k).to.deep.equal(theirs[k]);
          // Fields the chart sets to the API server's defaults and meshrev leaves to them (or the reverse).
          expect(theirs.reinvocationPolicy).to.equal('Never');
          expect(mine.reinvocationPolicy).to.equal(undefined);
          expect(theirs.timeoutSeconds).to.equal(undefined);
          expect(mine.timeoutSeconds).to.equal(10);
        });
      }
    });
  }

  it('test/support/istio-webhooks.ts builds the chart\'s selectors too (the e2e tests rely on it)', () => {
    const chart = chartWebhooks('rev-1-31-tags-default-prod-auto.yaml');
    const built = [
      istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-31', revision: '1-31', url }),
      istioWebhookConfiguration({ name: 'istio-revision-tag-default', revision: '1-31', tag: 'default', isDefault: true, enableNamespacesByDefault: true, url }),
      istioWebhookConfiguration({ name: 'istio-revision-tag-prod', revision: '1-31', tag: 'prod', url }),
    ];
    const selectors = (cs: V1MutatingWebhookConfiguration[]) =>
      cs.flatMap((c) => (c.webhooks ?? []).map((w) => ({ at: `${c.metadata?.name}/${w.name}`, ns: w.namespaceSelector, obj: w.objectSelector })))
        .sort((a, b) => a.at.localeCompare(b.at));
    expect(selectors(built)).to.deep.equal(selectors(chart));
  });
});

describe('foreignWebhookConflicts', () => {
  const foreign = (name: string, labels: Record<string, string>): V1MutatingWebhookConfiguration => ({ metadata: { name, labels }, webhooks: [] });
  const m = mrev('1-20', { default: true, tags: ['stable'] });
  const d = decision(m, { holdsDefault: true, tags: ['stable'] });

  it('reports the chart\'s own MWC for the same revision (installed without operatorManageWebhooks)', () => {
    const got = foreignWebhookConflicts(d, [foreign('istio-sidecar-injector-1-20', { app: 'sidecar-injector', 'istio.io/rev': '1-20' })]);
    expect(got).to.deep.equal([{ name: 'istio-sidecar-injector-1-20', why: 'istio.io/rev=1-20' }]);
  });

  it('reports upstream tag MWCs for a tag it serves, and istio-revision-tag-default when it holds the default', () => {
    const got = foreignWebhookConflicts(d, [
      foreign('istio-revision-tag-stable', { 'istio.io/tag': 'stable', 'istio.io/rev': '1-19' }),
      foreign('istio-revision-tag-default', { 'istio.io/tag': 'default', 'istio.io/rev': '1-19' }),
    ]);
    expect(got.map((c) => c.name)).to.deep.equal(['istio-revision-tag-default', 'istio-revision-tag-stable']);
  });

  it('reports the non-revisioned chart install (istio-sidecar-injector) next to the default revision, by what its entries select', () => {
    const leftover = chartWebhook('no-revision.yaml', 'istio-sidecar-injector');
    expect(leftover.metadata?.labels?.['istio.io/rev']).to.equal('default');
    const got = foreignWebhookConflicts(d, [leftover]);
    expect(got).to.have.length(1);
    expect(got[0]!.name).to.equal('istio-sidecar-injector');
    expect(got[0]!.why).to.equal(
      'its entries also inject istio.io/rev=default namespaces, istio.io/rev=default pods, istio-injection=enabled namespaces, sidecar.istio.io/inject=true pods');
  });

  it('reports a leftover injector with no labels at all when its entries select pods this revision serves', () => {
    const bare = chartWebhook('rev-1-30.yaml', 'istio-sidecar-injector-1-30');
    const unlabelled: V1MutatingWebhookConfiguration = { ...bare, metadata: { name: 'old-injector' } };
    const m30 = mrev('1-30');
    expect(foreignWebhookConflicts(decision(m30), [unlabelled])).to.deep.equal([
      { name: 'old-injector', why: 'its entries also inject istio.io/rev=1-30 namespaces, istio.io/rev=1-30 pods' },
    ]);
    // The same entries select nothing revision 1-20 serves.
    expect(foreignWebhookConflicts(d, [unlabelled])).to.deep.equal([]);
  });

  it('does not count the non-revisioned install against a revision that does not hold the default', () => {
    expect(foreignWebhookConflicts(decision(mrev('1-21')), chartWebhooks('no-revision.yaml'))).to.deep.equal([]);
  });

  it('ignores admission webhooks that are not sidecar injectors, however broad their selectors', () => {
    const policy: V1MutatingWebhookConfiguration = {
      metadata: { name: 'some-policy' },
      webhooks: [{ name: 'mutate.policy.example.com', clientConfig: { url: 'https://x' }, sideEffects: 'None', admissionReviewVersions: ['v1'],
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] }],
    };
    expect(foreignWebhookConflicts(d, [policy])).to.deep.equal([]);
  });

  it('ignores meshrev\'s own MWCs, other revisions, and upstream tags it does not serve', () => {
    const got = foreignWebhookConflicts(d, [
      mwc(m, { holdsDefault: true, tags: ['stable'] }),
      foreign('istio-sidecar-injector-1-21', { 'istio.io/rev': '1-21' }),
      foreign('istio-revision-tag-canary', { 'istio.io/tag': 'canary', 'istio.io/rev': '1-20' }),
    ]);
    expect(got).to.deep.equal([]);
  });

  it('knows its own MWC by either of its labels, as adoption and routing do (one definition)', () => {
    // meshrev writes both labels; a configuration that lost one of them (hand edit, an
    // older writer) is still meshrev's in all three views, never a chart's conflicting one.
    const own = mwc(m, { holdsDefault: true, tags: ['stable'] });
    const { 'app.kubernetes.io/managed-by': _drop1, ...onlyOwner } = own.metadata!.labels!;
    const { 'meshrev.io/meshrevision': _drop2, ...onlyManagedBy } = own.metadata!.labels!;
    for (const labels of [onlyOwner, onlyManagedBy]) {
      const cfg: V1MutatingWebhookConfiguration = { ...own, metadata: { ...own.metadata, labels } };
      expect(isMeshrevWebhook(cfg), JSON.stringify(labels)).to.equal(true);
      expect(foreignWebhookConflicts(d, [cfg]), JSON.stringify(labels)).to.deep.equal([]);
      expect(readWebhookConfiguration(cfg).managed, JSON.stringify(labels)).to.equal(true);
    }
    const chartOwn = foreign('istio-sidecar-injector-1-20', { 'istio.io/rev': '1-20' });
    expect(isMeshrevWebhook(chartOwn)).to.equal(false);
    expect(readWebhookConfiguration(chartOwn).managed).to.equal(false);
  });
});
