/**
 * Fleet mode's routes as a table in this process: plain data, built from the
 * route keys in Redis and read by every client's lookup. It holds no
 * connection and sends no command: redis-link.ts reads the keys and hands
 * each one over. The key format, `hostnames:NAME:backends`, is the Go
 * proxy's; `*.` names and ports in members are this part's own:
 *
 *   SADD hostnames:www.example.org:backends 10.0.0.1 10.0.0.2:8080
 *   SADD hostnames:*.example.org:backends 10.0.0.3     any name under example.org
 *   SADD hostnames:httpDefault:backends 10.0.0.9       HTTP clients no route matched
 *   SADD hostnames:httpsDefault:backends 10.0.0.9      TLS clients no route matched
 *
 * A member is "host", "host:port", "[v6]" or "[v6]:port"; with no port it
 * means 80 for HTTP and 443 for TLS, as it did there. Names, in keys and in
 * members, are read and matched by the host table's rules (hosts.ts): any
 * case, a trailing dot or not, an IPv6 address in any spelling (without
 * brackets in a key), and a wildcard never matches an address.
 *
 *   a key ─▶ RouteKeys.routeOf: the route it names (else skipped, logged once)
 *     └─▶ its members, read by redis-link.ts ─▶ RouteKeys.read: the valid ones
 *           ├─▶ RouteTable.update: after a notification, that key's route rebuilt
 *           └─▶ a full read: a fresh RouteTable, then RouteTable.replaceWith
 *   a client's name ─▶ RouteTable.lookup: exact, else the longest *.suffix, else the default
 */
import { canonicalHost, joinHostPort, readHostPort } from '../ip.ts';
import { describe, log, printable } from '../log.ts';
import { canonicalKey, matchHost } from '../vhosts/hosts.ts';

export type Protocol = 'http' | 'tls';

/** The route for clients no other route matched, per protocol (the Go proxy's names). */
export const DEFAULT_ROUTES = { http: 'httpDefault', tls: 'httpsDefault' } as const;

/** A backend as a pool takes it. `id` ("host:port", "[v6]:port") is its identity. */
export interface RouteBackend {
  id: string;
  host: string;
  port: number;
}

/**
 * What a lookup finds: the route that matched ("www.example.org",
 * "*.example.org", "httpDefault") and its backends. The same object comes back
 * until that route changes, so a caller can key its pools on it. A route whose
 * every member is invalid has no backends (the caller refuses the client)
 * rather than falling through to the default.
 */
export interface RouteMatch {
  route: string;
  backends: readonly RouteBackend[];
}

/** A route as the status lists it: its members as written canonically. */
export interface RouteEntry {
  host: string;
  backends: string[];
  source: 'redis';
}

/** A member as read: the host (lower case, IPv6 compressed), its port if it had one. */
export interface Member {
  host: string;
  port: number | undefined;
  /** The member written in one canonical way ("10.0.0.1", "[::1]:8080"). */
  text: string;
}

/**
 * One key as read: the route it names, and its valid members (undefined when
 * the key is gone, Redis keeping no empty set, or is no set).
 */
export interface KeyRead {
  key: string;
  route: string;
  members: readonly Member[] | undefined;
}

const SUFFIX = ':backends';

/**
 * The route keys under one prefix (`<prefix><host>:backends`), and what was
 * logged of them: each bad member or key is logged once, however often it is
 * read again.
 */
export class RouteKeys {
  /** Every route key, as a glob: SCAN's MATCH, and PSUBSCRIBE's behind the channel's prefix. */
  readonly pattern: string;
  /** What was logged already, so a full read does not repeat it: per key, its bad members. */
  private readonly logged = new Map<string, Set<string>>();

  constructor(readonly prefix = 'hostnames:') {
    this.pattern = `${globEscape(prefix)}*${SUFFIX}`;
  }

  /** The route a key (one that matches `pattern`) names; undefined when it names none. */
  routeOf(key: string): string | undefined {
    const route = routeName(key.slice(this.prefix.length, key.length - SUFFIX.length));
    if (route === undefined) {
      this.logOnce(key, '', `Redis key ${printable(key)}: not a host name, skipped.`);
    }
    return route;
  }

  /**
   * One key's valid members, from its SMEMBERS reply; `reply` is the error
   * when Redis refused the command (the key holds something else than a set).
   */
  read(key: string, route: string, reply: readonly string[] | Error): KeyRead {
    if (reply instanceof Error) {
      this.logOnce(key, '', `Redis key ${printable(key)}: ${describe(reply)}, skipped.`);
      return { key, route, members: undefined };
    }
    if (reply.length === 0) {
      this.logged.delete(key);
      return { key, route, members: undefined };
    }
    const members: Member[] = [];
    const bad = new Set<string>();
    for (const text of reply) {
      const member = parseMember(text);
      if (member) members.push(member);
      else bad.add(text);
    }
    const logged = this.logged.get(key);
    for (const text of bad) {
      if (logged?.has(text)) continue;
      log(
        `Redis key ${printable(key)}: skipped member "${printable(text)}" ` +
          '(expected host, host:port, [v6] or [v6]:port).',
      );
    }
    if (bad.size > 0) this.logged.set(key, bad);
    else this.logged.delete(key);
    return { key, route, members };
  }

  private logOnce(key: string, text: string, line: string): void {
    const logged = this.logged.get(key);
    if (logged?.has(text)) return;
    log(line);
    this.logged.set(key, new Set([text]));
  }
}

interface Route {
  members: readonly Member[];
  /** The members, in order: two reads of an unchanged set give the same. */
  signature: string;
  http: RouteMatch;
  tls: RouteMatch;
}

/**
 * Routes by name, built from keys. Two keys may spell one name
 * ("Example.org", "example.org."): the route has the members of both.
 */
export class RouteTable {
  /** Each key's valid members. */
  private members = new Map<string, readonly Member[]>();
  /** The keys that spell each route's name. */
  private keysOf = new Map<string, Set<string>>();
  private routes = new Map<string, Route>();

  get size(): number {
    return this.routes.size;
  }

  /**
   * The backends for `host` (a name without port, from a Host header or SNI):
   * the exact name, else the longest `*.suffix`, else the protocol's default.
   * Case does not matter, nor a trailing dot.
   */
  lookup(host: string, protocol: Protocol): RouteMatch | undefined {
    const route =
      matchHost(host, (key) => this.routes.get(key)) ?? this.routes.get(DEFAULT_ROUTES[protocol]);
    return route?.[protocol];
  }

  /** Sets one key's members (undefined: the key is gone); true when its route changed. */
  put({ key, route, members }: KeyRead): boolean {
    const keys = this.keysOf.get(route) ?? new Set<string>();
    if (members) {
      this.members.set(key, members);
      keys.add(key);
      this.keysOf.set(route, keys);
    } else {
      this.members.delete(key);
      keys.delete(key);
    }
    const before = this.routes.get(route);
    if (keys.size === 0) {
      this.keysOf.delete(route);
      this.routes.delete(route);
      return before !== undefined;
    }
    const next = makeRoute(
      route,
      [...keys].flatMap((k) => this.members.get(k) ?? []),
    );
    if (before?.signature === next.signature) return false;
    this.routes.set(route, next);
    return true;
  }

  /** A key read again after its notification: put, and one line when its route changed. */
  update(read: KeyRead): boolean {
    if (!this.put(read)) return false;
    const now = this.routes.get(read.route);
    log(
      now
        ? `Route ${printable(read.route)} from Redis: ${now.members.length} backend(s).`
        : `Route ${printable(read.route)} removed from Redis.`,
    );
    return true;
  }

  /**
   * Takes every route of `fresh`, a table a full read filled, keeping the
   * route objects of this one that did not change (a lookup's answer keeps its
   * identity); returns the names whose backends changed. `fresh` is spent.
   */
  replaceWith(fresh: RouteTable): string[] {
    const names = new Set([...this.routes.keys(), ...fresh.routes.keys()]);
    const changed = [...names].filter(
      (name) => this.routes.get(name)?.signature !== fresh.routes.get(name)?.signature,
    );
    const changedSet = new Set(changed);
    for (const [name, route] of this.routes) {
      if (!changedSet.has(name)) fresh.routes.set(name, route);
    }
    this.members = fresh.members;
    this.keysOf = fresh.keysOf;
    this.routes = fresh.routes;
    return changed;
  }

  snapshot(): RouteEntry[] {
    return [...this.routes.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([host, route]) => ({
        host,
        backends: route.members.map((m) => m.text),
        source: 'redis' as const,
      }));
  }
}

function makeRoute(name: string, members: Member[]): Route {
  const unique = [...new Map(members.map((m) => [m.text, m])).values()].sort((a, b) =>
    compare(a.text, b.text),
  );
  const backends = (defaultPort: number): RouteBackend[] => {
    const byId = new Map<string, RouteBackend>();
    for (const m of unique) {
      const port = m.port ?? defaultPort;
      const id = joinHostPort(m.host, port);
      byId.set(id, { id, host: m.host, port });
    }
    return [...byId.values()];
  };
  return {
    members: unique,
    signature: unique.map((m) => m.text).join(' '),
    http: Object.freeze({ route: name, backends: Object.freeze(backends(80)) }),
    tls: Object.freeze({ route: name, backends: Object.freeze(backends(443)) }),
  };
}

// --- Names and members -------------------------------------------------------------

/** The route a key's middle names: a host, `*.suffix`, or a default; undefined when it is none. */
function routeName(raw: string): string | undefined {
  if (raw === DEFAULT_ROUTES.http || raw === DEFAULT_ROUTES.tls) return raw;
  return canonicalKey(raw);
}

/** "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address. */
function parseMember(text: string): Member | undefined {
  // A bare IPv6 address first: its colons are no port's.
  const bare = text.includes(':') ? canonicalHost(text) : undefined;
  const read = bare === undefined ? readHostPort(text) : { canonical: bare, port: undefined };
  if (read === undefined) return undefined;
  const { canonical: host, port } = read;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host, port, text: joinHostPort(host, port) };
}

/** Code-point order, the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A prefix taken literally in a SCAN MATCH or PSUBSCRIBE pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
