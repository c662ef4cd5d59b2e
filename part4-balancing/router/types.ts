/**
 * What a router module sees and what it may answer: the two types of its
 * default export. A router written in TypeScript imports them, and tsc checks
 * it against them:
 *
 *   import type { RouteDecision, RouteRequest } from './part4-balancing/router/types.ts';
 *
 *   export default function route(request: RouteRequest): RouteDecision {
 *     if (request.http?.path.startsWith('/api/')) return { pool: 'api' };
 *   }
 *
 * Both are plain data: a request is copied into the router's thread and a
 * decision copied back (router.ts says why it runs there), so neither holds a
 * socket, a function or anything of the proxy's.
 *
 * Types only: importing this file loads nothing.
 */

/** One client, as its listener has read it: called once per client, never per request. */
export interface RouteRequest {
  /** The listener that accepted it: its port (the real one) and protocol. */
  listener: { port: number; protocol: 'tcp' | 'http' | 'tls' };
  /** The client's address and port; behind a balancer that sent a PROXY header, the header's. */
  client: { address: string; port: number };
  /** The Host (http) or the SNI (tls), in the form the host table compares: lower case, no port. */
  name?: string;
  /** http listeners: the first request's method, path and headers (names in lower case). */
  http?: { method: string; path: string; headers: Record<string, string> };
}

/**
 * What to do with the client:
 * - undefined: as if there were no router (the host table, then the listener's pool);
 * - `{ pool }`: one of the configuration's pools, with its strategy, health and retries;
 * - `{ backend: "host:port" }`: that backend, one connect, no retry (a 502 if it fails);
 * - `{ reject: 403 }`: http: that status (400 to 599), and a close; tcp and tls: a close.
 */
export type RouteDecision = undefined | { pool: string } | { backend: string } | { reject: number };

/** A router module's default export: it may decide at once or return a promise. */
export type Router = (request: RouteRequest) => RouteDecision | Promise<RouteDecision>;
