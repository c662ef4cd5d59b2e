/**
 * The meters the proxy reads as it works, for chapter 6's `/metrics`
 * (status/metrics.ts): what no other figure keeps, counted as it happens
 * by the code that sees it (serve.ts, pools/pool.ts, fleet/redis-link.ts).
 * They live here, beside the core, so that a pool can count its connects
 * without importing the status endpoint that reports them.
 *
 * What it leaves out: serving them (status/metrics.ts), and every figure the
 * status snapshot already keeps (read there at each scrape).
 */
import { Counter, Histogram } from 'prom-client';

/** Where a connect or a first byte is likely to land: a loopback connect takes 0.1 ms. */
const TIME_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The same bounds in milliseconds, for the status JSON's `timingBoundsMs`. */
export const TIMING_BOUNDS_MS = TIME_BUCKETS.map((seconds) => seconds * 1000);

/** A backend's times as counts per bound (the last count: longer than every bound). */
export interface Timings {
  connect: number[];
  firstByte: number[];
}

/** Each backend's timings, by pool and backend: the status JSON's copy of the two histograms. */
const timings = new Map<string, Timings>();

/** The timings of a backend of a pool, once one of its times was counted. */
export function timingsOf(pool: string, backend: string): Timings | undefined {
  return timings.get(`${pool} ${backend}`);
}

/** Counts one time in the histogram and in the backend's timings the status JSON shows. */
function observe(kind: keyof Timings, labels: { pool: string; backend: string }, ms: number) {
  (kind === 'connect' ? connectSeconds : firstByteSeconds).observe(labels, ms / 1000);
  const key = `${labels.pool} ${labels.backend}`;
  let counts = timings.get(key);
  if (!counts) {
    const zeros = () => new Array<number>(TIME_BUCKETS.length + 1).fill(0);
    counts = { connect: zeros(), firstByte: zeros() };
    timings.set(key, counts);
  }
  const at = TIMING_BOUNDS_MS.findIndex((bound) => ms <= bound);
  counts[kind][at < 0 ? TIME_BUCKETS.length : at]++;
}

/** A connect that succeeded after `ms` milliseconds. */
export const observeConnect = (labels: { pool: string; backend: string }, ms: number) =>
  observe('connect', labels, ms);

/** A backend's first byte back, `ms` milliseconds after its connect. */
export const observeFirstByte = (labels: { pool: string; backend: string }, ms: number) =>
  observe('firstByte', labels, ms);

// Counted as they happen: nothing else keeps them.

export const accepted = new Counter({
  name: 'rsp_clients_accepted_total',
  help: 'Clients accepted by each listener, refused ones included',
  labelNames: ['listener'],
});

export const backendFailures = new Counter({
  name: 'rsp_backend_failures_total',
  help: 'Failed connects by error code (timeout: no answer in connectTimeoutMs), and noAnswer: no first byte in time',
  labelNames: ['pool', 'backend', 'kind'],
});

const connectSeconds = new Histogram({
  name: 'rsp_backend_connect_seconds',
  help: 'Time for a backend to accept a connect that succeeded',
  labelNames: ['pool', 'backend'],
  buckets: TIME_BUCKETS,
});

const firstByteSeconds = new Histogram({
  name: 'rsp_backend_first_byte_seconds',
  help: 'Time from the connect to the first byte the backend sent back',
  labelNames: ['pool', 'backend'],
  buckets: TIME_BUCKETS,
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
