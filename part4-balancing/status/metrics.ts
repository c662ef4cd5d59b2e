/**
 * `GET /metrics` on the status port: the status in Prometheus' text format,
 * made by prom-client, for a Prometheus to scrape every few seconds and keep
 * as history (the status JSON is a snapshot; this is what graphs are made of).
 *
 *   curl -s localhost:8081/metrics
 *
 * Two kinds of figures. Most are counters the proxy keeps already for its
 * status JSON: they are read from the same snapshot at each scrape (collect()
 * below), never counted twice; the two histograms, the time a backend took
 * to accept and the time it took to send its first byte back, are made from
 * the snapshot's timings too (timingHistogram()). The rest exist only here
 * and are counted as they happen (meters.ts): the failures by kind per
 * backend.
 *
 * Names follow Prometheus' rules: counters end in _total, times are in
 * seconds, sizes in bytes, and no label takes a value from a client (an
 * address would make a new series per client): listeners, pools, backends
 * and reasons come from the configuration or from a fixed list.
 *
 * With --workers each worker keeps its own figures, and the primary's
 * /metrics asks every worker for them and adds them up (prom-client's
 * AggregatorRegistry, over the cluster's IPC channel, as workers.ts does for
 * the JSON). Only the link to Redis carries a worker label: each worker has
 * its own link, and a sum of "up" says nothing.
 *
 * What it leaves out: the configuration's settings (the JSON has them), and
 * figures per client.
 */
import cluster from 'node:cluster';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Metric,
  register,
} from 'prom-client';
import { listenerLabel, TIME_BUCKETS, type Timings } from '../meters.ts';
import type { Snapshot } from './snapshot.ts';

/** The events of the log (state.ts) that refuse a client, and so are refusals here. */
export const REFUSALS = [
  'processLimit',
  'listenerLimit',
  'clientLimit',
  'noRoute',
  'badHead',
  'badHello',
  'badProxy',
  'noBackend',
  'noAnswer',
  'routerError', //> 4.8
  'routerTimeout', //> 4.8
  'routerReject', //> 4.8
];

/** prom-client's defaults that break the naming rules (nodejs_active_handles is there too). */
const NOT_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * The figures read from the status snapshot at each scrape, and the process's
 * (prom-client's defaults: CPU, memory, descriptors, event loop lag). Called
 * once, by the process that serves /metrics or, with --workers, by each worker.
 */
export function watchStatus(report: () => Snapshot): void {
  collectDefaultMetrics();
  // Gauges whose names end in _total: Prometheus' checker (promtool) rejects them.
  for (const name of NOT_COUNTERS) register.removeSingleMetric(name);
  // A worker answers the primary's requests for its figures once this exists.
  if (cluster.isWorker) new AggregatorRegistry(); //> 4.7
  // One snapshot per scrape: every collect() below runs within the same turn.
  let current: Snapshot | undefined;
  const now = (): Snapshot => {
    if (!current) {
      current = report();
      setImmediate(() => {
        current = undefined;
      });
    }
    return current;
  };
  const backends = function* () {
    for (const [pool, { backends }] of Object.entries(now().pools)) {
      for (const backend of backends) yield { labels: { pool, backend: backend.id }, backend };
    }
  };

  new Gauge({
    name: 'rsp_clients_open',
    help: 'Clients open now on each listener, from accept',
    labelNames: ['listener'],
    collect() {
      this.reset();
      for (const l of now().listeners)
        this.set({ listener: listenerLabel(l.host, l.port) }, l.open);
    },
  });
  new Counter({
    name: 'rsp_clients_accepted_total',
    help: 'Clients accepted by each listener, refused ones included',
    labelNames: ['listener'],
    collect() {
      this.reset();
      for (const l of now().listeners)
        this.inc({ listener: listenerLabel(l.host, l.port) }, l.accepted);
    },
  });
  new Counter({
    name: 'rsp_clients_refused_total',
    help: 'Clients refused or answered by the proxy itself, by reason (the log names them)',
    labelNames: ['reason'],
    collect() {
      this.reset();
      const events = now().events;
      for (const reason of REFUSALS) if (reason in events) this.inc({ reason }, events[reason]);
    },
  });
  new Counter({
    name: 'rsp_events_total',
    help: 'Other per-connection events the log counts: resets, idle closes, shortages',
    labelNames: ['event'],
    collect() {
      this.reset();
      for (const [event, n] of Object.entries(now().events)) {
        if (!REFUSALS.includes(event)) this.inc({ event }, n);
      }
    },
  });
  new Counter({
    name: 'rsp_backend_connections_total',
    help: 'Clients each backend got since start',
    labelNames: ['pool', 'backend'],
    collect() {
      this.reset();
      for (const { labels, backend } of backends()) this.inc(labels, backend.totalConnections);
    },
  });
  new Gauge({
    name: 'rsp_backend_active_connections',
    help: 'Connections being set up or relayed now, per backend',
    labelNames: ['pool', 'backend'],
    collect() {
      this.reset();
      for (const { labels, backend } of backends()) this.set(labels, backend.activeConnections);
    },
  });
  new Gauge({
    name: 'rsp_backend_state',
    help: 'Per backend, 1 for its state now: up, down (failed a health check) or retrying (failed connects; tried again soon); with --workers, how many workers see it so',
    labelNames: ['pool', 'backend', 'state'],
    collect() {
      this.reset();
      for (const { labels, backend } of backends()) {
        const state =
          backend.health === 'up' ? 'up' : backend.retryInMs === undefined ? 'down' : 'retrying';
        for (const s of ['up', 'down', 'retrying'])
          this.set({ ...labels, state: s }, +(s === state));
      }
    },
  });
  new Counter({
    name: 'rsp_backend_bytes_total',
    help: 'Bytes relayed per backend, counted when its connection closes: sent to it, or received from it',
    labelNames: ['pool', 'backend', 'direction'],
    collect() {
      this.reset();
      for (const { labels, backend } of backends()) {
        this.inc({ ...labels, direction: 'sent' }, backend.bytesSent);
        this.inc({ ...labels, direction: 'received' }, backend.bytesReceived);
      }
    },
  });
  timingHistogram(
    'rsp_backend_connect_seconds',
    'Time for a backend to accept a connect that succeeded',
    'connect',
    backends,
  );
  timingHistogram(
    'rsp_backend_first_byte_seconds',
    'Time from the connect to the first byte the backend sent back',
    'firstByte',
    backends,
  );
  new Counter({
    name: 'rsp_health_checks_total',
    help: 'Active health checks per backend, by result',
    labelNames: ['pool', 'backend', 'result'],
    collect() {
      this.reset();
      for (const { labels, backend } of backends()) {
        if (!backend.probes) continue;
        this.inc({ ...labels, result: 'passed' }, backend.probes.passed);
        this.inc({ ...labels, result: 'failed' }, backend.probes.failed);
      }
    },
  });
  new Gauge({
    name: 'rsp_routes',
    help: 'Names routed to pools, by where the route came from (file or redis); with --workers, the most any worker has',
    labelNames: ['source'],
    aggregator: 'max',
    collect() {
      this.reset();
      const counts: Record<string, number> = { file: 0 };
      if (now().redis) counts.redis = 0;
      for (const route of now().routes ?? [])
        counts[route.source] = (counts[route.source] ?? 0) + 1;
      for (const [source, n] of Object.entries(counts)) this.set({ source }, n);
    },
  });
  //> 4.7
  // Per worker: each has its own link, and a sum of states would mean nothing.
  const worker = cluster.isWorker ? { worker: String(cluster.worker?.id) } : {};
  new Gauge({
    name: 'rsp_redis_link_state',
    help: 'Fleet mode: 1 for the state of the link to Redis now: up, silent (a PING went unanswered) or down',
    labelNames: cluster.isWorker ? ['state', 'worker'] : ['state'],
    collect() {
      this.reset();
      const link = now().redis;
      if (!link) return;
      for (const state of ['up', 'silent', 'down']) {
        this.set({ state, ...worker }, +(link.state === state));
      }
    },
  });
  //< 4.7
  //> 4.8
  const routers = function* () {
    for (const l of now().listeners) {
      if (l.router) yield { labels: { listener: listenerLabel(l.host, l.port) }, router: l.router };
    }
  };
  const routerCounter = (
    name: string,
    help: string,
    figure: 'calls' | 'errors' | 'timeouts' | 'restarts',
  ) =>
    new Counter({
      name,
      help,
      labelNames: ['listener'],
      collect() {
        this.reset();
        for (const { labels, router } of routers()) this.inc(labels, router[figure]);
      },
    });
  routerCounter('rsp_router_calls_total', 'Clients each listener asked its router about', 'calls');
  routerCounter(
    'rsp_router_errors_total',
    'Router calls that failed: a throw, or a decision malformed or naming no pool',
    'errors',
  );
  routerCounter(
    'rsp_router_timeouts_total',
    'Router calls with no decision within routerTimeoutMs',
    'timeouts',
  );
  routerCounter(
    'rsp_router_restarts_total',
    'Times a router thread was stopped and started again',
    'restarts',
  );
  new Counter({
    name: 'rsp_router_wait_seconds_total',
    help: 'Time clients waited for their router to decide, added up (divided by calls: the mean)',
    labelNames: ['listener'],
    collect() {
      this.reset();
      for (const { labels, router } of routers())
        this.inc(labels, (router.meanMs * router.calls) / 1000);
    },
  });
  new Gauge({
    name: 'rsp_router_busy_ratio',
    help: "Share of its router thread's time spent running code (0 to 1); with --workers, the workers' mean",
    labelNames: ['listener'],
    aggregator: 'average',
    collect() {
      this.reset();
      for (const { labels, router } of routers()) this.set(labels, router.busyShare);
    },
  });
  //< 4.8
}

/**
 * One of the two histograms, made at each scrape from every backend's
 * timings (meters.ts), which the JSON and the page read too: per backend, the
 * count up to each bound (`le`), the count and the sum in seconds. A
 * prom-client Histogram would count each time a second time, with an
 * observe() call per client; this is an object of the shape prom-client's
 * registry reads (its name and help, and get() for the values).
 */
function timingHistogram(
  name: string,
  help: string,
  kind: 'connect' | 'firstByte',
  backends: () => Iterable<{ labels: Record<string, string>; backend: { timings?: Timings } }>,
): void {
  const get = async () => {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] =
      [];
    for (const { labels, backend } of backends()) {
      const timings = backend.timings;
      if (!timings) continue;
      let count = 0;
      for (const [i, le] of [...TIME_BUCKETS, '+Inf'].entries()) {
        count += timings[kind][i];
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: count });
      }
      const sumMs = kind === 'connect' ? timings.connectSumMs : timings.firstByteSumMs;
      values.push({ metricName: `${name}_sum`, labels, value: sumMs / 1000 });
      values.push({ metricName: `${name}_count`, labels, value: count });
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values };
  };
  register.registerMetric({ name, help, get, reset() {} } as unknown as Metric);
}

/** What /metrics answers, and its content type. */
export interface Exposition {
  contentType: string;
  body: string;
}

/** This process's figures. */
export async function localMetrics(): Promise<Exposition> {
  return { contentType: register.contentType, body: await register.metrics() };
}
//> 4.7

/** With --workers, in the primary: every worker's figures, added up. */
export function everyWorkersMetrics(): () => Promise<Exposition> {
  const aggregator = new AggregatorRegistry();
  return async () => ({
    contentType: aggregator.contentType,
    body: await aggregator.clusterMetrics(),
  });
}
//< 4.7
