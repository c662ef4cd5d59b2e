/**
 * The status endpoint: `GET /` on the status port answers a snapshot of what
 * the balancer is doing: the process, its listeners, its pools and, per
 * backend, the weight, the health, active and total connections, and failed
 * connects. Programs get JSON (also at /status.json); a browser, which asks
 * for HTML first, gets the live page of status-page.ts. A Prometheus gets
 * the same figures and a few more at /metrics (metrics.ts).
 *
 *   curl -s localhost:8081 | jq .
 *
 * It is a separate port on purpose: the balanced ports carry clients' bytes
 * untouched, and never answer anything themselves except a 502.
 *
 * It shows backend addresses and the configuration's path, and it shares the
 * process's descriptors with the clients, so it is guarded: it listens on
 * 127.0.0.1 unless told otherwise, serves at most MAX_CONNECTIONS at once,
 * and drops a request that is not complete within REQUEST_TIMEOUT_MS. A
 * hundred slow clients on it cannot starve the balanced ports.
 *
 * What it leaves out: authentication (bind it to an address only operators
 * reach), history (it is a snapshot; a Prometheus scraping /metrics keeps it), and changing
 * anything.
 */
import http from 'node:http';
import type { Address } from '../fields.ts';
import type { Pool } from '../pools/pool.ts';
import type {
  BackendStatus,
  Limits,
  ListenerStatus,
  PoolStatus,
  RedisLink,
  RouteStatus,
  Snapshot,
  Totals,
} from './snapshot.ts';
import { TIMING_BOUNDS_MS, type Timings } from '../meters.ts';
import type { Exposition } from './metrics.ts';
import { PAGE_HEADERS, page, prefersHtml } from './status-page.ts';

/** Status clients served at once; more are closed at accept. */
export const MAX_CONNECTIONS = 16;
/** A status request must be complete within this long (an answer takes a millisecond). */
export const REQUEST_TIMEOUT_MS = 2000;
/** What it answers: the JSON at both (a browser asking for / gets the page instead), and the metrics. */
export const PATHS = ['/', '/status.json', '/metrics'];

/** What the snapshot is made of; the proxy keeps it current. */
export interface StatusSource {
  /** The configuration file, or "command line". */
  source: string;
  startedAt: Date;
  reloadedAt?: Date;
  /** Every listening socket and its clients now. */
  listeners: () => ListenerStatus[];
  pools: () => Iterable<Pool>;
  /** Clients that got a 502 or a close because no backend accepted. */
  noBackend: () => number;
  /** The process's limits and how many clients are open now. */
  limits: () => Limits;
  /** Per-connection events counted since start (resets, refusals over a limit, ...). */
  events: () => Record<string, number>;
  /** Virtual hosts: each name and its pool, from the file's hosts tables or from Redis. */
  routes?: () => RouteStatus[];
  /** Fleet mode: is the link to Redis up, silent or down (the routes are then the last it gave). */
  redis?: () => RedisLink;
}

/** The process a snapshot speaks for: its pid, and how long it has run. */
export interface ProcessClock {
  pid: number;
  uptimeMs: () => number;
}

const THIS_PROCESS: ProcessClock = {
  pid: process.pid,
  // Monotonic, unlike the wall clock: the page divides by it to get rates.
  uptimeMs: () => Math.round(process.uptime() * 1000),
};

/**
 * The status JSON, made from the running objects on each request (snapshot.ts
 * says what each field is). A sample in the chapters passes a fixed `clock`.
 */
export function snapshot(status: StatusSource, clock = THIS_PROCESS): Snapshot {
  const pools: Record<string, PoolStatus> = {};
  const totals: Totals = {
    activeConnections: 0,
    totalConnections: 0,
    failures: 0,
    noBackend: status.noBackend(),
  };
  for (const pool of status.pools()) {
    const check = pool.config.healthCheck;
    pools[pool.name] = {
      strategy: pool.config.strategy,
      healthCheck: check ? (check.path === undefined ? 'tcp' : `GET ${check.path}`) : 'off',
      backends: pool.backends.map((backend): BackendStatus => {
        totals.activeConnections += backend.activeConnections;
        totals.totalConnections += backend.totalConnections;
        totals.failures += backend.failures;
        const { downReason: down, retryInMs, probeFailure } = backend.health;
        return {
          id: backend.id,
          weight: backend.weight,
          health: down === undefined ? 'up' : 'down',
          ...(down === undefined ? {} : { down }),
          ...(retryInMs === undefined ? {} : { retryInMs }),
          ...(probeFailure === undefined ? {} : { probeFailure }),
          activeConnections: backend.activeConnections,
          totalConnections: backend.totalConnections,
          failures: backend.failures,
          ...(check ? { probes: { ...backend.health.probes } } : {}),
          bytesSent: backend.bytesSent,
          bytesReceived: backend.bytesReceived,
          ...timingsField(backend.timings),
        };
      }),
    };
  }
  return {
    config: status.source,
    pid: clock.pid,
    startedAt: status.startedAt.toISOString(),
    uptimeMs: clock.uptimeMs(),
    ...(status.reloadedAt ? { reloadedAt: status.reloadedAt.toISOString() } : {}),
    listeners: status.listeners(),
    limits: status.limits(),
    pools,
    totals,
    events: status.events(),
    timingBoundsMs: TIMING_BOUNDS_MS,
    // Only where names are routed: a plain tcp configuration has no routes table.
    ...routesOf(status),
    ...(status.redis ? { redis: status.redis() } : {}),
  };
}

/** A backend's timings, copied, once it has some. */
function timingsField(timings: Timings): Pick<BackendStatus, 'timings'> {
  if (!timings.connect.some((n) => n > 0)) return {};
  return {
    timings: { ...timings, connect: [...timings.connect], firstByte: [...timings.firstByte] },
  };
}

function routesOf(status: StatusSource): Pick<Snapshot, 'routes'> {
  const routes = status.routes?.() ?? [];
  return routes.length > 0 || status.redis ? { routes } : {};
}

/** Starts the status server; resolves once it listens (rejects if it cannot). */
export async function startStatusServer(
  where: Address,
  report: () => Snapshot | Promise<Snapshot>,
  metrics: () => Promise<Exposition>,
): Promise<http.Server> {
  const server = http.createServer(
    {
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      // How often Node checks those two timeouts (30 s by default).
      connectionsCheckingInterval: 250,
    },
    async (request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (!PATHS.includes(path)) {
        response
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`Only ${PATHS.join(' and ')} are here.\n`);
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
        response.end('Only GET and HEAD.\n');
        return;
      }
      if (path === '/metrics') {
        // Prometheus' text format (metrics.ts); HEAD gets the headers alone.
        // With --workers it fails when a worker does not answer in time: a 503
        // for that scrape, which Prometheus records as the target down.
        const answer = await metrics().catch((err: Error) => err);
        if (answer instanceof Error) {
          response.writeHead(503, { 'content-type': 'text/plain' }).end(`${answer.message}\n`);
          return;
        }
        const { contentType, body } = answer;
        response.writeHead(200, {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        });
        response.end(body);
        return;
      }
      const now = await report();
      // Programs (curl's */*, no Accept at all) keep getting the JSON at /.
      const html = path === '/' && prefersHtml(request.headers.accept);
      const body = html ? page(now) : `${JSON.stringify(now, null, 2)}\n`;
      response.writeHead(200, {
        'content-type': html ? 'text/html; charset=utf-8' : 'application/json',
        'content-length': Buffer.byteLength(body),
        // The answer at / depends on Accept: no cache may hand the page to a program.
        vary: 'accept',
        'cache-control': 'no-store',
        ...(html ? PAGE_HEADERS : {}),
      });
      // HEAD: the same headers, no body (Node leaves it out by itself).
      response.end(body);
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  // A connection with nothing to say is closed too, not only a slow request.
  server.setTimeout(REQUEST_TIMEOUT_MS, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
