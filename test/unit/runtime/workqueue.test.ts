import type { ReconcileOutcome, WorkQueueMetrics } from '../../../src/health/metrics.js';
import { expect } from 'chai';
import {
  ItemExponentialFailureRateLimiter,
  TerminalError,
  WorkQueue,
  isTerminalError,
  type ReconcileContext,
  type ReconcileResult,
  type WorkQueueOptions,
} from '../../../src/runtime/workqueue.js';
import { FakeClock, deferred, flush, type Deferred } from './fake-clock.js';

type Handler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

function recordingMetrics() {
  const m = {
    adds: 0,
    retries: 0,
    depth: [] as number[],
    results: [] as { result: ReconcileOutcome; terminal: boolean }[],
    maxActive: 0,
  };
  const hooks: WorkQueueMetrics = {
    add: () => m.adds++,
    depth: (n) => m.depth.push(n),
    retry: () => m.retries++,
    queueLatency: () => {},
    workDuration: () => {},
    activeWorkers: (n) => (m.maxActive = Math.max(m.maxActive, n)),
    reconciled: (result, _s, terminal) => m.results.push({ result, terminal }),
  };
  return { m, hooks };
}

function makeQueue(handler: Handler, extra: Partial<WorkQueueOptions> = {}) {
  const clock = new FakeClock();
  const calls: string[] = [];
  const { m, hooks } = recordingMetrics();
  const queue = new WorkQueue({
    name: 'test',
    clock,
    metrics: hooks,
    reconcile: async (key, ctx) => {
      calls.push(key);
      return handler(key, ctx);
    },
    ...extra,
  });
  return { queue, clock, calls, metrics: m };
}

describe('WorkQueue', () => {
  it('deduplicates a key added several times before it runs', async () => {
    const { queue, calls, metrics } = makeQueue(() => Promise.resolve({}), { autoStart: false });
    queue.add('a');
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.depth).to.equal(2);
    queue.start();
    await queue.onIdle();
    expect(calls.sort()).to.deep.equal(['a', 'b']);
    expect(metrics.adds).to.equal(2);
  });

  it('never runs two reconciles of the same key at once, even with spare concurrency', async () => {
    const gates: Deferred[] = [];
    let running = 0;
    let maxRunning = 0;
    const { queue, calls } = makeQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const g = deferred();
        gates.push(g);
        await g.promise;
        running--;
        return {};
      },
      { concurrency: 4 },
    );
    queue.add('a');
    await flush();
    queue.add('a');
    queue.add('a');
    await flush();
    expect(calls).to.deep.equal(['a']);
    expect(queue.isProcessing('a')).to.be.true;
    gates[0]!.resolve();
    await flush();
    gates[1]?.resolve();
    await queue.onIdle();
    expect(maxRunning).to.equal(1);
  });

  it('runs a key re-added during its reconcile exactly once more afterwards', async () => {
    const first = deferred();
    let n = 0;
    const { queue, calls } = makeQueue(async () => {
      if (n++ === 0) await first.promise;
      return {};
    });
    queue.add('a');
    await flush();
    queue.add('a');
    queue.add('a');
    first.resolve();
    await queue.onIdle();
    await flush();
    expect(calls).to.deep.equal(['a', 'a']);
  });

  it('retries a failing key with exponential backoff and resets it after a success', async () => {
    let failuresLeft = 3;
    const { queue, clock, calls, metrics } = makeQueue(() => (failuresLeft-- > 0 ? Promise.reject(new Error('boom')) : Promise.resolve({})));
    queue.add('a');
    await queue.onIdle();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const at = queue.scheduledAt('a');
      expect(at, `retry ${i} scheduled`).to.be.a('number');
      delays.push(at! - clock.now());
      await clock.advance(at! - clock.now());
      await queue.onIdle();
    }
    expect(delays).to.deep.equal([5, 10, 20]);
    expect(calls).to.have.length(4);
    expect(queue.numRequeues('a')).to.equal(0);
    expect(queue.scheduledAt('a')).to.equal(undefined);
    expect(metrics.retries).to.equal(3);
    expect(metrics.results.map((r) => r.result)).to.deep.equal(['error', 'error', 'error', 'success']);

    // After the reset, the next failure starts again at the base delay.
    failuresLeft = 1;
    queue.add('a');
    await queue.onIdle();
    expect(queue.scheduledAt('a')! - clock.now()).to.equal(5);
  });

  it('caps the backoff at the rate limiter maximum', () => {
    const rl = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    const delays = Array.from({ length: 40 }, () => rl.when('k'));
    expect(delays.slice(0, 4)).to.deep.equal([5, 10, 20, 40]);
    expect(delays.at(-1)).to.equal(1_000_000);
    expect(Math.max(...delays)).to.equal(1_000_000);
    rl.forget('k');
    expect(rl.when('k')).to.equal(5);
  });

  it('runs a key again after requeueAfter, not before', async () => {
    let n = 0;
    const { queue, clock, calls, metrics } = makeQueue(() => Promise.resolve(n++ === 0 ? { requeueAfter: 30_000 } : {}));
    queue.add('a');
    await queue.onIdle();
    expect(calls).to.have.length(1);
    await clock.advance(29_999);
    expect(calls).to.have.length(1);
    await clock.advance(1);
    await queue.onIdle();
    expect(calls).to.have.length(2);
    expect(metrics.results.map((r) => r.result)).to.deep.equal(['requeue_after', 'success']);
  });

  it('keeps the sooner time when a key is scheduled twice', async () => {
    const { queue, clock, calls } = makeQueue(() => Promise.resolve({}));
    queue.addAfter('a', 10_000);
    queue.addAfter('a', 1_000);
    queue.addAfter('a', 5_000);
    expect(queue.scheduledAt('a')).to.equal(clock.now() + 1_000);
    await clock.advance(1_000);
    await queue.onIdle();
    expect(calls).to.deep.equal(['a']);
    expect(clock.pending).to.equal(0);
  });

  it('records a terminal error without retrying it', async () => {
    const { queue, clock, calls, metrics } = makeQueue(() => Promise.reject(new TerminalError('spec.revision is immutable')));
    queue.add('a');
    await queue.onIdle();
    await clock.advance(10_000_000);
    expect(calls).to.have.length(1);
    expect(queue.scheduledAt('a')).to.equal(undefined);
    expect(metrics.retries).to.equal(0);
    expect(metrics.results).to.deep.equal([{ result: 'error', terminal: true }]);
  });

  it('recognises a TerminalError wrapped as the cause of another error', () => {
    expect(isTerminalError(new Error('outer', { cause: new TerminalError('inner') }))).to.be.true;
    expect(isTerminalError(new Error('plain'))).to.be.false;
  });

  it('reports { requeue: true } as a requeue with backoff, not an error', async () => {
    let n = 0;
    const { queue, clock, metrics } = makeQueue(() => Promise.resolve(n++ === 0 ? { requeue: true } : {}));
    queue.add('a');
    await queue.onIdle();
    await clock.advance(5);
    await queue.onIdle();
    expect(metrics.results.map((r) => r.result)).to.deep.equal(['requeue', 'success']);
  });

  it('respects the concurrency bound across keys', async () => {
    const gates = new Map<string, Deferred>();
    let running = 0;
    let maxRunning = 0;
    const { queue, calls } = makeQueue(
      async (key) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const g = deferred();
        gates.set(key, g);
        await g.promise;
        running--;
        return {};
      },
      { concurrency: 2 },
    );
    for (const k of ['a', 'b', 'c', 'd', 'e']) queue.add(k);
    await flush();
    expect(running).to.equal(2);
    while (calls.length < 5 || running > 0) {
      for (const [k, g] of gates) {
        gates.delete(k);
        g.resolve();
      }
      await flush();
    }
    await queue.onIdle();
    expect(maxRunning).to.equal(2);
    expect(calls.sort()).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
  });

  it('on shutdown, drops waiting keys, ignores new ones and waits for the running reconcile', async () => {
    const gate = deferred();
    const { queue, calls, clock } = makeQueue(async (key) => {
      if (key === 'a') await gate.promise;
      return {};
    });
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1_000);
    await flush();
    let drained = false;
    const done = queue.shutdown().then(() => (drained = true));
    await flush();
    expect(drained).to.be.false;
    queue.add('d');
    gate.resolve();
    await done;
    await clock.advance(5_000);
    expect(calls).to.deep.equal(['a']);
    expect(queue.isShuttingDown).to.be.true;
  });

  it('aborts the signal of a reconcile still running when the shutdown grace period ends', async () => {
    let signal: AbortSignal | undefined;
    const { queue, clock } = makeQueue(async (_key, ctx) => {
      signal = ctx.signal;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      throw new Error('aborted');
    });
    queue.add('a');
    await flush();
    const done = queue.shutdown(10_000);
    await clock.advance(9_999);
    expect(signal?.aborted).to.be.false;
    await clock.advance(1);
    await done;
    expect(signal?.aborted).to.be.true;
    expect(queue.scheduledAt('a')).to.equal(undefined);
  });

  it('passes each reconcile a child logger and a fresh reconcileID', async () => {
    const ids: string[] = [];
    let n = 0;
    const { queue } = makeQueue(
      (_key, ctx) => {
        expect(ctx.log).to.have.property('info');
        return Promise.resolve({});
      },
      { newReconcileID: () => (ids.push(`id-${++n}`), `id-${n}`) },
    );
    queue.add('a');
    await queue.onIdle();
    queue.add('a');
    await queue.onIdle();
    expect(ids).to.deep.equal(['id-1', 'id-2']);
  });
});
