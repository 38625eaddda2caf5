// Table tests for what a MeshRevision's status says (who still uses the
// revision, and the kstatus conditions for each observation). Pure: a fixed
// clock, plain objects, no cluster.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { MAX_IN_USE_LISTED, type Condition, type MeshRevision, type MeshRevisionStatus } from '../../../src/api/meshrevision.js';
import type { MigrationPhase, MigrationStatus } from '../../../src/api/migration.js';
import { statusChanged } from '../../../src/policy/conditions.js';
import { computeInUse, computeRevisionStatus, describeInUse, type InUse, type RevisionObservation } from '../../../src/policy/revision-status.js';
import type { ClaimConflict, ClaimDecision } from '../../../src/policy/webhooks.js';

type L = Record<string, string>;

const NSI = 'istio-injection';
const REV = 'istio.io/rev';
const REVISION = '1-21';
const MWC = 'istio-sidecar-injector-1-21';
const T0 = new Date('2024-05-01T10:00:00.250Z');
const T1 = new Date('2024-05-01T10:07:30.900Z');
const T0S = '2024-05-01T10:00:00Z';
const T1S = '2024-05-01T10:07:30Z';

// ---------------------------------------------------------------------------
// Factories

function ns(name: string, labels: L = {}): V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

function pod(namespace: string, name: string, o: { rev?: string; labels?: L; phase?: string; terminating?: boolean } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: o.labels ?? {},
      annotations: o.rev !== undefined ? { [REV]: o.rev } : {},
      ...(o.terminating ? { deletionTimestamp: new Date(T0.getTime() - 1000) } : {}),
    },
    status: { phase: o.phase ?? 'Running' },
  };
}

function decision(o: Partial<ClaimDecision> = {}): ClaimDecision {
  return { name: 'canary', revision: REVISION, servesRevision: true, holdsDefault: false, tags: [], conflicts: [], ...o };
}

function mrev(status?: MeshRevisionStatus): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: 'canary', generation: 3 },
    spec: { revision: REVISION, injector: { service: { name: 'istiod-1-21' } } },
    ...(status ? { status } : {}),
  };
}

const noUse: InUse = { namespaces: [], why: new Map(), podCount: 0 };

function inUse(entries: Record<string, string[]>, podCount = 0): InUse {
  return { namespaces: Object.keys(entries).sort(), why: new Map(Object.entries(entries)), podCount };
}

function obs(o: Partial<RevisionObservation> = {}): RevisionObservation {
  return { mrev: mrev(), now: T0, decision: decision(), invalid: [], webhookConfiguration: MWC, foreign: [], inUse: noUse, ...o };
}

function migration(phase: MigrationPhase, o: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    generation: 3,
    phase,
    currentStep: 2,
    steps: [{ index: 1, target: 1, completedAt: '2024-05-01T09:00:00Z' }, { index: 2, target: 3 }, { index: 3, target: 5 }],
    counts: { eligible: 5, migrated: 2, inProgress: 1, failed: 0, rolledBack: 0 },
    summary: '2/5',
    ...o,
  };
}

function conflict(reason: ClaimConflict['reason'], holder: string, field: string, value: string): ClaimConflict {
  return { reason, field, value, holder, message: `${field}: ${value} is held by MeshRevision ${holder}; remove it from ${field} or from ${holder}` };
}

const cond = (s: MeshRevisionStatus, type: string): Condition | undefined => s.conditions?.find((c) => c.type === type);

// ---------------------------------------------------------------------------

describe('revision status', () => {
  describe('computeInUse', () => {
    interface Case {
      name: string;
      decision?: Partial<ClaimDecision> | 'none';
      namespaces?: V1Namespace[];
      pods?: V1Pod[];
      want: { namespaces: string[]; podCount?: number; why?: Record<string, string[]> };
    }
    const cases: Case[] = [
      { name: 'counts a namespace labelled istio.io/rev=<revision>', namespaces: [ns('shop', { [REV]: REVISION })], want: { namespaces: ['shop'], why: { shop: ['labelled istio.io/rev=1-21'] } } },
      { name: 'does not count a namespace labelled for another revision', namespaces: [ns('shop', { [REV]: '1-20' })], want: { namespaces: [] } },
      {
        name: 'counts a namespace labelled with a tag the revision serves',
        decision: { tags: ['prod'] },
        namespaces: [ns('shop', { [REV]: 'prod' })],
        want: { namespaces: ['shop'], why: { shop: ['labelled istio.io/rev=prod'] } },
      },
      { name: 'does not count a tag in spec.tags the revision lost to another MeshRevision', decision: { tags: [] }, namespaces: [ns('shop', { [REV]: 'prod' })], want: { namespaces: [] } },
      {
        name: 'does not count its tags when it does not serve its revision',
        decision: { servesRevision: false, tags: ['prod'] },
        namespaces: [ns('shop', { [REV]: 'prod' })],
        want: { namespaces: [] },
      },
      {
        // Issue 17 defect 4: the holder's namespaces and pods kept a losing claimant's finalizer forever.
        name: 'counts nothing for a MeshRevision that lost its revision claim: the holder serves those namespaces and pods',
        decision: { servesRevision: false, tags: [] },
        namespaces: [ns('shop', { [REV]: REVISION })],
        pods: [{ metadata: { name: 'p', namespace: 'shop', annotations: { 'istio.io/rev': REVISION } }, status: { phase: 'Running' } }],
        want: { namespaces: [], podCount: 0 },
      },
      {
        name: 'counts istio-injection=enabled while it holds the default',
        decision: { holdsDefault: true },
        namespaces: [ns('shop', { [NSI]: 'enabled' })],
        want: { namespaces: ['shop'], why: { shop: ['labelled istio-injection=enabled (default revision)'] } },
      },
      { name: 'does not count istio-injection=enabled when it does not hold the default', decision: { holdsDefault: false }, namespaces: [ns('shop', { [NSI]: 'enabled' })], want: { namespaces: [] } },
      { name: 'does not count istio-injection=disabled, even holding the default', decision: { holdsDefault: true }, namespaces: [ns('shop', { [NSI]: 'disabled' })], want: { namespaces: [] } },
      { name: 'counts only its own revision name without a claim decision', decision: 'none', namespaces: [ns('a', { [REV]: REVISION }), ns('b', { [REV]: 'prod' }), ns('c', { [NSI]: 'enabled' })], want: { namespaces: ['a'] } },
      {
        name: 'counts live pods whose istio.io/rev annotation names the revision, per namespace',
        pods: [pod('shop', 'a', { rev: REVISION }), pod('shop', 'b', { rev: REVISION }), pod('cart', 'c', { rev: REVISION }), pod('cart', 'd', { rev: '1-20' })],
        want: { namespaces: ['cart', 'shop'], podCount: 3, why: { shop: ['2 running pods injected by 1-21'], cart: ['1 running pod injected by 1-21'] } },
      },
      { name: 'counts pods by the annotation only, not by an istio.io/rev label', pods: [pod('shop', 'a', { labels: { [REV]: REVISION } })], want: { namespaces: [], podCount: 0 } },
      {
        name: 'counts a pod injected through a tag by the real revision its annotation names',
        decision: { tags: ['prod'] },
        pods: [pod('shop', 'a', { rev: REVISION, labels: { [REV]: 'prod' } }), pod('cart', 'b', { rev: 'prod' })],
        want: { namespaces: ['shop'], podCount: 1 },
      },
      {
        name: 'does not count Succeeded, Failed or terminating pods',
        pods: [pod('shop', 'a', { rev: REVISION, phase: 'Succeeded' }), pod('shop', 'b', { rev: REVISION, phase: 'Failed' }), pod('shop', 'c', { rev: REVISION, terminating: true })],
        want: { namespaces: [], podCount: 0 },
      },
      { name: 'counts Pending pods (they will run with its sidecar)', pods: [pod('shop', 'a', { rev: REVISION, phase: 'Pending' })], want: { namespaces: ['shop'], podCount: 1 } },
      {
        name: 'gives every reason a namespace counts, and sorts namespaces by name',
        decision: { holdsDefault: true, tags: ['prod'] },
        namespaces: [ns('zeta', { [REV]: 'prod' }), ns('alpha', { [NSI]: 'enabled', [REV]: REVISION })],
        pods: [pod('alpha', 'p', { rev: REVISION }), pod('mid', 'q', { rev: REVISION })],
        want: {
          namespaces: ['alpha', 'mid', 'zeta'],
          podCount: 2,
          why: {
            alpha: ['labelled istio-injection=enabled (default revision)', '1 running pod injected by 1-21'],
            mid: ['1 running pod injected by 1-21'],
            zeta: ['labelled istio.io/rev=prod'],
          },
        },
      },
      { name: 'ignores a namespace without a name', namespaces: [{ metadata: { labels: { [REV]: REVISION } } }], want: { namespaces: [] } },
      // Bug pinned (see the report): istio-injection beats istio.io/rev, so these namespaces do not rely on the revision.
      {
        name: 'does not count istio-injection=disabled + istio.io/rev=<revision>: nothing is injected there',
        namespaces: [ns('shop', { [NSI]: 'disabled', [REV]: REVISION })],
        want: { namespaces: [] },
      },
      {
        name: 'does not count istio-injection=enabled + istio.io/rev=<revision> when another revision holds the default',
        decision: { holdsDefault: false },
        namespaces: [ns('shop', { [NSI]: 'enabled', [REV]: REVISION })],
        want: { namespaces: [] },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const d = c.decision === 'none' ? undefined : decision(c.decision ?? {});
        const got = computeInUse(REVISION, d, c.namespaces ?? [], c.pods ?? []);
        expect(got.namespaces).to.deep.equal(c.want.namespaces);
        expect(got.podCount).to.equal(c.want.podCount ?? 0);
        if (c.want.why) expect(Object.fromEntries(got.why)).to.deep.equal(c.want.why);
      });
    }
  });

  describe('describeInUse', () => {
    it('lists each namespace with its reasons', () => {
      expect(describeInUse(inUse({ shop: ['labelled istio.io/rev=1-21', '2 running pods injected by 1-21'], cart: ['1 running pod injected by 1-21'] }))).to.equal(
        'cart (1 running pod injected by 1-21), shop (labelled istio.io/rev=1-21; 2 running pods injected by 1-21)',
      );
    });

    it('caps the list and says how many more there are', () => {
      const entries = Object.fromEntries(['a', 'b', 'c', 'd'].map((n) => [n, ['x']]));
      expect(describeInUse(inUse(entries), 2)).to.equal('a (x), b (x), and 2 more');
      expect(describeInUse(inUse(entries), 4)).to.equal('a (x), b (x), c (x), d (x)');
    });

    it('says nothing for nothing', () => {
      expect(describeInUse(noUse)).to.equal('');
    });
  });

  describe('computeRevisionStatus', () => {
    interface Case {
      name: string;
      obs: RevisionObservation;
      want: {
        phase: MeshRevisionStatus['phase'];
        ready: [Condition['status'], string];
        /** Reason of Reconciling / Stalled; absent means the condition must be absent. */
        reconciling?: string;
        stalled?: string;
        /** Words the Ready message must contain. */
        says?: string[];
        /** Reason recorded in lastFailure; absent means no lastFailure. */
        lastFailure?: string;
      };
    }
    const deadlineFailure = 'Deployment web: rollout did not complete within 600s of its restart';
    const cases: Case[] = [
      {
        name: 'is Ready True WebhookConfigured when the webhook is served as declared',
        obs: obs({ decision: decision({ holdsDefault: true, tags: ['stable', 'prod'] }) }),
        want: { phase: 'Ready', ready: ['True', 'WebhookConfigured'], says: [`${MWC} injects 1-21, stable, prod`, 'istio-injection=enabled namespaces (default)'] },
      },
      {
        name: 'does not claim the default in the Ready message when it does not hold it',
        obs: obs(),
        want: { phase: 'Ready', ready: ['True', 'WebhookConfigured'], says: [`${MWC} injects 1-21`] },
      },
      {
        name: 'is Ready False InvalidSpec and Stalled for an invalid spec, naming each field',
        obs: obs({ invalid: [{ field: 'spec.tags[0]', message: 'must not equal spec.revision' }, { field: 'spec.migration.steps[1].pause', message: 'not a duration' }] }),
        want: {
          phase: 'Invalid',
          ready: ['False', 'InvalidSpec'],
          stalled: 'InvalidSpec',
          says: ['invalid spec, nothing was changed', 'spec.tags[0]: must not equal spec.revision', 'spec.migration.steps[1].pause: not a duration'],
          lastFailure: 'InvalidSpec',
        },
      },
      {
        name: 'is Ready Unknown and Reconciling when an API call failed (a check that could not run is not False)',
        obs: obs({ apiError: 'connect ECONNREFUSED 10.96.0.1:443' }),
        want: { phase: 'Ready', ready: ['Unknown', 'APIError'], reconciling: 'ApplyingWebhook', says: ['retrying', 'ECONNREFUSED'], lastFailure: 'APIError' },
      },
      {
        name: 'keeps the previous phase through an API error',
        obs: obs({ apiError: 'timeout', mrev: mrev({ phase: 'Migrating' }) }),
        want: { phase: 'Migrating', ready: ['Unknown', 'APIError'], reconciling: 'ApplyingWebhook', lastFailure: 'APIError' },
      },
      {
        name: 'is Stalled DefaultClaimedElsewhere, naming the holder, when another MeshRevision holds the default',
        obs: obs({ decision: decision({ conflicts: [conflict('DefaultClaimedElsewhere', 'stable', 'spec.default', 'default')] }) }),
        want: { phase: 'Conflict', ready: ['False', 'DefaultClaimedElsewhere'], stalled: 'DefaultClaimedElsewhere', says: ['MeshRevision stable'], lastFailure: 'DefaultClaimedElsewhere' },
      },
      {
        name: 'is Stalled with the first conflict as reason, listing every conflict',
        obs: obs({ decision: decision({ conflicts: [conflict('TagCollision', 'blue', 'spec.tags', 'prod'), conflict('DefaultClaimedElsewhere', 'green', 'spec.default', 'default')] }) }),
        want: { phase: 'Conflict', ready: ['False', 'TagCollision'], stalled: 'TagCollision', says: ['MeshRevision blue', 'MeshRevision green'], lastFailure: 'TagCollision' },
      },
      {
        name: 'is Stalled ChartWebhookConflict, naming the foreign webhook configuration',
        obs: obs({ foreign: [{ name: 'istio-sidecar-injector-1-21-chart', why: 'istio.io/rev=1-21' }] }),
        want: {
          phase: 'Conflict',
          ready: ['False', 'ChartWebhookConflict'],
          stalled: 'ChartWebhookConflict',
          says: ['istio-sidecar-injector-1-21-chart (istio.io/rev=1-21)', 'not managed by meshrev', 'global.operatorManageWebhooks=true'],
          lastFailure: 'ChartWebhookConflict',
        },
      },
      {
        name: 'reports claim conflicts and foreign webhooks together, the claim giving the reason',
        obs: obs({ decision: decision({ conflicts: [conflict('RevisionCollision', 'old-canary', 'spec.revision', REVISION)] }), foreign: [{ name: 'chart-mwc', why: 'istio.io/tag=prod' }] }),
        want: { phase: 'Conflict', ready: ['False', 'RevisionCollision'], stalled: 'RevisionCollision', says: ['MeshRevision old-canary', 'chart-mwc (istio.io/tag=prod)'], lastFailure: 'RevisionCollision' },
      },
      {
        name: 'waits on deletion while in use, listing the namespaces and why',
        obs: obs({ deleting: { blocked: true }, inUse: inUse({ shop: ['labelled istio.io/rev=1-21'], cart: ['2 running pods injected by 1-21'] }, 2) }),
        want: {
          phase: 'Deleting',
          ready: ['False', 'DeletionBlocked'],
          reconciling: 'DeletionBlocked',
          says: ['deletion waits', 'revision 1-21 is still in use by cart (2 running pods injected by 1-21), shop (labelled istio.io/rev=1-21)'],
        },
      },
      {
        name: 'says how many namespaces are back while deletion returns them',
        obs: obs({ deleting: { blocked: false, returning: true }, migration: migration('RollingBack', { counts: { eligible: 3, migrated: 0, inProgress: 2, failed: 0, rolledBack: 1 } }) }),
        want: { phase: 'Deleting', ready: ['False', 'Deleting'], reconciling: 'Deleting', says: ['returning migrated namespaces', '1/3 returned'] },
      },
      {
        name: 'says it removes the webhook configuration once nothing holds deletion',
        obs: obs({ deleting: { blocked: false } }),
        want: { phase: 'Deleting', ready: ['False', 'Deleting'], reconciling: 'Deleting', says: ['removing the webhook configuration'] },
      },
      {
        name: 'lets deletion beat an invalid spec',
        obs: obs({ deleting: { blocked: false }, invalid: [{ field: 'spec.tags', message: 'bad' }] }),
        want: { phase: 'Deleting', ready: ['False', 'Deleting'], reconciling: 'Deleting' },
      },
      {
        name: 'lets an invalid spec beat an API error',
        obs: obs({ invalid: [{ field: 'spec.tags', message: 'bad' }], apiError: 'timeout' }),
        want: { phase: 'Invalid', ready: ['False', 'InvalidSpec'], stalled: 'InvalidSpec', lastFailure: 'InvalidSpec' },
      },
      {
        name: 'lets a claim conflict beat a migration in progress',
        obs: obs({ decision: decision({ conflicts: [conflict('TagCollision', 'blue', 'spec.tags', 'prod')] }), migration: migration('Progressing') }),
        want: { phase: 'Conflict', ready: ['False', 'TagCollision'], stalled: 'TagCollision', lastFailure: 'TagCollision' },
      },
      // Migration phases
      {
        name: 'is Reconciling MigrationProgressing while namespaces move, with progress and step',
        obs: obs({ migration: migration('Progressing') }),
        want: { phase: 'Migrating', ready: ['False', 'MigrationProgressing'], reconciling: 'MigrationProgressing', says: ['migrating: 2/5 namespaces migrated (step 2/3)'] },
      },
      {
        name: 'is Reconciling MigrationProgressing for a migration that has not started yet',
        obs: obs({ migration: migration('Pending', { currentStep: undefined, summary: '0/5' }) }),
        want: { phase: 'Migrating', ready: ['False', 'MigrationProgressing'], reconciling: 'MigrationProgressing', says: ['0/5 namespaces migrated'] },
      },
      {
        name: 'is Reconciling MigrationProgressing while soaking after a step (Paused)',
        obs: obs({ migration: migration('Paused', { currentStep: 1 }) }),
        want: { phase: 'Migrating', ready: ['False', 'MigrationProgressing'], reconciling: 'MigrationProgressing', says: ['soaking after a step', '(step 1/3)'] },
      },
      {
        name: 'is Ready True MigrationAwaitingPromotion without Reconciling (a planned human gate, not convergence), naming the promotedStep to set',
        obs: obs({ migration: migration('AwaitingPromotion', { currentStep: 1 }) }),
        want: {
          phase: 'AwaitingPromotion',
          ready: ['True', 'MigrationAwaitingPromotion'],
          says: ['2/5 namespaces migrated (step 1/3)', 'awaiting promotion: set spec.migration.promotedStep: 1 to go on'],
        },
      },
      {
        name: 'is Ready True MigrationSuspended without Reconciling while spec.migration.paused is true and nothing is in flight',
        obs: obs({ migration: migration('Suspended', { counts: { eligible: 5, migrated: 2, inProgress: 0, failed: 0, rolledBack: 0 } }) }),
        want: { phase: 'Suspended', ready: ['True', 'MigrationSuspended'], says: ['suspended by spec.migration.paused: true', 'set it to false to go on'] },
      },
      {
        name: 'is Reconciling MigrationSuspended while suspended namespaces in flight finish',
        obs: obs({ migration: migration('Suspended') }),
        want: { phase: 'Suspended', ready: ['False', 'MigrationSuspended'], reconciling: 'MigrationSuspended', says: ['suspended by spec.migration.paused: true', 'finishing 1 namespace in flight'] },
      },
      {
        name: 'is Reconciling MigrationRollingBack during a requested rollback, with the reason and how many are back',
        obs: obs({
          migration: migration('RollingBack', { rollbackReason: 'spec.migration.rollback.all is true', rollbackRequested: true, counts: { eligible: 4, migrated: 0, inProgress: 3, failed: 0, rolledBack: 1 } }),
        }),
        want: {
          phase: 'RollingBack',
          ready: ['False', 'MigrationRollingBack'],
          reconciling: 'MigrationRollingBack',
          says: ['rolling back as requested (spec.migration.rollback.all is true): 1/4 namespaces returned'],
        },
      },
      {
        name: 'is Ready True MigrationRolledBack, with no failure recorded, once a requested rollback completed',
        obs: obs({
          migration: migration('RolledBack', { rollbackReason: 'spec.migration was removed', rollbackRequested: true, counts: { eligible: 4, migrated: 0, inProgress: 0, failed: 0, rolledBack: 4 } }),
        }),
        want: { phase: 'RolledBack', ready: ['True', 'MigrationRolledBack'], says: ['rolled back as requested (spec.migration was removed): 4/4 namespaces returned', 'change the spec to migrate again'] },
      },
      {
        name: 'is Stalled MigrationRollingBack while a failed gate forces a rollback of everything',
        obs: obs({
          migration: migration('RollingBack', { rollbackReason: 'health check failed: error-rate 0.3 > 0.05', rollbackRequested: false, counts: { eligible: 4, migrated: 0, inProgress: 3, failed: 0, rolledBack: 1 } }),
        }),
        want: {
          phase: 'RollingBack',
          ready: ['False', 'MigrationRollingBack'],
          stalled: 'MigrationRollingBack',
          says: ['rolling back after a failed gate (health check failed: error-rate 0.3 > 0.05): 1/4 namespaces returned', 'fix the cause'],
          lastFailure: 'MigrationRollingBack',
        },
      },
      {
        name: 'is Stalled MigrationRolledBack once a rollback forced by a failed gate is done, saying how to try again',
        obs: obs({ migration: migration('RolledBack', { rollbackReason: 'health check error-rate failed', rollbackRequested: false }) }),
        want: {
          phase: 'RolledBack',
          ready: ['False', 'MigrationRolledBack'],
          stalled: 'MigrationRolledBack',
          says: ['migration rolled back after a failed gate (health check error-rate failed)', 'change the spec to try again'],
          lastFailure: 'MigrationRolledBack',
        },
      },
      {
        name: 'judges a status written before rollbackRequested by its reason: a gate failure is Stalled, anything else was requested',
        obs: obs({ migration: migration('RolledBack', { rollbackReason: 'health gate failed: shop: crash loop' }) }),
        want: { phase: 'RolledBack', ready: ['False', 'MigrationRolledBack'], stalled: 'MigrationRolledBack', lastFailure: 'MigrationRolledBack' },
      },
      {
        name: 'is Reconciling MigrationBlocked while the target injector does not answer',
        obs: obs({ migration: migration('Progressing', { blocked: 'injector istiod-1-21.istio-system:443 is unreachable' }) }),
        want: { phase: 'Migrating', ready: ['False', 'MigrationBlocked'], reconciling: 'MigrationBlocked', says: ['blocked: injector istiod-1-21.istio-system:443 is unreachable'] },
      },
      {
        name: 'is Stalled MigrationFailed, naming the failed namespaces and the way out',
        obs: obs({
          migration: migration('Failed', {
            namespaces: [
              { name: 'shop', state: 'Failed', step: 2, from: 'default', message: deadlineFailure },
              { name: 'cart', state: 'Migrated', step: 1, from: 'default' },
            ],
          }),
        }),
        want: {
          phase: 'Failed',
          ready: ['False', 'MigrationFailed'],
          stalled: 'MigrationFailed',
          says: ['migration stopped, 2/5 namespaces migrated', `shop: ${deadlineFailure}`, 'spec.migration.rollback.all: true'],
          lastFailure: 'MigrationFailed',
        },
      },
      {
        name: 'is Ready True once the migration Succeeded, saying so',
        obs: obs({ migration: migration('Succeeded', { summary: '5/5', currentStep: 3 }) }),
        want: { phase: 'Ready', ready: ['True', 'WebhookConfigured'], says: [`${MWC} injects 1-21`, 'migration complete: 5/5 namespaces'] },
      },
    ];

    for (const c of cases) {
      describe(c.name, () => {
        it('sets phase, conditions and lastFailure', () => {
          const s = computeRevisionStatus(c.obs);
          expect(s.phase).to.equal(c.want.phase);
          expect(s.observedGeneration).to.equal(3);
          const ready = cond(s, 'Ready');
          expect(ready, 'Ready').to.deep.include({ status: c.want.ready[0], reason: c.want.ready[1], observedGeneration: 3, lastTransitionTime: T0S });
          for (const word of c.want.says ?? []) expect(ready!.message).to.contain(word);
          expect(cond(s, 'Reconciling')?.reason, 'Reconciling').to.equal(c.want.reconciling);
          expect(cond(s, 'Stalled')?.reason, 'Stalled').to.equal(c.want.stalled);
          if (c.want.reconciling) expect(cond(s, 'Reconciling')).to.deep.include({ status: 'True', message: ready!.message });
          if (c.want.stalled) expect(cond(s, 'Stalled')).to.deep.include({ status: 'True', message: ready!.message });
          if (c.want.lastFailure) expect(s.lastFailure).to.deep.equal({ reason: c.want.lastFailure, message: ready!.message, time: T0S });
          else expect(s.lastFailure).to.equal(undefined);
        });

        it('writes nothing on a resync that observes the same world later', () => {
          const first = computeRevisionStatus(c.obs);
          const second = computeRevisionStatus({ ...c.obs, mrev: mrev(first), now: T1 });
          expect(second).to.deep.equal(first);
          expect(statusChanged(first, second)).to.equal(false);
        });
      });
    }

    it('records the served revision, default, sorted active tags and who uses it', () => {
      const s = computeRevisionStatus(obs({ decision: decision({ holdsDefault: true, tags: ['stable', 'prod'] }), inUse: inUse({ shop: ['x'], cart: ['y'] }, 4) }));
      expect(s).to.deep.include({
        webhookConfiguration: MWC,
        defaultRevision: true,
        activeTags: ['prod', 'stable'],
        inUse: { namespaces: ['cart', 'shop'], namespaceCount: 2, podCount: 4, summary: '2 ns, 4 pods' },
      });
    });

    it('names at most MAX_IN_USE_LISTED namespaces in use and counts them all (10,000 namespaces on the revision)', () => {
      const names = Array.from({ length: 10_000 }, (_, i) => `team-${String(i).padStart(5, '0')}-${'x'.repeat(52)}`);
      const big: InUse = { namespaces: names, why: new Map(names.map((n) => [n, ['labelled istio-injection=enabled']])), podCount: 60_000 };
      const s = computeRevisionStatus(obs({ decision: decision({ holdsDefault: true }), inUse: big }));
      expect(s.inUse?.namespaces).to.deep.equal(names.slice(0, MAX_IN_USE_LISTED));
      expect(s.inUse).to.deep.include({ namespaceCount: 10_000, podCount: 60_000, summary: '10000 ns, 60000 pods' });
      // The whole status, with 63-character names: 10,000 of them listed would be over 640 KB.
      expect(JSON.stringify(s).length).to.be.below(16 * 1024);
    });

    it('reports no default and no tags when it does not serve its revision', () => {
      const s = computeRevisionStatus(obs({ decision: decision({ servesRevision: false, holdsDefault: true, tags: ['prod'], conflicts: [conflict('RevisionCollision', 'x', 'spec.revision', REVISION)] }), webhookConfiguration: undefined }));
      expect(s.defaultRevision).to.equal(false);
      expect(s.activeTags).to.deep.equal([]);
      expect(s).not.to.have.property('webhookConfiguration');
      expect(s.inUse).to.deep.equal({ namespaces: [], namespaceCount: 0, podCount: 0, summary: 'no' });
    });

    it('copies the migration status as given, and leaves it out when there is none', () => {
      const m = migration('Progressing');
      expect(computeRevisionStatus(obs({ migration: m })).migration).to.deep.equal(m);
      expect(computeRevisionStatus(obs())).not.to.have.property('migration');
    });

    it('keeps lastTransitionTime when Ready stays False across migration phases, stamping only the new Stalled', () => {
      const progressing = computeRevisionStatus(obs({ migration: migration('Progressing') }));
      const failed = computeRevisionStatus(obs({ mrev: mrev(progressing), now: T1, migration: migration('Failed') }));
      expect(cond(failed, 'Ready')).to.deep.include({ status: 'False', reason: 'MigrationFailed', lastTransitionTime: T0S });
      expect(cond(failed, 'Stalled')).to.deep.include({ status: 'True', lastTransitionTime: T1S });
      expect(cond(failed, 'Reconciling')).to.equal(undefined);
    });

    it('keeps lastTransitionTime of Reconciling while it stays True with a new reason', () => {
      const progressing = computeRevisionStatus(obs({ migration: migration('Progressing') }));
      const blocked = computeRevisionStatus(obs({ mrev: mrev(progressing), now: T1, migration: migration('Progressing', { blocked: 'injector unreachable' }) }));
      expect(cond(blocked, 'Reconciling')).to.deep.include({ reason: 'MigrationBlocked', lastTransitionTime: T0S });
    });

    it('moves lastTransitionTime when Ready flips, and drops Reconciling', () => {
      const progressing = computeRevisionStatus(obs({ migration: migration('Progressing') }));
      const done = computeRevisionStatus(obs({ mrev: mrev(progressing), now: T1, migration: migration('Succeeded', { summary: '5/5' }) }));
      expect(cond(done, 'Ready')).to.deep.include({ status: 'True', lastTransitionTime: T1S });
      expect(done.conditions!.map((c) => c.type)).to.deep.equal(['Ready']);
    });

    it('keeps lastFailure time when the same failure repeats, so a resync writes nothing', () => {
      const first = computeRevisionStatus(obs({ apiError: 'timeout' }));
      const again = computeRevisionStatus(obs({ mrev: mrev(first), now: T1, apiError: 'timeout' }));
      expect(again.lastFailure).to.deep.equal({ reason: 'APIError', message: first.lastFailure!.message, time: T0S });
      expect(statusChanged(first, again)).to.equal(false);
    });

    it('stamps lastFailure again when the failure differs', () => {
      const first = computeRevisionStatus(obs({ apiError: 'timeout' }));
      const other = computeRevisionStatus(obs({ mrev: mrev(first), now: T1, apiError: 'connection reset' }));
      expect(other.lastFailure).to.deep.include({ reason: 'APIError', time: T1S });
      expect(other.lastFailure!.message).to.contain('connection reset');
    });

    it('keeps the last failure after the revision recovers', () => {
      const failed = computeRevisionStatus(obs({ invalid: [{ field: 'spec.tags', message: 'bad' }] }));
      const ok = computeRevisionStatus(obs({ mrev: mrev(failed), now: T1 }));
      expect(cond(ok, 'Ready')).to.deep.include({ status: 'True', lastTransitionTime: T1S });
      expect(ok.lastFailure).to.deep.equal(failed.lastFailure);
    });

    it('keeps condition types it does not manage', () => {
      const other: Condition = { type: 'HealthChecksPassing', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'Ok', message: 'ok' };
      const s = computeRevisionStatus(obs({ mrev: mrev({ conditions: [other] }) }));
      expect(cond(s, 'HealthChecksPassing')).to.deep.equal(other);
    });

    it('does not modify the observation', () => {
      const o = obs({ mrev: mrev(computeRevisionStatus(obs({ migration: migration('Progressing') }))), now: T1, migration: migration('Failed') });
      const frozen = structuredClone(o);
      computeRevisionStatus(o);
      expect(o).to.deep.equal(frozen);
    });
  });
});
