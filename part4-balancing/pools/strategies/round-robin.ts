/**
 * Smooth weighted round robin, exactly as nginx picks (ngx_http_upstream_rr.c).
 *
 * Every backend keeps a running score, `current`. On each pick:
 *   1. every candidate's current grows by its weight;
 *   2. the candidate with the largest current wins (the first one on a tie);
 *   3. the winner's current drops by the total weight of the candidates.
 *
 * Weights 5:1:1 (a, b, c) over seven picks:
 *
 *   pick  current before   winner  current after
 *    1    ( 5,  1,  1)       a     (-2,  1,  1)
 *    2    ( 3,  2,  2)       a     (-4,  2,  2)
 *    3    ( 1,  3,  3)       b     ( 1, -4,  3)
 *    4    ( 6, -3,  4)       a     (-1, -3,  4)
 *    5    ( 4, -2,  5)       c     ( 4, -2, -2)
 *    6    ( 9, -1, -1)       a     ( 2, -1, -1)
 *    7    ( 7,  0,  0)       a     ( 0,  0,  0)
 *
 * a a b a c a a: a gets five of seven, and b and c are spread out rather than
 * bunched at the end as plain weighted round robin (a a a a a b c) would do.
 * After one full cycle every score is back to zero.
 *
 * Only candidates take part, so a backend that is down neither wins nor builds
 * up a score while it is away. What it leaves out: nginx's effective_weight,
 * which lowers a failing backend's weight for a while; our pool skips a failing
 * backend altogether instead.
 */
import type { Peer, Strategy } from './types.ts';

export function createRoundRobin(): Strategy {
  const current = new Map<string, number>();

  return {
    pick(candidates) {
      let best: Peer | undefined;
      let bestScore = 0;
      let total = 0;
      for (const peer of candidates) {
        const score = (current.get(peer.id) ?? 0) + peer.weight;
        current.set(peer.id, score);
        total += peer.weight;
        if (best === undefined || score > bestScore) {
          best = peer;
          bestScore = score;
        }
      }
      if (best !== undefined) current.set(best.id, bestScore - total);
      return best;
    },
  };
}
