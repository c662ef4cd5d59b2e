/**
 * A router by path prefix: `/api/...` to the pool "api", `/static/...` to
 * "static", and everything else where the listener sends it (undefined: its
 * host table, then its pool). nginx writes this as `location /api/ {
 * proxy_pass ...; }`; here it is a loop over a table.
 *
 * It reads the first request of a connection only: a keep-alive connection
 * stays with the pool its first path chose (chapter 4 says why).
 */
import type { RouteDecision, RouteRequest } from '../types.ts';

/** Each prefix and its pool, tried in this order: put a longer prefix before a shorter one. */
const PREFIXES: [prefix: string, pool: string][] = [
  ['/api/', 'api'],
  ['/static/', 'static'],
];

export default function byPath(request: RouteRequest): RouteDecision {
  const path = request.http?.path ?? '';
  for (const [prefix, pool] of PREFIXES) {
    if (path.startsWith(prefix)) return { pool };
  }
  return undefined;
}
