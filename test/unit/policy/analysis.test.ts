import { expect } from 'chai';
import type { CheckInstance, CheckPhase, CheckState, HttpCheck, Measurement, PrometheusCheck, ResolvedHttpCheck, ResolvedPrometheusCheck } from '../../../src/api/health.js';
import {
  MATCH_NOTHING,
  evaluateMeasurement,
  expandChecks,
  gateVerdict,
  initialCheckState,
  isDue,
  listedCheckStates,
  nextCheckState,
  nextDueInMs,
  planFailureResponse,
  renderQuery,
  renderUrl,
  resolveChecks,
  syncCheckStates,
  unknownPlaceholders,
} from '../../../src/policy/analysis.js';

// The injected clock: every test measures at T0 + n seconds.
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);

function prom(over: Partial<PrometheusCheck> = {}): ResolvedPrometheusCheck {
  return resolveChecks({ prometheus: [{ name: 'error-rate', address: 'http://prom:9090', query: 'x', max: 0.05, ...over }] })[0] as ResolvedPrometheusCheck;
}
function http(over: Partial<HttpCheck> = {}): ResolvedHttpCheck {
  return resolveChecks({ http: [{ name: 'home', url: 'http://frontend:8080/', ...over }] })[0] as ResolvedHttpCheck;
}

const value = (v: number): Measurement => ({ kind: 'value', value: v });
const NO_DATA: Measurement = { kind: 'no-data' };
const error = (message = 'cannot reach Prometheus at http://prom:9090: connection refused'): Measurement => ({ kind: 'error', message });

/** Folds nextCheckState over measurements taken one interval apart, as the executor would across reconciles. */
function run(check: ResolvedPrometheusCheck | ResolvedHttpCheck, measurements: Measurement[], start?: CheckState): CheckState {
  let state = start;
  measurements.forEach((m, i) => {
    state = nextCheckState(state, m, at(i * (check.intervalMs / 1000)), check);
  });
  return state!;
}

function instances(...checks: (ResolvedPrometheusCheck | ResolvedHttpCheck)[]): CheckInstance[] {
  return expandChecks(checks, { revision: '1-21', namespaces: ['shop', 'web'] });
}

function stateOf(inst: CheckInstance, phase: CheckPhase, extra: Partial<CheckState> = {}): CheckState {
  return { ...initialCheckState(inst), phase, ...extra };
}

describe('analysis: evaluateMeasurement (thresholds)', () => {
  const cases: { name: string; check: Partial<PrometheusCheck>; value: number; outcome: string }[] = [
    { name: 'passes a value under max', check: { max: 0.05 }, value: 0.01, outcome: 'pass' },
    { name: 'passes a value equal to max (inclusive)', check: { max: 0.05 }, value: 0.05, outcome: 'pass' },
    { name: 'fails a value above max', check: { max: 0.05 }, value: 0.0501, outcome: 'fail' },
    { name: 'passes a value equal to min (inclusive)', check: { min: 99, max: undefined }, value: 99, outcome: 'pass' },
    { name: 'fails a value below min', check: { min: 99, max: undefined }, value: 98.9, outcome: 'fail' },
    { name: 'passes a value inside [min, max]', check: { min: 1, max: 10 }, value: 5, outcome: 'pass' },
    { name: 'fails a value below [min, max]', check: { min: 1, max: 10 }, value: 0, outcome: 'fail' },
    { name: 'fails a value above [min, max]', check: { min: 1, max: 10 }, value: 11, outcome: 'fail' },
    { name: 'fails +Inf against max', check: { max: 500 }, value: Infinity, outcome: 'fail' },
    { name: 'fails -Inf against min', check: { min: 0, max: undefined }, value: -Infinity, outcome: 'fail' },
    { name: 'treats NaN (e.g. 0/0 with no traffic) as no data', check: { max: 0.05 }, value: NaN, outcome: 'no-data' },
    { name: 'passes a negative value within a negative range', check: { min: -5, max: -1 }, value: -3, outcome: 'pass' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(evaluateMeasurement(prom(c.check), value(c.value)).outcome).to.equal(c.outcome);
    });
  }

  it('says which bound a failing value crossed, and by how much, in the message', () => {
    expect(evaluateMeasurement(prom({ max: 0.05 }), value(0.07)).message).to.equal('value 0.07 is above the maximum 0.05');
    expect(evaluateMeasurement(prom({ min: 99, max: undefined }), value(97)).message).to.equal('value 97 is below the minimum 99');
  });

  it('reports no-data and error measurements as such, before any rule is applied', () => {
    expect(evaluateMeasurement(prom({ noData: 'pass' }), NO_DATA).outcome).to.equal('no-data');
    expect(evaluateMeasurement(prom(), error('boom'))).to.deep.equal({ outcome: 'error', message: 'boom' });
  });

  it('makes a Prometheus check with neither min nor max an error, not a silent pass', () => {
    const e = evaluateMeasurement(prom({ max: undefined }), value(1));
    expect(e.outcome).to.equal('error');
    expect(e.message).to.contain('set at least one threshold');
  });

  const httpCases: { name: string; check: Partial<HttpCheck>; status: number; outcome: string }[] = [
    { name: 'passes an HTTP 200 against the default expected status', check: {}, status: 200, outcome: 'pass' },
    { name: 'fails an HTTP 503', check: {}, status: 503, outcome: 'fail' },
    { name: 'passes an HTTP 204 when 204 is expected', check: { expectedStatus: 204 }, status: 204, outcome: 'pass' },
    { name: 'fails an HTTP 200 when 204 is expected', check: { expectedStatus: 204 }, status: 200, outcome: 'fail' },
    { name: 'fails an HTTP redirect (redirects are not followed)', check: {}, status: 302, outcome: 'fail' },
  ];
  for (const c of httpCases) {
    it(c.name, () => {
      expect(evaluateMeasurement(http(c.check), value(c.status)).outcome).to.equal(c.outcome);
    });
  }
});

describe('analysis: nextCheckState (failure counting, no data, errors)', () => {
  const F = value(0.5); // above max 0.05
  const P = value(0.01);
  const cases: { name: string; check: ResolvedPrometheusCheck | ResolvedHttpCheck; ms: Measurement[]; phase: CheckPhase; failures: number }[] = [
    { name: 'starts Passing with 0 failures on a passing measurement', check: prom(), ms: [P], phase: 'Passing', failures: 0 },
    { name: 'is Failing after one failure below the threshold', check: prom(), ms: [F], phase: 'Failing', failures: 1 },
    { name: 'is Failing after threshold-1 consecutive failures', check: prom(), ms: [F, F], phase: 'Failing', failures: 2 },
    { name: 'is Failed after failureThreshold (3) consecutive failures', check: prom(), ms: [F, F, F], phase: 'Failed', failures: 3 },
    { name: 'is Failed after a single failure with failureThreshold 1', check: prom({ failureThreshold: 1 }), ms: [F], phase: 'Failed', failures: 1 },
    { name: 'resets the count on a pass', check: prom(), ms: [F, F, P], phase: 'Passing', failures: 0 },
    { name: 'counts only consecutive failures: fail, fail, pass, fail, fail is not Failed', check: prom(), ms: [F, F, P, F, F], phase: 'Failing', failures: 2 },
    { name: 'keeps Failed once reached, even if a later measurement passes', check: prom(), ms: [F, F, F, P, P], phase: 'Failed', failures: 3 },
    { name: 'reports an error below the threshold as Unknown, not Failing', check: prom(), ms: [error()], phase: 'Unknown', failures: 1 },
    { name: 'fails after failureThreshold consecutive errors (Prometheus down for good)', check: prom(), ms: [error(), error(), error()], phase: 'Failed', failures: 3 },
    { name: 'counts errors and failures together toward the threshold', check: prom(), ms: [F, error(), F], phase: 'Failed', failures: 3 },
    { name: 'recovers from errors on a pass', check: prom(), ms: [error(), error(), P], phase: 'Passing', failures: 0 },
    { name: 'noData fail (default): one empty result is a failure', check: prom(), ms: [NO_DATA], phase: 'Failing', failures: 1 },
    { name: 'noData fail: failureThreshold empty results fail the check', check: prom(), ms: [NO_DATA, NO_DATA, NO_DATA], phase: 'Failed', failures: 3 },
    { name: 'noData fail: NaN values count as no data, and so as failures', check: prom(), ms: [value(NaN), value(NaN), value(NaN)], phase: 'Failed', failures: 3 },
    { name: 'noData pass: an empty result passes', check: prom({ noData: 'pass' }), ms: [NO_DATA], phase: 'Passing', failures: 0 },
    { name: 'noData pass: an empty result resets earlier failures', check: prom({ noData: 'pass' }), ms: [F, F, NO_DATA], phase: 'Passing', failures: 0 },
    { name: 'noData wait: an empty result is Pending and counts nothing', check: prom({ noData: 'wait' }), ms: [NO_DATA], phase: 'Pending', failures: 0 },
    { name: 'noData wait: never fails however long data is missing', check: prom({ noData: 'wait' }), ms: Array<Measurement>(10).fill(NO_DATA), phase: 'Pending', failures: 0 },
    { name: 'noData wait: keeps the failure count across a gap', check: prom({ noData: 'wait' }), ms: [F, NO_DATA, F], phase: 'Failing', failures: 2 },
    { name: 'noData wait: errors still count (an unreachable Prometheus is not "no data")', check: prom({ noData: 'wait' }), ms: [error(), error(), error()], phase: 'Failed', failures: 3 },
    { name: 'HTTP: fails after failureThreshold unexpected statuses', check: http(), ms: [value(503), value(503), value(503)], phase: 'Failed', failures: 3 },
    { name: 'HTTP: a timeout is Unknown below the threshold', check: http(), ms: [value(503), error('no answer within 10s')], phase: 'Unknown', failures: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = run(c.check, c.ms);
      expect({ phase: s.phase, failures: s.consecutiveFailures }).to.deep.equal({ phase: c.phase, failures: c.failures });
    });
  }

  it('records when it ran, the outcome, the value as Prometheus writes it, and the count in the message', () => {
    const s = nextCheckState(undefined, value(Infinity), at(0), prom());
    expect(s).to.deep.include({ name: 'error-rate', kind: 'prometheus', lastRunAt: '2024-05-01T10:00:00.000Z', lastOutcome: 'fail', lastValue: '+Inf' });
    expect(s.lastMessage).to.equal('prometheus check error-rate: value +Inf is above the maximum 0.05 (1/3 before the check fails)');
  });

  it('says in a Failed message how many measurements failed and what the last one showed', () => {
    const s = run(prom(), [error(), error(), error('no answer from Prometheus at http://prom:9090 within 10s')]);
    expect(s.lastMessage).to.contain('3 consecutive measurements failed or could not be taken (failureThreshold 3)').and.contain('within 10s');
  });

  it('explains the noData rule applied in the message', () => {
    expect(run(prom({ noData: 'wait' }), [NO_DATA]).lastMessage).to.contain('noData: wait, waiting for data');
    expect(run(prom(), [NO_DATA]).lastMessage).to.contain('noData: fail, counted as a failure');
  });

  it('is pure: returns a new state and leaves the previous one untouched', () => {
    const prev = nextCheckState(undefined, value(0.5), at(0), prom());
    const copy = structuredClone(prev);
    const next = nextCheckState(prev, value(0.5), at(30), prom());
    expect(prev).to.deep.equal(copy);
    expect(next).to.not.equal(prev);
    expect(next.consecutiveFailures).to.equal(2);
  });

  it('round-trips through JSON (status) without losing anything it needs', () => {
    const check = prom();
    const viaStatus = JSON.parse(JSON.stringify(run(check, [value(0.5), value(0.5)]))) as CheckState;
    expect(nextCheckState(viaStatus, value(0.5), at(60), check).phase).to.equal('Failed');
  });

  it('keeps the namespace of a per-namespace check in its state', () => {
    const [inst] = expandChecks([prom({ query: 'up{namespace="{{namespace}}"}' })], { revision: '1-21', namespaces: ['shop'] });
    const s = nextCheckState(undefined, value(0.5), at(0), inst!);
    expect(s.namespace).to.equal('shop');
    expect(s.lastMessage).to.match(/^prometheus check error-rate in shop: /);
  });
});

describe('analysis: isDue and nextDueInMs (interval)', () => {
  const check = prom({ interval: '30s' });
  const ranAt = (seconds: number, phase: CheckPhase = 'Passing'): CheckState => ({ name: 'error-rate', kind: 'prometheus', phase, consecutiveFailures: 0, lastRunAt: at(seconds).toISOString() });
  const cases: { name: string; state: CheckState | undefined; now: number; due: boolean }[] = [
    { name: 'is due when never measured', state: undefined, now: 0, due: true },
    { name: 'is due when Pending without a run', state: { ...initialCheckState(check) }, now: 0, due: true },
    { name: 'is not due before the interval has passed', state: ranAt(0), now: 29.999, due: false },
    { name: 'is due exactly one interval after the last run', state: ranAt(0), now: 30, due: true },
    { name: 'is due long after the last run (operator was down)', state: ranAt(0), now: 3600, due: true },
    { name: 'is never due once Failed', state: ranAt(0, 'Failed'), now: 3600, due: false },
    { name: 'is due when the last run is in the future (clock moved back)', state: ranAt(60), now: 0, due: true },
    { name: 'is due when lastRunAt is unreadable', state: { ...ranAt(0), lastRunAt: 'yesterday' }, now: 1, due: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(isDue(c.state, check, at(c.now))).to.equal(c.due);
    });
  }

  it('gives the time until the earliest check is due, for requeue-after', () => {
    const fast = prom({ name: 'fast', interval: '10s' });
    const insts = instances(check, fast);
    const states = [
      { ...ranAt(0), name: 'error-rate' },
      { ...ranAt(0), name: 'fast' },
    ];
    expect(nextDueInMs(states, insts, at(4))).to.equal(6000);
    expect(nextDueInMs(states, insts, at(12))).to.equal(0);
  });

  it('gives no next time when every check is Failed or there are none', () => {
    const insts = instances(check);
    expect(nextDueInMs([ranAt(0, 'Failed')], insts, at(1))).to.equal(undefined);
    expect(nextDueInMs([], [], at(1))).to.equal(undefined);
  });
});

describe('analysis: gateVerdict', () => {
  const a = prom({ name: 'a' });
  const b = http({ name: 'b' });
  const [ia, ib] = instances(a, b) as [CheckInstance, CheckInstance];

  it('passes with no checks configured', () => {
    expect(gateVerdict([], []).verdict).to.equal('pass');
  });

  it('passes when every check is Passing', () => {
    const r = gateVerdict([stateOf(ia, 'Passing'), stateOf(ib, 'Passing')], [ia, ib]);
    expect(r).to.deep.include({ verdict: 'pass', message: 'all 2 health checks pass' });
  });

  const waitCases: CheckPhase[] = ['Pending', 'Failing', 'Unknown'];
  for (const phase of waitCases) {
    it(`waits while a check is ${phase}`, () => {
      const r = gateVerdict([stateOf(ia, 'Passing'), stateOf(ib, phase)], [ia, ib]);
      expect(r.verdict).to.equal('wait');
      expect(r.waiting.map((w) => [w.name, w.phase])).to.deep.equal([['b', phase]]);
    });
  }

  it('waits for a check that has no state yet (not measured in this step)', () => {
    const r = gateVerdict([stateOf(ia, 'Passing')], [ia, ib]);
    expect(r.verdict).to.equal('wait');
    expect(r.message).to.contain('http check b: not measured yet');
  });

  it('fails as soon as one check is Failed, naming it with its last message', () => {
    const failed = stateOf(ia, 'Failed', { lastMessage: 'prometheus check a: 3 consecutive measurements failed' });
    const r = gateVerdict([failed, stateOf(ib, 'Pending')], [ia, ib]);
    expect(r.verdict).to.equal('fail');
    expect(r.failing).to.deep.equal([{ name: 'a', kind: 'prometheus', phase: 'Failed', message: 'prometheus check a: 3 consecutive measurements failed' }]);
    expect(r.message).to.match(/^1 of 2 health checks failed: prometheus check a: 3 consecutive/);
  });

  it('ignores states of checks no longer in the spec', () => {
    const gone: CheckState = { name: 'removed', kind: 'prometheus', phase: 'Failed', consecutiveFailures: 3 };
    expect(gateVerdict([gone, stateOf(ia, 'Passing')], [ia]).verdict).to.equal('pass');
  });

  it('judges a per-namespace check per namespace', () => {
    const perNs = prom({ name: 'ns-errors', query: 'x{namespace="{{namespace}}"}' });
    const insts = instances(perNs);
    expect(insts.map((i) => i.key)).to.deep.equal(['prometheus/ns-errors/shop', 'prometheus/ns-errors/web']);
    const r = gateVerdict([stateOf(insts[0]!, 'Passing'), stateOf(insts[1]!, 'Failed')], insts);
    expect(r.failing.map((f) => f.namespace)).to.deep.equal(['web']);
  });

  it('syncCheckStates keeps matching states, adds Pending ones and drops removed checks', () => {
    const kept = stateOf(ia, 'Failing', { consecutiveFailures: 2 });
    const removed: CheckState = { name: 'removed', kind: 'http', phase: 'Failing', consecutiveFailures: 1 };
    const synced = syncCheckStates([removed, kept], [ia, ib]);
    expect(synced).to.deep.equal([kept, { name: 'b', kind: 'http', phase: 'Pending', consecutiveFailures: 0 }]);
  });
});

describe('analysis: planFailureResponse (onFailure)', () => {
  const perNs = prom({ name: 'ns-errors', query: 'x{namespace="{{namespace}}"}' });
  const global = prom({ name: 'global' });
  const ctx = { stepNamespaces: ['web', 'shop'], movedNamespaces: ['a', 'shop', 'web'] };
  const failedNs = (): ReturnType<typeof gateVerdict> => {
    const insts = instances(perNs);
    return gateVerdict([stateOf(insts[0]!, 'Passing'), stateOf(insts[1]!, 'Failed')], insts);
  };
  const failedGlobal = (): ReturnType<typeof gateVerdict> => {
    const insts = instances(global);
    return gateVerdict([stateOf(insts[0]!, 'Failed')], insts);
  };

  it('does nothing unless the verdict is fail', () => {
    const insts = instances(global);
    expect(planFailureResponse(gateVerdict([], insts), 'rollbackAll', ctx).action).to.equal('none');
  });

  it('returns the step\'s namespaces by default (rollbackStep)', () => {
    expect(planFailureResponse(failedGlobal(), undefined, ctx)).to.deep.include({ action: 'rollback', scope: 'step', namespaces: ['shop', 'web'] });
  });

  it('returns only the namespaces whose per-namespace checks failed (rollbackNamespace)', () => {
    expect(planFailureResponse(failedNs(), 'rollbackNamespace', ctx)).to.deep.include({ action: 'rollback', scope: 'namespace', namespaces: ['web'] });
  });

  it('falls back to the whole step under rollbackNamespace when the failed check names no namespace', () => {
    const r = planFailureResponse(failedGlobal(), 'rollbackNamespace', ctx);
    expect(r).to.deep.include({ action: 'rollback', scope: 'step', namespaces: ['shop', 'web'] });
    expect(r.message).to.contain('cannot name one');
  });

  it('returns every moved namespace under rollbackAll', () => {
    expect(planFailureResponse(failedNs(), 'rollbackAll', ctx)).to.deep.include({ action: 'rollback', scope: 'all', namespaces: ['a', 'shop', 'web'] });
  });

  it('holds without moving anything back under pause', () => {
    expect(planFailureResponse(failedNs(), 'pause', ctx).action).to.equal('pause');
  });
});

describe('analysis: templating and escaping', () => {
  const vars = { revision: '1-21', namespace: 'shop', namespaces: ['shop', 'web'], interval: '30s' };
  const cases: { name: string; template: string; vars?: Parameters<typeof renderQuery>[1]; want: string }[] = [
    { name: 'replaces {{namespace}} and {{revision}} in label matchers', template: 'up{namespace="{{namespace}}",rev="{{revision}}"}', want: 'up{namespace="shop",rev="1-21"}' },
    { name: 'allows spaces inside the braces, as Flagger writes them', template: 'up{namespace="{{ namespace }}"}', want: 'up{namespace="shop"}' },
    { name: 'renders {{namespaces}} as an alternation for =~', template: 'up{namespace=~"{{namespaces}}"}', want: 'up{namespace=~"shop|web"}' },
    { name: 'renders {{interval}} outside a literal for range selectors', template: 'rate(x[{{interval}}])', want: 'rate(x[30s])' },
    { name: 'renders a step without namespaces as a regex matching nothing, not everything', template: 'up{namespace=~"{{namespaces}}"}', vars: { revision: 'r', namespaces: [] }, want: `up{namespace=~"${MATCH_NOTHING.replace(/\\/g, '\\\\')}"}` },
    { name: 'escapes a double quote and backslash inside a double-quoted literal', template: 'up{a="{{namespace}}"}', vars: { revision: 'r', namespace: 'x"} or vector(1) #\\' }, want: 'up{a="x\\"} or vector(1) #\\\\"}' },
    { name: 'escapes a single quote inside a single-quoted literal', template: "up{a='{{namespace}}'}", vars: { revision: 'r', namespace: "x'y" }, want: "up{a='x\\'y'}" },
    { name: 'regex-escapes dots and doubles the backslash for a double-quoted literal', template: 'up{n=~"{{namespaces}}"}', vars: { revision: 'r', namespaces: ['a.b'] }, want: 'up{n=~"a\\\\.b"}' },
    { name: 'keeps regex escapes single in a raw (backtick) literal', template: 'up{n=~`{{namespaces}}`}', vars: { revision: 'r', namespaces: ['a.b'] }, want: 'up{n=~`a\\.b`}' },
    { name: 'is not fooled by an escaped quote earlier in the literal', template: 'up{a="q\\"{{namespace}}"}', vars: { revision: 'r', namespace: 'x"' }, want: 'up{a="q\\"x\\""}' },
    { name: 'leaves an unknown variable in place', template: 'up{a="{{cluster}}"}', want: 'up{a="{{cluster}}"}' },
    { name: 'leaves {{namespace}} in place when the check runs per step', template: 'up{a="{{namespace}}"}', vars: { revision: 'r' }, want: 'up{a="{{namespace}}"}' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(renderQuery(c.template, c.vars ?? vars)).to.equal(c.want);
    });
  }

  it('URL-encodes values in an HTTP check URL', () => {
    expect(renderUrl('http://probe/check?ns={{namespace}}&all={{namespaces}}&rev={{ revision }}', { revision: '1 21', namespace: 'a&b', namespaces: ['x', 'y'] })).to.equal(
      'http://probe/check?ns=a%26b&all=x,y&rev=1%2021',
    );
  });

  it('lists variables it does not know, for validation', () => {
    expect(unknownPlaceholders('x{a="{{namespace}}",b="{{ cluster }}",c="{{target}}"}[{{interval}}]')).to.deep.equal(['cluster', 'target']);
  });
});

describe('analysis: resolveChecks and expandChecks', () => {
  it('applies the defaults: 30s interval, 10s timeout, 3 failures, noData fail, GET 200', () => {
    const [p, h] = resolveChecks({ prometheus: [{ name: 'p', address: 'http://p', query: 'x', max: 1 }], http: [{ name: 'h', url: 'http://h/' }] });
    expect(p).to.deep.include({ intervalMs: 30_000, timeoutMs: 10_000, failureThreshold: 3, noData: 'fail' });
    expect(h).to.deep.include({ intervalMs: 30_000, timeoutMs: 10_000, failureThreshold: 3, method: 'GET', expectedStatus: 200 });
  });

  it('caps the default timeout at a shorter interval', () => {
    expect(prom({ interval: '2s' }).timeoutMs).to.equal(2000);
    expect(prom({ interval: '2s', timeout: '500ms' }).timeoutMs).to.equal(500);
  });

  it('runs a check once per step, or once per namespace when it uses {{namespace}}', () => {
    const insts = expandChecks(
      { prometheus: [{ name: 'global', address: 'http://p', query: 'sum(x{ns=~"{{namespaces}}"})', max: 1 }], http: [{ name: 'home', url: 'http://frontend.{{namespace}}/' }] },
      { revision: '1-21', namespaces: ['web', 'shop', 'web'] },
    );
    expect(insts.map((i) => i.key)).to.deep.equal(['prometheus/global', 'http/home/shop', 'http/home/web']);
    expect(insts[1]!.vars).to.deep.equal({ revision: '1-21', namespaces: ['shop', 'web'], interval: '30s', namespace: 'shop' });
  });
});

describe('listedCheckStates', () => {
  const st = (ns: string | undefined, phase: CheckState['phase']): CheckState => ({ name: 'c', kind: 'prometheus', ...(ns !== undefined ? { namespace: ns } : {}), phase, consecutiveFailures: phase === 'Failing' ? 1 : 0 });

  it('lists every state while they fit', () => {
    const states = [st(undefined, 'Pending'), st('a', 'Passing'), st('b', 'Failing')];
    expect(listedCheckStates(states, 3)).to.deep.equal({ checks: states, unlisted: 0 });
  });

  it('keeps step-wide states, then Failed, Failing, Unknown, Passing, Pending, in their original order', () => {
    const states = [st('a', 'Pending'), st('b', 'Passing'), st('c', 'Unknown'), st(undefined, 'Passing'), st('d', 'Failing'), st('e', 'Failed'), st('f', 'Pending')];
    const got = listedCheckStates(states, 4);
    expect(got.checks.map((c) => c.namespace ?? '-')).to.deep.equal(['c', '-', 'd', 'e']);
    expect(got.unlisted).to.equal(3);
    expect(listedCheckStates(states, 5).checks.map((c) => c.namespace ?? '-')).to.deep.equal(['b', 'c', '-', 'd', 'e']);
  });
});
