/**
 * Client-IP hash: the same client IP goes to the same backend, for backends that
 * keep per-client state (a session in memory, a warm cache).
 *
 * We use rendezvous hashing (highest random weight): for every candidate, hash
 * (backend id, client IP) to a score, and take the highest score. Each client has
 * its own ranking of the backends, so:
 *   - adding a backend moves only the clients that now rank it first, about 1/n
 *     of them; everyone else keeps their backend (a plain `hash % n` would move
 *     most clients);
 *   - when the first choice is down or failed, the pool leaves it out and the
 *     same pick returns the client's second choice: retry just works, and the
 *     client comes back to its first choice when that backend does.
 *
 * Weights: the score is -weight / ln(u), with u the hash mapped to (0, 1). The
 * largest of these scores falls on each backend in proportion to its weight
 * (Schindelhauer and Schomaker's weighted rendezvous hashing).
 *
 * What it leaves out: clients behind one NAT share an IP and so a backend; there
 * is no way to pin by anything other than the IP (a cookie, a header).
 */
import type { Peer, Strategy } from './types.ts';

export function createIpHash(): Strategy {
  return {
    byClientIp: true,
    pick(candidates, clientIp) {
      let best: Peer | undefined;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const peer of candidates) {
        const score = rendezvousScore(peer, clientIp);
        if (score > bestScore) {
          best = peer;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

export function rendezvousScore(peer: Peer, clientIp: string): number {
  // hash32 + 0.5 over 2^32 lies strictly between 0 and 1, so ln(u) is finite and negative.
  const u = (hash32(`${peer.id} ${clientIp}`) + 0.5) / 2 ** 32;
  return -peer.weight / Math.log(u);
}

/**
 * FNV-1a over the UTF-16 code units, then murmur3's finalizer: FNV alone leaves
 * similar strings ("10.0.0.1", "10.0.0.2") with similar high bits, and the
 * finalizer spreads every input bit over the whole word.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
