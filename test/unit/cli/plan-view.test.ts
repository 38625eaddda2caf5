import type { V1Deployment, V1Namespace, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MeshRevision } from '../../../src/api/meshrevision.js';
import { readMeshRevisionFile } from '../../../src/cli/commands/plan.js';
import { CliError } from '../../../src/cli/errors.js';
import { main } from '../../../src/cli/main.js';
import { buildPlan, formatPlanText, planJson, type PlanInput, type PlanJson } from '../../../src/cli/plan-view.js';
import { readSnapshot, snapshotNote } from '../../../src/cli/snapshot.js';
import { repoPath } from '../../support/repo.js';
import type { Workload } from '../../../src/api/workload.js';

// ---------------------------------------------------------------------------
// Fixtures built in code: namespaces on the default revision (1-20) and on a
// tag, one already moved by this MeshRevision, and some that never move.

const NOW = new Date('2024-05-01T12:00:00Z');

function target(migration: MeshRevision['spec']['migration']): MeshRevision {
  return {
    apiVersion: 'meshrev.io/v1alpha1',
    kind: 'MeshRevision',
    metadata: { name: '1-21' },
    spec: { revision: '1-21', injector: { service: { name: 'istiod-1-21' } }, ...(migration ? { migration } : {}) },
  };
}

function ns(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Namespace {
  return { metadata: { name, labels, annotations } };
}

function pod(namespace: string, name: string, opts: { app?: string; rev?: string; owner?: { kind: string; name: string } } = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace,
      labels: opts.app ? { app: opts.app } : {},
      annotations: opts.rev ? { 'istio.io/rev': opts.rev } : {},
      ...(opts.owner ? { ownerReferences: [{ apiVersion: 'v1', kind: opts.owner.kind, name: opts.owner.name, uid: 'u', controller: true }] } : {}),
    },
    status: { phase: 'Running' },
  };
}

function deployment(namespace: string, name: string, tmpl: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Workload {
  const d: V1Deployment = {
    metadata: { name, namespace, generation: 1 },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, ...(tmpl.labels ?? {}) }, annotations: tmpl.annotations ?? {} }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
  return { ...d, kind: 'Deployment' };
}

function statefulSet(namespace: string, name: string, tmplLabels: Record<string, string> = {}): Workload {
  const s: V1StatefulSet = {
    metadata: { name, namespace, generation: 1 },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, ...tmplLabels } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    },
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, currentRevision: 'r1', updateRevision: 'r1' },
  };
  return { ...s, kind: 'StatefulSet' };
}

const origin = JSON.stringify({ meshRevision: '1-21', revision: '1-21', labels: { 'istio-injection': 'enabled' } });

function input(migration: MeshRevision['spec']['migration'] = { from: ['default', 'stable'], steps: [{ namespaces: 1, pause: '30s' }, { percent: 100 }] }): PlanInput {
  return {
    meshRevision: target(migration),
    now: NOW,
    namespaces: [
      ns('shop', { 'istio-injection': 'enabled' }),
      ns('cart', { 'istio.io/rev': 'stable' }),
      ns('early', { 'istio.io/rev': '1-21' }, { 'meshrev.io/origin': origin }),
      ns('pinned-rev', { 'istio.io/rev': '1-19' }),
      ns('off', { 'istio-injection': 'disabled' }),
      ns('done', { 'istio.io/rev': '1-21' }),
      ns('kube-system', { 'istio-injection': 'enabled' }),
      ns('plain'),
      ns('other-plain'),
    ],
    workloads: [
      deployment('shop', 'web'),
      deployment('shop', 'legacy', { labels: { 'sidecar.istio.io/inject': 'false' } }),
      statefulSet('shop', 'db', { 'istio.io/rev': '1-20' }),
      deployment('cart', 'api'),
      deployment('early', 'front'),
    ],
    pods: [
      pod('shop', 'web-1', { app: 'web', rev: '1-20', owner: { kind: 'ReplicaSet', name: 'web-abc' } }),
      pod('shop', 'legacy-1', { app: 'legacy', owner: { kind: 'ReplicaSet', name: 'legacy-abc' } }),
      pod('shop', 'db-0', { app: 'db', rev: '1-20', owner: { kind: 'StatefulSet', name: 'db' } }),
      pod('shop', 'debug', { rev: '1-20' }),
      pod('shop', 'batch-x', { rev: '1-20', owner: { kind: 'Job', name: 'batch' } }),
      pod('cart', 'api-1', { app: 'api', rev: '1-20', owner: { kind: 'ReplicaSet', name: 'api-abc' } }),
      pod('early', 'front-1', { app: 'front', rev: '1-21', owner: { kind: 'ReplicaSet', name: 'front-abc' } }),
    ],
    clusterMeshRevisions: [
      {
        metadata: { name: '1-20' },
        spec: { revision: '1-20', default: true, tags: ['stable'], injector: { service: { name: 'istiod-1-20' } } },
        status: { defaultRevision: true, activeTags: ['stable'] },
      },
    ],
  };
}

const NO_CONTROLLER = 'has no controller, not deleted (it would not come back): recreate it yourself to move it';

describe('cli: meshrev plan view', function () {
  it('prints exactly the documented JSON shape: steps with namespaces, restarts, skipped workloads and reported pods; then skipped namespaces', function () {
    expect(planJson(buildPlan(input()))).to.deep.equal({
      steps: [
        {
          index: 1,
          target: 1,
          pause: '30s',
          namespaces: [{ name: 'early', from: 'default', restart: [], skipped: [], reported: [] }],
        },
        {
          index: 2,
          target: 3,
          pause: null,
          namespaces: [
            { name: 'cart', from: 'stable', restart: ['Deployment/api'], skipped: [], reported: [] },
            {
              name: 'shop',
              from: 'default',
              restart: ['Deployment/web'],
              skipped: [
                { name: 'Deployment/legacy', reason: 'opted out (sidecar.istio.io/inject: "false")' },
                { name: 'StatefulSet/db', reason: 'pinned by its pod template\'s istio.io/rev=1-20' },
              ],
              reported: [
                { name: 'batch-x', reason: 'owned by Job batch, not restarted: recreate it through its controller to move it' },
                { name: 'debug', reason: NO_CONTROLLER },
              ],
            },
          ],
        },
      ],
      skipped: [
        { namespace: 'done', reason: 'already on 1-21' },
        { namespace: 'kube-system', reason: 'system namespace' },
        { namespace: 'off', reason: 'istio-injection=disabled' },
        { namespace: 'other-plain', reason: 'no injection label' },
        { namespace: 'pinned-rev', reason: 'on 1-19, not in spec.migration.from' },
        { namespace: 'plain', reason: 'no injection label' },
      ],
      // 'early' is already relabelled and on 1-21: step 1 is complete now, and its 30s soak starts.
      now: {
        phase: 'Paused',
        start: [],
        restart: [],
        held: 'soaking after step 1 until 2024-05-01T12:00:30.000Z',
        waitingFor: ['the injector of 1-21 to answer (checked before anything moves)'],
      },
    });
  });

  describe('now: the operator\'s next decision', function () {
    const live = (migration: Partial<NonNullable<MeshRevision['spec']['migration']>>, status?: MeshRevision['status']): PlanInput => {
      const i = input();
      const spec = { ...i.meshRevision.spec, migration: { ...i.meshRevision.spec.migration!, ...migration } };
      i.meshRevision = { ...i.meshRevision, spec };
      i.clusterMeshRevisions = [...(i.clusterMeshRevisions ?? []), { ...i.meshRevision, metadata: { ...i.meshRevision.metadata, generation: 4, uid: 'u' }, ...(status ? { status } : {}) }];
      return i;
    };

    it('names the namespaces a fresh migration would start and what it checks first', function () {
      const i = input();
      i.namespaces = i.namespaces.filter((n) => n.metadata?.name !== 'early');
      const now = buildPlan(i).now;
      expect(now.phase).to.equal('Progressing');
      expect(now.start).to.deep.equal(['cart']);
      expect(now.held).to.equal(null);
      expect(now.waitingFor).to.deep.equal(['the injector of 1-21 to answer (checked before anything moves)']);
    });

    it('says a suspended live migration is held by spec.migration.paused', function () {
      const now = buildPlan(live({ paused: true })).now;
      expect(now.phase).to.equal('Suspended');
      expect(now.start).to.deep.equal([]);
      expect(now.held).to.contain('spec.migration.paused is true');
    });

    it('says which promotedStep a migration awaiting promotion needs', function () {
      const now = buildPlan(live({ steps: [{ namespaces: 1, pause: 'indefinite' }] })).now;
      expect(now.phase).to.equal('AwaitingPromotion');
      expect(now.held).to.contain('set spec.migration.promotedStep to 1');
    });

    it('says a failed migration of this generation holds until the spec changes, and a changed spec starts clean', function () {
      const failed = { migration: { generation: 4, phase: 'Failed' as const, rollbackReason: 'health gate failed: shop' } };
      const held = buildPlan(live({}, failed)).now;
      expect(held.phase).to.equal('Failed');
      expect(held.held).to.contain('health gate failed: shop');
      const i = live({}, failed);
      i.meshRevision = { ...i.meshRevision, spec: { ...i.meshRevision.spec, migration: { ...i.meshRevision.spec.migration!, maxConcurrentNamespaces: 2 } } };
      expect(buildPlan(i).now.phase).to.not.equal('Failed');
    });
  });

  it('is deterministic: the same cluster listed in another order gives the same JSON', function () {
    const a = input();
    const b: PlanInput = { ...a, namespaces: [...a.namespaces].reverse(), pods: [...a.pods].reverse(), workloads: [...a.workloads].reverse() };
    expect(JSON.stringify(planJson(buildPlan(b)))).to.equal(JSON.stringify(planJson(buildPlan(a))));
  });

  it('puts namespaces this MeshRevision already moved first, so they count toward the earliest step', function () {
    const report = buildPlan(input());
    expect(report.steps[0]?.namespaces.map((n) => [n.name, n.moved])).to.deep.equal([['early', true]]);
    expect(report.steps[0]?.namespaces[0]?.done).to.deep.equal(['Deployment/front']);
  });

  it('implies a final 100% step when the written steps stop short', function () {
    const report = buildPlan(input({ from: ['default', 'stable'], steps: [{ namespaces: 1, pause: 'indefinite' }] }));
    expect(planJson(report).steps.map((s) => [s.index, s.target, s.pause])).to.deep.equal([[1, 1, 'indefinite'], [2, 3, null]]);
  });

  it('leaves out namespaces outside spec.migration.namespaceSelector', function () {
    const i = input({ from: ['default', 'stable'], namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } });
    const json = planJson(buildPlan(i));
    expect(json.steps.flatMap((s) => s.namespaces.map((n) => n.name))).to.deep.equal(['early', 'shop']);
    expect(json.skipped).to.deep.include({ namespace: 'cart', reason: 'outside spec.migration.namespaceSelector' });
  });

  it('names the revision behind each from value and notes a MeshRevision not yet in the cluster', function () {
    const report = buildPlan(input());
    expect(report.from).to.deep.equal([{ value: 'default', revision: '1-20' }, { value: 'stable', revision: '1-20' }]);
    expect(report.notes).to.deep.equal(['MeshRevision 1-21 is not in the cluster yet: applying the file starts this plan.']);
  });

  it('warns when another MeshRevision already declares the same revision', function () {
    const i = input();
    i.clusterMeshRevisions = [...(i.clusterMeshRevisions ?? []), { metadata: { name: 'canary' }, spec: { revision: '1-21', injector: { service: { name: 'x' } } } }];
    expect(buildPlan(i).notes.join('\n')).to.contain('MeshRevision canary already declares revision 1-21');
  });

  it('prints each step with its namespaces, what restarts, what is left alone and why, and reported pods', function () {
    const text = formatPlanText(buildPlan(input()));
    expect(text).to.contain('MeshRevision 1-21: move 3 namespaces to revision 1-21 in 2 steps, from default (istio-injection=enabled) → 1-20; stable → 1-20\n');
    expect(text).to.contain('Step 1: 1 namespace (1/3 in all), then soak 30s\n  early  from default  (already relabelled)\n    done    Deployment/front (already on 1-21)\n');
    expect(text).to.contain('Step 2: 2 namespaces (3/3 in all)\n  cart  from stable\n    restart Deployment/api\n  shop  from default\n    restart Deployment/web\n');
    expect(text).to.contain('    leave   Deployment/legacy: opted out (sidecar.istio.io/inject: "false")\n');
    expect(text).to.contain(`    report  pod debug: ${NO_CONTROLLER}\n`);
    expect(text).to.match(/Not migrated:\n {2}NAMESPACE\s+REASON\n {2}done\s+already on 1-21\n/);
    expect(text).to.contain('  and 2 namespaces with no injection label (-o json lists them)\n');
    expect(text).to.not.match(/^ {2}plain\b/m);
  });

  it('says when nothing would move', function () {
    const i = input({ from: ['1-5'] });
    i.namespaces = i.namespaces.filter((n) => n.metadata?.name !== 'early');
    expect(formatPlanText(buildPlan(i))).to.contain('No namespace would move.');
    expect(planJson(buildPlan(i)).steps).to.deep.equal([{ index: 1, target: 0, pause: null, namespaces: [] }]);
  });

  describe('reading the file', function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'meshrev-plan-'));
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });
    const file = (name: string, obj: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, typeof obj === 'string' ? obj : stringify(obj));
      return p;
    };

    async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const saved = process.exitCode;
      const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
      process.exitCode = saved;
      return { code, out, err };
    }

    it('rejects an invalid MeshRevision with exit code 1 (bad input, not usage), naming each field, without reading the cluster', async function () {
      const bad = target({ from: ['default'], steps: [{ percent: 150 }] });
      (bad.spec as unknown as Record<string, unknown>)['revison'] = 'typo';
      // A kubeconfig that does not exist: reading the cluster would fail with another message.
      const r = await run('plan', '-f', file('bad.yaml', bad), '--kubeconfig', join(dir, 'missing-kubeconfig'));
      expect(r.code).to.equal(1);
      expect(r.out).to.equal('');
      expect(r.err).to.contain('bad.yaml is not a valid MeshRevision (2 errors):');
      expect(r.err).to.match(/ {2}spec\.revison: unknown field "revison".*did you mean "revision"\?/);
      expect(r.err).to.match(/ {2}spec\.migration\.steps\[0\]\.percent: /);
      expect(r.err).to.not.contain('kubeconfig');
    });

    it('rejects a MeshRevision without spec.migration with exit code 2', function () {
      expect(() => readMeshRevisionFile(stringify(target(undefined)), 'm.yaml'))
        .to.throw(CliError, 'm.yaml: MeshRevision 1-21 has no spec.migration: nothing to plan').with.property('exitCode', 1);
    });

    it('picks the MeshRevision out of a multi-document file and refuses two', function () {
      const m = stringify(target({ from: ['default'] }));
      const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n';
      expect(readMeshRevisionFile(`${ns}---\n${m}`, 'f').metadata.name).to.equal('1-21');
      expect(() => readMeshRevisionFile(`${m}---\n${m}`, 'f')).to.throw(CliError, '2 MeshRevisions found');
      expect(() => readMeshRevisionFile(ns + '---\n' + ns, 'f')).to.throw(CliError, 'no MeshRevision found');
      expect(() => readMeshRevisionFile('a: [', 'f')).to.throw(CliError, 'invalid YAML').with.property('exitCode', 1);
    });

    it('reports a file that does not exist', async function () {
      const r = await run('plan', '-f', join(dir, 'nope.yaml'));
      expect(r.code).to.equal(1);
      expect(r.err).to.contain('nope.yaml: no such file or directory');
    });
  });

  describe('offline: --namespaces-from a snapshot of the cluster', function () {
    // `kubectl get namespaces,deployments,statefulsets,daemonsets,pods,meshrevisions,mutatingwebhookconfigurations -A -o yaml`
    // of a local cluster: shop (istio-injection=enabled: web, and batch opted out), cart (istio.io/rev=stable: StatefulSet db
    // and a bare pod), legacy (disabled), and MeshRevision 1-20 holding the default and tag stable.
    const fixture = repoPath('test/unit/cli/testdata/cluster-snapshot.yaml');
    const mrevYaml = stringify(target({ from: ['default', 'stable'], steps: [{ namespaces: 1, pause: '30s' }, { percent: 100 }] }));
    let dir: string;
    let savedKubeconfig: string | undefined;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'meshrev-snapshot-'));
      savedKubeconfig = process.env['KUBECONFIG'];
      // Any attempt to load credentials would fail on this: the offline path must not make one.
      process.env['KUBECONFIG'] = join(dir, 'no-such-kubeconfig');
    });
    after(function () {
      if (savedKubeconfig === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = savedKubeconfig;
      rmSync(dir, { recursive: true, force: true });
    });
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const saved = process.exitCode;
      const code = await main(args, { writeOut: (t) => { out += t; }, writeErr: (t) => { err += t; } });
      process.exitCode = saved;
      return { code, out, err };
    }

    it('plans from a kubectl snapshot with no cluster and no credentials: steps, restarts, skipped workloads, reported pods', async function () {
      const r = await run('plan', '-f', file('mrev.yaml', mrevYaml), '--namespaces-from', fixture, '-o', 'json');
      expect(r.code, r.err).to.equal(0);
      const plan = JSON.parse(r.out) as PlanJson;
      expect(plan.steps.map((s) => s.namespaces.map((n) => n.name))).to.deep.equal([['cart'], ['shop']]);
      expect(plan.steps[0]?.namespaces[0]).to.deep.include({ from: 'stable', restart: ['StatefulSet/db'], skipped: [], reported: [{ name: 'debug', reason: NO_CONTROLLER }] });
      expect(plan.steps[1]?.namespaces[0]).to.deep.include({ from: 'default', restart: ['Deployment/web'] });
      expect(plan.steps[1]?.namespaces[0]?.skipped.map((x) => x.name)).to.deep.equal(['Deployment/batch']);
      expect(plan.skipped).to.deep.include({ namespace: 'legacy', reason: 'istio-injection=disabled' });
      expect(plan.now).to.deep.include({ phase: 'Progressing', start: ['cart'] });
    });

    it('says in text that it planned offline, from what, and that the cluster may have changed', async function () {
      const r = await run('plan', '-f', file('mrev.yaml', mrevYaml), '--namespaces-from', fixture);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.contain(`note: Planned offline from ${fixture}: 8 namespaces, 5 workloads, 8 pods, 1 MeshRevision; the cluster may have changed since.`);
      expect(r.out).to.match(/from default \(istio-injection=enabled\) → 1-20; stable → 1-20/);
    });

    it('reads a stream of objects and Lists, YAML or JSON, and counts the kinds it leaves out', function () {
      const objs = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { 'istio-injection': 'enabled' } } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'a' } },
      ];
      const list = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'r', namespace: 'a' } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }] };
      const yaml = readSnapshot(`${stringify(objs[0])}---\n${stringify(objs[1])}---\n${stringify(list)}`, 'x.yaml');
      expect(yaml.namespaces.map((n) => n.metadata?.name)).to.deep.equal(['a', 'b']);
      expect(yaml.ignored).to.deep.equal({ Service: 1, ReplicaSet: 1 });
      expect(snapshotNote(yaml, 'x.yaml')).to.equal('Planned offline from x.yaml: 2 namespaces, 0 workloads, 0 pods, 0 MeshRevisions (left out: 1 ReplicaSet, 1 Service); the cluster may have changed since.');
      const json = readSnapshot(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', items: [objs[0]] }), 'x.json');
      expect(json.namespaces).to.have.length(1);
    });

    const unusable: { what: string; text: string; says: string }[] = [
      { what: 'not YAML', text: 'items: [', says: 'snap.yaml: invalid YAML at line 1' },
      { what: 'a document that is not an object', text: 'just some words\n', says: 'snap.yaml is not a usable cluster snapshot: document 1 is not a Kubernetes object (a mapping with apiVersion and kind)' },
      { what: 'a List item without a kind', text: stringify({ apiVersion: 'v1', kind: 'List', items: [{ metadata: { name: 'x' } }] }), says: 'document 1, item 1 is not a Kubernetes object' },
      { what: 'a List whose items are not a list', text: stringify({ apiVersion: 'v1', kind: 'List', items: 'none' }), says: 'document 1 is a List whose items are not a list' },
      { what: 'no Namespace (kubectl get pods only)', text: stringify({ apiVersion: 'v1', kind: 'List', items: [] }), says: 'snap.yaml is not a usable cluster snapshot: it holds no Namespace' },
      {
        what: 'pods of workloads but no workload (deployments left out)',
        text: stringify({ apiVersion: 'v1', kind: 'List', items: [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u' }] } },
        ] }),
        says: 'it holds pods of workloads (e.g. shop/web-1) but no Deployment, StatefulSet or DaemonSet, so the plan could not say what restarts',
      },
    ];
    for (const u of unusable) {
      it(`refuses a snapshot with ${u.what}: exit 1, saying how to take one, nothing planned`, async function () {
        const r = await run('plan', '-f', file('mrev.yaml', mrevYaml), '--namespaces-from', file('snap.yaml', u.text));
        expect(r.code).to.equal(1);
        expect(r.out).to.equal('');
        expect(r.err).to.contain(u.says);
        if (!u.what.startsWith('not YAML')) {
          expect(r.err).to.contain(`hint: take one with: kubectl get namespaces,deployments,statefulsets,daemonsets,pods,meshrevisions,mutatingwebhookconfigurations -A -o yaml > ${join(dir, 'snap.yaml')}`);
        }
      });
    }

    it('refuses --namespaces-from with --kubeconfig or --context, and both inputs on stdin, as usage errors (exit 2)', async function () {
      const m = file('mrev.yaml', mrevYaml);
      const withKc = await run('plan', '-f', m, '--namespaces-from', fixture, '--kubeconfig', '/x');
      expect(withKc.code).to.equal(2);
      expect(withKc.err).to.contain('--namespaces-from plans from a file and contacts no cluster: drop --kubeconfig/--context');
      expect((await run('plan', '-f', m, '--namespaces-from', fixture, '--context', 'c')).code).to.equal(2);
      const stdin = await run('plan', '-f', '-', '--namespaces-from', '-');
      expect(stdin.code).to.equal(2);
      expect(stdin.err).to.contain('-f and --namespaces-from cannot both read stdin');
    });
  });
});
