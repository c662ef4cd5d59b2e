/**
 * Fleet mode: the pools of http and tls listeners built from routes kept in
 * Redis (a table, route-table.ts, kept true by the link, redis-link.ts), so
 * that many proxies share one set of routes and an operator changes them with
 * SADD and SREM, without a reload.
 *
 *   a client's name (Host or SNI)
 *     └─▶ RedisRoutes.lookup: a Map read, never a round trip to Redis
 *           └─▶ the route that matched ("www.example.org", "*.example.org", "httpDefault")
 *                 └─▶ its pool, built on first use from the route's backends and the
 *                     settings of "routeSource.pool" (strategy, health, PROXY protocol)
 *
 * A route that changes gets a new pool at its next client; the backends that
 * stay keep their counters and health (a pool is built from the previous
 * one, as on a reload), and connections already open finish on the pool they
 * had. Backends are known by address, never by their place in a set.
 *
 * What it leaves out: weights from Redis (every member weighs 1, as in the Go
 * proxy), and routes for plain tcp listeners (they have no name to look up).
 */
import { Pool } from '../pools/pool.ts';
import type { RouteSourceConfig } from './fields.ts';
import { RedisRoutes } from './redis-link.ts';
import type { Protocol, RouteMatch } from './route-table.ts';

export class FleetRoutes {
  readonly routes: RedisRoutes;
  /** The pool built for each route's backends, by the lookup's answer (stable until the route changes). */
  private readonly pools = new WeakMap<RouteMatch, Pool>();
  /** The latest pool per protocol and route, for the next one to take its backends' state from. */
  private readonly latest = new Map<string, Pool>();

  constructor(
    readonly source: RouteSourceConfig,
    onChange: (route: string) => void = () => {},
  ) {
    this.routes = new RedisRoutes({
      url: source.redis,
      prefix: source.keyPrefix,
      pingIntervalMs: source.pingIntervalMs,
      pingTimeoutMs: source.pingTimeoutMs,
      //> 4.9
      ...(source.sentinel !== undefined && source.master !== undefined
        ? { sentinel: { sentinels: source.sentinel, master: source.master } }
        : {}),
      //< 4.9
      onChange: (route) => {
        this.retire(route);
        onChange(route);
      },
    });
  }

  /** Connects and loads the routes (resolves even while Redis is down: the table fills later). */
  start(): Promise<void> {
    return this.routes.start();
  }

  /** The pool for a client's name (undefined: no route, not even a default). */
  poolFor(name: string | undefined, protocol: Protocol): Pool | undefined {
    const match = this.routes.lookup(name ?? '', protocol);
    if (match === undefined || match.backends.length === 0) return undefined;
    let pool = this.pools.get(match);
    if (pool === undefined) {
      const key = `${protocol} ${match.route}`;
      const previous = this.latest.get(key);
      pool = new Pool(
        {
          ...this.source.pool,
          name: `redis:${match.route}`,
          backends: match.backends.map((backend) => ({ ...backend, weight: 1 })),
        },
        previous,
      );
      previous?.close(new Set(pool.backends));
      this.pools.set(match, pool);
      this.latest.set(key, pool);
    }
    return pool;
  }

  /** A route changed or went: its pools stop probing; the next client builds anew. */
  private retire(route: string): void {
    for (const protocol of ['http', 'tls'] as const) {
      this.latest.get(`${protocol} ${route}`)?.close();
    }
  }

  /** Every pool in use, for the status. */
  activePools(): Pool[] {
    return [...this.latest.values()];
  }

  async stop(): Promise<void> {
    for (const pool of this.latest.values()) pool.close();
    await this.routes.stop();
  }
}
