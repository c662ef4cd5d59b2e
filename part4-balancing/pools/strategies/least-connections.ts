/**
 * Least connections: send the client to the backend with the fewest open
 * connections per unit of weight (a backend of weight 2 is "as busy" with 4
 * connections as a backend of weight 1 with 2).
 *
 * Ties are common (at startup every backend has zero), and always taking the
 * first of them would pile the quiet moments onto one backend. Like nginx's
 * least_conn, we break ties with smooth weighted round robin among the tied
 * backends, so an idle pool is shared by weight.
 *
 * What it leaves out: connections are a proxy for load; a backend with few but
 * expensive requests still looks idle.
 */

import { createRoundRobin } from './round-robin.ts';
import type { Peer, Strategy } from './types.ts';

export function createLeastConnections(): Strategy {
  const tieBreaker = createRoundRobin();

  return {
    pick(candidates, clientIp) {
      let least: Peer[] = [];
      for (const peer of candidates) {
        const order = least.length === 0 ? -1 : compareLoad(peer, least[0]);
        if (order < 0) least = [peer];
        else if (order === 0) least.push(peer);
      }
      return least.length === 1 ? least[0] : tieBreaker.pick(least, clientIp);
    },
  };
}

/**
 * Load per unit of weight, compared without dividing: a.active / a.weight versus
 * b.active / b.weight. Negative when `a` is the less loaded of the two.
 */
export function compareLoad(a: Peer, b: Peer): number {
  return a.activeConnections * b.weight - b.activeConnections * a.weight;
}
