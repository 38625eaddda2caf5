// Adoption of webhooks written by istiod's chart and istioctl (policy/adoption),
// read from the chart's own rendering (test/fixtures/istio, made by Istio's
// renderer), not from hand-written imitations.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { adoptedDecision, externalServing, handoverFailurePolicy, injectorFromClientConfig } from '../../../src/policy/adoption.js';
import { isMeshrevWebhook } from '../../../src/policy/webhooks.js';
import { resolveClaims, desiredWebhookConfiguration } from '../../../src/policy/webhooks.js';
import { resolverFrom } from '../../../src/policy/routing.js';
import { computeRevisionStatus, type RevisionObservation } from '../../../src/policy/revision-status.js';
import { validateMeshRevision } from '../../../src/policy/validation/index.js';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import { repoPath } from '../../support/repo.js';

const chart = parseAllDocuments(readFileSync(repoPath('test/fixtures/istio/chart-webhooks-1-30.yaml'), 'utf8'))
  .map((d) => d.toJS() as V1MutatingWebhookConfiguration | null)
  .filter((d): d is V1MutatingWebhookConfiguration => d !== null);

const external = (revision: string, extra: Partial<MeshRevision['spec']> = {}): MeshRevision => ({
  metadata: { name: revision, generation: 1, uid: `uid-${revision}` },
  spec: { revision, webhooks: { management: 'External' }, ...extra },
});

describe('adoption of chart-made webhooks (policy/adoption)', () => {
  it('the fixture is what the chart renders: its own configuration and two tag configurations', () => {
    expect(chart.map((w) => w.metadata?.name).sort()).to.deep.equal(['istio-revision-tag-default', 'istio-revision-tag-prod', 'istio-sidecar-injector-1-30']);
    expect(chart.every((w) => !isMeshrevWebhook(w))).to.equal(true);
  });

  it('reads the revision, its tags and the default from the chart and istioctl-style tags', () => {
    const s = externalServing('1-30', chart);
    expect(s).to.deep.include({
      main: 'istio-sidecar-injector-1-30',
      configurations: ['istio-revision-tag-default', 'istio-revision-tag-prod', 'istio-sidecar-injector-1-30'],
      tags: ['prod'],
      holdsDefault: true,
    });
    expect(s.injector).to.deep.equal({ url: 'https://127.0.0.1:15017/inject' });
  });

  it('finds nothing for another revision, and ignores meshrev\'s own configurations', () => {
    expect(externalServing('1-31', chart)).to.deep.equal({ configurations: [], tags: [], holdsDefault: false });
    const mine = desiredWebhookConfiguration(
      { metadata: { name: 'x', uid: 'u' }, spec: { revision: '1-31', injector: { url: 'https://127.0.0.1:1/inject' } } },
      resolveClaims([{ metadata: { name: 'x', uid: 'u' }, spec: { revision: '1-31', injector: { url: 'https://127.0.0.1:1/inject' } } }]).get('x')!,
    )!;
    expect(externalServing('1-31', [...chart, mine]).main).to.equal(undefined);
  });

  it('a tag configuration alone (istioctl tag set prod --revision 1-30) serves the tag but is not the revision\'s own webhook', () => {
    const onlyTag = chart.filter((w) => w.metadata?.name === 'istio-revision-tag-prod');
    const s = externalServing('1-30', onlyTag);
    expect(s.main).to.equal(undefined);
    expect(s).to.deep.include({ tags: ['prod'], holdsDefault: false });
  });

  it('an injector spec from a service-based clientConfig, as the chart renders without injectionURL', () => {
    expect(injectorFromClientConfig({ service: { name: 'istiod-1-30', namespace: 'istio-system', path: '/inject', port: 443 }, caBundle: 'Q0E=' })).to.deep.equal({
      service: { name: 'istiod-1-30', namespace: 'istio-system', port: 443, path: '/inject' },
      caBundle: 'Q0E=',
    });
    expect(injectorFromClientConfig(undefined)).to.equal(undefined);
  });

  it('the adopted decision takes the tags and the default from the webhooks, not the spec', () => {
    const claims = resolveClaims([external('1-30')]);
    const d = adoptedDecision(claims.get('1-30'), externalServing('1-30', chart))!;
    expect(d).to.deep.include({ servesRevision: true, tags: ['prod'], holdsDefault: true });
    expect(adoptedDecision(claims.get('1-30'), undefined)).to.equal(claims.get('1-30'));
  });

  it('`from: [default]` and `from: [prod]` resolve to the chart\'s revision for a migration to an External MeshRevision', () => {
    const resolve = resolverFrom(resolveClaims([external('1-30'), external('1-31')]), chart);
    expect(resolve('default')).to.equal('1-30');
    expect(resolve('prod')).to.equal('1-30');
    expect(resolve('1-31')).to.equal('1-31');
  });

  describe('handover from the chart to meshrev (failurePolicy)', () => {
    const desired = (caBundle?: string): V1MutatingWebhookConfiguration => ({
      metadata: { name: 'meshrev-sidecar-injector-1-30' },
      webhooks: ['a', 'b'].map((name) => ({
        name, sideEffects: 'None', admissionReviewVersions: ['v1'], failurePolicy: 'Fail',
        clientConfig: { url: 'https://127.0.0.1:1/inject', ...(caBundle ? { caBundle } : {}) },
      })),
    });
    const policies = (w: V1MutatingWebhookConfiguration) => (w.webhooks ?? []).map((e) => e.failurePolicy);
    const rows: { name: string; desired: V1MutatingWebhookConfiguration; live?: V1MutatingWebhookConfiguration; chart?: string; want: string[] }[] = [
      { name: 'chart still serves, nothing filled in yet: Ignore', desired: desired(), chart: 'istio-sidecar-injector-1-30', want: ['Ignore', 'Ignore'] },
      { name: 'chart still serves, istiod filled in the live caBundle: Fail', desired: desired(), live: desired('Q0E='), chart: 'istio-sidecar-injector-1-30', want: ['Fail', 'Fail'] },
      { name: 'chart still serves, one live entry not filled yet: Ignore', desired: desired(), live: { ...desired('Q0E='), webhooks: [desired('Q0E=').webhooks![0]!] }, chart: 'x', want: ['Ignore', 'Ignore'] },
      { name: 'the spec gives a caBundle: Fail', desired: desired('Q0E='), chart: 'istio-sidecar-injector-1-30', want: ['Fail', 'Fail'] },
      { name: 'no chart configuration: the spec\'s policy', desired: desired(), want: ['Fail', 'Fail'] },
    ];
    for (const r of rows) {
      it(r.name, () => expect(policies(handoverFailurePolicy(r.desired, r.live, r.chart))).to.deep.equal(r.want));
    }
  });

  describe('status and validation', () => {
    const observe = (mrev: MeshRevision, webhooks: V1MutatingWebhookConfiguration[]): RevisionObservation => {
      const ext = externalServing(mrev.spec.revision, webhooks);
      return {
        mrev, now: new Date('2026-12-03T00:00:00Z'), decision: adoptedDecision(resolveClaims([mrev]).get(mrev.metadata.name!), ext),
        invalid: [], webhookConfiguration: ext.main, foreign: [], inUse: { namespaces: [], why: new Map(), podCount: 0 }, external: ext,
      };
    };

    it('Ready with the chart\'s configuration, its tags and the default in status', () => {
      const s = computeRevisionStatus(observe(external('1-30'), chart));
      expect(s).to.deep.include({ phase: 'Ready', webhookConfiguration: 'istio-sidecar-injector-1-30', defaultRevision: true, activeTags: ['prod'] });
      expect(s.externalWebhookConfigurations).to.deep.equal(['istio-revision-tag-default', 'istio-revision-tag-prod', 'istio-sidecar-injector-1-30']);
      expect(s.conditions?.find((c) => c.type === 'Ready')?.message).to.contain('written outside meshrev');
    });

    it('Pending, Reconciling, ExternalWebhookMissing when no chart configuration serves the revision', () => {
      const s = computeRevisionStatus(observe(external('1-31'), chart));
      expect(s.phase).to.equal('Pending');
      const ready = s.conditions?.find((c) => c.type === 'Ready');
      expect(ready).to.include({ status: 'False', reason: 'ExternalWebhookMissing' });
      expect(ready?.message).to.contain('istio-sidecar-injector-1-31');
      expect(s.conditions?.find((c) => c.type === 'Reconciling')?.status).to.equal('True');
      expect(s.webhookConfiguration).to.equal(undefined);
    });

    const obj = (spec: Record<string, unknown>) => ({ apiVersion: 'meshrev.io/v1alpha1', kind: 'MeshRevision', metadata: { name: 'x' }, spec });
    const rows: { name: string; spec: Record<string, unknown>; fields: string[] }[] = [
      { name: 'External needs no injector', spec: { revision: '1-30', webhooks: { management: 'External' } }, fields: [] },
      { name: 'External may name an injector (for the gate)', spec: { revision: '1-30', webhooks: { management: 'External' }, injector: { service: { name: 'istiod-1-30' } } }, fields: [] },
      { name: 'Managed needs an injector', spec: { revision: '1-30', webhooks: { management: 'Managed' } }, fields: ['spec.injector'] },
      { name: 'External may not set default', spec: { revision: '1-30', webhooks: { management: 'External' }, default: true }, fields: ['spec.default'] },
      { name: 'External may not set tags', spec: { revision: '1-30', webhooks: { management: 'External' }, tags: ['prod'] }, fields: ['spec.tags'] },
      { name: 'an unknown management', spec: { revision: '1-30', webhooks: { management: 'Helm' } }, fields: ['spec.webhooks.management', 'spec.injector'] },
      { name: 'an unknown webhooks field', spec: { revision: '1-30', webhooks: { management: 'External', owner: 'helm' } }, fields: ['spec.webhooks.owner'] },
    ];
    for (const r of rows) {
      it(`validation: ${r.name}`, () => {
        const errors = validateMeshRevision(obj(r.spec));
        expect(errors.map((e) => e.field), JSON.stringify(errors)).to.have.members(r.fields);
        for (const e of errors) expect(e.message.length).to.be.greaterThan(20);
      });
    }
  });
});
