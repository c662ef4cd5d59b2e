/**
 * A canary: a tenth of the clients, chosen by their address, go to the pool
 * "canary" (a new release, say); the others go where the listener sends
 * them. The same address always lands on the same side, so a client never
 * flips between releases from one connection to the next, and no table of
 * clients is kept: the address is hashed, and the hash decides.
 *
 * The address is the client's, or behind a balancer that sends the PROXY
 * protocol (and a listener that accepts it), the one the header gives.
 */
import { createHash } from 'node:crypto';
import type { RouteDecision, RouteRequest } from '../types.ts';

/** The share of clients sent to the canary, in percent. */
export const CANARY_PERCENT = 10;

/** Whether `address` is on the canary's side: its hash, spread evenly over 0 to 99. */
export function inCanary(address: string): boolean {
  const hash = createHash('sha256').update(address).digest();
  return hash.readUInt32BE(0) % 100 < CANARY_PERCENT;
}

export default function canary(request: RouteRequest): RouteDecision {
  return inCanary(request.client.address) ? { pool: 'canary' } : undefined;
}
