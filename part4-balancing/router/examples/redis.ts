/**
 * The Go proxy's lookup, as a router: on every client, ask Redis for the
 * backends of its name (`SMEMBERS hostnames:<name>:backends`), then of the
 * default (`hostnames:httpDefault:backends`, `httpsDefault` for TLS), and
 * send the client to one of them at random. A member without a port gets 80
 * (HTTP) or 443 (TLS), as it did there.
 *
 * Put beside fleet mode (chapter 7), which keeps the same keys in a table in
 * the process: here every client waits for a round trip to Redis, a backend
 * gets one connect and no health check, and when Redis is away every client
 * fails (a 500 or a close) where fleet mode keeps serving the last routes.
 * It is the simple design, and the chapter measures what it costs.
 *
 * Redis is REDIS_URL, or redis://127.0.0.1:6379. Like the Go proxy, it will
 * not start without it: the connect is awaited while the module loads.
 */
import { createClient } from 'redis';
import type { RouteDecision, RouteRequest } from '../types.ts';

// No queue while Redis is away: a lookup then fails at once, rather than waiting.
const redis = createClient({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  disableOfflineQueue: true,
});
redis.on('error', () => {}); // it reconnects by itself; lookups meanwhile fail
await redis.connect();

export default async function fromRedis(request: RouteRequest): Promise<RouteDecision> {
  const tls = request.listener.protocol === 'tls';
  let members = request.name ? await redis.sMembers(`hostnames:${request.name}:backends`) : [];
  if (members.length === 0) {
    members = await redis.sMembers(`hostnames:${tls ? 'httpsDefault' : 'httpDefault'}:backends`);
  }
  if (members.length === 0) return undefined;
  const member = members[Math.floor(Math.random() * members.length)];
  return { backend: withPort(member, tls ? 443 : 80) };
}

/** "10.0.0.1" -> "10.0.0.1:80"; "10.0.0.1:8080" and "[::1]:8080" as they are; "::1" -> "[::1]:80". */
function withPort(member: string, port: number): string {
  if (/^\[.*\]:\d+$|^[^:]+:\d+$/.test(member)) return member;
  return member.includes(':') ? `[${member}]:${port}` : `${member}:${port}`;
}
