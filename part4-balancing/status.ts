/**
 * The status endpoint: `GET /` on the status port answers a JSON snapshot of
 * what the balancer is doing: its listeners, its pools and, per backend, the
 * weight, the health, active and total connections, and failed connects.
 *
 *   curl -s localhost:8081 | jq .
 *
 * It is a separate port on purpose: the balanced ports carry clients' bytes
 * untouched, and never answer anything themselves except a 502.
 *
 * What it leaves out: authentication (bind it to a port only operators reach),
 * history (it is a snapshot; a metrics system polls it), and changing anything.
 */
import http from 'node:http';
import type { Pool } from './pool.ts';

/** What the snapshot is made of; the proxy keeps it current. */
export interface StatusSource {
  /** The configuration file, or "command line". */
  source: string;
  startedAt: Date;
  reloadedAt?: Date;
  listeners: () => { port: number; pool: string }[];
  pools: () => Iterable<Pool>;
  /** Clients that got a 502 or a close because no backend accepted. */
  noBackend: () => number;
}

export function snapshot(status: StatusSource) {
  const pools: Record<string, unknown> = {};
  const totals = {
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
      backends: pool.backends.map((backend) => {
        totals.activeConnections += backend.activeConnections;
        totals.totalConnections += backend.totalConnections;
        totals.failures += backend.failures;
        const down = backend.health.downReason;
        return {
          id: backend.id,
          weight: backend.weight,
          health: down === undefined ? 'up' : 'down',
          ...(down === undefined ? {} : { down }),
          activeConnections: backend.activeConnections,
          totalConnections: backend.totalConnections,
          failures: backend.failures,
        };
      }),
    };
  }
  return {
    config: status.source,
    startedAt: status.startedAt.toISOString(),
    ...(status.reloadedAt ? { reloadedAt: status.reloadedAt.toISOString() } : {}),
    listeners: status.listeners(),
    pools,
    totals,
  };
}

/** Starts the status server; resolves once it listens (rejects if it cannot). */
export async function startStatusServer(port: number, status: StatusSource): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || (request.url !== '/' && !request.url?.startsWith('/?'))) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Only GET / is here.\n');
      return;
    }
    const body = `${JSON.stringify(snapshot(status), null, 2)}\n`;
    response
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      })
      .end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
