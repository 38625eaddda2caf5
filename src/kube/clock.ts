// The time source and timers everything that waits is given (informers,
// the work queue, leader election), so tests drive time by hand
// (test/unit/runtime/fake-clock.ts) instead of sleeping.

/** Time source and timers; the real one wraps Date.now and setTimeout. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// setTimeout fires at once for delays beyond 2^31-1 ms; clamp instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
