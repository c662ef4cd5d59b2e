/**
 * A router module, run in a thread of its own (thread.js), one per listener
 * that names one. The proxy asks it about each client and waits, with a
 * deadline, for its decision:
 *
 *   route.ts ── decide(request) ──▶ postMessage ──▶ the router's thread: route(request)
 *      ▲                                               │
 *      └── { decision } or a failure ◀── message ◀─────┘   or nothing, by routerTimeoutMs
 *
 * Why a thread, when the router could be called in the proxy's own: code in
 * the proxy's thread that never returns (a loop that does not end, a regex
 * that backtracks for a minute) freezes every client of the process, and
 * nothing in JavaScript can stop it from outside. A thread can be stopped.
 * When a client's deadline passes and the router's thread has not been idle
 * once since the client was asked about, the thread is stuck (or has more
 * work than it can do): it is terminated and started again, and its waiting
 * clients fail. The proxy's thread never waits on it. What that costs, a
 * message each way per client, is measured in the chapter.
 *
 * It also makes a reload clean. An ES module cannot be unloaded: importing a
 * changed file again (under a new URL) keeps the old one in memory for good.
 * Here a reload starts a new thread on the file and ends the old one once
 * its clients have their answers, which frees everything the old module held.
 *
 * What it leaves out: sharing the proxy's objects with the router (its pools,
 * their health): a router sees plain data and answers with plain data.
 */
import path from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ConfigError, hostPort, Place, show } from '../fields.ts';
import { type EventCounts, printable } from '../log.ts';
import type { RouterStatus } from '../status/snapshot.ts';
import type { RouteDecision, RouteRequest } from './types.ts';

/** A router that takes longer than this to load (a top-level loop, say) is refused. */
const LOAD_TIMEOUT_MS = 10_000;

/** What a router's calls have cost: kept across reloads of the same file on the same listener. */
export interface RouterStats {
  calls: number;
  errors: number;
  timeouts: number;
  restarts: number;
  /** The time from asking to the answer, summed over every call. */
  totalMs: number;
}

/** An error from the router's thread: one line, and where it was when it was somewhere. */
export interface Failure {
  text: string;
  at?: { file: string; line: number; column?: number };
}

/** The answer to one question: a checked decision, or why there is none. */
export type Outcome =
  | { decision: RouteDecision }
  | { failed: string; kind: 'routerError' | 'routerTimeout' };

interface Call {
  settle: (outcome: Outcome) => void;
  timer: NodeJS.Timeout;
  /** When it was asked (performance.now()), and the thread's idle time then (ms; -1: loading). */
  askedAt: number;
  idleAt: number;
}

export class RouterThread {
  readonly shown: string;
  private worker!: Worker;
  private readonly calls = new Map<number, Call>();
  private lastId = 0;
  private retired = false;
  /** Whether the thread of the moment has loaded the module, and its time counters then. */
  private ready = false;
  private loadedAt: EventLoopUtilization | undefined;
  /** Threads terminated on purpose (a reload, a restart, a failed load). */
  private readonly ended = new WeakSet<Worker>();
  /** Why it cannot be asked: its thread stopped, and did not load again. */
  private broken: string | undefined;
  /** The kinds of failure already logged whole for this thread (the rest are counted). */
  private readonly logged = new Set<string>();

  private constructor(
    readonly file: string,
    readonly timeoutMs: number,
    readonly stats: RouterStats,
    private readonly events: EventCounts,
    /** The listener it routes for, `*:8080` (a reload keeps the counters of the same one). */
    readonly listener: string,
  ) {
    this.shown = shownPath(file);
  }

  /**
   * Loads `file` in a new thread. Rejects with an Error of one line: where the
   * module failed and why (`x.ts:3:7: Error: no table`).
   */
  static async start(
    file: string,
    timeoutMs: number,
    events: EventCounts,
    listener = '',
    stats: RouterStats = { calls: 0, errors: 0, timeouts: 0, restarts: 0, totalMs: 0 },
  ): Promise<RouterThread> {
    const router = new RouterThread(file, timeoutMs, stats, events, listener);
    const failed = await router.spawn();
    if (failed !== undefined) throw new Error(failed);
    return router;
  }

  /** Asks about one client. Never rejects: a failure is an outcome. */
  decide(request: RouteRequest): Promise<Outcome> {
    if (this.broken !== undefined) {
      this.stats.calls++;
      this.stats.errors++;
      return Promise.resolve({ failed: this.broken, kind: 'routerError' });
    }
    const id = ++this.lastId;
    return new Promise((settle) => {
      const timer = setTimeout(() => this.deadline(id), this.timeoutMs);
      const idleAt = this.ready ? this.idleMs() : -1;
      this.calls.set(id, { settle, timer, askedAt: performance.now(), idleAt });
      this.worker.postMessage({ id, request });
    });
  }

  /** True the first time a failure of `kind` is seen from this thread: that one is logged whole. */
  firstOf(kind: string): boolean {
    if (this.logged.has(kind)) return false;
    this.logged.add(kind);
    return true;
  }

  /** Replaced by a reload: the thread ends once the clients it was asked about have answers. */
  retire(): void {
    this.retired = true;
    if (this.calls.size === 0) this.end(this.worker);
  }

  /** For the status: the counters, and how busy the thread is. */
  status(): RouterStatus {
    const { calls, errors, timeouts, restarts, totalMs } = this.stats;
    // Since the module loaded: loading a TypeScript router is busy work of its own.
    const busy =
      this.broken || !this.loadedAt
        ? 0
        : this.worker.performance.eventLoopUtilization(this.loadedAt).utilization;
    return {
      file: this.shown,
      calls,
      errors,
      timeouts,
      restarts,
      meanMs: calls === 0 ? 0 : Number((totalMs / calls).toFixed(3)),
      busyShare: Number(Math.max(0, busy).toFixed(4)),
    };
  }

  /** Starts the thread; resolves with why it could not load the module, or undefined once it has. */
  private spawn(): Promise<string | undefined> {
    // Beside this file; in a build, beside proxy.js (shared/tools/build.ts copies it there).
    const worker = new Worker(new URL('./thread.js', import.meta.url), {
      workerData: { file: this.file },
      // Not the proxy's own flags: its --import of tsx would load in vain (thread.js says why).
      execArgv: [],
    });
    worker.unref();
    this.worker = worker;
    this.ready = false;
    let died: string | undefined;
    worker.on('error', (err) => {
      died = `its thread stopped: ${printable(`${err.name}: ${err.message}`.split('\n')[0])}`;
    });
    return new Promise((loaded) => {
      const timer = setTimeout(() => {
        loaded(`${this.shown}: did not finish loading within ${LOAD_TIMEOUT_MS} ms`);
        this.end(worker);
      }, LOAD_TIMEOUT_MS);
      worker.on('message', (message) => {
        if (message.id !== undefined) return this.answered(message);
        clearTimeout(timer);
        if (message.loaded) {
          this.ready = true;
          this.loadedAt = worker.performance.eventLoopUtilization();
          return loaded(undefined);
        }
        loaded(describeFailure(message.why, this.shown, 'load'));
        this.end(worker);
      });
      worker.once('exit', () => {
        clearTimeout(timer);
        loaded(`${this.shown}: ${died ?? 'its thread stopped while loading'}`);
        // Loaded, and not ended by us: the router crashed its thread (an
        // uncaught error, process.exit()). One that dies loading failed to load.
        if (this.ready && this.worker === worker && !this.ended.has(worker)) {
          this.restart(died ?? 'its thread stopped', 'routerError');
        }
      });
    });
  }

  /** Terminates a thread of ours, so that its exit is not taken for a crash. */
  private end(worker: Worker): void {
    this.ended.add(worker);
    void worker.terminate();
  }

  /** The thread's answer about one client: a decision, checked, or the error it threw. */
  private answered(message: { id: number; decision?: unknown; why?: Failure }): void {
    const problem =
      message.why === undefined
        ? decisionProblem(message.decision)
        : describeFailure(message.why, this.shown, 'call');
    this.settle(
      message.id,
      problem === undefined
        ? { decision: message.decision as RouteDecision }
        : { failed: problem, kind: 'routerError' },
    );
  }

  /** A client's deadline: its call timed out; if the thread never rested meanwhile, it is stuck. */
  private deadline(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    // Stuck: loaded before the client was asked about, and hardly idle since (the
    // message's way to a thread on a loaded machine counts as idle: a tenth of the deadline).
    if (this.ready && call.idleAt >= 0 && this.idleMs() - call.idleAt < this.timeoutMs / 10) {
      const why = `its thread was never idle for ${this.timeoutMs} ms (a loop that does not end?)`;
      this.restart(why, 'routerTimeout');
    } else {
      this.settle(id, { failed: `no decision within ${this.timeoutMs} ms`, kind: 'routerTimeout' });
    }
  }

  /** Ends a stuck or dead thread, fails every client waiting on it, and starts another. */
  private restart(why: string, kind: 'routerError' | 'routerTimeout'): void {
    const waiting = [...this.calls.keys()];
    this.stats.restarts++;
    this.events.count(
      'routerRestart',
      `Router ${this.shown}: ${why}: stopped and started again; ` +
        `${waiting.length} waiting client(s) failed.`,
    );
    this.end(this.worker);
    for (const id of waiting) {
      this.settle(id, { failed: why, kind });
    }
    if (this.retired) return;
    void this.spawn().then((failed) => {
      if (failed === undefined) return;
      // Changed on disk since, and broken: no router until a reload loads one.
      this.broken = `not loaded since its thread stopped (${failed})`;
      this.events.count('routerRestart', `Router ${this.shown}: could not start again: ${failed}.`);
      for (const id of [...this.calls.keys()]) {
        this.settle(id, { failed: this.broken, kind: 'routerError' });
      }
    });
  }

  private settle(id: number, outcome: Outcome): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    clearTimeout(call.timer);
    this.stats.calls++;
    this.stats.totalMs += performance.now() - call.askedAt;
    if ('failed' in outcome) {
      if (outcome.kind === 'routerTimeout') this.stats.timeouts++;
      else this.stats.errors++;
    }
    call.settle(outcome);
    if (this.retired && this.calls.size === 0) this.end(this.worker);
  }

  /** How long the router's thread has waited for work since it started, in ms. */
  private idleMs(): number {
    return this.worker.performance.eventLoopUtilization().idle;
  }
}

/** What a listener that may name a router is, to startRouters() (config.ts's ListenerConfig is one). */
export interface RouterListener {
  port: number;
  host?: string;
  router?: string;
  routerTimeoutMs: number;
}

/**
 * The routers of a configuration (its `listeners`, read from `source`), one
 * per listener that names one, all loaded before any is used: one that fails
 * stops the start (or refuses the reload) with one line, and the others are
 * ended. A listener that keeps its address and its router file keeps the
 * counters of its router among `before` (the routers running now).
 */
export async function startRouters<L extends RouterListener>(
  listeners: readonly L[],
  source: string,
  before: readonly RouterThread[],
  events: EventCounts,
): Promise<Map<L, RouterThread>> {
  const named = listeners.flatMap((listener, i) =>
    listener.router === undefined ? [] : [{ listener, i, file: listener.router }],
  );
  const started = await Promise.allSettled(
    named.map(({ listener, file }) => {
      const where = listenerKey(listener);
      const kept = before.find((router) => router.listener === where && router.file === file);
      return RouterThread.start(file, listener.routerTimeoutMs, events, where, kept?.stats);
    }),
  );
  const routers = new Map<L, RouterThread>();
  let failure: string | undefined;
  for (const [k, result] of started.entries()) {
    if (result.status === 'fulfilled') routers.set(named[k].listener, result.value);
    else failure ??= `${routerField(source, named[k].i)}: ${(result.reason as Error).message}`;
  }
  if (failure === undefined) return routers;
  for (const router of routers.values()) router.retire();
  throw new ConfigError(failure);
}

/** A listener's address, as a reload matches listeners: `*:8080`, `127.0.0.1:8080`. */
const listenerKey = (listener: RouterListener) => `${listener.host ?? '*'}:${listener.port}`;

/** Where a listener's router is named: `web.json: listen[1].router`, or `command line: --router`. */
function routerField(source: string, i: number): string {
  if (source === 'command line') return 'command line: --router';
  return `${source}: listen[${i}].router`;
}

/**
 * What is wrong with a decision, or undefined when it is one of the four a
 * router may make (types.ts). A pool's name is checked by the caller, which
 * knows the pools.
 */
export function decisionProblem(decision: unknown): string | undefined {
  if (decision === undefined) return undefined;
  const expected = 'expected undefined, { pool }, { backend } or { reject }';
  const keys =
    typeof decision === 'object' && decision !== null && !Array.isArray(decision)
      ? Object.keys(decision)
      : [];
  if (keys.length !== 1 || !['pool', 'backend', 'reject'].includes(keys[0])) {
    return `decided ${show(decision)} (${expected})`;
  }
  const { pool, backend, reject } = decision as Record<string, unknown>;
  if (keys[0] === 'pool' && (typeof pool !== 'string' || pool === '')) {
    return `decided { pool: ${show(pool)} } (expected a pool's name)`;
  }
  if (keys[0] === 'backend') {
    try {
      hostPort(new Place('router', 'backend'), backend);
    } catch {
      return `decided { backend: ${show(backend)} } (expected "host:port")`;
    }
  }
  if (
    keys[0] === 'reject' &&
    !(Number.isInteger(reject) && Number(reject) >= 400 && Number(reject) <= 599)
  ) {
    return `decided { reject: ${show(reject)} } (expected a status from 400 to 599)`;
  }
  return undefined;
}

/**
 * A failure from the thread in one line: at load, `x.ts:3:7: Error: boom`
 * (the place first, as a compiler says it); in a call, `Error: boom (at
 * x.ts:3:7)`. Made printable: a router's message cannot forge a log line.
 */
export function describeFailure(failure: Failure, shown: string, when: 'load' | 'call'): string {
  const text = printable(failure.text);
  const at = failure.at;
  const place = at && `${shownPath(at.file)}:${at.line}${at.column ? `:${at.column}` : ''}`;
  if (when === 'load') return `${place ?? shown}: ${text}`;
  return place === undefined ? text : `${text} (at ${place})`;
}

/** A file as the log shows it: from the current folder when it is below it. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}
