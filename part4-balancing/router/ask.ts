/**
 * One client and its listener's router: the question (a RouteRequest built
 * from what the listener has read), then what the decision means here.
 *
 *   undefined ─────────▶ as without a router: the host table, then the listener's pool
 *   { pool } ──────────▶ that pool of the configuration (none by that name: a failure)
 *   { backend } ───────▶ a pool of that one backend: one connect, no retry, no health
 *   { reject } ────────▶ http: that status, then a close; tcp and tls: a close
 *   a failure ─────────▶ http: 500, then a close; tcp and tls: a close
 *                        (a throw, a decision malformed, no answer by routerTimeoutMs)
 *
 * Every failure and every rejection is counted (the status shows them); the
 * first of each kind from a router's thread is logged whole, with the file,
 * the client and the message, and the rest are summed up every 10 s, as
 * every per-connection event is (log.ts).
 *
 * What it leaves out: anything but the first request of a connection (routing
 * happens once per connection, chapter 4), and a body: a router sees the head.
 */
import type net from 'node:net';
import { hostPort, Place, readObject, show } from '../fields.ts';
import { type ConnectionAddresses, canonicalHost } from '../ip.ts';
import type { EventCounts } from '../log.ts';
import { POOL_SETTINGS } from '../pools/fields.ts';
import { Pool } from '../pools/pool.ts';
import { closeGently, statusResponse } from '../refuse.ts';
import {
  type HttpHeadOptions,
  type HttpHeadResult,
  readHttpHead,
  trimSpaces,
} from '../vhosts/http-head.ts';
import type { RouterThread } from './router.ts';
import type { RouteRequest } from './types.ts';

/** What route.ts does next: send the client to a pool, go on as without a router, or stop. */
export type Routed = { pool: Pool } | 'fall-through' | 'done';

/** What the router's listener routes with (route.ts's Routing is one): its settings, its pools. */
export interface Asking {
  config: { port: number; protocol: 'tcp' | 'http' | 'tls' } & HttpHeadOptions;
  pools: ReadonlyMap<string, Pool>;
}

/** A request head read whole (vhosts/http-head.ts). */
type Head = Extract<HttpHeadResult, { state: 'done' }>;

/** What the listener read before asking: who the client is, its name, the bytes read. */
export interface Read {
  addresses: ConnectionAddresses;
  name?: string;
  first: Buffer;
}

/** Asks the listener's router about `client`, then does what it decided. */
export async function askRouter(
  router: RouterThread,
  routing: Asking,
  client: net.Socket,
  read: Read,
  events: EventCounts,
  who: string,
): Promise<Routed> {
  const http = routing.config.protocol === 'http';
  const outcome = await router.decide(routeRequest(routing, client, read));
  let failed = 'failed' in outcome ? outcome : undefined;
  const decision = 'decision' in outcome ? outcome.decision : undefined;
  const pool = decision && 'pool' in decision ? routing.pools.get(decision.pool) : undefined;
  if (decision && 'pool' in decision && pool === undefined) {
    router.stats.errors++;
    const names = [...routing.pools.keys()].join(', ');
    const why = `decided { pool: ${show(decision.pool)} }, which is none of ${names}`;
    failed = { failed: why, kind: 'routerError' };
  }
  if (failed) {
    const how = http ? 'answered 500' : 'closed';
    const what = failed.kind === 'routerTimeout' ? 'timed out' : 'failed';
    const line = `Router ${router.shown} ${what} for ${who}: ${failed.failed}: ${how}.`;
    if (router.firstOf(failed.kind)) events.countAndLog(failed.kind, line);
    else events.count(failed.kind, line);
    await closeGently(client, http ? INTERNAL_ERROR : undefined);
    return 'done';
  }
  if (decision === undefined) return 'fall-through';
  if ('pool' in decision) return { pool: pool as Pool }; // (one that exists: checked above)
  if ('backend' in decision) return { pool: poolOf(decision.backend) };
  const how = http ? `answered ${decision.reject}` : 'closed';
  events.count('routerReject', `Router ${router.shown} rejected ${who}: ${how}.`);
  await closeGently(client, http ? statusResponse(decision.reject) : undefined);
  return 'done';
}

const INTERNAL_ERROR = statusResponse(500, 'The router failed.\n');

/**
 * A pool's settings at their defaults, without passive health: a backend a
 * router names gets one connect per client, and its failures, the router's
 * to see, take nothing out of rotation (there is no rotation) and log nothing.
 */
const ONE_BACKEND = {
  ...readObject(new Place('router', ''), {}, POOL_SETTINGS),
  maxFails: Number.POSITIVE_INFINITY,
};

/** A pool of the one backend a router named, for this client only. */
function poolOf(address: string): Pool {
  const backend = { ...hostPort(new Place('router', 'backend'), address), weight: 1 };
  return new Pool({ ...ONE_BACKEND, name: 'router', backends: [backend] });
}

/** The question: plain data, copied to the router's thread. */
export function routeRequest(routing: Asking, client: net.Socket, read: Read): RouteRequest {
  const { config } = routing;
  const request: RouteRequest = {
    listener: { port: listenerPort(routing, client), protocol: config.protocol },
    client: { address: read.addresses.sourceAddress ?? '', port: read.addresses.sourcePort ?? 0 },
  };
  // The name as the host table compares it (an SNI comes as sent; a Host is so already).
  if (read.name !== undefined) request.name = canonicalHost(read.name) ?? read.name;
  // An http listener has read the head whole and checked it; read again, it is quick.
  const head = config.protocol === 'http' ? readHttpHead(read.first, config) : undefined;
  if (head?.state === 'done') request.http = httpOf(head);
  return request;
}

/** The ports the system chose for listeners configured on port 0, by their routing. */
const chosenPorts = new WeakMap<Asking, number>();

/**
 * The listener's real port. Configured as 0, the system chose it, and the
 * socket knows it: asked of the first client only (each ask is a
 * getsockname() system call), then remembered for the listener's routing.
 */
function listenerPort(routing: Asking, client: net.Socket): number {
  if (routing.config.port !== 0) return routing.config.port;
  let port = chosenPorts.get(routing);
  if (port === undefined) {
    port = client.localPort ?? 0;
    chosenPorts.set(routing, port);
  }
  return port;
}

/**
 * The request's method, path and headers. The head was read and checked
 * already (http-head.ts): its lines end in CRLF, and each header line is a
 * name, a colon and a value. Names are in lower case; a header sent twice is
 * one entry, its values joined with ", " (RFC 9110 5.3).
 */
function httpOf(head: Head): NonNullable<RouteRequest['http']> {
  const lines = head.bytes.toString('latin1', 0, head.headLength).split('\r\n');
  // No prototype: a header named "constructor" or "__proto__" is a header like any other.
  const headers: Record<string, string> = Object.create(null);
  for (const line of lines.slice(lines.findIndex((l) => l !== '') + 1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = trimSpaces(line.slice(colon + 1));
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  // An absolute-form target (GET http://host/x) has its path after the authority.
  const path = head.target.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, '') || '/';
  return { method: head.method, path, headers };
}
