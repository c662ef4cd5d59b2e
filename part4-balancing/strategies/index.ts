/**
 * Balancing strategies: given the backends a client may use right now, pick one.
 *
 *   round-robin          smooth weighted round robin, as nginx does it
 *   least-connections    the fewest open connections per unit of weight
 *   two-random-choices   two at random, the less loaded of the two
 *   ip-hash              the same client IP keeps the same backend
 *
 * A strategy never sees health or retries: the pool hands it only the candidates
 * (healthy, not yet tried for this client), so "try the next one" is just another
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

export type StrategyName = 'round-robin' | 'least-connections' | 'two-random-choices' | 'ip-hash';

export const STRATEGY_NAMES: readonly StrategyName[] = [
  'round-robin',
  'least-connections',
  'two-random-choices',
  'ip-hash',
];

/** What a strategy may look at. The pool's backend objects implement it. */
export interface Peer {
  /** "host:port", unique in its pool. */
  readonly id: string;
  readonly weight: number;
  readonly activeConnections: number;
}

export interface Strategy {
  /**
   * candidates: the peers eligible right now (healthy, not yet tried for this
   * client), in config order. undefined only when candidates is empty.
   */
  pick(candidates: readonly Peer[], clientIp: string): Peer | undefined;
}

/** A fresh instance, with its own state, for one pool. */
export function createStrategy(name: StrategyName): Strategy {
  switch (name) {
    case 'round-robin':
      return createRoundRobin();
    case 'least-connections':
      return createLeastConnections();
    case 'two-random-choices':
      return createTwoRandomChoices();
    case 'ip-hash':
      return createIpHash();
  }
}
