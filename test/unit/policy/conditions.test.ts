import { expect } from 'chai';
import type { Condition, MeshRevisionStatus } from '../../../src/api/meshrevision.js';
import {
  findCondition,
  formatTime,
  isConditionTrue,
  removeCondition,
  setCondition,
  progressOnly,
  setKstatusConditions,
  statusChanged,
} from '../../../src/policy/conditions.js';

const T0 = new Date('2024-05-01T10:00:00.123Z');
const T1 = new Date('2024-05-01T10:05:00.999Z');

const ready = (status: Condition['status'], reason = 'WebhookConfigured', message = 'ok') => ({ type: 'Ready', status, reason, message });

describe('conditions', () => {
  it('formats times as RFC 3339 in whole seconds, as the API server writes metav1.Time', () => {
    expect(formatTime(T0)).to.equal('2024-05-01T10:00:00Z');
  });

  it('stamps a new condition with now and the observed generation', () => {
    expect(setCondition(undefined, ready('True'), T0, 4)).to.deep.equal([
      { type: 'Ready', status: 'True', observedGeneration: 4, lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'WebhookConfigured', message: 'ok' },
    ]);
  });

  it('keeps lastTransitionTime when the status stays the same, even if reason and message change', () => {
    const first = setCondition(undefined, ready('False', 'TagCollision', 'a'), T0, 1);
    const second = setCondition(first, ready('False', 'DefaultClaimedElsewhere', 'b'), T1, 2);
    expect(second[0]).to.deep.include({ lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'DefaultClaimedElsewhere', message: 'b', observedGeneration: 2 });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = setCondition(undefined, ready('False'), T0);
    expect(setCondition(first, ready('True'), T1)[0]!.lastTransitionTime).to.equal('2024-05-01T10:05:00Z');
  });

  it('treats Unknown → False as a transition (a check that could not run is not a failure)', () => {
    const first = setCondition(undefined, ready('Unknown', 'APIError'), T0);
    expect(setCondition(first, ready('False'), T1)[0]!.lastTransitionTime).to.equal('2024-05-01T10:05:00Z');
  });

  it('does not mutate the list it is given and keeps the order of other conditions', () => {
    const list = setCondition(setCondition(undefined, { type: 'A', status: 'True', reason: 'R', message: '' }, T0), ready('True'), T0);
    const frozen = structuredClone(list);
    const next = setCondition(list, { type: 'A', status: 'False', reason: 'R', message: '' }, T1);
    expect(list).to.deep.equal(frozen);
    expect(next.map((c) => c.type)).to.deep.equal(['A', 'Ready']);
  });

  it('finds, tests and removes conditions by type', () => {
    const list = setCondition(undefined, ready('True'), T0);
    expect(findCondition(list, 'Ready')?.status).to.equal('True');
    expect(isConditionTrue(list, 'Ready')).to.equal(true);
    expect(isConditionTrue(setCondition(list, ready('Unknown'), T0), 'Ready')).to.equal(false);
    expect(isConditionTrue(list, 'Stalled')).to.equal(false);
    expect(removeCondition(list, 'Ready')).to.deep.equal([]);
  });

  describe('setKstatusConditions', () => {
    it('sets Ready and removes Reconciling and Stalled when they are not True (kstatus abnormal-true)', () => {
      let list = setKstatusConditions(undefined, { ready: { status: 'False', reason: 'ApplyingWebhook', message: '' }, reconciling: { reason: 'ApplyingWebhook', message: 'applying' } }, T0, 1);
      expect(list.map((c) => `${c.type}=${c.status}`)).to.deep.equal(['Ready=False', 'Reconciling=True']);
      list = setKstatusConditions(list, { ready: { status: 'True', reason: 'WebhookConfigured', message: '' } }, T1, 1);
      expect(list.map((c) => `${c.type}=${c.status}`)).to.deep.equal(['Ready=True']);
    });

    it('sets Stalled=True alongside Ready=False for a conflict a person must resolve', () => {
      const list = setKstatusConditions(
        undefined,
        { ready: { status: 'False', reason: 'DefaultClaimedElsewhere', message: 'm' }, stalled: { reason: 'DefaultClaimedElsewhere', message: 'm' } },
        T0,
        7,
      );
      expect(findCondition(list, 'Stalled')).to.deep.include({ status: 'True', reason: 'DefaultClaimedElsewhere', observedGeneration: 7 });
    });

    it('keeps condition types it does not manage', () => {
      const list = setCondition(undefined, { type: 'InUse', status: 'True', reason: 'InUse', message: '2 ns' }, T0);
      expect(setKstatusConditions(list, { ready: { status: 'True', reason: 'WebhookConfigured', message: '' } }, T0).map((c) => c.type)).to.deep.equal(['InUse', 'Ready']);
    });
  });

  describe('statusChanged', () => {
    const base = (): MeshRevisionStatus => ({
      observedGeneration: 2,
      phase: 'Ready',
      webhookConfiguration: 'meshrev-sidecar-injector-1-21',
      defaultRevision: false,
      activeTags: ['canary'],
      conditions: setKstatusConditions(undefined, { ready: { status: 'True', reason: 'WebhookConfigured', message: 'ok' } }, T0, 2),
    });

    it('reports no change when a resync recomputes the same status at a later time', () => {
      const current = base();
      const next = { ...base(), conditions: setKstatusConditions(current.conditions, { ready: { status: 'True', reason: 'WebhookConfigured', message: 'ok' } }, T1, 2) };
      expect(statusChanged(current, next)).to.equal(false);
    });

    it('ignores key order, undefined fields and condition order', () => {
      const current = base();
      const next: MeshRevisionStatus = { conditions: [...current.conditions!].reverse(), activeTags: ['canary'], defaultRevision: false, webhookConfiguration: 'meshrev-sidecar-injector-1-21', phase: 'Ready', observedGeneration: 2, lastFailure: undefined };
      expect(statusChanged(current, next)).to.equal(false);
    });

    it('reports a change of observedGeneration, phase, tags or a condition message', () => {
      expect(statusChanged(base(), { ...base(), observedGeneration: 3 })).to.equal(true);
      expect(statusChanged(base(), { ...base(), phase: 'Conflict' })).to.equal(true);
      expect(statusChanged(base(), { ...base(), activeTags: [] })).to.equal(true);
      const next = base();
      next.conditions = setCondition(next.conditions, { type: 'Ready', status: 'True', reason: 'WebhookConfigured', message: 'changed' }, T0, 2);
      expect(statusChanged(base(), next)).to.equal(true);
    });

    it('reports a change when there was no status yet', () => {
      expect(statusChanged(undefined, base())).to.equal(true);
      expect(statusChanged(undefined, {})).to.equal(false);
    });
  });

  describe('progressOnly', () => {
    const migrating = (migrated: number, extra: Partial<NonNullable<MeshRevisionStatus['migration']>> = {}): MeshRevisionStatus => ({
      observedGeneration: 2,
      phase: 'Migrating',
      conditions: setKstatusConditions(undefined, { ready: { status: 'False', reason: 'MigrationProgressing', message: `migrating: ${migrated}/10 namespaces migrated` }, reconciling: { reason: 'MigrationProgressing', message: `${migrated}/10` } }, T0, 2),
      inUse: { namespaces: [`ns-${migrated}`], namespaceCount: migrated, podCount: migrated * 6, summary: `${migrated} namespaces` },
      migration: {
        generation: 2,
        phase: 'Progressing',
        currentStep: 1,
        steps: [{ index: 1, target: 10 }],
        namespaces: [{ name: 'ns-1', state: migrated > 0 ? 'Migrated' : 'Migrating', step: 1, workloads: 3, verified: migrated > 0 ? 3 : 1 }],
        counts: { eligible: 10, migrated, inProgress: 1, failed: 0, rolledBack: 0 },
        summary: `${migrated}/10`,
        ...extra,
      },
    });

    it('sees namespaces moving, counts, summaries, pods in use and condition messages as progress', () => {
      expect(progressOnly(migrating(0), migrating(1))).to.equal(true);
    });

    it('never sees a phase, a step completing, a block, a rollback or a condition status as progress', () => {
      expect(progressOnly(migrating(1), migrating(1, { phase: 'Succeeded' }))).to.equal(false);
      expect(progressOnly(migrating(1), migrating(1, { steps: [{ index: 1, target: 10, completedAt: '2026-12-02T10:00:00Z' }] }))).to.equal(false);
      expect(progressOnly(migrating(1), migrating(1, { blocked: 'injector unreachable' }))).to.equal(false);
      expect(progressOnly(migrating(1), migrating(1, { rollbackReason: 'health gate failed' }))).to.equal(false);
      const ready = { ...migrating(1), conditions: setKstatusConditions(undefined, { ready: { status: 'True', reason: 'WebhookConfigured', message: 'ok' } }, T0, 2) };
      expect(progressOnly(migrating(1), ready)).to.equal(false);
      expect(progressOnly(undefined, migrating(1))).to.equal(false);
    });
  });
});
