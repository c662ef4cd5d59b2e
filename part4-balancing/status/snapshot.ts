/**
 * The status JSON, field by field: what `GET /status.json` on the status port
 * answers (status.ts makes it), what the page renders (status-view.js, through
 * JSDoc), what the primary of `--workers` adds up (workers.ts) and what the
 * tests read. One definition for all of them, so a field cannot be added in one
 * place and missed in another; a program that scrapes the endpoint can read it
 * here.
 *
 * Types only: importing this file loads nothing, so status.ts, status-page.ts
 * and status-view.js can all import it without importing each other.
 *
 * Fields marked `?` are absent, not null, when they do not apply. Counters
 * start at zero with the process and survive a reload for every backend that
 * stays in its pool.
 *
 * What it leaves out: any promise of stability across versions (it is a
 * tutorial's JSON), and the page's own state (rates live in the browser).
 */
import type { Timings } from '../meters.ts';
/**
 * Fleet mode: the link to Redis (fleet/redis-link.ts), for the status: up
 * (both connections answer and the table was read since), silent (a PING went
 * unanswered: since how long), or down (connections refused or closed, or not
 * made yet).
 */
export interface RedisLink {
  connected: boolean;
  state: 'up' | 'silent' | 'down';
  silentForMs?: number;
  /** Through Sentinel: the primary followed now, HOST:PORT. */
  primary?: string; //> 4.9
}

/** The whole answer: one process, or with `--workers` the primary's sum of every worker's. */
export interface Snapshot {
  /** The configuration file's path, or "command line" in quick start. */
  config: string;
  /** The process to signal (SIGHUP reloads, SIGTERM stops): with --workers, the primary. */
  pid: number;
  /** When the process started, ISO 8601 in UTC. */
  startedAt: string;
  /** How long it has run, from a monotonic clock: the page divides by it to get rates. */
  uptimeMs: number;
  /** When the last reload succeeded, ISO 8601 in UTC; absent before the first. */
  reloadedAt?: string;
  /** Every listening socket, in the configuration's order. */
  listeners: ListenerStatus[];
  /** The process's connection limits, and its clients now. */
  limits: Limits;
  /** Every pool by name: the file's, and in fleet mode those built from Redis. */
  pools: Record<string, PoolStatus>;
  /** Every backend's counters added up, and the clients no backend took. */
  totals: Totals;
  /** Every counted event since start, by kind (state.ts names them: reset, idle, noBackend, ...). */
  events: Record<string, number>;
  /** The upper bounds, in ms, of the counts in each backend's `timings`. */
  timingBoundsMs?: number[];
  /** Names routed to pools: present when a listener routes by name, or in fleet mode. */
  routes?: RouteStatus[];
  /** Fleet mode: the link to Redis, up, silent or down (with --workers, the worst of any worker's). */
  redis?: RedisLink;
  /** With --workers: a line per worker (the other fields are every worker's added up). */
  workers?: WorkerStatus[];
}

/** One listening socket. */
export interface ListenerStatus {
  /** The address it listens on, as configured; "*" for every address. */
  host: string;
  /** The real port (the one the system chose, for a configured 0). */
  port: number;
  /** How clients find their pool: tcp (the listener's), http (Host header) or tls (SNI). */
  protocol: 'tcp' | 'http' | 'tls';
  /** tcp: its pool; http and tls: the pool for names not in hosts. */
  pool?: string;
  /** http and tls: a pool per name, as configured. */
  hosts?: Record<string, string>;
  /** Its own limit of clients at once, if it has one. */
  maxConnections?: number;
  /** Its clients right now, from accept (being routed or refused included). */
  open: number;
  /** Its clients since start, from accept (refused ones included). */
  accepted: number;
  /** Its router module, if it has one (chapter 8). */
  router?: RouterStatus; //> 4.8
}
//> 4.8

/**
 * A listener's router: its module, and what asking it has cost. The counters
 * start with the process and go on across reloads while the listener keeps
 * its port and its router file; busyShare starts again with each thread.
 */
export interface RouterStatus {
  /** The module, as the log names it: from the current folder when it is below it. */
  file: string;
  /** Clients it was asked about. */
  calls: number;
  /** Calls that failed: a throw, a decision malformed or naming no pool (a 500 or a close). */
  errors: number;
  /** Calls with no decision within routerTimeoutMs, its thread stuck included. */
  timeouts: number;
  /** Times its thread was stopped and started again: stuck, or it died. */
  restarts: number;
  /** The mean time from asking to the answer, in ms: what each of its clients waited. */
  meanMs: number;
  /** The share of its thread's time spent running code since it loaded its module (0 to 1). */
  busyShare: number;
}
//< 4.8

/** The process's limits of clients. */
export interface Limits {
  /** Clients at once over every listener (the default comes from the descriptor limit). */
  maxConnections: number;
  /** Clients at once from one address; 0: no limit. */
  maxConnectionsPerClient: number;
  /** Every client right now. */
  open: number;
}

/** One pool. */
export interface PoolStatus {
  /** Who gets the next client: round-robin, least-connections, two-random-choices or ip-hash. */
  strategy: string;
  /** The active health check: "off" (passive checks only), "tcp" or "GET /path". */
  healthCheck: 'off' | 'tcp' | `GET ${string}`;
  /** Its backends, in the configuration's order. */
  backends: BackendStatus[];
}

/** One backend of a pool. */
export interface BackendStatus {
  /** The backend as the file writes it, "host:port" ("[v6]:port"); unique in its pool. */
  id: string;
  /** Its weight, as configured. */
  weight: number;
  /** Whether clients may be sent to it now. */
  health: 'up' | 'down';
  /** Down: why, in words ("health check failed: ...", "failed connects; tried again in N ms"). */
  down?: string;
  /** Passively down (failed connects, unanswered requests): the next client tries it in this long. */
  retryInMs?: number;
  /** Its last health check failed, for this reason: out until one passes. */
  probeFailure?: string;
  /** Connections being set up or relayed right now: what least-connections compares. */
  activeConnections: number;
  /** Clients it got since start. */
  totalConnections: number;
  /** Failed connects and requests left unanswered since start (never the proxy's own shortages). */
  failures: number;
  /** With a health check: probes since start. */
  probes?: { passed: number; failed: number };
  /** Bytes relayed to it and from it over its connections that have closed. */
  bytesSent: number;
  bytesReceived: number;
  /** Connects that succeeded, and first bytes back, counted per bound of `timingBoundsMs` (the last count: longer), and each kind's times added up in ms; absent before the first. */
  timings?: Timings;
}

/** The sums over every pool's backends. */
export interface Totals {
  /** Every backend's activeConnections. */
  activeConnections: number;
  /** Every backend's totalConnections. */
  totalConnections: number;
  /** Every backend's failures. */
  failures: number;
  /** Clients refused because no backend accepted (a 502 or a close), shortages included. */
  noBackend: number;
}

/** One name a listener routes. */
export interface RouteStatus {
  /** The name: "www.example.org", "*.example.org", or a default route. */
  host: string;
  /** The pool it goes to (from Redis: its backends, space-separated). */
  pool: string;
  /** Where the route came from: "file" (a listener's hosts table) or "redis" (fleet mode). */
  source: string;
}

/** One worker of --workers, in the primary's answer. */
export interface WorkerStatus {
  /** The worker's process. */
  pid: number;
  /** Its backends' activeConnections, added up. */
  activeConnections: number;
  /** Its backends' totalConnections, added up. */
  totalConnections: number;
  /** How many routes it has, when it has any: in fleet mode each keeps its own table. */
  routes?: number;
}
