import type { V1MutatingWebhookConfiguration, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { CliError } from '../../../src/cli/errors.js';
import { main } from '../../../src/cli/main.js';
import {
  CLEAR_SCREEN,
  FRAME_SEPARATOR,
  parseInterval,
  parseOutputFormat,
  renderStatus,
  runWatch,
  type WatchFrame,
} from '../../../src/cli/commands/status.js';
import {
  buildStatusReport,
  formatStatusText,
  formatTable,
  progressBar,
  runningMigrations,
  watchExitCode,
  type NamespaceRow,
  type StatusInput,
} from '../../../src/cli/status-view.js';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import { recordedResolver } from '../../../src/policy/routing.js';
import type { MigrationStatus } from '../../../src/api/migration.js';

// ---------------------------------------------------------------------------
// Fixtures built in code: a cluster with revision 1-20 (default, tag stable)
// migrating to 1-21 (tag canary), plus a chart-installed 1-18 with tag "old".

function mrev(name: string, opts: {
  default?: boolean;
  tags?: string[];
  activeTags?: string[];
  phase?: string;
  ready?: { status: 'True' | 'False' | 'Unknown'; reason: string };
  inUse?: string;
  migration?: MigrationStatus;
  from?: string[];
} = {}): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name },
    spec: {
      revision: name,
      injector: { service: { name: `istiod-${name}` } },
      ...(opts.default ? { default: true } : {}),
      ...(opts.tags ? { tags: opts.tags } : {}),
      ...(opts.from ? { migration: { from: opts.from } } : {}),
    },
    status: {
      ...(opts.phase ? { phase: opts.phase as 'Ready' } : {}),
      defaultRevision: opts.default === true,
      activeTags: opts.activeTags ?? opts.tags ?? [],
      ...(opts.ready ? { conditions: [{ type: 'Ready', lastTransitionTime: '2024-01-01T00:00:00Z', message: '', ...opts.ready }] } : {}),
      ...(opts.inUse ? { inUse: { summary: opts.inUse } } : {}),
      ...(opts.migration ? { migration: opts.migration } : {}),
    },
  };
}

function ns(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Namespace {
  return { metadata: { name, labels, annotations } };
}

let podSeq = 0;
function pod(namespace: string, rev: string | undefined, opts: { labels?: Record<string, string>; phase?: string; annotations?: Record<string, string> } = {}): V1Pod {
  return {
    metadata: {
      name: `p${++podSeq}`,
      namespace,
      labels: opts.labels ?? {},
      annotations: { ...(rev ? { 'istio.io/rev': rev } : {}), ...(opts.annotations ?? {}) },
    },
    status: { phase: opts.phase ?? 'Running' },
  };
}

const migrating: MigrationStatus = {
  phase: 'Progressing',
  currentStep: 1,
  steps: [{ index: 1, target: 2 }, { index: 2, target: 4 }],
  counts: { eligible: 4, migrated: 1, inProgress: 1, failed: 0, rolledBack: 0 },
  summary: '1/4',
  namespaces: [
    { name: 'shop', state: 'Migrated', step: 1, from: 'default' },
    { name: 'cart', state: 'Migrating', step: 1, from: 'default', message: 'relabelled; restarting workloads' },
    { name: 'pay', state: 'Pending', step: 2, from: 'default' },
  ],
};

function chartWebhook(name: string, rev: string, labels: Record<string, string> = {}, entries: string[] = ['rev.namespace.sidecar-injector.istio.io']): V1MutatingWebhookConfiguration {
  return {
    metadata: { name, labels: { 'istio.io/rev': rev, ...labels } },
    webhooks: entries.map((n) => ({ name: n, sideEffects: 'None', admissionReviewVersions: ['v1'], clientConfig: {} })),
  };
}

function cluster(): StatusInput {
  const origin = JSON.stringify({ meshRevision: '1-21', revision: '1-21', labels: { 'istio-injection': 'enabled' } });
  return {
    meshRevisions: [
      mrev('1-21', { tags: ['canary'], phase: 'Migrating', ready: { status: 'False', reason: 'MigrationProgressing' }, inUse: '3 ns, 4 pods', migration: migrating, from: ['default'] }),
      mrev('1-20', { default: true, tags: ['stable'], phase: 'Ready', ready: { status: 'True', reason: 'WebhookConfigured' }, inUse: '4 ns, 6 pods' }),
    ],
    namespaces: [
      ns('legacy', { 'istio-injection': 'enabled' }),
      ns('shop', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': origin }),
      ns('cart', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': origin }),
      ns('pay', { 'istio-injection': 'enabled' }),
      ns('tagged', { 'istio.io/rev': 'canary' }),
      ns('steady', { 'istio.io/rev': 'stable' }),
      ns('off', { 'istio-injection': 'disabled' }),
      ns('plain'),
      ns('pinned'),
      ns('ghost', { 'istio.io/rev': '1-19' }),
      ns('optout', { 'istio-injection': 'enabled' }),
      ns('oldtag', { 'istio.io/rev': 'old' }),
      ns('ancient'),
      ns('moved-only', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': JSON.stringify({ meshRevision: '1-22', revision: '1-21', labels: {} }) }),
    ],
    pods: [
      pod('legacy', '1-20'), pod('legacy', '1-20'), pod('legacy', '1-19', { phase: 'Succeeded' }),
      pod('shop', '1-21'), pod('shop', '1-21'),
      pod('cart', '1-20'), pod('cart', '1-21'),
      pod('pay', '1-20'),
      pod('tagged', '1-21'),
      pod('steady', '1-20'),
      pod('off', '1-20'), pod('off', undefined),
      pod('plain', undefined),
      pod('pinned', '1-20', { labels: { 'istio.io/rev': 'stable' } }),
      pod('optout', undefined, { labels: { 'sidecar.istio.io/inject': 'false' } }), pod('optout', '1-20'),
      pod('oldtag', '1-18'),
      pod('ancient', '1-17'),
    ],
    webhooks: [
      chartWebhook('istio-revision-tag-old', '1-18', { 'istio.io/tag': 'old' }),
      chartWebhook('istio-sidecar-injector-1-18', '1-18'),
      chartWebhook('meshrev-1-20', '1-20', { 'meshrev.io/meshrevision': '1-20' }, ['namespace.sidecar-injector.istio.io']),
    ],
  };
}

function row(rows: NamespaceRow[], name: string): NamespaceRow {
  const r = rows.find((x) => x.name === name);
  if (!r) throw new Error(`no row for namespace ${name}`);
  return r;
}

describe('cli: meshrev status view', function () {
  describe('revisions', function () {
    it('lists each MeshRevision with default, active tags, phase, Ready, in use and migration summary, sorted by name', function () {
      const { revisions } = buildStatusReport(cluster());
      expect(revisions.slice(0, 2)).to.deep.equal([
        {
          meshRevision: '1-20', revision: '1-20', default: true, tags: ['stable'], phase: 'Ready',
          ready: { status: 'True', reason: 'WebhookConfigured', message: '' }, inUse: '4 ns, 6 pods', migration: null,
        },
        {
          meshRevision: '1-21', revision: '1-21', default: false, tags: ['canary'], phase: 'Migrating',
          ready: { status: 'False', reason: 'MigrationProgressing', message: '' }, inUse: '3 ns, 4 pods', migration: '1/4 Progressing',
        },
      ]);
    });

    it('adds revisions meshrev does not declare: unmanaged webhooks (with their tags) and revisions only pods still name', function () {
      const { revisions } = buildStatusReport(cluster());
      const others = revisions.filter((r) => r.meshRevision === null);
      expect(others.map((r) => [r.revision, r.phase, r.tags, r.inUse])).to.deep.equal([
        ['1-17', 'NoWebhook', [], '1 ns, 1 pods'],
        ['1-18', 'Unmanaged', ['old'], '1 ns, 1 pods'],
      ]);
    });

    it('takes tags from status.activeTags, not spec.tags, so a tag lost in a collision resolves to its holder', function () {
      const holder = mrev('1-20', { tags: ['canary'] });
      const loser = mrev('1-21', { tags: ['canary'], activeTags: [] });
      const resolve = recordedResolver([loser, holder]);
      expect(resolve('canary')).to.equal('1-20');
      expect(resolve('1-21')).to.equal('1-21');
      expect(resolve('nope')).to.equal(undefined);
    });

    it('resolves "default" to the MeshRevision whose status holds the default, not the one that merely asks for it', function () {
      const claimant = mrev('1-21', { default: false });
      claimant.spec.default = true;
      const holder = mrev('1-20', { default: true });
      expect(recordedResolver([claimant, holder])('default')).to.equal('1-20');
      expect(recordedResolver([claimant])('default')).to.equal(undefined);
    });

    it('falls back to an unmanaged webhook holding the upstream default entries when no MeshRevision holds the default', function () {
      const chart = chartWebhook('istio-sidecar-injector', '1-19', {}, ['namespace.sidecar-injector.istio.io', 'object.sidecar-injector.istio.io']);
      expect(recordedResolver([], [chart])('default')).to.equal('1-19');
    });
  });

  describe('namespaces', function () {
    it('resolves istio-injection=enabled through the default revision and tags through the MeshRevision serving them', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'legacy')).to.include({ selects: 'default', revision: '1-20', inSync: true });
      expect(row(namespaces, 'tagged')).to.include({ selects: 'canary', revision: '1-21', inSync: true });
      expect(row(namespaces, 'steady')).to.include({ selects: 'stable', revision: '1-20', inSync: true });
      expect(row(namespaces, 'oldtag')).to.include({ selects: 'old', revision: '1-18', inSync: true });
    });

    it('counts live pods per revision annotation, plus uninjected, ignoring finished pods', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'legacy').pods).to.deep.equal({ '1-20': 2 });
      expect(row(namespaces, 'off').pods).to.deep.equal({ '1-20': 1, uninjected: 1 });
    });

    it('marks a namespace whose pods run a mix of revisions as out of sync, counting the stale pods', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'cart')).to.deep.include({ revision: '1-21', pods: { '1-20': 1, '1-21': 1 }, stalePods: 1, inSync: false });
      expect(row(namespaces, 'shop')).to.include({ stalePods: 0, inSync: true });
    });

    it('marks injected pods in an istio-injection=disabled namespace as stale', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'off')).to.include({ selects: null, revision: null, stalePods: 1, inSync: false });
    });

    it('does not count pods opted out with sidecar.istio.io/inject=false as stale', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'optout')).to.deep.include({ pods: { '1-20': 1, uninjected: 1 }, inSync: true });
    });

    it('marks a namespace labelled for a revision nothing serves as out of sync', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'ghost')).to.include({ selects: '1-19', revision: null, inSync: false });
      expect(formatStatusText(buildStatusReport(cluster()))).to.match(/ghost\s+istio\.io\/rev=1-19\s+1-19\s+\(nothing serves 1-19\)\s+-\s+NO \(unserved\)/);
    });

    it('lists an unlabelled namespace only when its pods are injected, judging pod-level istio.io/rev labels', function () {
      const { namespaces } = buildStatusReport(cluster());
      const names = namespaces.map((n) => n.name);
      expect(names).to.not.include('plain');
      expect(row(namespaces, 'pinned')).to.include({ selects: null, inSync: true });
      expect(row(namespaces, 'ancient')).to.include({ stalePods: 1, inSync: false });
    });

    it('shows each namespace\'s migration state from the MeshRevisions\' status, else from its origin annotation', function () {
      const { namespaces } = buildStatusReport(cluster());
      expect(row(namespaces, 'cart').migration).to.deep.equal({
        meshRevision: '1-21', state: 'Migrating', step: 1, from: 'default', message: 'relabelled; restarting workloads',
      });
      expect(row(namespaces, 'pay').migration).to.include({ meshRevision: '1-21', state: 'Pending', step: 2 });
      expect(row(namespaces, 'moved-only').migration).to.deep.equal({ meshRevision: '1-22', state: 'Moved', from: 'none' });
      // Not listed by the status (pending namespaces are only counted): the migration's plan selects it.
      expect(row(namespaces, 'legacy').migration).to.deep.equal({ meshRevision: '1-21', state: 'Pending', from: 'default' });
      expect(row(namespaces, 'steady').migration).to.equal(null);
    });

    it('reads a moved namespace the bounded status does not list from its origin record and its pods (issue 16)', function () {
      const o = (step: number) => JSON.stringify({ meshRevision: '1-21', revision: '1-21', labels: { 'istio-injection': 'enabled' }, step, movedAt: '2026-12-03T10:00:00Z' });
      const status = (steps: MigrationStatus['steps']): MigrationStatus => ({ phase: 'Progressing', currentStep: 2, steps, counts: { eligible: 3, migrated: 2, inProgress: 0, failed: 0, rolledBack: 0 }, namespaces: [] });
      const input = (steps: MigrationStatus['steps']): StatusInput => ({
        meshRevisions: [mrev('1-21', { phase: 'Migrating', migration: status(steps), from: ['default'] })],
        namespaces: [
          ns('early', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': o(1) }),
          ns('arrived', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': o(2) }),
          ns('rolling', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': o(2) }),
        ],
        pods: [pod('early', '1-20'), pod('arrived', '1-21'), pod('rolling', '1-20'), pod('rolling', '1-21')],
      });
      const { namespaces } = buildStatusReport(input([{ index: 1, target: 1, completedAt: '2026-12-03T10:01:00Z' }, { index: 2, target: 3 }]));
      // Step 1 completed: verified then, whatever its pods do since (an app deploy is not the migration's business).
      expect(row(namespaces, 'early').migration).to.deep.equal({ meshRevision: '1-21', state: 'Migrated', step: 1, from: 'default' });
      expect(row(namespaces, 'arrived').migration).to.include({ state: 'Migrated', step: 2 });
      expect(row(namespaces, 'rolling').migration).to.include({ state: 'Migrating', step: 2 });
      const before = buildStatusReport(input([{ index: 1, target: 1 }, { index: 2, target: 3 }])).namespaces;
      expect(row(before, 'early').migration).to.include({ state: 'Migrating', step: 1 });
    });

    it('reads a returned namespace\'s origin annotation as RollingBack, then RolledBack', function () {
      const o = (extra: Record<string, string>) => JSON.stringify({ meshRevision: '1-22', revision: '1-22', labels: { 'istio.io/rev': '1-20' }, ...extra });
      const { namespaces } = buildStatusReport({
        meshRevisions: [],
        namespaces: [
          ns('returning', { 'istio.io/rev': '1-20' }, { 'meshrev.io/origin': o({ returnedAt: '2024-01-01T00:00:00Z' }) }),
          ns('returned', { 'istio.io/rev': '1-20' }, { 'meshrev.io/origin': o({ returnedAt: '2024-01-01T00:00:00Z', rolledBackAt: '2024-01-01T00:01:00Z' }) }),
        ],
        pods: [],
      });
      expect(namespaces.map((n) => [n.name, n.migration?.state, n.migration?.from])).to.deep.equal([['returned', 'RolledBack', '1-20'], ['returning', 'RollingBack', '1-20']]);
    });

    it('shows only the namespace asked for with -n', function () {
      const { namespaces } = buildStatusReport({ ...cluster(), namespace: 'cart' });
      expect(namespaces.map((n) => n.name)).to.deep.equal(['cart']);
    });

    it('sorts namespaces by name whatever the input order', function () {
      const c = cluster();
      const a = buildStatusReport(c);
      const b = buildStatusReport({ ...c, namespaces: [...c.namespaces].reverse(), pods: [...c.pods].reverse(), meshRevisions: [...c.meshRevisions].reverse() });
      expect(JSON.stringify(b)).to.equal(JSON.stringify(a));
    });
  });

  describe('migrations', function () {
    it('draws a progress bar of migrated over eligible namespaces, full only when all moved', function () {
      expect(progressBar(7, 10)).to.equal('[##############------] 7/10');
      expect(progressBar(7, 10, 10)).to.equal('[#######---] 7/10');
      expect(progressBar(9, 10, 4)).to.equal('[###-] 9/10');
      expect(progressBar(10, 10, 4)).to.equal('[####] 10/10');
      expect(progressBar(0, 0, 4)).to.equal('[----] 0/0');
    });

    it('reports each migration with its counts, phase and current step of steps', function () {
      const { migrations } = buildStatusReport(cluster());
      expect(migrations).to.deep.equal([{
        meshRevision: '1-21', revision: '1-21', from: ['default'], phase: 'Progressing', currentStep: 1, steps: 2,
        counts: { eligible: 4, migrated: 1, inProgress: 1, failed: 0, rolledBack: 0 },
        progress: '[#####---------------] 1/4', outcome: 'running', hint: null,
      }]);
    });

    /** A MeshRevision at generation 3 whose migration status is `st`, observed at `observed` (default: 3). */
    function at(st: MigrationStatus, observed = 3): MeshRevision {
      const m = mrev('1-21', { migration: st, from: ['default'] });
      m.metadata.generation = 3;
      m.status!.observedGeneration = observed;
      return m;
    }
    const steps = [{ index: 1, target: 1 }, { index: 2, target: 2 }, { index: 3, target: 4 }];

    const outcomes: { name: string; st: MigrationStatus; observed?: number; outcome: string; hint: RegExp | null }[] = [
      { name: 'moving namespaces', st: { phase: 'Progressing', currentStep: 1, steps }, outcome: 'running', hint: null },
      { name: 'soaking (timed pause)', st: { phase: 'Paused', currentStep: 1, steps }, outcome: 'running', hint: null },
      { name: 'awaiting promotion', st: { phase: 'AwaitingPromotion', currentStep: 2, steps }, outcome: 'running',
        hint: /^1-21 finished step 2 of 3 and awaits promotion: run "meshrev promote 1-21" to start step 3, or "meshrev rollback 1-21"$/ },
      { name: 'suspended', st: { phase: 'Suspended', currentStep: 2, steps }, outcome: 'running',
        hint: /^1-21 is paused \(spec\.migration\.paused\): run "meshrev resume 1-21" to go on/ },
      { name: 'rolling back', st: { phase: 'RollingBack', rollbackRequested: true }, outcome: 'running', hint: null },
      { name: 'succeeded', st: { phase: 'Succeeded', currentStep: 3, steps }, outcome: 'succeeded', hint: null },
      { name: 'rolled back as asked', st: { phase: 'RolledBack', rollbackRequested: true, rollbackReason: 'requested' }, outcome: 'rolledBack',
        hint: /^1-21 is rolled back as asked; "meshrev retry 1-21" migrates again$/ },
      { name: 'rolled back after a failed gate', st: { phase: 'RolledBack', rollbackRequested: false, rollbackReason: 'health gate failed' }, outcome: 'failed',
        hint: /^1-21 failed and stays stopped: see why with "kubectl describe meshrevision 1-21", fix the cause, then run "meshrev retry 1-21" to migrate again$/ },
      { name: 'failed', st: { phase: 'Failed', currentStep: 2, steps }, outcome: 'failed',
        hint: /then run "meshrev retry 1-21" to migrate again, or "meshrev rollback 1-21" to return every namespace$/ },
      { name: 'succeeded, but for an older spec (a retry or a promotion not yet seen)', st: { phase: 'Succeeded' }, observed: 2, outcome: 'running', hint: null },
      { name: 'failed, but for an older spec', st: { phase: 'Failed' }, observed: 2, outcome: 'running', hint: null },
      { name: 'awaiting promotion, but a promotion not yet seen', st: { phase: 'AwaitingPromotion', currentStep: 1, steps }, observed: 2, outcome: 'running', hint: null },
    ];
    for (const t of outcomes) {
      it(`${t.name}: outcome ${t.outcome}, ${t.hint ? 'a hint naming the command to run' : 'no hint'}`, function () {
        const [m] = buildStatusReport({ meshRevisions: [at(t.st, t.observed)], namespaces: [], pods: [] }).migrations;
        expect(m?.outcome).to.equal(t.outcome);
        if (t.hint === null) expect(m?.hint).to.equal(null);
        else expect(m?.hint).to.match(t.hint);
      });
    }

    it('names the kubectl plugin in hints when run as kubectl meshrev, and prints them as "next:" lines', function () {
      const input = { meshRevisions: [at({ phase: 'Suspended', currentStep: 1, steps })], namespaces: [], pods: [], program: 'kubectl meshrev' };
      const report = buildStatusReport(input);
      expect(report.migrations[0]?.hint).to.contain('run "kubectl meshrev resume 1-21"');
      expect(formatStatusText(report)).to.contain(`\nnext: ${report.migrations[0]?.hint}\n`);
    });

    it('ends --watch once the migrations seen running have ended: 0, or 1 when one of them failed', function () {
      const report = (...sts: MigrationStatus[]) => buildStatusReport({ meshRevisions: sts.map((st, i) => ({ ...at(st), metadata: { name: `m${i}`, generation: 3 } })), namespaces: [], pods: [] });
      const seen = (...names: string[]) => new Set(names);
      expect(watchExitCode(report(), seen()), 'nothing seen running yet: waits for a migration').to.equal(undefined);
      expect(watchExitCode(report({ phase: 'Succeeded' }), seen()), 'only finished ones: still waits').to.equal(undefined);
      expect(watchExitCode(report({ phase: 'Succeeded' }), seen('m0'))).to.equal(0);
      expect(watchExitCode(report({ phase: 'RolledBack', rollbackRequested: true }), seen('m0'))).to.equal(0);
      expect(watchExitCode(report({ phase: 'Succeeded' }, { phase: 'Failed' }), seen('m0')), 'an old failure it did not watch').to.equal(0);
      expect(watchExitCode(report({ phase: 'Succeeded' }, { phase: 'Failed' }), seen('m0', 'm1'))).to.equal(1);
      expect(watchExitCode(report({ phase: 'RolledBack', rollbackRequested: false }), seen('m0'))).to.equal(1);
      expect(watchExitCode(report(), seen('m0')), 'the MeshRevision it watched is gone').to.equal(0);
      expect(watchExitCode(report({ phase: 'Failed' }, { phase: 'AwaitingPromotion' }), seen('m0', 'm1'))).to.equal(undefined);
      expect(watchExitCode(report({ phase: 'Suspended' }), seen('m0'))).to.equal(undefined);
      expect(runningMigrations(report({ phase: 'Succeeded' }, { phase: 'Suspended' }, { phase: 'Progressing' }))).to.deep.equal(['m1', 'm2']);
    });

    it('shows a migration that has no status yet as pending with zero counts', function () {
      const m = mrev('1-22', { from: ['1-21'] });
      delete m.status;
      const { migrations, revisions } = buildStatusReport({ meshRevisions: [m], namespaces: [], pods: [] });
      expect(migrations[0]).to.include({ phase: null, currentStep: null, progress: '[--------------------] 0/0' });
      expect(revisions[0]).to.include({ migration: '0/? Pending', phase: '' });
    });
  });

  describe('output', function () {
    it('prints aligned tables with no trailing spaces', function () {
      expect(formatTable(['A', 'LONG'], [['xyz', ''], ['', 'b']])).to.equal('A    LONG\nxyz\n     b\n');
    });

    it('prints the three tables in text', function () {
      const text = formatStatusText(buildStatusReport(cluster()));
      const lines = text.split('\n');
      expect(lines[0]).to.match(/^MESHREVISION\s+REVISION\s+DEFAULT\s+TAGS\s+PHASE\s+READY\s+IN USE\s+MIGRATION$/);
      expect(text).to.match(/\n1-21\s+1-21\s+no\s+canary\s+Migrating\s+False \(MigrationProgressing\)\s+3 ns, 4 pods\s+1\/4 Progressing\n/);
      expect(text).to.match(/\ncart\s+istio\.io\/rev=1-21\s+1-21\s+1-21\s+1-20: 1, 1-21: 1\s+NO \(1 stale\)\s+1-21: Migrating \(step 1\)\n/);
      expect(text).to.match(/\nlegacy\s+istio-injection=enabled\s+default\s+1-20\s+1-20: 2\s+yes\s+1-21: Pending\n/);
      expect(text).to.match(/\n1-21\s+1-21\s+default\s+\[#####-+\] 1\/4\s+1\s+0\s+Progressing\s+1\/2\n/);
      expect(lines.every((l) => l === l.trimEnd())).to.equal(true);
    });

    it('says when the MeshRevision CRD is not installed', function () {
      const text = formatStatusText(buildStatusReport({ meshRevisions: [], crdInstalled: false, namespaces: [], pods: [] }));
      expect(text).to.contain('meshrevisions.meshrev.io) is not installed');
      expect(text).to.contain('No namespace is labelled for injection');
    });

    it('prints the report as JSON with -o json', function () {
      const json = JSON.parse(renderStatus(cluster(), 'json')) as Record<string, unknown>;
      expect(Object.keys(json)).to.deep.equal(['crdInstalled', 'revisions', 'namespaces', 'migrations']);
      expect(json).to.deep.equal(JSON.parse(JSON.stringify(buildStatusReport(cluster()))));
    });

    it('rejects an unknown output format and a bad interval with exit code 2', function () {
      expect(() => parseOutputFormat('xml')).to.throw(CliError, 'use text, json, yaml').with.property('exitCode', 2);
      expect(() => parseInterval('soon')).to.throw(CliError, '--interval').with.property('exitCode', 2);
      expect(() => parseInterval('10ms')).to.throw(CliError, 'too short');
      expect(parseInterval('2s')).to.equal(2000);
      expect(parseInterval('1m30s')).to.equal(90_000);
    });
  });

  describe('--watch', function () {
    /** A change source and timers under the test's control: nothing runs until the test says so. */
    function harness(frames: (n: number) => WatchFrame | Error) {
      let now = 0;
      const timers: { at: number; fn: () => void }[] = [];
      let changed: () => void = () => undefined;
      let n = 0;
      let out = '';
      const opts = {
        frame: () => {
          const f = frames(++n);
          if (f instanceof Error) throw f;
          return f;
        },
        subscribe: (fn: () => void) => { changed = fn; },
        write: (t: string) => { out += t; },
        intervalMs: 1000,
        tty: false,
        timers: {
          setTimeout: (fn: () => void, ms: number) => { const t = { at: now + ms, fn }; timers.push(t); return t; },
          clearTimeout: (h: unknown) => { timers.splice(timers.indexOf(h as { at: number; fn: () => void }), 1); },
          now: () => now,
        },
      };
      return {
        opts,
        change: () => changed(),
        /** Moves the clock and runs the timers due. */
        advance: (ms: number) => {
          now += ms;
          for (const t of timers.filter((x) => x.at <= now)) {
            timers.splice(timers.indexOf(t), 1);
            t.fn();
          }
        },
        pendingTimers: () => timers.length,
        out: () => out,
        rendered: () => n,
      };
    }

    it('draws a frame at once, then only after a change, at most one per interval, however many changes came', async function () {
      const h = harness((n) => ({ text: `frame ${n}\n` }));
      const done = runWatch({ ...h.opts, maxIterations: 3 });
      expect(h.out()).to.equal('frame 1\n');
      expect(h.pendingTimers(), 'no timer without a change: nothing is polled').to.equal(0);
      h.advance(5000);
      expect(h.rendered()).to.equal(1);
      h.change(); // the last frame is 5 s old: drawn at once
      h.advance(0);
      expect(h.out()).to.equal(`frame 1\n${FRAME_SEPARATOR}frame 2\n`);
      for (let i = 0; i < 50; i++) h.change(); // a burst: one frame, one interval after the last one
      h.advance(999);
      expect(h.rendered()).to.equal(2);
      h.advance(1);
      expect(h.rendered()).to.equal(3);
      expect(await done).to.deep.equal({ frames: 3, exitCode: 0 });
      expect(h.out()).to.not.contain('\x1b');
    });

    it('skips a frame identical to the last one drawn (a pod status change the report does not show)', async function () {
      const texts = ['a\n', 'a\n', 'b\n'];
      const h = harness((n) => ({ text: texts[n - 1] ?? 'c\n' }));
      const done = runWatch({ ...h.opts, maxIterations: 2 });
      h.change();
      h.advance(1000);
      expect(h.out()).to.equal('a\n');
      h.change();
      h.advance(1000);
      expect(h.out()).to.equal(`a\n${FRAME_SEPARATOR}b\n`);
      expect((await done).frames).to.equal(2);
    });

    it('ends with the exit code a frame carries, after drawing it', async function () {
      const h = harness((n) => (n < 2 ? { text: 'running\n' } : { text: 'failed\n', exitCode: 1 }));
      const done = runWatch(h.opts);
      h.change();
      h.advance(1000);
      expect(await done).to.deep.equal({ frames: 2, exitCode: 1 });
      expect(h.out()).to.equal(`running\n${FRAME_SEPARATOR}failed\n`);
      h.change();
      expect(h.pendingTimers(), 'nothing scheduled once ended').to.equal(0);
    });

    it('clears the screen and prints the header before each frame on a terminal; no separator in JSON Lines', async function () {
      const h = harness((n) => ({ text: `{"n":${n}}\n` }));
      const tty = runWatch({ ...h.opts, tty: true, header: () => 'HDR', maxIterations: 2 });
      h.change();
      h.advance(1000);
      await tty;
      expect(h.out()).to.equal(`${CLEAR_SCREEN}HDR\n\n{"n":1}\n${CLEAR_SCREEN}HDR\n\n{"n":2}\n`);
      const j = harness((n) => ({ text: `{"n":${n}}\n` }));
      const json = runWatch({ ...j.opts, separator: '', maxIterations: 2 });
      j.change();
      j.advance(1000);
      await json;
      expect(j.out()).to.equal('{"n":1}\n{"n":2}\n');
    });

    it('stops on its signal (SIGINT) with exit code 0, also with a frame scheduled', async function () {
      const h = harness(() => ({ text: 'f\n' }));
      const abort = new AbortController();
      const done = runWatch({ ...h.opts, signal: abort.signal });
      h.change();
      abort.abort();
      expect(await done).to.deep.equal({ frames: 1, exitCode: 0 });
      expect(h.pendingTimers()).to.equal(0);
    });

    it('shows a frame that failed to render and keeps watching', async function () {
      const h = harness((n) => (n === 1 ? new CliError('namespace shop does not exist') : { text: 'ok\n' }));
      const done = runWatch({ ...h.opts, maxIterations: 2 });
      h.change();
      h.advance(1000);
      await done;
      expect(h.out()).to.equal(`error: namespace shop does not exist\n${FRAME_SEPARATOR}ok\n`);
    });
  });

  describe('command line', function () {
    async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const saved = process.exitCode;
      const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
      process.exitCode = saved;
      return { code, out, err };
    }

    it('lists status and plan in meshrev --help', async function () {
      const r = await run('--help');
      expect(r.code).to.equal(0);
      expect(r.out).to.match(/^\s+status\b/m).and.match(/^\s+plan\b/m);
    });

    it('fails with exit code 2 on an unknown -o before reading the cluster', async function () {
      const r = await run('status', '-o', 'xml', '--kubeconfig', '/nonexistent/kubeconfig');
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('"xml" is not a format');
    });

    it('hides --max-iterations from status --help', async function () {
      const r = await run('status', '--help');
      expect(r.out).to.contain('--watch').and.contain('--interval').and.contain('--keep-watching').and.not.contain('--max-iterations');
    });

    it('refuses --keep-watching without --watch with exit code 2, before reading the cluster', async function () {
      const r = await run('status', '--keep-watching', '--kubeconfig', '/nonexistent/kubeconfig');
      expect(r.code).to.equal(2);
      expect(r.err).to.equal('error: --keep-watching needs --watch\n');
    });
  });
});
