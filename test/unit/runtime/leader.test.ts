import { ApiException, type V1Lease } from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  LeaderElector,
  decideLease,
  leaseRecord,
  observeLease,
  renewDeadlinePassed,
  type DecideInput,
  type LeaseApi,
  type LeaseRecord,
} from '../../../src/runtime/leader.js';
import { FakeClock, flush } from './fake-clock.js';

const T0 = 1_700_000_000_000;
const ME = 'pod-a_1234';
const OTHER = 'pod-b_5678';

function input(current: LeaseRecord | undefined, over: Partial<DecideInput> = {}): DecideInput {
  return { current, observedAtMs: T0, nowMs: T0, identity: ME, leaseDurationSeconds: 15, ...over };
}

describe('decideLease (pure)', () => {
  const cases: { name: string; in: DecideInput; want: Record<string, unknown> }[] = [
    {
      name: 'creates the lease, holding it, when none exists',
      in: input(undefined),
      want: { action: 'create', record: { holderIdentity: ME, leaseDurationSeconds: 15, acquireTimeMs: T0, renewTimeMs: T0, leaseTransitions: 0 } },
    },
    {
      name: 'renews its own lease, keeping acquireTime and the transition count',
      in: input({ holderIdentity: ME, leaseDurationSeconds: 15, acquireTimeMs: T0 - 60_000, renewTimeMs: T0 - 2_000, leaseTransitions: 3 }),
      want: { action: 'renew', record: { holderIdentity: ME, leaseDurationSeconds: 15, acquireTimeMs: T0 - 60_000, renewTimeMs: T0, leaseTransitions: 3 } },
    },
    {
      name: 'takes over a released lease (empty holder) at once',
      in: input({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }, { observedAtMs: T0 }),
      want: { action: 'acquire', reason: 'released', record: { holderIdentity: ME, acquireTimeMs: T0, renewTimeMs: T0, leaseDurationSeconds: 15, leaseTransitions: 4 } },
    },
    {
      name: 'waits while another holder renewed less than its lease duration ago (our clock)',
      in: input({ holderIdentity: OTHER, leaseDurationSeconds: 15 }, { observedAtMs: T0 - 14_999 }),
      want: { action: 'wait', holder: OTHER, expiresAtMs: T0 + 1 },
    },
    {
      name: 'takes over a lease unchanged for its full duration',
      in: input({ holderIdentity: OTHER, leaseDurationSeconds: 15, leaseTransitions: 7 }, { observedAtMs: T0 - 15_000 }),
      want: { action: 'acquire', reason: 'expired', record: { holderIdentity: ME, acquireTimeMs: T0, renewTimeMs: T0, leaseDurationSeconds: 15, leaseTransitions: 8 } },
    },
    {
      name: "judges expiry by the holder's lease duration, not its own",
      in: input({ holderIdentity: OTHER, leaseDurationSeconds: 60 }, { observedAtMs: T0 - 30_000 }),
      want: { action: 'wait', holder: OTHER, expiresAtMs: T0 + 30_000 },
    },
    {
      name: "does not trust the holder's renewTime: an old timestamp seen changing just now is still valid",
      in: input({ holderIdentity: OTHER, leaseDurationSeconds: 15, renewTimeMs: T0 - 3_600_000 }, { observedAtMs: T0 - 1_000 }),
      want: { action: 'wait', holder: OTHER, expiresAtMs: T0 + 14_000 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(decideLease(c.in)).to.deep.equal(c.want);
    });
  }

  it('keeps the observation time while the resourceVersion is unchanged, and restarts it on any write', () => {
    const first = observeLease(undefined, '10', T0);
    expect(observeLease(first, '10', T0 + 5_000)).to.deep.equal({ resourceVersion: '10', observedAtMs: T0 });
    expect(observeLease(first, '11', T0 + 5_000)).to.deep.equal({ resourceVersion: '11', observedAtMs: T0 + 5_000 });
  });

  it('steps down once renewDeadline has passed since the last successful renewal', () => {
    expect(renewDeadlinePassed(T0, T0 + 9_999, 10_000)).to.be.false;
    expect(renewDeadlinePassed(T0, T0 + 10_000, 10_000)).to.be.true;
  });

  it('reads MicroTime fields whether the client gives strings or Dates', () => {
    const lease = {
      spec: { holderIdentity: OTHER, renewTime: '2024-01-01T00:00:00.123456Z', acquireTime: new Date(0) },
    } as unknown as V1Lease;
    expect(leaseRecord(lease)).to.deep.include({ holderIdentity: OTHER, renewTimeMs: Date.parse('2024-01-01T00:00:00.123Z'), acquireTimeMs: 0 });
  });
});

/** An in-memory Lease endpoint with the API server's optimistic concurrency. */
class FakeLeases implements LeaseApi {
  lease: V1Lease | undefined;
  rv = 0;
  failing = false;

  private status(code: number, reason: string): ApiException<string> {
    return new ApiException(code, reason, JSON.stringify({ kind: 'Status', code, reason, message: reason }), {});
  }

  private copy(l: V1Lease): V1Lease {
    // The real client returns MicroTimes as strings.
    return JSON.parse(JSON.stringify(l)) as V1Lease;
  }

  async readNamespacedLease(): Promise<V1Lease> {
    await Promise.resolve(); // a network round trip
    if (this.failing) throw new Error('fetch failed');
    if (!this.lease) throw this.status(404, 'NotFound');
    return this.copy(this.lease);
  }

  async createNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    await Promise.resolve(); // a network round trip
    if (this.failing) throw new Error('fetch failed');
    if (this.lease) throw this.status(409, 'AlreadyExists');
    this.lease = this.copy({ ...p.body, metadata: { ...p.body.metadata, resourceVersion: String(++this.rv) } });
    return this.copy(this.lease);
  }

  async replaceNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    await Promise.resolve(); // a network round trip
    if (this.failing) throw new Error('fetch failed');
    if (!this.lease) throw this.status(404, 'NotFound');
    if (p.body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw this.status(409, 'Conflict');
    this.lease = this.copy({ ...p.body, metadata: { ...p.body.metadata, resourceVersion: String(++this.rv) } });
    return this.copy(this.lease);
  }
}

describe('LeaderElector (fake API, fake clock)', () => {
  function elector(api: LeaseApi, clock: FakeClock, identity: string, events: string[]) {
    return new LeaderElector({
      api,
      namespace: 'meshrev-system',
      name: 'meshrev-leader',
      identity,
      clock,
      random: () => 0,
      onStartedLeading: () => events.push(`${identity} started`),
      onStoppedLeading: (r) => events.push(`${identity} stopped:${r}`),
    });
  }

  it('lets exactly one of two candidates lead, and hands over at once on release', async () => {
    const api = new FakeLeases();
    const clock = new FakeClock(T0);
    const events: string[] = [];
    const a = elector(api, clock, 'a', events);
    const b = elector(api, clock, 'b', events);
    void a.run();
    await flush();
    void b.run();
    await flush();
    for (let i = 0; i < 10; i++) await clock.advance(2_000);
    expect([a.isLeader(), b.isLeader()]).to.deep.equal([true, false]);
    expect(events).to.deep.equal(['a started']);

    await a.stop();
    expect(api.lease?.spec?.holderIdentity).to.equal('');
    await clock.advance(2_000 * 2.2);
    expect(b.isLeader()).to.be.true;
    expect(events).to.deep.equal(['a started', 'a stopped:released', 'b started']);
    expect(api.lease?.spec?.leaseTransitions).to.equal(1);
    await b.stop();
  });

  it('steps down when it cannot renew before the renew deadline, before a standby may take over', async () => {
    const api = new FakeLeases();
    const clock = new FakeClock(T0);
    const events: string[] = [];
    const a = elector(api, clock, 'a', events);
    const done = a.run();
    await flush();
    expect(a.isLeader()).to.be.true;
    api.failing = true;
    await clock.advance(9_000);
    expect(a.isLeader()).to.be.true;
    await clock.advance(2_000);
    await done;
    expect(a.isLeader()).to.be.false;
    expect(events).to.deep.equal(['a started', 'a stopped:lost']);
    // 11 s after its last renewal: well inside the 15 s a standby must wait.
  });

  it('takes over an expired lease only after lease duration without change', async () => {
    const api = new FakeLeases();
    const clock = new FakeClock(T0);
    const events: string[] = [];
    // A dead leader: the lease exists but is never renewed.
    api.lease = {
      metadata: { name: 'meshrev-leader', namespace: 'meshrev-system', resourceVersion: '1' },
      spec: { holderIdentity: 'dead', leaseDurationSeconds: 15 },
    };
    api.rv = 1;
    const b = elector(api, clock, 'b', events);
    void b.run();
    await flush();
    await clock.advance(14_000);
    expect(b.isLeader()).to.be.false;
    await clock.advance(4_000);
    expect(b.isLeader()).to.be.true;
    await b.stop();
  });

  it('rejects timings where a standby could act before the leader gives up', () => {
    expect(() => new LeaderElector({ api: new FakeLeases(), namespace: 'n', name: 'l', leaseDurationSeconds: 10, renewDeadlineMs: 10_000 })).to.throw(
      /leaseDuration/,
    );
    expect(() => new LeaderElector({ api: new FakeLeases(), namespace: 'n', name: 'l', renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).to.throw(
      /renewDeadline/,
    );
  });
});
