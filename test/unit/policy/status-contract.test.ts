// The status contract (README.md, "Status contract"), one row per situation:
// the conditions computeRevisionStatus writes, and the verdicts kstatus,
// Argo CD (config/integrations/argocd/health.lua) and Flux
// (config/integrations/flux/health-check-exprs.yaml) must reach on the
// object. The objects are kept as fixtures in hack/integrations/testdata, where
// the real evaluators (cli-utils' kstatus, gopher-lua as Argo CD sets it up,
// cel-go as Flux does) judge them: `make test-integrations`. This test fails
// when a fixture drifts from what the code writes; regenerate them with
// MESHREV_WRITE_FIXTURES=1.
import { expect } from 'chai';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshRevision, MeshRevisionStatus } from '../../../src/api/meshrevision.js';
import type { MigrationPhase, MigrationStatus } from '../../../src/api/migration.js';
import { computeRevisionStatus, type InUse, type RevisionObservation } from '../../../src/policy/revision-status.js';
import type { ClaimDecision } from '../../../src/policy/webhooks.js';
import { repoPath } from '../../support/repo.js';

type Kstatus = 'InProgress' | 'Current' | 'Failed' | 'Terminating';
type ArgoHealth = 'Healthy' | 'Progressing' | 'Suspended' | 'Degraded';
type FluxVerdict = 'InProgress' | 'Current' | 'Failed';

interface Row {
  /** File name in hack/integrations/testdata (without .json). */
  name: string;
  situation: string;
  obs: RevisionObservation;
  /** metadata.generation when it differs from the one the status was computed for (a spec change not yet processed). */
  generation?: number;
  phase: MeshRevisionStatus['phase'];
  conditions: { ready: 'True' | 'False' | 'Unknown'; reconciling: boolean; stalled: boolean; failure: boolean };
  kstatus: Kstatus;
  argocd: ArgoHealth;
  flux: FluxVerdict;
}

const NOW = new Date('2026-12-03T10:00:00Z');
const GEN = 3;
const noUse: InUse = { namespaces: [], why: new Map(), podCount: 0 };

function mrev(deleting = false): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: {
      name: 'canary',
      uid: '6b1f3c2e-0000-4000-8000-000000000001',
      generation: GEN,
      ...(deleting ? { deletionTimestamp: '2026-12-03T09:59:00Z', finalizers: ['meshrev.io/finalizer'] } : {}),
    },
    spec: { revision: '1-21', injector: { service: { name: 'istiod-1-21' } }, migration: { from: ['default'], steps: [{ namespaces: 2, pause: 'indefinite' }, { percent: 100 }] } },
  };
}

function decision(o: Partial<ClaimDecision> = {}): ClaimDecision {
  return { name: 'canary', revision: '1-21', servesRevision: true, holdsDefault: false, tags: [], conflicts: [], ...o };
}

function obs(o: Partial<RevisionObservation> = {}): RevisionObservation {
  return { mrev: mrev(), now: NOW, decision: decision(), invalid: [], webhookConfiguration: 'istio-sidecar-injector-1-21', foreign: [], inUse: noUse, ...o };
}

function migration(phase: MigrationPhase, o: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    generation: GEN,
    phase,
    currentStep: 1,
    steps: [{ index: 1, target: 2, completedAt: '2026-12-03T09:50:00Z' }, { index: 2, target: 4 }],
    counts: { eligible: 4, migrated: 2, inProgress: 0, failed: 0, rolledBack: 0 },
    summary: '2/4',
    ...o,
  };
}

const moving = { eligible: 4, migrated: 1, inProgress: 1, failed: 0, rolledBack: 0 };
const goingBack = { eligible: 2, migrated: 0, inProgress: 1, failed: 0, rolledBack: 1 };
const allBack = { eligible: 2, migrated: 0, inProgress: 0, failed: 0, rolledBack: 2 };
const gateFailure = 'health check failed: error-rate: value 0.3 is above the maximum 0.05';

const progressingC = { ready: 'False', reconciling: true, stalled: false, failure: false } as const;
const readyC = { ready: 'True', reconciling: false, stalled: false, failure: false } as const;
const stalledC = { ready: 'False', reconciling: false, stalled: true, failure: true } as const;

const rows: Row[] = [
  { name: 'not-observed', situation: 'spec changed, not yet processed', obs: obs(), generation: GEN + 1, phase: 'Ready', conditions: readyC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'ready', situation: 'webhooks served, no migration', obs: obs(), phase: 'Ready', conditions: readyC, kstatus: 'Current', argocd: 'Healthy', flux: 'Current' },
  { name: 'progressing', situation: 'migration moving namespaces', obs: obs({ migration: migration('Progressing', { counts: moving, summary: '1/4' }) }), phase: 'Migrating', conditions: progressingC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'soaking', situation: 'timed pause between steps', obs: obs({ migration: migration('Paused') }), phase: 'Migrating', conditions: progressingC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'blocked', situation: 'target injector unreachable', obs: obs({ migration: migration('Progressing', { blocked: 'injector istiod-1-21.istio-system:443 is unreachable: connect ECONNREFUSED' }) }), phase: 'Migrating', conditions: progressingC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'awaiting-promotion', situation: 'awaiting promotion', obs: obs({ migration: migration('AwaitingPromotion') }), phase: 'AwaitingPromotion', conditions: readyC, kstatus: 'Current', argocd: 'Suspended', flux: 'Current' },
  { name: 'suspended', situation: 'suspended, nothing in flight', obs: obs({ migration: migration('Suspended') }), phase: 'Suspended', conditions: readyC, kstatus: 'Current', argocd: 'Suspended', flux: 'Current' },
  { name: 'suspended-in-flight', situation: 'suspended, namespaces in flight finishing', obs: obs({ migration: migration('Suspended', { counts: moving, summary: '1/4' }) }), phase: 'Suspended', conditions: progressingC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'succeeded', situation: 'migration succeeded', obs: obs({ migration: migration('Succeeded', { currentStep: 2, counts: { eligible: 4, migrated: 4, inProgress: 0, failed: 0, rolledBack: 0 }, summary: '4/4' }) }), phase: 'Ready', conditions: readyC, kstatus: 'Current', argocd: 'Healthy', flux: 'Current' },
  { name: 'requested-rolling-back', situation: 'requested rollback in progress', obs: obs({ migration: migration('RollingBack', { rollbackReason: 'spec.migration.rollback.all is true', rollbackRequested: true, counts: goingBack, summary: '1/2 rolled back' }) }), phase: 'RollingBack', conditions: progressingC, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  { name: 'requested-rolled-back', situation: 'requested rollback done', obs: obs({ migration: migration('RolledBack', { rollbackReason: 'spec.migration was removed', rollbackRequested: true, counts: allBack, summary: '2/2 rolled back' }) }), phase: 'RolledBack', conditions: readyC, kstatus: 'Current', argocd: 'Healthy', flux: 'Current' },
  { name: 'automatic-rolling-back', situation: 'automatic rollback after a failed gate, in progress', obs: obs({ migration: migration('RollingBack', { rollbackReason: gateFailure, rollbackRequested: false, counts: goingBack, summary: '1/2 rolled back' }) }), phase: 'RollingBack', conditions: stalledC, kstatus: 'Failed', argocd: 'Degraded', flux: 'Failed' },
  { name: 'automatic-rolled-back', situation: 'automatic rollback done', obs: obs({ migration: migration('RolledBack', { rollbackReason: gateFailure, rollbackRequested: false, counts: allBack, summary: '2/2 rolled back' }) }), phase: 'RolledBack', conditions: stalledC, kstatus: 'Failed', argocd: 'Degraded', flux: 'Failed' },
  {
    name: 'failed',
    situation: 'failed gate, its step sent back',
    obs: obs({ migration: migration('Failed', { rollbackReason: 'health gate failed: shop: Deployment web: CrashLoopBackOff', rollbackRequested: false, namespaces: [{ name: 'shop', state: 'RollingBack', step: 1, from: 'default' }] }) }),
    phase: 'Failed',
    conditions: stalledC,
    kstatus: 'Failed',
    argocd: 'Degraded',
    flux: 'Failed',
  },
  { name: 'invalid', situation: 'invalid spec', obs: obs({ invalid: [{ field: 'spec.tags[0]', message: 'must not equal spec.revision' }] }), phase: 'Invalid', conditions: stalledC, kstatus: 'Failed', argocd: 'Degraded', flux: 'Failed' },
  {
    name: 'conflict',
    situation: 'default claimed elsewhere',
    obs: obs({ decision: decision({ conflicts: [{ reason: 'DefaultClaimedElsewhere', field: 'spec.default', value: 'default', holder: 'stable', message: 'spec.default: default is held by MeshRevision stable' }] }) }),
    phase: 'Conflict',
    conditions: stalledC,
    kstatus: 'Failed',
    argocd: 'Degraded',
    flux: 'Failed',
  },
  { name: 'api-error', situation: 'API server call failed', obs: obs({ apiError: 'connect ECONNREFUSED 10.96.0.1:443' }), phase: 'Ready', conditions: { ready: 'Unknown', reconciling: true, stalled: false, failure: true }, kstatus: 'InProgress', argocd: 'Progressing', flux: 'InProgress' },
  {
    name: 'deleting',
    situation: 'being deleted, returning namespaces',
    obs: obs({ mrev: mrev(true), deleting: { blocked: false, returning: true }, migration: migration('RollingBack', { rollbackReason: 'MeshRevision canary is being deleted', rollbackRequested: true, counts: goingBack }) }),
    phase: 'Deleting',
    conditions: progressingC,
    kstatus: 'Terminating',
    argocd: 'Progressing',
    flux: 'InProgress',
  },
  {
    name: 'deletion-blocked',
    situation: 'deletion blocked: revision still in use',
    obs: obs({ mrev: mrev(true), deleting: { blocked: true }, inUse: { namespaces: ['shop'], why: new Map([['shop', ['labelled istio.io/rev=1-21']]]), podCount: 0 } }),
    phase: 'Deleting',
    conditions: progressingC,
    kstatus: 'Terminating',
    argocd: 'Progressing',
    flux: 'InProgress',
  },
];

/** The object as `kubectl get mrev -o json` shows it, with the verdicts expected of it. */
function fixture(row: Row): unknown {
  const status = computeRevisionStatus(row.obs);
  const { mrev: m } = row.obs;
  const object = { ...m, metadata: { ...m.metadata, ...(row.generation !== undefined ? { generation: row.generation } : {}) }, status };
  return { situation: row.situation, expect: { kstatus: row.kstatus, argocd: row.argocd, flux: row.flux }, object };
}

const DIR = 'hack/integrations/testdata';

describe('status contract (README table, hack/integrations fixtures)', () => {
  it('has a row for every situation of the README table but the absent object', () => {
    expect(rows.length).to.be.at.least(19);
  });

  for (const row of rows) {
    it(`${row.situation}: phase ${row.phase}, Ready=${row.conditions.ready}${row.conditions.reconciling ? ', Reconciling' : ''}${row.conditions.stalled ? ', Stalled' : ''}`, () => {
      const s = computeRevisionStatus(row.obs);
      const c = (t: string) => s.conditions?.find((x) => x.type === t);
      expect(s.phase, 'phase').to.equal(row.phase);
      expect(c('Ready')?.status, 'Ready').to.equal(row.conditions.ready);
      expect(c('Reconciling')?.status, 'Reconciling').to.equal(row.conditions.reconciling ? 'True' : undefined);
      expect(c('Stalled')?.status, 'Stalled').to.equal(row.conditions.stalled ? 'True' : undefined);
      expect(s.lastFailure !== undefined, 'lastFailure').to.equal(row.conditions.failure);
      // The verdicts follow from the conditions as the README says (the real evaluators check it in hack/integrations).
      if (row.generation === undefined && row.kstatus !== 'Terminating') {
        expect(row.kstatus).to.equal(row.conditions.reconciling ? 'InProgress' : row.conditions.stalled ? 'Failed' : 'Current');
      }
    });
  }

  it('keeps hack/integrations/testdata in step with what the code writes', () => {
    const dir = repoPath(DIR);
    const write = process.env.MESHREV_WRITE_FIXTURES === '1';
    for (const row of rows) {
      const text = `${JSON.stringify(fixture(row), null, 2)}\n`;
      const file = join(dir, `${row.name}.json`);
      if (write) writeFileSync(file, text);
      else expect(readFileSync(file, 'utf8'), `${file} (regenerate with MESHREV_WRITE_FIXTURES=1)`).to.equal(text);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).sort()).to.deep.equal(rows.map((r) => `${r.name}.json`).sort());
  });
});
