import { expect } from 'chai';
import { parse } from 'yaml';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import type { MigrationSpec, MigrationStatus } from '../../../src/api/migration.js';
import { CliError } from '../../../src/cli/errors.js';
import { buildSteeringChange, detectGitOpsOwner, formatGitOpsWarning, gitOpsSnippet } from '../../../src/cli/steering.js';

function mrev(migration: Partial<MigrationSpec> | undefined, status?: MigrationStatus, metadata: MeshRevision['metadata'] = {}): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: 'canary', resourceVersion: '42', generation: 3, ...metadata },
    spec: { revision: '1-22', ...(migration ? { migration: { from: ['1-21'], ...migration } } : {}) },
    ...(status ? { status: { migration: status } } : {}),
  };
}

/** The CliError a call throws (fails the test when it throws nothing else). */
function cliError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
}

describe('cli: day-2 verbs as merge patches of spec.migration', function () {
  it('pause sets paused: true, with the resourceVersion read so a concurrent change fails instead of being overwritten', function () {
    const c = buildSteeringChange(mrev({}), { verb: 'pause' });
    expect(c.patch).to.deep.equal({ metadata: { resourceVersion: '42' }, spec: { migration: { paused: true } } });
    expect(c.changes).to.deep.equal(['spec.migration.paused: (unset) → true']);
    expect(c.after).to.deep.equal({ from: ['1-21'], paused: true });
  });

  it('resume sets paused: false', function () {
    const c = buildSteeringChange(mrev({ paused: true }), { verb: 'resume' });
    expect(c.patch['spec']).to.deep.equal({ migration: { paused: false } });
    expect(c.changes).to.deep.equal(['spec.migration.paused: true → false']);
  });

  it('a verb that changes nothing has an empty patch and says what the spec already says', function () {
    const c = buildSteeringChange(mrev({ paused: true }), { verb: 'pause' });
    expect(c.patch).to.deep.equal({});
    expect(c.changes).to.deep.equal([]);
    expect(c.unchanged).to.deep.equal(['spec.migration.paused is already true']);
  });

  it('promote sets promotedStep to the step awaiting promotion (status.migration.currentStep)', function () {
    const c = buildSteeringChange(mrev({ promotedStep: 1 }, { phase: 'AwaitingPromotion', currentStep: 2 }), { verb: 'promote' });
    expect(c.patch['spec']).to.deep.equal({ migration: { promotedStep: 2 } });
    expect(c.changes).to.deep.equal(['spec.migration.promotedStep: 1 → 2']);
  });

  it('promote refuses when no step awaits promotion, naming the phase', function () {
    const e = cliError(() => buildSteeringChange(mrev({}, { phase: 'Progressing', currentStep: 1 }), { verb: 'promote' }));
    expect(e.exitCode).to.equal(1);
    expect(e.message).to.equal('MeshRevision canary has no step awaiting promotion (migration phase: Progressing)');
    expect(e.hint).to.contain('--step');
  });

  it('promote --step promotes that step whatever the phase', function () {
    const c = buildSteeringChange(mrev({}, { phase: 'Progressing', currentStep: 1 }), { verb: 'promote', step: 3 });
    expect(c.patch['spec']).to.deep.equal({ migration: { promotedStep: 3 } });
  });

  it('promote never lowers promotedStep: an earlier step, or a repeat while status still shows the old step, changes nothing', function () {
    const lower = buildSteeringChange(mrev({ promotedStep: 3 }, { phase: 'Progressing', currentStep: 3 }), { verb: 'promote', step: 2 });
    expect(lower.patch).to.deep.equal({});
    expect(lower.unchanged).to.deep.equal(['spec.migration.promotedStep is already 3']);
    const repeat = buildSteeringChange(mrev({ promotedStep: 2 }, { phase: 'AwaitingPromotion', currentStep: 2 }), { verb: 'promote' });
    expect(repeat.changes).to.deep.equal([]);
  });

  it('rollback without namespaces sets rollback.all and drops a namespace list (the CRD allows one or the other)', function () {
    const c = buildSteeringChange(mrev({ rollback: { namespaces: ['a'] } }), { verb: 'rollback' });
    expect(c.patch['spec']).to.deep.equal({ migration: { rollback: { all: true, namespaces: null } } });
    expect(c.after.rollback).to.deep.equal({ all: true });
    expect(c.changes).to.deep.equal(['spec.migration.rollback: {"namespaces":["a"]} → {"all":true}']);
  });

  it('rollback --namespaces adds to the namespaces already listed', function () {
    const c = buildSteeringChange(mrev({ rollback: { namespaces: ['a', 'b'] } }), { verb: 'rollback', namespaces: ['b', 'c'] });
    expect(c.patch['spec']).to.deep.equal({ migration: { rollback: { namespaces: ['a', 'b', 'c'] } } });
  });

  it('rollback --namespaces refuses when every namespace is already rolling back', function () {
    const e = cliError(() => buildSteeringChange(mrev({ rollback: { all: true } }), { verb: 'rollback', namespaces: ['a'] }));
    expect(e.message).to.contain('already rolls back every namespace');
    expect(e.hint).to.equal('run meshrev retry canary to migrate again');
  });

  it('retry removes a requested rollback (a spec change: a new generation starts the migration again)', function () {
    const c = buildSteeringChange(mrev({ rollback: { all: true } }, { phase: 'RolledBack' }), { verb: 'retry' });
    expect(c.patch['spec']).to.deep.equal({ migration: { rollback: null } });
    expect(c.after).to.deep.equal({ from: ['1-21'] });
    expect(c.changes).to.deep.equal(['spec.migration.rollback: {"all":true} → (unset)']);
  });

  it('retry of a failed migration without a rollback sets rollback: {all: false}, a spec change that asks for nothing', function () {
    // Not paused unset ↔ false: the CRD defaults paused to false, so that change would be no change.
    const c = buildSteeringChange(mrev({ paused: false }, { phase: 'Failed' }), { verb: 'retry' });
    expect(c.patch['spec']).to.deep.equal({ migration: { rollback: { all: false } } });
    expect(c.changes).to.deep.equal(['spec.migration.rollback: (unset) → {"all":false}']);
    // The next retry removes it again.
    expect(buildSteeringChange(mrev({ rollback: { all: false } }, { phase: 'Failed' }), { verb: 'retry' }).patch['spec'])
      .to.deep.equal({ migration: { rollback: null } });
  });

  it('retry refuses a migration that has not failed, and a paused one (resume is the retry then)', function () {
    expect(cliError(() => buildSteeringChange(mrev({}, { phase: 'Progressing' }), { verb: 'retry' })).message)
      .to.equal('MeshRevision canary has nothing to retry: its migration is Progressing, not Failed or RolledBack');
    expect(cliError(() => buildSteeringChange(mrev({ paused: true }, { phase: 'Failed' }), { verb: 'retry' })).hint)
      .to.equal('run meshrev resume canary: that spec change also retries');
  });

  it('every verb refuses a MeshRevision without spec.migration', function () {
    for (const verb of ['promote', 'pause', 'resume', 'rollback', 'retry'] as const) {
      expect(cliError(() => buildSteeringChange(mrev(undefined), { verb })).message).to.contain('has no spec.migration');
    }
  });

  it('--namespaces on another verb is a usage error (exit 2)', function () {
    expect(cliError(() => buildSteeringChange(mrev({}), { verb: 'pause', namespaces: ['a'] })).exitCode).to.equal(2);
  });

  it('the snippet to commit is the object identity and spec.migration after the change', function () {
    const m = mrev({ steps: [{ percent: 50, pause: 'indefinite' }] }, { phase: 'AwaitingPromotion', currentStep: 1 });
    const c = buildSteeringChange(m, { verb: 'promote' });
    expect(parse(gitOpsSnippet(m, c.after))).to.deep.equal({
      apiVersion: 'meshrev.io/v1alpha1',
      kind: 'MeshRevision',
      metadata: { name: 'canary' },
      spec: { migration: { from: ['1-21'], steps: [{ percent: 50, pause: 'indefinite' }], promotedStep: 1 } },
    });
  });
});

describe('cli: detecting Argo CD and Flux ownership', function () {
  const meta = (m: MeshRevision['metadata']) => ({ metadata: m });

  it('finds Flux by its kustomize-controller and helm-controller labels', function () {
    expect(detectGitOpsOwner(meta({ labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } })))
      .to.deep.equal({ tool: 'Flux', evidence: 'label kustomize.toolkit.fluxcd.io/name=apps' });
    expect(detectGitOpsOwner(meta({ labels: { 'helm.toolkit.fluxcd.io/name': 'mesh' } }))?.tool).to.equal('Flux');
  });

  it('finds Argo CD by its tracking annotation', function () {
    expect(detectGitOpsOwner(meta({ annotations: { 'argocd.argoproj.io/tracking-id': 'mesh:meshrev.io/MeshRevision:/canary' } })))
      .to.deep.equal({ tool: 'Argo CD', evidence: 'annotation argocd.argoproj.io/tracking-id=mesh:meshrev.io/MeshRevision:/canary' });
  });

  it('finds Argo CD by app.kubernetes.io/instance only next to an argocd.argoproj.io/ key (Helm sets that label too)', function () {
    expect(detectGitOpsOwner(meta({ labels: { 'app.kubernetes.io/instance': 'mesh' }, annotations: { 'argocd.argoproj.io/sync-wave': '1' } }))?.tool)
      .to.equal('Argo CD');
    expect(detectGitOpsOwner(meta({ labels: { 'app.kubernetes.io/instance': 'mesh', 'app.kubernetes.io/managed-by': 'Helm' } }))).to.equal(null);
  });

  it('finds either by the field managers of server-side apply', function () {
    const managed = (manager: string) => meta({ managedFields: [{ manager: 'kubectl-edit', operation: 'Update' }, { manager, operation: 'Apply' }] });
    expect(detectGitOpsOwner(managed('argocd-controller'))).to.deep.equal({ tool: 'Argo CD', evidence: 'field manager argocd-controller' });
    expect(detectGitOpsOwner(managed('kustomize-controller'))?.tool).to.equal('Flux');
    expect(detectGitOpsOwner(managed('helm-controller'))?.tool).to.equal('Flux');
    expect(detectGitOpsOwner(managed('meshrev-cli'))).to.equal(null);
  });

  it('finds nothing on a hand-applied object', function () {
    expect(detectGitOpsOwner(meta({ name: 'canary', labels: { team: 'mesh' } }))).to.equal(null);
  });

  it('warns that the next sync reverts the change and indents the YAML to commit', function () {
    const text = formatGitOpsWarning({ tool: 'Flux', evidence: 'label kustomize.toolkit.fluxcd.io/name=apps' }, 'kind: MeshRevision\nspec:\n  x: 1\n');
    expect(text).to.equal(
      'warning: Flux manages this MeshRevision (label kustomize.toolkit.fluxcd.io/name=apps): its next sync reverts this change to what Git says.\n' +
      'Commit this to Git instead (spec.migration as it reads after the change):\n\n' +
      '    kind: MeshRevision\n    spec:\n      x: 1\n\n',
    );
  });
});
