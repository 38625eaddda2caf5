import { expect } from 'chai';
import { explainInjection, formatExplanation, meshFromWebhooks } from '../../../src/policy/explain-injection.js';
import { chartWebhooks } from '../../support/istio-chart.js';
import { istioWebhookConfiguration } from '../../support/istio-webhooks.js';

const pod = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({ description: 'Deployment shop/web', labels, annotations });

describe('check-inject explanation', function () {
  const configs = [
    istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-20', revision: '1-20', isDefault: true }),
    istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-21', revision: '1-21' }),
    istioWebhookConfiguration({ name: 'istio-revision-tag-prod', revision: '1-21', tag: 'prod' }),
  ];

  it('reads revisions, tags and the default revision from the webhook configurations', function () {
    expect(meshFromWebhooks(configs)).to.deep.equal({
      revisions: ['1-20', '1-21'], tags: { prod: '1-21' }, defaultRevision: '1-20', enableNamespacesByDefault: false,
    });
  });

  it('names the one webhook and revision that inject, and why', function () {
    const [x] = explainInjection({ namespace: { name: 'shop', labels: { 'istio.io/rev': 'prod' } }, pods: [pod()], webhooks: configs });
    expect(x?.conflict).to.equal(false);
    expect(x?.injectors.map((e) => e.configName)).to.deep.equal(['istio-revision-tag-prod']);
    expect(x?.summary).to.equal('injected by revision 1-21 through istio-revision-tag-prod/rev.namespace.sidecar-injector.istio.io: ' +
      'namespace shop label istio.io/rev=prod (tag of revision 1-21) selects revision 1-21');
  });

  it('explains an opt-out the selectors cannot see (annotation) through the injector\'s verdict', function () {
    const [x] = explainInjection({ namespace: { name: 'shop', labels: { 'istio-injection': 'enabled' } }, pods: [pod({}, { 'sidecar.istio.io/inject': 'false' })], webhooks: configs });
    expect(x?.webhooks?.map((w) => [w.entry.configName, w.decision.inject])).to.deep.equal([['istio-sidecar-injector-1-20', false]]);
    expect(x?.summary).to.contain('not injected').and.contain('annotation sidecar.istio.io/inject=false');
  });

  it('flags two configurations injecting the same pod as a conflict (a chart-made duplicate)', function () {
    const dup = [...configs, istioWebhookConfiguration({ name: 'istio-sidecar-injector-1-21-chart', revision: '1-21' })];
    const [x] = explainInjection({ namespace: { name: 'shop', labels: { 'istio.io/rev': '1-21' } }, pods: [pod()], webhooks: dup });
    expect(x?.conflict).to.equal(true);
    expect(x?.summary).to.contain('injected by 2 webhooks').and.contain('depends on webhook order');
  });

  it('upstream\'s object. and auto. entries never both match: inject=true goes through object., an unlabelled pod through auto.', function () {
    const chart = chartWebhooks('rev-1-31-tags-default-prod-auto.yaml');
    const [optIn, plain] = explainInjection({ namespace: { name: 'shop' }, pods: [pod({ 'sidecar.istio.io/inject': 'true' }), pod()], webhooks: chart });
    expect(optIn?.injectors.map((e) => `${e.configName}/${e.webhookName}`)).to.deep.equal(['istio-revision-tag-default/object.sidecar-injector.istio.io']);
    expect(plain?.injectors.map((e) => `${e.configName}/${e.webhookName}`)).to.deep.equal(['istio-revision-tag-default/auto.sidecar-injector.istio.io']);
    expect(optIn?.conflict).to.equal(false);
    expect(plain?.summary).to.contain('injected by revision 1-31');
  });

  it('says when labels select a revision whose webhook configuration is missing', function () {
    const [x] = explainInjection({ namespace: { name: 'shop', labels: { 'istio.io/rev': '1-22' } }, pods: [pod()], webhooks: configs, mesh: { revisions: undefined } });
    expect(x?.summary).to.contain('no webhook matches').and.contain('missing');
  });

  it('answers from the policy table alone when no configurations are known (offline)', function () {
    const [x] = explainInjection({ namespace: { name: 'shop', labels: { 'istio-injection': 'enabled' } }, pods: [pod()], mesh: { defaultRevision: '1-20' } });
    expect(x?.webhooks).to.equal(undefined);
    expect(x?.summary).to.equal('injected by revision 1-20 through namespace.sidecar-injector.istio.io: namespace shop label istio-injection=enabled selects the default revision 1-20');
  });

  it('formats a table of the webhooks called and the verdict', function () {
    const ns = { name: 'shop', labels: { 'istio.io/rev': '1-21' } };
    const text = formatExplanation(ns, explainInjection({ namespace: ns, pods: [pod({ app: 'web' })], webhooks: configs }));
    expect(text).to.equal([
      'Namespace shop  labels: istio.io/rev=1-21',
      '',
      'Deployment shop/web  labels: app=web',
      '  WEBHOOK                                                              REVISION  INJECTS  REASON',
      '  istio-sidecar-injector-1-21/rev.namespace.sidecar-injector.istio.io  1-21      yes      called through rev.namespace.sidecar-injector.istio.io of revision 1-21',
      '  => injected by revision 1-21 through istio-sidecar-injector-1-21/rev.namespace.sidecar-injector.istio.io: namespace shop label istio.io/rev=1-21 selects revision 1-21',
      '',
    ].join('\n'));
  });
});
