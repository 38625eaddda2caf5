import { expect } from 'chai';
import { CHECK_FAILED, type CheckPhase } from '../../../src/api/health.js';
import { PHASE_FAILED, type Phase } from '../../../src/api/meshrevision.js';
import { MIGRATION_PHASE_FAILED, NS_FAILED, type MigrationPhase, type NamespaceMigrationState } from '../../../src/api/migration.js';

describe('status vocabularies', () => {
  it('write the same word "Failed" to the cluster in all four', () => {
    expect([MIGRATION_PHASE_FAILED, NS_FAILED, CHECK_FAILED, PHASE_FAILED]).to.deep.equal(['Failed', 'Failed', 'Failed', 'Failed']);
  });

  it('keep each vocabulary\'s "Failed" out of the others at compile time, while plain strings read from the cluster still fit', () => {
    // Each @ts-expect-error fails the build if the assignment ever compiles.
    // @ts-expect-error a namespace state is not a migration phase
    const migration: MigrationPhase = NS_FAILED;
    // @ts-expect-error a migration phase is not a namespace state
    const namespace: NamespaceMigrationState = MIGRATION_PHASE_FAILED;
    // @ts-expect-error a check's verdict is not a MeshRevision phase
    const revision: Phase = CHECK_FAILED;
    // @ts-expect-error a MeshRevision phase is not a check's phase
    const check: CheckPhase = PHASE_FAILED;
    const fromCluster: NamespaceMigrationState = 'Failed';
    expect([migration, namespace, revision, check, fromCluster]).to.have.length(5);
  });
});
