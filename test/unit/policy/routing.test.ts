import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { MeshRevision, MeshRevisionSpec, MeshRevisionStatus } from '../../../src/api/meshrevision.js';
import {
  namespaceSelection,
  podRoute,
  readWebhookConfiguration,
  recordedClaims,
  resolveFrom,
  resolverFrom,
  resolveValue,
  servingFrom,
  servingFromSettings,
  sourceOfLabels,
  type LabelSet,
  type NamespaceSelection,
  type PodRoute,
  type ServingClaim,
  type ServingSettings,
} from '../../../src/policy/routing.js';
import { desiredWebhookConfiguration, resolveClaims, type ClaimDecision } from '../../../src/policy/webhooks.js';
import { chartWebhooks } from '../../support/istio-chart.js';
import { istioWebhookConfiguration } from '../../support/istio-webhooks.js';

const NSI = 'istio-injection';
const REV = 'istio.io/rev';
const INJECT = 'sidecar.istio.io/inject';

// ---------------------------------------------------------------------------
// Selection

describe('routing: namespace-label precedence', () => {
  const rows: { name: string; labels: LabelSet; mesh?: { enableNamespacesByDefault?: boolean }; want: NamespaceSelection; from: string | undefined }[] = [
    { name: 'istio-injection=enabled selects the default revision', labels: { [NSI]: 'enabled' }, want: { kind: 'default' }, from: 'default' },
    {
      name: 'istio-injection=enabled beats istio.io/rev, which is ignored',
      labels: { [NSI]: 'enabled', [REV]: '1-21' },
      want: { kind: 'default', ignoredRevision: '1-21' },
      from: 'default',
    },
    { name: 'istio-injection=disabled never injects', labels: { [NSI]: 'disabled' }, want: { kind: 'disabled', injection: 'disabled' }, from: undefined },
    {
      name: 'istio-injection=disabled beats istio.io/rev',
      labels: { [NSI]: 'disabled', [REV]: '1-21' },
      want: { kind: 'disabled', injection: 'disabled', ignoredRevision: '1-21' },
      from: undefined,
    },
    { name: 'any other istio-injection value never injects', labels: { [NSI]: 'yes' }, want: { kind: 'disabled', injection: 'yes' }, from: undefined },
    { name: 'istio.io/rev selects a revision', labels: { [REV]: '1-21' }, want: { kind: 'revision', value: '1-21' }, from: '1-21' },
    { name: 'istio.io/rev selects a tag by name', labels: { [REV]: 'canary' }, want: { kind: 'revision', value: 'canary' }, from: 'canary' },
    { name: 'istio.io/rev=default is the value "default"', labels: { [REV]: 'default' }, want: { kind: 'revision', value: 'default' }, from: 'default' },
    { name: 'no label selects nothing', labels: { team: 'a' }, want: { kind: 'unlabelled', enabledByDefault: false }, from: undefined },
    {
      name: 'no label with enableNamespacesByDefault leaves unlabelled pods to the default',
      labels: {},
      mesh: { enableNamespacesByDefault: true },
      want: { kind: 'unlabelled', enabledByDefault: true },
      from: undefined,
    },
    { name: 'an explicitly undefined istio-injection counts as absent', labels: { [NSI]: undefined, [REV]: '1-20' }, want: { kind: 'revision', value: '1-20' }, from: '1-20' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      expect(namespaceSelection(r.labels, r.mesh)).to.deep.equal(r.want);
      expect(sourceOfLabels(r.labels)).to.equal(r.from);
    });
  }
});

describe('routing: which entry selects a pod', () => {
  const rows: { name: string; ns: LabelSet; pod: LabelSet; mesh?: { enableNamespacesByDefault?: boolean }; want: PodRoute }[] = [
    { name: 'a pod labelled inject=false is selected by nothing, whatever the namespace says', ns: { [NSI]: 'enabled' }, pod: { [INJECT]: 'false' }, want: { kind: 'optedOut' } },
    { name: 'istio-injection=disabled beats the pod\'s istio.io/rev', ns: { [NSI]: 'disabled' }, pod: { [REV]: '1-21' }, want: { kind: 'disabled', injection: 'disabled' } },
    {
      name: 'istio-injection=enabled goes through namespace.sidecar-injector, even with istio.io/rev on namespace and pod',
      ns: { [NSI]: 'enabled', [REV]: '1-21' },
      pod: { [REV]: '1-22' },
      want: { kind: 'default', by: 'namespaceInjection', webhook: 'namespace.sidecar-injector.istio.io', selectedAs: 'enabled' },
    },
    {
      name: 'a namespace\'s istio.io/rev beats the pod\'s',
      ns: { [REV]: 'canary' },
      pod: { [REV]: '1-20' },
      want: { kind: 'revision', by: 'namespaceRevision', value: 'canary', webhook: 'rev.namespace.sidecar-injector.istio.io' },
    },
    {
      name: 'in an unlabelled namespace the pod\'s istio.io/rev selects',
      ns: {},
      pod: { [REV]: '1-20', [INJECT]: 'true' },
      want: { kind: 'revision', by: 'podRevision', value: '1-20', webhook: 'rev.object.sidecar-injector.istio.io' },
    },
    {
      name: 'in an unlabelled namespace inject=true selects the default revision',
      ns: {},
      pod: { [INJECT]: 'true' },
      want: { kind: 'default', by: 'podInjectLabel', webhook: 'object.sidecar-injector.istio.io', selectedAs: 'true' },
    },
    {
      name: 'with no label anywhere, enableNamespacesByDefault selects the default revision',
      ns: {},
      pod: {},
      mesh: { enableNamespacesByDefault: true },
      want: { kind: 'default', by: 'enabledByDefault', webhook: 'auto.sidecar-injector.istio.io', selectedAs: 'default' },
    },
    { name: 'with no label anywhere and the mesh default off, nothing selects the pod', ns: {}, pod: { [INJECT]: 'yes' }, want: { kind: 'none' } },
  ];
  for (const r of rows) {
    it(r.name, () => {
      expect(podRoute(r.ns, r.pod, r.mesh)).to.deep.equal(r.want);
    });
  }
});

// ---------------------------------------------------------------------------
// Serving

function claim(revision: string, c: Partial<ServingClaim> = {}): ServingClaim {
  return { revision, servesRevision: true, holdsDefault: false, tags: [], ...c };
}

/** A webhook configuration made by istiod's chart or istioctl (not labelled by meshrev). */
function chart(name: string, revision: string, o: { tag?: string; isDefault?: boolean } = {}): V1MutatingWebhookConfiguration {
  return istioWebhookConfiguration({ name, revision, ...o });
}

function mrev(name: string, spec: Partial<MeshRevisionSpec> = {}, o: { created?: string; status?: MeshRevisionStatus } = {}): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name, uid: `uid-${name}`, ...(o.created ? { creationTimestamp: o.created } : {}) },
    spec: { revision: name, injector: { service: { name: `istiod-${name}` } }, ...spec },
    ...(o.status ? { status: o.status } : {}),
  };
}

/** meshrev's own MWC for a MeshRevision: foreign-webhook reading must skip it. */
function managed(m: MeshRevision, d: Partial<ClaimDecision> = {}): V1MutatingWebhookConfiguration {
  return desiredWebhookConfiguration(m, { name: m.metadata.name!, revision: m.spec.revision, servesRevision: true, holdsDefault: false, tags: [], conflicts: [], ...d })!;
}

describe('routing: which revision serves a from value', () => {
  const rows: {
    name: string;
    claims: ServingClaim[];
    webhooks?: V1MutatingWebhookConfiguration[];
    want: Record<string, string | undefined>;
  }[] = [
    {
      name: 'a revision serves its own name; an unknown revision is served by nothing',
      claims: [claim('1-20'), claim('1-21')],
      want: { '1-20': '1-20', '1-21': '1-21', '1-22': undefined },
    },
    {
      name: 'a tag resolves to the revision whose claim holds it',
      claims: [claim('1-20', { tags: ['stable'] }), claim('1-21', { tags: ['canary'] })],
      want: { stable: '1-20', canary: '1-21', prod: undefined },
    },
    {
      name: '"default" resolves to the claim holding the default, not to a revision or tag named default',
      claims: [claim('default'), claim('1-20', { holdsDefault: true }), claim('1-21', { tags: ['default'] })],
      want: { default: '1-20' },
    },
    {
      name: 'with no claim holding the default, "default" is served by nothing',
      claims: [claim('1-20'), claim('default')],
      want: { default: undefined, '1-20': '1-20' },
    },
    {
      name: 'a claim that lost its revision serves nothing: its name, tags and default',
      claims: [claim('1-20', { servesRevision: false, holdsDefault: true, tags: ['stable'] })],
      want: { '1-20': undefined, stable: undefined, default: undefined },
    },
    {
      name: 'a chart-installed revision serves its name and, with the default entries, "default"',
      claims: [claim('1-21')],
      webhooks: [chart('istio-sidecar-injector-1-19', '1-19', { isDefault: true })],
      want: { '1-19': '1-19', default: '1-19', '1-21': '1-21' },
    },
    {
      name: 'an istioctl tag webhook serves its tag; istio-revision-tag-default also serves "default"',
      claims: [],
      webhooks: [chart('istio-revision-tag-prod', '1-21', { tag: 'prod' }), chart('istio-revision-tag-default', '1-20', { tag: 'default', isDefault: true })],
      want: { prod: '1-21', default: '1-20', '1-21': '1-21', '1-20': '1-20' },
    },
    {
      name: 'claims win over foreign webhooks for a revision, a tag and the default',
      claims: [claim('1-20', { holdsDefault: true, tags: ['stable'] })],
      webhooks: [chart('istio-revision-tag-stable', '1-19', { tag: 'stable', isDefault: true }), chart('istio-revision-tag-1-20', '1-99', { tag: '1-20' })],
      want: { default: '1-20', stable: '1-20', '1-20': '1-20', '1-99': '1-99' },
    },
    {
      name: 'among foreign webhooks the first in the given order answers',
      claims: [],
      webhooks: [chart('a-tag', '1-18', { tag: 'old', isDefault: true }), chart('b-tag', '1-19', { tag: 'old', isDefault: true })],
      want: { old: '1-18', default: '1-18' },
    },
    {
      name: 'meshrev\'s own webhook configurations are not read as foreign: their claims speak for them',
      claims: [],
      webhooks: [managed(mrev('1-21'), { holdsDefault: true, tags: ['canary'] })],
      want: { '1-21': undefined, canary: undefined, default: undefined },
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const resolve = resolverFrom(r.claims, r.webhooks ?? []);
      for (const [from, want] of Object.entries(r.want)) expect(resolve(from), from).to.equal(want);
    });
  }

  it('says where an answer comes from: a claim, or a named foreign configuration', () => {
    const serving = servingFrom([claim('1-21', { tags: ['canary'] })], [chart('istio-revision-tag-prod', '1-20', { tag: 'prod' })]);
    expect(resolveValue(serving, 'canary')).to.deep.equal({ revision: '1-21', tag: 'canary', source: 'claim' });
    expect(resolveValue(serving, 'prod')).to.deep.equal({ revision: '1-20', tag: 'prod', source: 'webhook', configuration: 'istio-revision-tag-prod' });
    expect(resolveValue(serving, 'nope')).to.equal(undefined);
  });

  it('takes claims as resolveClaims returns them (a Map) or as a list', () => {
    const all = [mrev('1-20', { default: true, tags: ['stable'] }, { created: '2024-01-01T00:00:00Z' })];
    expect(resolverFrom(resolveClaims(all))('stable')).to.equal('1-20');
    expect(resolverFrom([...resolveClaims(all).values()])('default')).to.equal('1-20');
  });

  it('reads claims recorded on status for the CLI: status.defaultRevision and status.activeTags, not the spec', () => {
    const holder = mrev('1-20', { tags: ['canary'] }, { status: { defaultRevision: true, activeTags: ['canary'] } });
    const asking = mrev('1-21', { default: true, tags: ['canary'] }, { status: { activeTags: [] } });
    const resolve = resolverFrom(recordedClaims([asking, holder]));
    expect([resolve('default'), resolve('canary'), resolve('1-21')]).to.deep.equal(['1-20', '1-20', '1-21']);
  });
});

/** The MeshRevision controller's resolver as it is written today (src/reconcile/meshrevision.ts), the reference for resolverFrom. */
function controllerResolver(claims: Map<string, ClaimDecision>): (value: string) => string | undefined {
  return (value: string) => {
    for (const c of claims.values()) {
      if (!c.servesRevision) continue;
      if (value === 'default' ? c.holdsDefault : c.revision === value || c.tags.includes(value)) return c.revision;
    }
    return undefined;
  };
}

describe('routing: resolverFrom without webhooks answers as the MeshRevision controller does', () => {
  // A small deterministic generator: revisions, tags and defaults that collide in every way resolveClaims decides.
  let seed = 12;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const names = ['1-19', '1-20', '1-21', 'stable', 'canary', 'default'];
  for (let i = 0; i < 40; i++) {
    const count = 1 + rand(4);
    const all = Array.from({ length: count }, (_, k) => {
      const revision = names[rand(names.length)]!;
      const tags = names.filter(() => rand(3) === 0);
      const status: MeshRevisionStatus = rand(2) === 0 ? { webhookConfiguration: `meshrev-sidecar-injector-${revision}`, activeTags: tags, defaultRevision: rand(2) === 0 } : {};
      return mrev(`m${k}`, { revision, tags, default: rand(2) === 0 }, { created: `2024-01-0${1 + rand(5)}T00:00:00Z`, status });
    });
    it(`case ${i}: ${all.map((m) => `${m.spec.revision}${m.spec.default ? '*' : ''}[${(m.spec.tags ?? []).join(',')}]`).join(' ')}`, () => {
      const claims = resolveClaims(all);
      const want = controllerResolver(claims);
      const got = resolverFrom(claims);
      for (const v of [...names, 'nope']) expect(got(v), v).to.equal(want(v));
    });
  }
});

describe('routing: serving from settings (check-inject, the injector)', () => {
  const rows: { name: string; settings: ServingSettings; values: Record<string, string | undefined>; default: string | undefined }[] = [
    { name: 'knowing nothing, any value names a revision and the default is "default"', settings: {}, values: { '1-20': '1-20' }, default: 'default' },
    { name: 'a default tag is the default revision', settings: { tags: { default: '1-20' } }, values: { default: '1-20' }, default: '1-20' },
    { name: 'an explicit default revision beats the default tag', settings: { defaultRevision: '1-21', tags: { default: '1-20' } }, values: {}, default: '1-21' },
    { name: 'null means no default revision', settings: { defaultRevision: null }, values: {}, default: undefined },
    {
      name: 'with the revisions listed, an unknown value is served by nothing, and a tag beats a revision of its name',
      settings: { revisions: ['1-20', '1-21'], tags: { '1-20': '1-21', canary: '1-21' } },
      values: { '1-20': '1-21', '1-21': '1-21', canary: '1-21', '1-22': undefined },
      default: 'default',
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const serving = servingFromSettings(r.settings);
      expect(serving.defaultRevision).to.equal(r.default);
      expect(resolveFrom(serving, 'default')).to.equal(r.default);
      for (const [value, want] of Object.entries(r.values)) expect(resolveValue(serving, value)?.revision, value).to.equal(want);
    });
  }
});

describe('routing: reading a webhook configuration', () => {
  it('reads the chart\'s, istioctl\'s and meshrev\'s layouts alike', () => {
    expect(readWebhookConfiguration(istioWebhookConfiguration({ name: 'istio-sidecar-injector', revision: '1-20', isDefault: true, enableNamespacesByDefault: true }))).to.deep.equal({
      name: 'istio-sidecar-injector', managed: false, revision: '1-20', entryTags: [], defaultEntries: { namespace: true, object: true }, auto: true,
    });
    expect(readWebhookConfiguration(chart('istio-revision-tag-prod', '1-21', { tag: 'prod' }))).to.deep.include({ revision: '1-21', tagLabel: 'prod', managed: false });
    expect(readWebhookConfiguration(managed(mrev('1-22'), { holdsDefault: true, tags: ['canary', 'stable'] }))).to.deep.include({
      revision: '1-22', managed: true, entryTags: ['default', 'default', 'canary', 'canary', 'stable', 'stable'], defaultEntries: { namespace: true, object: true },
    });
  });
});

describe('routing: istio.io/rev=default is served by the default revision, as upstream\'s chart does', () => {
  it('from a MeshRevision holding the default', () => {
    const serving = servingFrom([{ revision: '1-20', servesRevision: true, holdsDefault: true, tags: [] }, { revision: '1-21', servesRevision: true, holdsDefault: false, tags: [] }]);
    expect(resolveValue(serving, 'default')).to.deep.equal({ revision: '1-20', tag: 'default', source: 'claim' });
  });

  it('from the chart\'s istio-revision-tag-default, naming it', () => {
    const serving = servingFrom([], chartWebhooks('rev-1-31-tags-default-prod.yaml'));
    expect(resolveValue(serving, 'default')).to.deep.equal({ revision: '1-31', tag: 'default', source: 'webhook', configuration: 'istio-revision-tag-default' });
    expect(serving.defaultRevision).to.equal('1-31');
  });

  it('a MeshRevision holding the default wins over a chart default tag', () => {
    const serving = servingFrom([{ revision: '1-20', servesRevision: true, holdsDefault: true, tags: [] }], chartWebhooks('rev-1-31-tags-default-prod.yaml'));
    expect(resolveValue(serving, 'default')?.revision).to.equal('1-20');
  });

  it('serves nothing when no revision holds the default', () => {
    expect(resolveValue(servingFrom([{ revision: '1-21', servesRevision: true, holdsDefault: false, tags: [] }]), 'default')).to.equal(undefined);
  });
});
