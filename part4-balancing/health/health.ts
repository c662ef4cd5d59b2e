/**
 * Health: is a backend worth a connection attempt right now?
 *
 * Two sources of bad news, as in nginx:
 * - passive: real clients' connects. `maxFails` failed connects (refused, or
 *   no answer within connectTimeoutMs) within `failTimeoutMs` take the backend
 *   out for `failTimeoutMs`; after that the next client tries it again, and the
 *   count starts afresh. With firstByteTimeoutMs, a request the backend took
 *   and never answered counts as one failure too (relay.ts).
 * - active: a probe every `intervalMs` (a TCP connect, or an HTTP GET on `path`
 *   that must answer 2xx or 3xx within `timeoutMs`). A backend that fails a
 *   probe is out until it passes one, whatever real clients would have seen.
 *
 *                   maxFails failed connects       ┌───────────────────────────┐
 *   ┌────────────┐    within failTimeoutMs         │ DOWN (passive)            │
 *   │     UP     │ ──────────────────────────────▶ │ skipped for failTimeoutMs │
 *   │  may be    │                                 │ (unless every backend not │
 *   │  picked    │ ◀────────────────────────────── │ tried yet is: tried then) │
 *   └────────────┘    failTimeoutMs over: the next └───────────────────────────┘
 *     │      ▲        client tries it; the count
 *     │      │        starts afresh
 *  a probe  a probe
 *   fails   passes
 *     ▼      │
 *   ┌────────────┐
 *   │DOWN (probe)│
 *   │never picked│
 *   └────────────┘
 *
 * Every transition is logged. What it leaves out: slow start (ramping a
 * recovered backend's weight up), and health judged from response contents.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, log } from '../log.ts';
import { encodeProxyV2 } from '../proxy-protocol/proxy-protocol.ts'; //> 4.5

export interface PassiveSettings {
  maxFails: number;
  failTimeoutMs: number;
}

export interface ProbeSettings {
  intervalMs: number;
  timeoutMs: number;
  /** Set: HTTP GET on this path. Unset: a TCP connect is enough. */
  path?: string;
  //> 4.5
  /** The pool's PROXY protocol: an HTTP probe says first that it is a probe. */
  proxyProtocol?: 'v1' | 'v2';
  //< 4.5
}

/** The health of one backend, fed by connect results and probe results. */
export class Health {
  /** Times of recent failed connects, oldest first, none older than failTimeoutMs. */
  private recentFailures: number[] = [];
  /** Passive: out of rotation until this time (ms since the epoch). */
  private downUntil = 0;
  /** Passive: what took it out, in the words of downReason. */
  private downFor = 'failed connects';
  private backAgainTimer: NodeJS.Timeout | undefined;
  /** Active: the last probe failed, with this reason. */
  private failedProbe: string | undefined;

  constructor(
    /** How log lines name the backend, e.g. `127.0.0.1:8881 (pool web)`. */
    private readonly name: string,
    public settings: PassiveSettings,
  ) {}

  /** May a client be sent here? */
  get available(): boolean {
    return !this.probeDown && Date.now() >= this.downUntil;
  }

  get probeDown(): boolean {
    return this.failedProbe !== undefined;
  }

  /** Active: why the last probe failed; undefined when it passed (or nothing probes). */
  get probeFailure(): string | undefined {
    return this.failedProbe;
  }

  /** Passive: how long failed connects keep it out still; undefined when they do not. */
  get retryInMs(): number | undefined {
    const left = this.downUntil - Date.now();
    return left > 0 ? left : undefined;
  }

  /** Why the backend is out, or undefined when it is in. */
  get downReason(): string | undefined {
    if (this.failedProbe !== undefined) return `health check failed: ${this.failedProbe}`;
    const left = this.retryInMs;
    if (left !== undefined) return `${this.downFor}; tried again in ${left} ms`;
    return undefined;
  }

  connectFailed(reason: string): void {
    this.failed(reason, 'a failed connect', 'failed connects');
  }

  /** The backend took a request and sent no byte back within firstByteTimeoutMs. */
  answerMissing(reason: string): void {
    this.failed(reason, 'a request it did not answer', 'requests left unanswered');
  }

  /** One failure of either kind; maxFails of them within failTimeoutMs take the backend out. */
  private failed(reason: string, what: string, downFor: string): void {
    const now = Date.now();
    const { maxFails, failTimeoutMs } = this.settings;
    this.recentFailures = this.recentFailures.filter((time) => now - time < failTimeoutMs);
    this.recentFailures.push(now);
    if (this.recentFailures.length < maxFails || now < this.downUntil) return;
    this.recentFailures = [];
    this.downUntil = now + failTimeoutMs;
    this.downFor = downFor;
    const count =
      maxFails === 1 ? what : `${maxFails} failures within ${failTimeoutMs} ms, the last ${what}`;
    log(
      `Backend ${this.name} is down after ${count} (${reason}). ` +
        `Trying it again in ${failTimeoutMs} ms.`,
    );
    clearTimeout(this.backAgainTimer);
    this.backAgainTimer = setTimeout(
      () => log(`Backend ${this.name}: fail timeout over, the next client tries it again.`),
      failTimeoutMs,
    ).unref();
  }

  connectSucceeded(): void {
    // Called for every client: a new array only when there is something to forget.
    if (this.recentFailures.length > 0) this.recentFailures = [];
  }

  /** Probes since start, by outcome (the status shows them). */
  readonly probes = { passed: 0, failed: 0 };

  probed(failure: string | undefined): void {
    if (failure === undefined) this.probes.passed++;
    else this.probes.failed++;
    if (failure !== undefined && this.failedProbe === undefined) {
      log(`Backend ${this.name} failed its health check (${failure}): out until it passes one.`);
    } else if (failure === undefined && this.failedProbe !== undefined) {
      log(`Backend ${this.name} passed its health check: back in rotation.`);
    }
    this.failedProbe = failure;
  }

  /** The backend left the configuration: no more log lines about it. */
  stop(): void {
    clearTimeout(this.backAgainTimer);
  }
}

export interface Probed {
  host: string;
  port: number;
  health: Health;
}

/**
 * Probes every backend now and then every intervalMs (a round is skipped while
 * the previous one is still running). Returns a function that stops it.
 */
export function startProbes(backends: readonly Probed[], settings: ProbeSettings): () => void {
  let stopped = false;
  let running = false;
  const round = async () => {
    if (running) return;
    running = true;
    await Promise.all(
      backends.map(async (backend) => {
        const failure = await probe(backend.host, backend.port, settings);
        if (!stopped) backend.health.probed(failure);
      }),
    );
    running = false;
  };
  void round();
  const timer = setInterval(round, settings.intervalMs).unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** One probe; resolves with undefined when it passed, or with why it failed. Never rejects. */
export function probe(
  host: string,
  port: number,
  settings: ProbeSettings,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (failure: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve(failure);
    };
    const timer = setTimeout(
      () => finish(`no answer within ${settings.timeoutMs} ms`),
      settings.timeoutMs,
    );
    let cleanup: () => void;

    if (settings.path === undefined) {
      const socket = net.connect({ host, port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => finish(undefined));
      socket.once('error', (err) => finish(describe(err)));
    } else {
      let header: Buffer | undefined;
      //> 4.5
      // A backend that expects a PROXY header gets one that says "no client
      // here" (v1 UNKNOWN, v2 LOCAL), as the specification asks of health checks.
      if (settings.proxyProtocol === 'v1') header = Buffer.from('PROXY UNKNOWN\r\n');
      if (settings.proxyProtocol === 'v2') header = encodeProxyV2('local');
      //< 4.5
      // The header goes out once connected, and only then is the socket handed
      // to the request: written any earlier, it can end up behind the request.
      const createConnection = (
        _options: unknown,
        done: (err: Error | null, socket?: net.Socket) => void,
      ) => {
        const socket = net.connect({ host, port });
        socket.once('error', (err) => done(err));
        socket.once('connect', () => {
          if (header) socket.write(header);
          done(null, socket);
        });
        return undefined;
      };
      const options: http.RequestOptions = {
        host,
        port,
        path: settings.path,
        // With createConnection and no agent, every probe has a connection of
        // its own (no keep-alive pool). The callback form: Node's types know
        // only the returning one.
        createConnection: createConnection as unknown as http.RequestOptions['createConnection'],
      };
      const request = http.get(options, (response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        finish(status >= 200 && status < 400 ? undefined : `HTTP ${status}`);
      });
      cleanup = () => request.destroy();
      request.once('error', (err) => finish(describe(err)));
    }
  });
}
