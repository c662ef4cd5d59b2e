/**
 * Balancing strategies: given the backends a client may use right now, pick one.
 *
 *   round-robin          smooth weighted round robin, as nginx does it
 *   least-connections    the fewest open connections per unit of weight
 *   two-random-choices   two at random, the less loaded of the two
 *   ip-hash              the same client IP keeps the same backend
 *
 * A strategy never sees health or retries: the pool hands it only the candidates
 * (available, not yet tried for this client), so "try the next one" is just another
 * pick with the failed backend left out. Every strategy returns undefined when
 * there is no candidate and otherwise one of the candidates it was given.
 *
 * What it leaves out: strategies that need a response time (nginx plus's
 * least_time) or slow start; a proxy that only sees bytes has no response times.
 */
import { createIpHash } from './ip-hash.ts';
import { createLeastConnections } from './least-connections.ts';
import { createRoundRobin } from './round-robin.ts';
import { createTwoRandomChoices } from './two-random-choices.ts';
import type { Strategy } from './types.ts';

export type { Peer, Strategy } from './types.ts';

/** Every strategy by the name a config file uses. A new strategy is one file, and its line (and import) here. */
const STRATEGIES = {
  'round-robin': createRoundRobin,
  'least-connections': createLeastConnections,
  'two-random-choices': createTwoRandomChoices,
  'ip-hash': createIpHash,
} satisfies Record<string, () => Strategy>;

export type StrategyName = keyof typeof STRATEGIES;

export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];

/** A fresh instance, with its own state, for one pool. */
export function createStrategy(name: StrategyName): Strategy {
  return STRATEGIES[name]();
}
