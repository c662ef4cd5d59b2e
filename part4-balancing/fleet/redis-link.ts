/**
 * The link to Redis that keeps fleet mode's route table (route-table.ts)
 * true: two connections, the PINGs that watch them, the state they add up
 * to, and the reads that fill the table. A client's lookup is a Map read in
 * that table that never waits for Redis:
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
 * The link's states (nextState() holds every transition); down and silent
 * are an outage, logged in one line when it begins and one when it ends:
 *
 *   idle ─ start() ─▶ connecting ─────── read in full, both connections up ───────▶ up
 *                     ├─ a connection lost ─▶ down ◀─ a connection lost ────────────┤
 *                     │                        │ ▲                                  │
 *                     │      a PING unanswered ▼ │ refused or closed                │
 *                     └─ a PING unanswered ─▶ silent ◀─ a PING unanswered ──────────┘
 *
 *   down, silent ─ read in full, both connections up ─▶ up ("is back")
 *   any ─ stop() ─▶ stopped
 *
 * What it leaves out: Redis Cluster (and Sentinel, chapter 9's); a route key overwritten by
 * a string command (SET: the '$' class, not asked for) is noticed at the next
 * full read.
 */
import { ConnectionTimeoutError, createClient, ErrorReply } from 'redis';
import { describe, log, printable } from '../log.ts';
import { parseRedisUrl } from './fields.ts';
import {
  type KeyRead,
  type Protocol,
  type RouteEntry,
  RouteKeys,
  type RouteMatch,
  RouteTable,
} from './route-table.ts';
import type { RedisLink } from '../status/snapshot.ts';
import { redisResyncs } from '../meters.ts';
import { type PrimaryWatch, type SentinelOptions, watchPrimary } from '../sentinel/sentinel.ts'; //> 4.9

export type { RedisLink };

/** For the status page. */
export interface RoutesSnapshot extends RedisLink {
  routes: RouteEntry[];
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
  /** The primary named by a Sentinel set: `url` then gives only the user, password and database. */
  sentinel?: SentinelOptions; //> 4.9
}

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

// --- The link's state ----------------------------------------------------------------

/**
 * Where the link is. Connecting: started, and no outage seen yet. Up: both
 * connections answer and the table was read in full since. Down: connections
 * refused or closed. Silent: a question (a PING, a new connection's
 * handshake) went unanswered, at `since`.
 */
type LinkState =
  | { name: 'idle' }
  | { name: 'connecting' }
  | { name: 'up' }
  | { name: 'down' }
  | { name: 'silent'; since: number }
  | { name: 'stopped' };

/** What moves the link from one state to another. */
type LinkEvent =
  | { type: 'start' }
  /** The table read in full with both connections up. */
  | { type: 'read' }
  /** A connection failed, or an attempt to make one did. */
  | { type: 'lost'; err: Error }
  /** A question sent at `since` got no answer within pingTimeoutMs. */
  | { type: 'unanswered'; since: number }
  | { type: 'stop' };

/** Every transition of the link: the state `event` leads to from `state`. */
function nextState(state: LinkState, event: LinkEvent): LinkState {
  if (state.name === 'stopped') return state;
  switch (event.type) {
    case 'start':
      return { name: 'connecting' };
    case 'read':
      return { name: 'up' };
    case 'lost':
      // Refused or closed: Redis's host answers, so the link is down, not silent.
      // A connect timing out is the same silence as an unanswered PING.
      if (state.name === 'silent' && event.err instanceof ConnectionTimeoutError) return state;
      return { name: 'down' };
    case 'unanswered':
      // Silent since the first question that went unanswered.
      return state.name === 'silent' ? state : { name: 'silent', since: event.since };
    case 'stop':
      return { name: 'stopped' };
  }
}

/** An outage: the link was up, or tried to be, and is not. */
function isOutage(state: LinkState): boolean {
  return state.name === 'down' || state.name === 'silent';
}

type Client = ReturnType<typeof createClient>;

/** The two connections, made together and dropped together when the link goes silent. */
interface Connections {
  data: Client;
  /** A connection in subscribe mode can run nothing else: the notifications get their own. */
  subscriber: Client;
  /** The subscription is in place on the subscriber's current connection. */
  subscribed: boolean;
  /** Stops the PINGs of both. */
  unwatch: () => void;
}

/** The routes kept in Redis, served from a table in this process and kept true by the link. */
export class RedisRoutes {
  private readonly table = new RouteTable();
  private readonly keys: RouteKeys;
  private state: LinkState = { name: 'idle' };
  /** Made by start(), and again each time the link goes silent. */
  private connections!: Connections;
  private clientOptions: ReturnType<typeof clientOptions>;
  /** The URL without its credentials, for log lines. */
  private where: string;
  private readonly channelPrefix: string;
  private readonly pollMs: number;
  private readonly retryMaxMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly onChange: (route: string) => void;
  /** The table was read in full once: the first read says "loaded", a later one "is back". */
  private loaded = false;
  private settleStart: () => void = () => {};

  /** Every read of Redis, one after another, so a late reply never overwrites a newer one. */
  private work: Promise<void> = Promise.resolve();
  private resyncQueued = false;
  /** Keys notified and not read yet. */
  private dirty = new Set<string>();
  private flushQueued = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The last refusal logged, so a retry does not repeat it. */
  private loggedError = '';
  //> 4.9
  /** The Sentinel set that names the primary, and the primary it named last. */
  private readonly sentinel: PrimaryWatch | undefined;
  private primary: string | undefined;
  //< 4.9

  constructor(options: RedisRoutesOptions) {
    const url = parseRedisUrl(options.url);
    // The configuration refuses such a URL (routeSource.redis) before it gets here.
    if (url === undefined)
      throw new Error(`expected redis://host:port[/db], got "${printable(options.url)}"`);
    const { shown, database } = url;
    this.where = shown;
    this.keys = new RouteKeys(options.prefix);
    this.channelPrefix = `__keyspace@${database}__:`;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.pollMs = options.pollMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 2000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    this.onChange = options.onChange ?? (() => {});
    this.clientOptions = clientOptions(options.url, this.retryMaxMs);
    //> 4.9
    if (options.sentinel) {
      this.sentinel = watchPrimary(options.sentinel);
      this.where = this.sentinel.where;
    }
    //< 4.9
  }

  /**
   * Connects and reads every route. Resolves once the table is loaded, or as
   * soon as Redis is found unreachable (the table is empty then, and fills
   * when Redis answers): a proxy starts serving either way.
   */
  start(): Promise<void> {
    if (this.state.name !== 'idle') throw new Error('RedisRoutes: already started');
    this.on({ type: 'start' });
    const settled = new Promise<void>((resolve) => {
      this.settleStart = resolve;
    });
    //> 4.9
    if (this.sentinel) {
      this.sentinel.start(
        (host, port) => this.follow(host, port),
        (err) => this.on({ type: 'lost', err }),
      );
      return settled;
    }
    //< 4.9
    this.connect();
    return settled;
  }

  /** The route for `host` (see RouteTable.lookup): a Map read, never a wait for Redis. */
  lookup(host: string, protocol: Protocol): RouteMatch | undefined {
    return this.table.lookup(host, protocol);
  }

  /** Both connections are up and the table has been read in full since. */
  get connected(): boolean {
    return this.state.name === 'up';
  }

  /** Up, silent (and since how long), or down. */
  link(): RedisLink {
    const link = this.linkState();
    if (this.primary !== undefined) link.primary = this.primary; //> 4.9
    return link;
  }

  private linkState(): RedisLink {
    const { state } = this;
    if (state.name === 'up') return { connected: true, state: 'up' };
    if (state.name !== 'silent') return { connected: false, state: 'down' };
    return { connected: false, state: 'silent', silentForMs: Date.now() - state.since };
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
    if (this.state.name === 'stopped') return;
    const started = this.state.name !== 'idle';
    this.on({ type: 'stop' });
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.sentinel?.stop(); //> 4.9
    if (started && this.connections) this.disconnect();
    this.settleStart();
    await this.work;
  }

  /** Moves the link to the state `event` leads to; an outage's first line as it begins. */
  private on(event: LinkEvent): void {
    const was = this.state;
    this.state = nextState(was, event);
    if (isOutage(was) || !isOutage(this.state)) return;
    const what =
      event.type === 'lost'
        ? `unreachable (${describe(event.err)})`
        : `went silent (no answer to PING within ${this.pingTimeoutMs} ms)`;
    const known = this.table.size;
    const keeping = known === 0 ? 'no routes yet' : `keeping the ${known} route(s) known`;
    log(`Redis at ${this.where} ${what}: ${keeping}, retrying.`);
    this.settleStart();
  }

  //> 4.9
  /**
   * Sentinel named the primary: the first time, the link connects to it; after
   * a promotion, both connections are dropped and made to the new one (the old
   * primary, if it comes back, is a replica), which reads every route again.
   * One line says the primary moved; the outage lines say the rest.
   */
  private follow(host: string, port: number): void {
    if (this.state.name === 'stopped') return;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    if (address === this.primary) return;
    const url = new URL(this.clientOptions.url);
    url.host = address;
    const moved = this.primary;
    this.primary = address;
    this.clientOptions = clientOptions(url.toString(), this.retryMaxMs);
    this.where = `redis://${address} (primary of ${this.sentinel?.where})`;
    if (moved !== undefined) {
      log(`Sentinel moved the primary from ${moved} to ${address}: following it.`);
      this.disconnect();
    }
    this.connect();
  }
  //< 4.9

  // --- Connections ---------------------------------------------------------------

  /**
   * Makes the two connections; node-redis makes each again after an error,
   * by itself. Both connect at once, and each is watched by PINGs.
   */
  private connect(): void {
    const data: Client = createClient(this.clientOptions);
    const subscriber: Client = data.duplicate();
    const connections: Connections = { data, subscriber, subscribed: false, unwatch: () => {} };
    this.connections = connections;
    // node-redis reports every failed attempt as an 'error' event; one that
    // nobody listens to would kill the process.
    data.on('error', (err) => this.onLost(err));
    subscriber.on('error', (err) => {
      if (!subscriber.isReady) connections.subscribed = false;
      this.onLost(err);
    });
    data.on('ready', () => this.resyncWhenReady());
    subscriber.on('ready', () => void this.subscribe());
    const watches = [data, subscriber].map((client) =>
      watchLink(client, this.pingIntervalMs, this.pingTimeoutMs, (since) => this.onSilent(since)),
    );
    connections.unwatch = () => {
      for (const stop of watches) stop();
    };
    // These settle only when Redis answers (or on stop); failures arrive as events.
    data.connect().catch(() => {});
    subscriber.connect().catch(() => {});
  }

  /** Both connections closed for good, with whatever they were waiting for. */
  private disconnect(): void {
    const { data, subscriber, unwatch } = this.connections;
    unwatch();
    this.connections.subscribed = false;
    for (const client of [data, subscriber]) {
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
    if (this.state.name === 'stopped') return;
    this.on({ type: 'unanswered', since });
    this.disconnect();
    this.connect();
  }

  /** A connection failed or an attempt did: one line when Redis goes, none per retry. */
  private onLost(err: Error): void {
    if (this.state.name === 'stopped') return;
    // An error that cost no connection (a failed command) is its caller's to handle.
    if (!this.connections) return; //> 4.9
    const { data, subscriber } = this.connections;
    if (data.isReady && subscriber.isReady) return;
    this.on({ type: 'lost', err });
  }

  /** On every connect of the subscriber (node-redis renews the subscription on a reconnect). */
  private async subscribe(): Promise<void> {
    const connections = this.connections;
    const { subscriber } = connections;
    const pattern = `${this.channelPrefix}${this.keys.pattern}`;
    try {
      // Subscribing again to the same pattern with the same listener is a no-op.
      await subscriber.pSubscribe(pattern, (_event, channel) => this.onNotification(channel));
    } catch (err) {
      // Cut off again: its 'ready' brings us back here. Refused (an ACL, say): later.
      if (this.state.name === 'stopped' || !subscriber.isReady) return;
      this.refused(err);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.subscribe(), this.retryMaxMs).unref();
      return;
    }
    connections.subscribed = true;
    this.resyncWhenReady();
  }

  /** Both connections up (notifications could be lost until now): read everything. */
  private resyncWhenReady(): void {
    const { data, subscribed } = this.connections;
    if (this.state.name === 'stopped' || !data.isReady || !subscribed || this.resyncQueued) return;
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
    if (this.state.name === 'stopped') return;
    // A lost connection: its reconnect brings a full read, which covers this.
    this.dirty.clear();
    if (!this.connections?.data.isReady) return;
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
    redisResyncs.inc();
    await this.ensureNotifications();
    const fresh = new RouteTable();
    const scan = { MATCH: this.keys.pattern, TYPE: 'set', COUNT: BATCH };
    for await (const page of this.connections.data.scanIterator(scan)) {
      // A page may hold more keys than COUNT asked for.
      for (let i = 0; i < page.length; i += BATCH) {
        const keys = page.slice(i, i + BATCH);
        const read = await Promise.all(keys.map((key) => this.readKey(key)));
        for (const entry of read) if (entry) fresh.put(entry);
      }
    }
    const changed = this.table.replaceWith(fresh);
    this.loggedError = '';
    const { data, subscribed } = this.connections;
    const connected = data.isReady && subscribed;
    const summary = `${this.table.size} route(s), ${changed.length} changed`;
    if (!this.loaded) log(`Routes from Redis at ${this.where}: ${this.table.size} loaded.`);
    else if (connected && isOutage(this.state)) log(`Redis at ${this.where} is back: ${summary}.`);
    this.loaded = true;
    if (connected) this.on({ type: 'read' });
    this.settleStart();
    for (const route of changed) this.notify(route);
  }

  /** The notified keys, read and applied a batch at a time. */
  private async readDirty(): Promise<void> {
    while (this.dirty.size > 0) {
      const keys = [...this.dirty].slice(0, BATCH);
      for (const key of keys) this.dirty.delete(key);
      const read = await Promise.all(keys.map((key) => this.readKey(key)));
      for (const entry of read) {
        if (entry && this.table.update(entry)) this.notify(entry.route);
      }
    }
  }

  /** One key, read with SMEMBERS; undefined, and not read, when its name is no route. */
  private async readKey(key: string): Promise<KeyRead | undefined> {
    const route = this.keys.routeOf(key);
    if (route === undefined) return undefined;
    let reply: string[] | ErrorReply;
    try {
      reply = await this.connections.data.sMembers(key);
    } catch (err) {
      if (!(err instanceof ErrorReply)) throw err;
      reply = err;
    }
    return this.keys.read(key, route, reply);
  }

  /**
   * Turns on the notifications the table needs, keeping the classes already
   * on. When CONFIG is refused, the routes are re-read every pollMs instead.
   *
   * Why keyspace notifications, not a channel the operator publishes to: the
   * sets are written by tools that already exist (redis-cli, the old proxies'
   * scripts), and none of them publishes. A forgotten publish would leave a
   * route stale with nothing to show it; a keyspace notification comes with
   * every write, by anyone. They are off by default (notify-keyspace-events
   * ""), so on every connect the proxy adds the classes it needs (K: keyspace
   * channels; g: DEL, RENAME, EXPIRE; s: set commands; x: expired; e: evicted)
   * to those already on, with CONFIG SET: every connect, because a restarted
   * Redis has forgotten a CONFIG SET, and nothing is written to its
   * configuration file. Where CONFIG is disabled or not allowed, the proxy
   * cannot even see whether they are on: it says so in one line and re-reads
   * every route each `pollMs` as well.
   */
  private async ensureNotifications(): Promise<void> {
    const { data } = this.connections;
    try {
      const reply = await data.configGet('notify-keyspace-events');
      const current = String(reply['notify-keyspace-events'] ?? '');
      const missing = missingFlags(current);
      if (missing !== '') await data.configSet('notify-keyspace-events', current + missing);
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
        if (this.connected) this.resyncWhenReady();
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

/** The flags of NOTIFY_FLAGS that `current` lacks ('A' stands for every class but K and E). */
function missingFlags(current: string): string {
  return [...NOTIFY_FLAGS]
    .filter((flag) => !current.includes(flag) && !(flag !== 'K' && current.includes('A')))
    .join('');
}
