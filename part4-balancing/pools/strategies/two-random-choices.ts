/**
 * Power of two random choices: draw two different candidates at random and take
 * the less loaded one (fewer open connections per unit of weight).
 *
 * Why two and not all: least connections needs an exact, current count of every
 * backend; two random draws need only two counts and still avoid the worst
 * backends, because the busiest one can never win (it loses against anything it
 * is drawn with). With several balancers sharing backends, it also keeps them
 * from all rushing to the same "least loaded" backend at once.
 *
 * The random source is a parameter, so a test can fix the draws.
 *
 * What it leaves out: weights only scale the load comparison; they do not bias
 * the draw itself.
 */

import { compareLoad } from './least-connections.ts';
import type { Strategy } from './types.ts';

/** Returns a number in [0, 1), like Math.random. */
export type RandomSource = () => number;

export function createTwoRandomChoices(random: RandomSource = Math.random): Strategy {
  return {
    pick(candidates) {
      if (candidates.length <= 1) return candidates[0];
      const first = Math.floor(random() * candidates.length);
      // Draw from the other n - 1 and skip over `first`: two distinct indexes.
      let second = Math.floor(random() * (candidates.length - 1));
      if (second >= first) second++;
      const a = candidates[first];
      const b = candidates[second];
      return compareLoad(b, a) < 0 ? b : a;
    },
  };
}
