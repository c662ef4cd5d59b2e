/**
 * Routes kept in Redis and served from a table in this process: how a fleet of
 * proxies shares its routes. The keys are those of the Go proxy (and of
 * hipache before it), so the tools that wrote them still work:
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
 * Those proxies asked Redis on every connection and fell over when it went
 * away. Here a client's lookup is a Map read that never waits for Redis:
 *
 *   connect (two connections) ─▶ notifications on ─▶ SCAN + SMEMBERS ─▶ the table
 *   a notification for one key ─▶ SMEMBERS that key ─▶ its route replaced (gone if the key is)
 *   a connection lost ─▶ the table stays as it is; retry with backoff
 *     └─▶ both back ─▶ notifications on ─▶ everything read again, then applied
 *   a PING unanswered ─▶ the link is silent: both connections dropped, made again
 *     └─▶ as for a connection lost
 *
 * Read again in full, because Redis does not keep a notification for a client
 * that is away: whatever changed during the outage is only in the keys.
 *
 * Why the PINGs: a link can go silent without closing. A network partition,
 * or a Redis that vanishes behind a TCP proxy in a failover, sends no FIN and
 * no RST; the kernel sees a connection that looks alive, and a subscriber
 * waiting for notifications waits forever. TCP keepalive does not help: its
 * probes prove only that some kernel answers (the proxy's, say), and none is
 * sent while a command waits for its reply. So each connection sends PING
 * every pingIntervalMs (allowed in subscribe mode too), and a PING, or the
 * handshake of a new connection, unanswered within pingTimeoutMs makes the
 * link silent. The table serves on meanwhile, as through any outage.
 *
 * Why keyspace notifications, not a channel the operator publishes to: the
 * sets are written by tools that already exist (redis-cli, the old proxies'
 * scripts), and none of them publishes. A forgotten publish would leave a
 * route stale with nothing to show it; a keyspace notification comes with
 * every write, by anyone. They are off by default (notify-keyspace-events ""),
 * so on every connect the proxy adds the classes it needs (K: keyspace
 * channels; g: DEL, RENAME, EXPIRE; s: set commands; x: expired; e: evicted)
 * to those already on, with CONFIG SET: every connect, because a restarted
 * Redis has forgotten a CONFIG SET, and nothing is written to its
 * configuration file. Where CONFIG is disabled or not allowed, the proxy
 * cannot even see whether they are on: it says so in one line and re-reads
 * every route each `pollMs` as well.
 *
 * What it leaves out: Redis Cluster and Sentinel; a route key overwritten by
 * a string command (SET: the '$' class, not asked for) is noticed at the next
 * full read.
 */
import { ConnectionTimeoutError, createClient, ErrorReply } from 'redis';
import { parseRedisUrl } from '../config/config.ts';
import { joinHostPort } from '../ip.ts';
import { describe, log, printable } from '../log.ts';
import { canonicalHost, canonicalKey, matchHost, readHostPort } from '../vhosts/hosts.ts';

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

/**
 * The link to Redis, for the status: up (both connections answer and the
 * table was read since), silent (a PING went unanswered: since how long), or
 * down (connections refused or closed, or not made yet).
 */
export interface RedisLink {
  connected: boolean;
  state: 'up' | 'silent' | 'down';
  silentForMs?: number;
}

/** For the status page. */
export interface RoutesSnapshot extends RedisLink {
  routes: { host: string; backends: string[]; source: 'redis' }[];
}

export interface RedisRoutesOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** Keys are `<prefix><host>:backends`. */
  prefix?: string;
  /** The longest wait between two reconnect attempts. */
  retryMaxMs?: number;
  /** How often every route is re-read when notifications cannot be turned on. */
  pollMs?: number;
  /** How often each connection sends PING. */
  pingIntervalMs?: number;
  /** A PING (or a new connection's handshake) unanswered this long: the link is silent. */
  pingTimeoutMs?: number;
  /** Called with a route's name each time its backends change, appear or go. */
  onChange?: (route: string) => void;
}

const SUFFIX = ':backends';
const NOTIFY_FLAGS = 'Kgsxe';
/** Keys read at once (SCAN's COUNT, SMEMBERS in flight); the command queue is a few of these. */
const BATCH = 256;

/**
 * The node-redis options of both connections. Commands fail at once while a
 * connection is down (disableOfflineQueue), and never more than a few batches
 * wait for replies: an outage costs no memory, and the full read that follows
 * every reconnect replaces anything a queued command would have brought.
 */
export function clientOptions(url: string, retryMaxMs: number) {
  return {
    url,
    disableOfflineQueue: true,
    commandsQueueMaxLength: 4 * BATCH,
    socket: {
      // Doubling from 100 ms up to the cap, each wait cut by up to half at
      // random so that a fleet does not come back at the same instant.
      reconnectStrategy: (retries: number) =>
        Math.round(Math.min(100 * 2 ** retries, retryMaxMs) * (1 - Math.random() / 2)),
    },
  };
}

type Client = ReturnType<typeof createClient>;

export class RedisRoutes {
  private table = new RouteTable();
  private readonly clientOptions: ReturnType<typeof clientOptions>;
  private data!: Client;
  /** A connection in subscribe mode can run nothing else: the notifications get their own. */
  private subscriber!: Client;
  /** Stops the PINGs of the current two connections. */
  private unwatch: () => void = () => {};
  /** The URL without its credentials, for log lines. */
  private readonly where: string;
  private readonly prefix: string;
  private readonly channelPrefix: string;
  private readonly pollMs: number;
  private readonly retryMaxMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly onChange: (route: string) => void;

  /** The subscription is in place on the subscriber's current connection. */
  private subscribed = false;
  /** Both connections up and the table read in full since the last loss. */
  private isConnected = false;
  /** When the PING that went unanswered was sent, until the table is read again. */
  private silentSince: number | undefined;
  /** "Unreachable" (or "went silent") was logged and "back" not yet. */
  private announcedDown = false;
  private loadedOnce = false;
  private started = false;
  private stopped = false;
  private settleStart: () => void = () => {};

  /** Every read of Redis, one after another, so a late reply never overwrites a newer one. */
  private work: Promise<void> = Promise.resolve();
  private resyncQueued = false;
  /** Keys notified and not read yet. */
  private dirty = new Set<string>();
  private flushQueued = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** What was logged already, so a full read does not repeat it: per key, its bad members. */
  private loggedBad = new Map<string, Set<string>>();
  private loggedError = '';

  constructor(options: RedisRoutesOptions) {
    const url = parseRedisUrl(options.url);
    // The configuration refuses such a URL (routeSource.redis) before it gets here.
    if (url === undefined)
      throw new Error(`expected redis://host:port[/db], got "${printable(options.url)}"`);
    const { shown, database } = url;
    this.where = shown;
    this.prefix = options.prefix ?? 'hostnames:';
    this.channelPrefix = `__keyspace@${database}__:`;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.pollMs = options.pollMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 2000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    this.onChange = options.onChange ?? (() => {});
    this.clientOptions = clientOptions(options.url, this.retryMaxMs);
  }

  /**
   * Connects and reads every route. Resolves once the table is loaded, or as
   * soon as Redis is found unreachable (the table is empty then, and fills
   * when Redis answers): a proxy starts serving either way.
   */
  start(): Promise<void> {
    if (this.started) throw new Error('RedisRoutes: already started');
    this.started = true;
    const settled = new Promise<void>((resolve) => {
      this.settleStart = resolve;
    });
    this.connect();
    return settled;
  }

  /**
   * The backends for `host` (a name without port, from a Host header or SNI):
   * the exact name, else the longest `*.suffix`, else the protocol's default.
   * Case does not matter, nor a trailing dot.
   */
  lookup(host: string, protocol: Protocol): RouteMatch | undefined {
    return this.table.lookup(host, protocol);
  }

  /** Both connections are up and the table has been read in full since. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** Up, silent (and since how long), or down. */
  link(): RedisLink {
    if (this.isConnected) return { connected: true, state: 'up' };
    if (this.silentSince === undefined) return { connected: false, state: 'down' };
    return { connected: false, state: 'silent', silentForMs: Date.now() - this.silentSince };
  }

  snapshot(): RoutesSnapshot {
    return { ...this.link(), routes: this.table.snapshot() };
  }

  /**
   * Reads every route again now. Rejects at once while Redis is unreachable
   * (nothing waits in a queue for it to come back).
   */
  refresh(): Promise<void> {
    return this.enqueue(() => this.resync());
  }

  /** Closes both connections; the table stays readable. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.isConnected = false;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    if (this.started) this.disconnect();
    this.settleStart();
    await this.work;
  }

  // --- Connections ---------------------------------------------------------------

  /**
   * Makes the two connections; node-redis makes each again after an error,
   * by itself. Both connect at once, and each is watched by PINGs.
   */
  private connect(): void {
    const data: Client = createClient(this.clientOptions);
    const subscriber: Client = data.duplicate();
    this.data = data;
    this.subscriber = subscriber;
    // node-redis reports every failed attempt as an 'error' event; one that
    // nobody listens to would kill the process.
    data.on('error', (err) => this.onLost(err));
    subscriber.on('error', (err) => {
      if (!subscriber.isReady) this.subscribed = false;
      this.onLost(err);
    });
    data.on('ready', () => this.resyncWhenReady());
    subscriber.on('ready', () => void this.subscribe());
    const watches = [data, subscriber].map((client) =>
      watchLink(client, this.pingIntervalMs, this.pingTimeoutMs, (since) => this.onSilent(since)),
    );
    this.unwatch = () => {
      for (const stop of watches) stop();
    };
    // These settle only when Redis answers (or on stop); failures arrive as events.
    data.connect().catch(() => {});
    subscriber.connect().catch(() => {});
  }

  /** Both connections closed for good, with whatever they were waiting for. */
  private disconnect(): void {
    this.unwatch();
    this.subscribed = false;
    for (const client of [this.data, this.subscriber]) {
      client.removeAllListeners();
      // Nothing of theirs matters any more, but an 'error' with no listener would throw.
      client.on('error', () => {});
      client.destroy();
    }
  }

  /**
   * A PING or a handshake went unanswered: one line when the link goes silent,
   * none per PING. The silent connections are dropped (node-redis would wait
   * on them forever) and made again: their handshake is the next question.
   */
  private onSilent(since: number): void {
    if (this.stopped) return;
    this.silentSince ??= since;
    this.announceDown(`went silent (no answer to PING within ${this.pingTimeoutMs} ms)`);
    this.disconnect();
    this.connect();
  }

  /** A connection failed or an attempt did: one line when Redis goes, none per retry. */
  private onLost(err: Error): void {
    if (this.stopped) return;
    // An error that cost no connection (a failed command) is its caller's to handle.
    if (this.data.isReady && this.subscriber.isReady) return;
    // Refused or closed: Redis's host answers, so the link is down, not silent.
    // A connect timing out is the same silence as an unanswered PING.
    if (!(err instanceof ConnectionTimeoutError)) this.silentSince = undefined;
    this.announceDown(`unreachable (${describe(err)})`);
  }

  /** Not connected any more; the first time since it was, one line. */
  private announceDown(what: string): void {
    this.isConnected = false;
    if (this.announcedDown) return;
    this.announcedDown = true;
    const known = this.table.size;
    const keeping = known === 0 ? 'no routes yet' : `keeping the ${known} route(s) known`;
    log(`Redis at ${this.where} ${what}: ${keeping}, retrying.`);
    this.settleStart();
  }

  /** On every connect of the subscriber (node-redis renews the subscription on a reconnect). */
  private async subscribe(): Promise<void> {
    const pattern = `${this.channelPrefix}${globEscape(this.prefix)}*${SUFFIX}`;
    try {
      // Subscribing again to the same pattern with the same listener is a no-op.
      await this.subscriber.pSubscribe(pattern, (_event, channel) => this.onNotification(channel));
    } catch (err) {
      // Cut off again: its 'ready' brings us back here. Refused (an ACL, say): later.
      if (this.stopped || !this.subscriber.isReady) return;
      this.refused(err);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.subscribe(), this.retryMaxMs).unref();
      return;
    }
    this.subscribed = true;
    this.resyncWhenReady();
  }

  /** Both connections up (notifications could be lost until now): read everything. */
  private resyncWhenReady(): void {
    if (this.stopped || !this.data.isReady || !this.subscribed || this.resyncQueued) return;
    this.resyncQueued = true;
    void this.enqueue(async () => {
      this.resyncQueued = false;
      await this.resync();
    }).catch(() => {});
  }

  private onNotification(channel: string): void {
    this.dirty.add(channel.slice(this.channelPrefix.length));
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.enqueue(async () => {
      this.flushQueued = false;
      await this.readDirty();
    }).catch(() => {});
  }

  /** Runs `job` after those before it; a failure is handled here and passed to the caller. */
  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.work.then(job);
    this.work = run.catch((err) => this.failed(err));
    return run;
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    // A lost connection: its reconnect brings a full read, which covers this.
    this.dirty.clear();
    if (!this.data.isReady) return;
    // Redis answered with a refusal (a permission, say): try again later.
    this.refused(err);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.resyncWhenReady(), this.retryMaxMs).unref();
  }

  /** Redis is there but says no: one line per distinct reason, and the proxy starts anyway. */
  private refused(err: unknown): void {
    const message = describe(err);
    if (message !== this.loggedError) {
      this.loggedError = message;
      log(`Redis at ${this.where}: cannot read the routes (${message}); trying again.`);
    }
    this.settleStart();
  }

  // --- Reading Redis -------------------------------------------------------------

  /** Everything read again into a new table, which then replaces the old one. */
  private async resync(): Promise<void> {
    await this.ensureNotifications();
    const fresh = new RouteTable();
    const match = `${globEscape(this.prefix)}*${SUFFIX}`;
    for await (const page of this.data.scanIterator({ MATCH: match, TYPE: 'set', COUNT: BATCH })) {
      // A page may hold more keys than COUNT asked for.
      for (let i = 0; i < page.length; i += BATCH) {
        const keys = page.slice(i, i + BATCH);
        const read = await Promise.all(keys.map((key) => this.readKey(key)));
        keys.forEach((key, j) => {
          const entry = read[j];
          if (entry?.members) fresh.put(key, entry.route, entry.members);
        });
      }
    }
    const changed = this.table.differences(fresh);
    this.table = fresh.keepUnchanged(this.table, changed);
    this.loggedError = '';
    this.isConnected = this.data.isReady && this.subscribed;
    const summary = `${fresh.size} route(s), ${changed.length} changed`;
    if (!this.loadedOnce) log(`Routes from Redis at ${this.where}: ${fresh.size} loaded.`);
    else if (this.announcedDown && this.isConnected) {
      log(`Redis at ${this.where} is back: ${summary}.`);
    }
    if (this.isConnected) {
      this.announcedDown = false;
      this.silentSince = undefined;
    }
    this.loadedOnce = true;
    this.settleStart();
    for (const route of changed) this.notify(route);
  }

  /** The notified keys, read and applied a batch at a time. */
  private async readDirty(): Promise<void> {
    while (this.dirty.size > 0) {
      const keys = [...this.dirty].slice(0, BATCH);
      for (const key of keys) this.dirty.delete(key);
      const read = await Promise.all(keys.map((key) => this.readKey(key)));
      keys.forEach((key, i) => {
        const entry = read[i];
        if (!entry || !this.table.put(key, entry.route, entry.members)) return;
        const now = this.table.lookupRoute(entry.route);
        log(
          now
            ? `Route ${printable(entry.route)} from Redis: ${now.members.length} backend(s).`
            : `Route ${printable(entry.route)} removed from Redis.`,
        );
        this.notify(entry.route);
      });
    }
  }

  /**
   * One key's valid members; `members` undefined when the key is gone (Redis
   * keeps no empty set) or holds something else than a set. Undefined for a
   * key whose name is not a route. Each bad member or key is logged once.
   */
  private async readKey(
    key: string,
  ): Promise<{ route: string; members: Member[] | undefined } | undefined> {
    const route = routeOf(key.slice(this.prefix.length, key.length - SUFFIX.length));
    if (route === undefined) {
      this.logOnce(key, '', `Redis key ${printable(key)}: not a host name, skipped.`);
      return undefined;
    }
    let texts: string[];
    try {
      texts = await this.data.sMembers(key);
    } catch (err) {
      if (!(err instanceof ErrorReply)) throw err;
      this.logOnce(key, '', `Redis key ${printable(key)}: ${describe(err)}, skipped.`);
      return { route, members: undefined };
    }
    if (texts.length === 0) {
      this.loggedBad.delete(key);
      return { route, members: undefined };
    }
    const members: Member[] = [];
    const bad = new Set<string>();
    for (const text of texts) {
      const member = parseMember(text);
      if (member) members.push(member);
      else bad.add(text);
    }
    const logged = this.loggedBad.get(key);
    for (const text of bad) {
      if (logged?.has(text)) continue;
      log(
        `Redis key ${printable(key)}: skipped member "${printable(text)}" ` +
          '(expected host, host:port, [v6] or [v6]:port).',
      );
    }
    if (bad.size > 0) this.loggedBad.set(key, bad);
    else this.loggedBad.delete(key);
    return { route, members };
  }

  private logOnce(key: string, text: string, line: string): void {
    const logged = this.loggedBad.get(key);
    if (logged?.has(text)) return;
    log(line);
    this.loggedBad.set(key, new Set([text]));
  }

  /**
   * Turns on the notifications the table needs, keeping the classes already
   * on. When CONFIG is refused, the routes are re-read every pollMs instead.
   */
  private async ensureNotifications(): Promise<void> {
    try {
      const reply = await this.data.configGet('notify-keyspace-events');
      const current = String(reply['notify-keyspace-events'] ?? '');
      const missing = missingFlags(current);
      if (missing !== '') await this.data.configSet('notify-keyspace-events', current + missing);
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    } catch (err) {
      if (!(err instanceof ErrorReply)) throw err;
      if (this.pollTimer !== undefined) return;
      log(
        `Redis at ${this.where} refused CONFIG (${describe(err)}): cannot check that ` +
          `notify-keyspace-events includes ${NOTIFY_FLAGS}; routes are also re-read every ` +
          `${this.pollMs / 1000} s.`,
      );
      this.pollTimer = setInterval(() => {
        if (this.isConnected) this.resyncWhenReady();
      }, this.pollMs).unref();
    }
  }

  /** The integrator's callback must not stop the others from being told. */
  private notify(route: string): void {
    try {
      this.onChange(route);
    } catch (err) {
      log(`Route ${printable(route)}: the change handler failed (${describe(err)}).`);
    }
  }
}

/**
 * Watches one connection for silence: its handshake after each connect, and
 * a PING every `intervalMs` while it is up, must be answered within
 * `timeoutMs`; else `onSilent` gets the time the question was sent. A
 * connection that fails instead (refused, closed) is node-redis's to make
 * again. Returns the function that stops the watch.
 */
function watchLink(
  client: Client,
  intervalMs: number,
  timeoutMs: number,
  onSilent: (since: number) => void,
): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const asked = () => {
    if (deadline !== undefined) return;
    const since = Date.now();
    deadline = setTimeout(() => onSilent(since), timeoutMs).unref();
  };
  const answered = () => {
    clearTimeout(deadline);
    deadline = undefined;
  };
  client.on('connect', asked);
  client.on('ready', answered);
  client.on('error', answered);
  client.on('end', answered);
  const pings = setInterval(() => {
    if (!client.isReady || deadline !== undefined) return;
    asked();
    // A rejection is a connection lost (its 'error' clears the deadline) or
    // node-redis's own command timeout: either way, the deadline decides.
    client.ping().then(answered, () => {});
  }, intervalMs).unref();
  return () => {
    answered();
    clearInterval(pings);
  };
}

// --- The table -------------------------------------------------------------------

/** A member as read: the host (lower case, IPv6 compressed), its port if it had one. */
interface Member {
  host: string;
  port: number | undefined;
  /** The member written in one canonical way ("10.0.0.1", "[::1]:8080"). */
  text: string;
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
class RouteTable {
  private readonly members = new Map<string, readonly Member[]>();
  private readonly keysOf = new Map<string, Set<string>>();
  private readonly routes = new Map<string, Route>();

  get size(): number {
    return this.routes.size;
  }

  /** Sets one key's members (undefined: the key is gone); true when its route changed. */
  put(key: string, route: string, members: readonly Member[] | undefined): boolean {
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

  lookupRoute(route: string): Route | undefined {
    return this.routes.get(route);
  }

  lookup(host: string, protocol: Protocol): RouteMatch | undefined {
    const route =
      matchHost(host, (key) => this.routes.get(key)) ?? this.routes.get(DEFAULT_ROUTES[protocol]);
    return route?.[protocol];
  }

  /** The names whose backends differ between this table and `other`. */
  differences(other: RouteTable): string[] {
    const names = new Set([...this.routes.keys(), ...other.routes.keys()]);
    return [...names].filter(
      (name) => this.routes.get(name)?.signature !== other.routes.get(name)?.signature,
    );
  }

  /** This table, with the route objects of `old` where they did not change (lookups keep their identity). */
  keepUnchanged(old: RouteTable, changed: readonly string[]): this {
    const changedSet = new Set(changed);
    for (const [name, route] of old.routes) {
      if (!changedSet.has(name)) this.routes.set(name, route);
    }
    return this;
  }

  snapshot(): RoutesSnapshot['routes'] {
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

/** The route a key names: a host, `*.suffix`, or a default; undefined when it is none. */
function routeOf(raw: string): string | undefined {
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

/** The flags of NOTIFY_FLAGS that `current` lacks ('A' stands for every class but K and E). */
function missingFlags(current: string): string {
  return [...NOTIFY_FLAGS]
    .filter((flag) => !current.includes(flag) && !(flag !== 'K' && current.includes('A')))
    .join('');
}

/** A prefix taken literally in a SCAN MATCH or PSUBSCRIBE pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
