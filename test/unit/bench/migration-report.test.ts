// The migration bench's verdicts and tables (pure): a wrong or slow run must
// show as missed, a manual run stopped at its time budget is judged at its pace.
import { expect } from 'chai';
import { goals, policyLowerBound, realisticGoals, renderMarkdown, scenarioKey, type BenchResult, type RolloutSummary, type RunResult, type WayName } from '../../../bench/migration-report.js';

function run(size: number, way: WayName, wallSeconds: number, extra: Partial<RunResult> = {}): RunResult {
  const workloads = size * 3;
  return {
    size,
    way,
    workloads: 3,
    replicas: 2,
    ok: true,
    timedOut: false,
    wallSeconds,
    namespacesDone: size,
    secondsPerNamespace: wallSeconds / size,
    writes: {
      total: 0,
      failed: 0,
      perNamespace: 0,
      perWorkload: 0,
      client: { 'PATCH namespaces': size, 'PATCH deployments.apps': workloads, 'APPLY meshrevisions.meshrev.io/status': 10 },
      clientTotal: size + workloads + 10,
      clientPerNamespace: 0,
      clientPerWorkload: 0,
      byVerbResource: {},
    },
    ...extra,
  };
}

const machine: BenchResult['machine'] = { cpus: 2, cpuModel: 'test', memoryGiB: 24, os: 'Linux', node: 'v20', go: 'go1.26', kubernetes: '1.33.13', etcd: '3.5.21', kwok: '0.8.0' };

function result(runs: RunResult[]): BenchResult {
  return { bench: 'migration', startedAt: '2026-12-02T15:00:00Z', machine, params: { workloads: 3, replicas: 2 }, runs };
}

const line = (lines: string[], start: string) => lines.find((l) => l.startsWith(start)) ?? '';

describe('migration bench report', () => {
  it('judges speed against manual and blast of the same size', () => {
    const g = goals(result([run(100, 'manual', 150), run(100, 'blast', 80), run(100, 'meshrev-tuned', 60)]));
    expect(line(g, '- N=100, meshrev-tuned ≥ 10x faster than manual')).to.contain('**missed** (2.5x)');
    expect(line(g, '- N=100, meshrev-tuned within 1.5x of blast')).to.contain('met (0.75x)');
  });

  it('never counts a wrong run as meeting a goal, however fast', () => {
    const g = goals(result([run(100, 'manual', 150), run(100, 'blast', 80), run(100, 'meshrev-tuned', 5, { ok: false, problems: ['3 pods not on 1-21'] })]));
    expect(line(g, '- N=100, meshrev-tuned ≥ 10x faster than manual')).to.equal('');
    expect(line(g, '- N=100, meshrev-tuned within 1.5x of blast')).to.equal('');
  });

  it('checks linear scaling per namespace and the RSS ceiling at N=1000', () => {
    const big = run(1000, 'meshrev-tuned', 900, { operator: { rssAfterSyncMB: 100, peakRssMB: 160, rssDuringRunMaxMB: 160, cpuSecondsRun: 1, cpuSecondsTotal: 1, writes: {}, reconciles: 1, reconcilesByResult: {}, statusWrites: 0, statusWritesPerNamespace: 0, reconcileSecondsSum: 0, listsPerReconcile: 0 } });
    const g = goals(result([run(100, 'meshrev-tuned', 60), big]));
    expect(line(g, '- meshrev-tuned: time per namespace at N=1000 within 1.2x of N=100')).to.contain('**missed** (0.900 s vs 0.600 s = 1.50x');
    expect(line(g, '- meshrev-tuned: operator RSS at N=1000 ≤ 150 MB')).to.contain('**missed** (peak 160 MB');
  });

  it('says exact writes are met only with one patch per namespace and workload and no conflicts', () => {
    const good = goals(result([run(100, 'meshrev', 100)]));
    expect(line(good, '- N=100 meshrev: 1 write per namespace')).to.contain('workload: met');
    expect(line(good, '- N=100 meshrev: 1 write per namespace')).to.contain('status writes bounded by time, not namespaces (≤ 4 + 2 per 5 s = 44): met (10');
    const conflicted = run(100, 'meshrev', 100);
    conflicted.writes!.client['PATCH deployments.apps'] = 310;
    conflicted.writes!.byVerbResource['PATCH deployments.apps (failed)'] = 10;
    const g = goals(result([conflicted]));
    expect(line(g, '- N=100 meshrev: 1 write per namespace')).to.contain('workload: **missed**');
    expect(line(g, '- N=100 meshrev: 1 write per namespace')).to.contain('plus 10 rejected with 409');
    const storm = run(100, 'meshrev', 10);
    storm.writes!.client['APPLY meshrevisions.meshrev.io/status'] = 400;
    expect(line(goals(result([storm])), '- N=100 meshrev: 1 write per namespace')).to.contain('**missed** (400');
  });

  it('renders a manual run stopped at its budget at its pace, marked approximate', () => {
    const manual = run(1000, 'manual', 1200, { ok: false, timedOut: true, namespacesDone: 400, secondsPerNamespace: 3 });
    const md = renderMarkdown(result([manual, run(1000, 'meshrev-tuned', 600)]), 'x.json');
    expect(md).to.contain('| 1000 | manual | kubectl, one namespace at a time | >1200 (~3000 at its pace) |');
    expect(md).to.match(/\| 1000 \| meshrev-tuned \|[^\n]*\| ~5\.0x \|/);
  });

  it('keeps runs of different scenarios apart', () => {
    expect(scenarioKey(run(100, 'manual', 1))).to.not.equal(scenarioKey(run(100, 'manual', 1, { minReadySeconds: 5 })));
  });

  it('keeps realistic-lifecycle runs apart from instant ones, and out of the instant goals', () => {
    const realistic = { podStartup: '5s±2s', podTerminating: '2s±1s' };
    expect(scenarioKey(run(100, 'manual', 1))).to.not.equal(scenarioKey(run(100, 'manual', 1, realistic)));
    const g = goals(result([run(100, 'manual', 1500, realistic), run(100, 'meshrev-tuned', 60, realistic)]));
    expect(line(g, '- N=100, meshrev-tuned ≥ 10x faster than manual')).to.equal('');
  });
});

describe('policy lower bound', () => {
  const ro = (ns: string, ...seconds: number[]) => seconds.map((s) => ({ ns, seconds: s }));

  it('is the sum over namespaces of their slowest rollout when namespaces go one at a time within the restart budget', () => {
    const rollouts = [...ro('a', 10, 12, 11), ...ro('b', 9, 14, 8), ...ro('c', 13, 13, 13)];
    expect(policyLowerBound(rollouts, 1, 5)).to.equal(12 + 14 + 13);
  });

  it('spreads a namespace with more workloads than the restart budget over the budget', () => {
    // 4 rollouts of 10 s, 2 at a time: at least 20 s for the namespace.
    expect(policyLowerBound(ro('a', 10, 10, 10, 10), 1, 2)).to.equal(20);
  });

  it('is the slowest rollout when everything may run at once, and adds pauses', () => {
    const rollouts = [...ro('a', 10, 12), ...ro('b', 9, 14)];
    expect(policyLowerBound(rollouts, Infinity, Infinity)).to.equal(14);
    expect(policyLowerBound(rollouts, 100, 300, 30)).to.equal(44);
  });

  it('bounds by the namespace slots and by the restart budget when those are the bottleneck', () => {
    // 4 namespaces of one 10 s rollout each, 2 namespaces at a time: 20 s.
    expect(policyLowerBound([...ro('a', 10), ...ro('b', 10), ...ro('c', 10), ...ro('d', 10)], 2, 300)).to.equal(20);
    // 6 rollouts of 10 s in 6 namespaces, 3 restarts at a time: 20 s.
    expect(policyLowerBound(['a', 'b', 'c', 'd', 'e', 'f'].flatMap((n) => ro(n, 10)), 100, 3)).to.equal(20);
  });

  it('is undefined without rollouts', () => {
    expect(Number.isNaN(policyLowerBound([], 1, 5))).to.equal(true);
  });
});

describe('realistic-profile goals', () => {
  const realistic = { podStartup: '5s±2s', podTerminating: '2s±1s' };
  const rollouts = (bound: number, wall: number): RolloutSummary => ({
    n: 300, seconds: { mean: 10, p50: 10, p90: 12, max: 14, min: 6 }, maxConcurrentNamespaces: 100, maxConcurrentRestarts: 300, pausesSeconds: 0, lowerBoundSeconds: bound, overhead: wall / bound - 1,
  });

  it('judges the fast setting against manual (≥ 10x) and blast (≤ 1.2x), and overhead against its bound (≤ 10 %)', () => {
    const g = realisticGoals(result([
      run(100, 'manual', 1500, realistic),
      run(100, 'blast', 50, realistic),
      run(100, 'meshrev-tuned', 55, { ...realistic, rollouts: rollouts(50, 55) }),
      run(100, 'meshrev', 1600, { ...realistic, rollouts: rollouts(1400, 1600) }),
    ]));
    expect(line(g, '- N=100, meshrev-tuned (fast but gated) ≥ 10x faster than manual')).to.contain('met (27.3x');
    expect(line(g, '- N=100, meshrev-tuned (fast but gated) ≤ 1.2x blast')).to.contain('met (1.10x');
    expect(line(g, '- N=100 meshrev-tuned: orchestration overhead')).to.contain('met (10.0 %');
    expect(line(g, '- N=100 meshrev: orchestration overhead')).to.contain('**missed** (14.3 %');
    expect(line(g, '- N=100, meshrev (defaults) (no goal; stated)')).to.contain('0.9x faster than manual, 32.00x blast');
  });

  it('says what was not run, with an estimate marked as such, and never judges a wrong run', () => {
    const g = realisticGoals(result([
      run(100, 'manual', 1500, realistic),
      run(100, 'meshrev', 1600, { ...realistic, rollouts: rollouts(1400, 1600) }),
      run(100, 'meshrev-tuned', 20, { ...realistic, ok: false, problems: ['3 pods not on 1-21'] }),
    ]));
    expect(line(g, '- N=1000 meshrev: orchestration overhead')).to.contain('not run (would take ~4.4 h at N=100\'s 16.00 s per namespace — an estimate, not a measurement)');
    expect(line(g, '- N=100, meshrev-tuned (fast but gated)')).to.contain('WRONG');
    expect(g.join('\n')).to.not.match(/meshrev-tuned[^\n]*: met/);
  });
});
