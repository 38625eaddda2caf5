import type { V1LabelSelector, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { expect } from 'chai';
import { coversPodCreate, matchesLabelSelector, matchingWebhooks, tagOfEntryName } from '../../../src/policy/selectors.js';
import { istioWebhookConfiguration } from '../../support/istio-webhooks.js';

describe('label selectors: matchesLabelSelector', function () {
  const labels = { app: 'web', tier: 'front' };
  const cases: Array<[string, V1LabelSelector | undefined, Record<string, string> | undefined, boolean]> = [
    ['an undefined selector matches everything', undefined, labels, true],
    ['an empty selector matches everything, even no labels', {}, undefined, true],
    ['empty matchLabels and matchExpressions match everything', { matchLabels: {}, matchExpressions: [] }, {}, true],
    ['matchLabels matches when every pair is present', { matchLabels: { app: 'web' } }, labels, true],
    ['matchLabels fails on a different value', { matchLabels: { app: 'db' } }, labels, false],
    ['matchLabels fails on an absent key', { matchLabels: { zone: 'a' } }, labels, false],
    ['matchLabels needs all pairs', { matchLabels: { app: 'web', tier: 'back' } }, labels, false],
    ['In matches a listed value', { matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, labels, true],
    ['In fails on an unlisted value', { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, labels, false],
    ['In fails when the key is absent', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels, false],
    ['NotIn matches an unlisted value', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] }, labels, true],
    ['NotIn fails on a listed value', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels, false],
    ['NotIn matches when the key is absent', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels, true],
    ['Exists matches a present key', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels, true],
    ['Exists matches a present key with an empty value', { matchExpressions: [{ key: 'flag', operator: 'Exists' }] }, { flag: '' }, true],
    ['Exists fails on an absent key', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels, false],
    ['DoesNotExist matches an absent key', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels, true],
    ['DoesNotExist fails on a present key', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels, false],
    ['DoesNotExist matches when there are no labels at all', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, undefined, true],
    ['In is case-sensitive', { matchExpressions: [{ key: 'app', operator: 'In', values: ['Web'] }] }, labels, false],
    ['matchLabels and matchExpressions are ANDed', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels, false],
    ['all expressions must hold', { matchExpressions: [{ key: 'app', operator: 'Exists' }, { key: 'tier', operator: 'In', values: ['front'] }] }, labels, true],
    ['an unknown operator matches nothing', { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, labels, false],
    ['does not read inherited properties as labels', { matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] }, {}, true],
  ];
  for (const [name, selector, l, want] of cases) {
    it(name, function () {
      expect(matchesLabelSelector(selector, l)).to.equal(want);
    });
  }
});

describe('label selectors: matchingWebhooks', function () {
  const configs: V1MutatingWebhookConfiguration[] = [
    istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-20', revision: '1-20', isDefault: true }),
    istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-21', revision: '1-21', url: 'https://127.0.0.1:9443/inject' }),
    istioWebhookConfiguration({ name: 'istio-revision-tag-prod', revision: '1-21', tag: 'prod' }),
  ];

  it('returns the revision\'s rev.namespace entry for a namespace labelled istio.io/rev', function () {
    const got = matchingWebhooks(configs, { name: 'shop', labels: { 'istio.io/rev': '1-21' } }, { labels: { app: 'web' } });
    expect(got).to.deep.equal([{
      configName: 'istio-sidecar-injector-1-21',
      webhookName: 'rev.namespace.sidecar-injector.istio.io',
      revision: '1-21',
      endpoint: 'https://127.0.0.1:9443/inject',
    }]);
  });

  it('returns the default revision\'s namespace entry for istio-injection=enabled', function () {
    const got = matchingWebhooks(configs, { name: 'shop', labels: { 'istio-injection': 'enabled' } }, {});
    expect(got.map((e) => [e.configName, e.webhookName, e.revision])).to.deep.equal([
      ['istio-sidecar-injector-1-20', 'namespace.sidecar-injector.istio.io', '1-20'],
    ]);
    expect(got[0]?.endpoint).to.equal('service istio-system/istiod-1-20:443/inject');
  });

  it('names the tag of a tag configuration', function () {
    const got = matchingWebhooks(configs, { name: 'shop', labels: { 'istio.io/rev': 'prod' } }, {});
    expect(got).to.have.length(1);
    expect(got[0]).to.include({ configName: 'istio-revision-tag-prod', revision: '1-21', tag: 'prod' });
  });

  it('returns nothing for a pod that opts out with the label', function () {
    expect(matchingWebhooks(configs, { name: 'shop', labels: { 'istio.io/rev': '1-21' } }, { labels: { 'sidecar.istio.io/inject': 'false' } })).to.deep.equal([]);
  });

  it('returns every matching entry when two configurations select the same value (double injection)', function () {
    const dup = [...configs, istioWebhookConfiguration({ name: 'chart-made-1-21', revision: '1-21' })];
    const got = matchingWebhooks(dup, { name: 'shop', labels: { 'istio.io/rev': '1-21' } }, {});
    expect(got.map((e) => e.configName)).to.deep.equal(['istio-sidecar-injector-1-21', 'chart-made-1-21']);
  });

  it('sees the kubernetes.io/metadata.name label the API server puts on every namespace', function () {
    const cfg = istioWebhookConfiguration({ name: 'd', revision: 'default', isDefault: true, enableNamespacesByDefault: true });
    expect(matchingWebhooks([cfg], { name: 'kube-system' }, {}).map((e) => e.webhookName)).to.deep.equal([]);
    expect(matchingWebhooks([cfg], { name: 'shop' }, {}).map((e) => e.webhookName)).to.deep.equal(['auto.sidecar-injector.istio.io']);
  });

  it('skips entries whose rules do not cover pod CREATE', function () {
    const cfg = istioWebhookConfiguration({ name: 'x', revision: '1-21' });
    for (const w of cfg.webhooks ?? []) w.rules = [{ operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }];
    expect(matchingWebhooks([cfg], { name: 'shop', labels: { 'istio.io/rev': '1-21' } }, {})).to.deep.equal([]);
  });

  it('reads meshrev\'s tag entries (<tag>.rev.namespace...) as tags', function () {
    expect(tagOfEntryName('canary.rev.namespace.sidecar-injector.istio.io')).to.equal('canary');
    expect(tagOfEntryName('canary.rev.object.sidecar-injector.istio.io')).to.equal('canary');
    expect(tagOfEntryName('rev.namespace.sidecar-injector.istio.io')).to.equal(undefined);
    expect(tagOfEntryName('a.b.rev.namespace.sidecar-injector.istio.io')).to.equal(undefined);
  });

  it('treats wildcard rules as covering pods and subresource-only rules as not', function () {
    expect(coversPodCreate([{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }])).to.equal(true);
    expect(coversPodCreate([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/status'] }])).to.equal(false);
    expect(coversPodCreate([{ operations: ['CREATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['pods'] }])).to.equal(false);
    expect(coversPodCreate(undefined)).to.equal(false);
  });
});
