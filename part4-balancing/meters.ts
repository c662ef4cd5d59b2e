/**
 * The meters the proxy reads as it works, for chapter 6's `/metrics`
 * (status/metrics.ts): what no other figure keeps, counted as it happens
 * by the code that sees it (serve.ts, pools/pool.ts, fleet/redis-link.ts),
 * and each backend's timings, plain counts that the status JSON, its page and
 * the two histograms of /metrics all read.
 * They live here, beside the core, so that a pool can count its connects
 * without importing the status endpoint that reports them.
 *
 * What it leaves out: serving them (status/metrics.ts), and every figure the
 * status snapshot already keeps (read there at each scrape).
 */
import { Counter } from 'prom-client';

/** Where a connect or a first byte is likely to land: a loopback connect takes 0.1 ms. */
export const TIME_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The same bounds in milliseconds, for the status JSON's `timingBoundsMs`. */
export const TIMING_BOUNDS_MS = TIME_BUCKETS.map((seconds) => seconds * 1000);

/**
 * A backend's times as counts per bound (the last count: longer than every
 * bound), and each kind's times added up: the status JSON and page read them,
 * and /metrics makes its two histograms of them at each scrape (metrics.ts).
 * Counting them here once is all a client costs.
 */
export interface Timings {
  connect: number[];
  firstByte: number[];
  connectSumMs: number;
  firstByteSumMs: number;
}

/** A backend's timings before its first connect. */
export function noTimings(): Timings {
  const zeros = () => new Array<number>(TIME_BUCKETS.length + 1).fill(0);
  return { connect: zeros(), firstByte: zeros(), connectSumMs: 0, firstByteSumMs: 0 };
}

function bucketOf(ms: number): number {
  const at = TIMING_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return at < 0 ? TIME_BUCKETS.length : at;
}

/** A connect that succeeded after `ms` milliseconds. */
export function observeConnect(timings: Timings, ms: number): void {
  timings.connect[bucketOf(ms)]++;
  timings.connectSumMs += ms;
}

/** A backend's first byte back, `ms` milliseconds after its connect. */
export function observeFirstByte(timings: Timings, ms: number): void {
  timings.firstByte[bucketOf(ms)]++;
  timings.firstByteSumMs += ms;
}

// Counted as they happen: nothing else keeps them.

export const backendFailures = new Counter({
  name: 'rsp_backend_failures_total',
  help: 'Failed connects by error code (timeout: no answer in connectTimeoutMs), and noAnswer: no first byte in time',
  labelNames: ['pool', 'backend', 'kind'],
});

//> 4.7

export const redisResyncs = new Counter({
  name: 'rsp_redis_resyncs_total',
  help: 'Fleet mode: times every route was read again from Redis (at start, and after each reconnect)',
});
//< 4.7

/** The listener label: its address as the status JSON gives it. */
export function listenerLabel(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
