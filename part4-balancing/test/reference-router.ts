/**
 * The reference router: which pool a name should reach through a host table,
 * written the slow, obvious way (every key compared with the name), with
 * nothing taken from ../vhosts/hosts.ts. The fuzzer's hosts property
 * (fuzz-arbitraries.ts) builds a HostTable and this model from the same random
 * routes, and asks both the same random names.
 *
 * The rule, as hosts.ts states it: case and one trailing dot do not count;
 * an exact key wins; else the longest `*.suffix` with the name under it (never
 * the suffix's own name); else the default pool. An IP address only matches
 * itself (no name lies under an address).
 */
import net from 'node:net';

/** The pool `name` reaches through `routes` (key, pool) and `defaultPool`; undefined for none. */
export function referenceRoute(
  routes: [key: string, pool: string][],
  defaultPool: string | undefined,
  name: string,
): string | undefined {
  const wanted = name.toLowerCase().replace(/\.$/, '');
  const exact = routes.find(([key]) => key === wanted);
  if (exact) return exact[1];
  if (net.isIP(wanted)) return defaultPool;
  let best: { pool: string; length: number } | undefined;
  for (const [key, pool] of routes) {
    if (!key.startsWith('*.')) continue;
    const suffix = key.slice(1); // ".example.org"
    if (
      wanted.endsWith(suffix) &&
      wanted.length > suffix.length &&
      (!best || suffix.length > best.length)
    ) {
      best = { pool, length: suffix.length };
    }
  }
  return best?.pool ?? defaultPool;
}
