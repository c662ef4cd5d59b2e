/**
 * A pool's settings and a backend's fields: which strategy picks, how long a
 * connect may take, each backend's address and weight.
 *
 * The types of a pool and a backend as the proxy gets them come from these
 * tables; config.ts puts them in the whole configuration.
 *
 * What it leaves out: the pool itself (pool.ts), and the strategies' names,
 * which the check of "strategy" reads from their table (strategies/index.ts).
 */
import { type Address, type Fields, hostPort, int, MAX_MS, oneOf, type Values } from '../fields.ts';
import { HEALTH_POOL } from '../health/fields.ts'; //> 4.2
import { PROXY_POOL } from '../proxy-protocol/fields.ts'; //> 4.5
import { STRATEGY_NAMES, type StrategyName } from './strategies/index.ts';

/** A pool's settings: every field but its backends (quick start takes them at their defaults). */
export const POOL_SETTINGS = {
  strategy: {
    about: `how a backend is picked: ${STRATEGY_NAMES.join(', ')}`,
    default: 'round-robin' as StrategyName,
    check: oneOf(STRATEGY_NAMES),
  },
  connectTimeoutMs: {
    about: 'a connect not answered within this long counts as failed',
    default: 3000,
    check: int(1, MAX_MS),
  },
  ...HEALTH_POOL, //> 4.2
  ...PROXY_POOL, //> 4.5
} satisfies Fields;

export const BACKEND = {
  address: { about: '"host:port" or "[ipv6]:port"', required: true, check: hostPort },
  weight: {
    about: "its share of the clients, against the pool's other backends",
    default: 1,
    check: int(1, 1000),
  },
} satisfies Fields;

export interface BackendConfig extends Address {
  /** "host:port" as written. */
  id: string;
  weight: number;
}

/** A pool as the proxy gets it: its settings, its name, its backends. */
export type PoolConfig = Values<typeof POOL_SETTINGS> & {
  name: string;
  backends: BackendConfig[];
};
