/**
 * The fields of chapter 7: routeSource, where the fleet's routes are (a Redis)
 * and the settings of every pool built from them, and workers, the processes
 * that share the ports. And the reading of a Redis URL, which the check of
 * routeSource.redis and the link to Redis (redis-link.ts) share.
 *
 * What it leaves out: the routes themselves, which live in Redis, not in a file.
 */
import { availableParallelism } from 'node:os';
import {
  type Fields,
  int,
  MAX_MS,
  object,
  type Place,
  readObject,
  show,
  text,
  type Values,
} from '../fields.ts';
import { POOL_SETTINGS } from '../pools/fields.ts';
import { SENTINEL_SOURCE } from '../sentinel/fields.ts'; //> 4.9

export const FLEET_TOP = {
  routeSource: {
    about:
      'fleet mode: http and tls listeners with neither hosts nor pool take their routes from Redis',
    check: (at: Place, value: unknown) => routeSource(at, value),
  },
  workers: {
    about: 'worker processes sharing the ports (node:cluster); "auto": one per core',
    default: 1,
    check: (at: Place, value: unknown) =>
      value === 'auto' ? availableParallelism() : int(1, 64)(at, value),
  },
} satisfies Fields;

/** routeSource: the link to Redis, and every setting of the fleet's pools but name and backends. */
export type RouteSourceConfig = Omit<Values<typeof ROUTE_SOURCE>, 'pool'> & {
  pool: Values<typeof POOL_SETTINGS>;
  sentinel?: string; //> 4.9
  master?: string; //> 4.9
};

function routeSource(at: Place, value: unknown): RouteSourceConfig {
  //> 4.9
  if (object(at, value).sentinel !== undefined) {
    // Through Sentinel: redis is optional (its user, password and database
    // still count; its host is the one Sentinel names), master is not.
    const redis = { ...ROUTE_SOURCE.redis, required: undefined, default: 'redis://primary' };
    const fields = { ...ROUTE_SOURCE, redis, ...SENTINEL_SOURCE };
    const { pool, ...link } = readObject(at, value, fields);
    return { ...link, pool: readObject(at.at('pool'), pool ?? {}, POOL_SETTINGS) };
  }
  //< 4.9
  const { pool, ...link } = readObject(at, value, ROUTE_SOURCE);
  return { ...link, pool: readObject(at.at('pool'), pool ?? {}, POOL_SETTINGS) };
}

export const ROUTE_SOURCE = {
  redis: {
    about: 'redis://[user:password@]host:port[/db]',
    required: true,
    // The route table's own reading of it (redis-link.ts), so what passes here works there.
    check: (at: Place, value: unknown) => {
      const url = text(at, value);
      if (parseRedisUrl(url) === undefined)
        at.fail(`expected redis://host:port[/db], got ${show(url)}`);
      return url;
    },
  },
  keyPrefix: {
    about: 'keys are <keyPrefix><host>:backends, as the Go proxy had them',
    default: 'hostnames:',
    check: text,
  },
  pingIntervalMs: {
    about: 'how often each connection to Redis sends PING, to notice a link that went silent',
    default: 2000,
    check: int(100, MAX_MS),
  },
  pingTimeoutMs: {
    about: 'a PING unanswered this long: the link is silent, and its connections are made again',
    default: 2000,
    check: int(100, MAX_MS),
  },
  pool: {
    about: 'the settings of every pool built from Redis (strategy, health, PROXY protocol...)',
    check: (at: Place, value: unknown) => object(at, value),
  },
} satisfies Fields;

/**
 * The parts of a Redis URL the link to Redis needs: the URL without its
 * credentials, for log lines, and the database number, for the notification
 * channels. undefined when it is not redis://[user:password@]host:port[/db]
 * (rediss:// too). routeSource.redis is checked with this, so a URL that
 * passes here is one the link can use. (Here, not in redis-link.ts: reading a
 * configuration does not load the Redis client.)
 */
export function parseRedisUrl(url: string): { shown: string; database: number } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const database = parsed.pathname.replace(/^\//, '');
  if (
    (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') ||
    !/^\d{0,5}$/.test(database)
  ) {
    return undefined;
  }
  // Never the password: this goes into log lines.
  const shown = `${parsed.protocol}//${parsed.host}${database === '' ? '' : `/${database}`}`;
  return { shown, database: Number(database || 0) };
}
