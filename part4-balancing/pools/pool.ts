/**
 * A pool: the backends behind one name, the strategy that picks among them,
 * and the connect that turns "pick a backend" into "a connected socket".
 //> 4.2
 * The connect is a retry loop:
 *
 *   pick among the available backends not tried yet (the strategy decides)
 *     └─▶ connect ── accepted ──▶ done: hand the pair to the relay
 *           └── refused / no answer within connectTimeoutMs
 *                 └─▶ a passive failure for that backend; pick again
 *   every backend tried ──▶ undefined: the caller answers 502 or closes
 *
 * Retrying is safe because the client's bytes are still waiting in the kernel
 * (the listener pauses clients on accept): no backend has seen a byte.
 //< 4.2
 *
 * What it leaves out: a queue for when every backend is busy.
 //> 4.2
 * Nor does it retry after a backend accepted (the request may have had
 * effects: a backend that took it and never answered costs that client a 504
 * or a close, see relay.ts).
 //< 4.2
 */
import net from 'node:net';
import type { BackendConfig, PoolConfig } from './fields.ts';
import { Health, type ProbeSettings, startProbes } from '../health/health.ts'; //> 4.2
import { describe } from '../log.ts';
import { backendFailures, noTimings, observeConnect } from '../meters.ts'; //> 4.6
import { createStrategy, type Peer, type Strategy } from './strategies/index.ts';

/** One backend of a pool: where it is, its counters, its health. A strategy sees it as a Peer. */
export class Backend implements Peer {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  weight: number;
  /** Connections being set up or relayed right now (what least-connections compares). */
  activeConnections = 0;
  /** Connections a client got through here since start. */
  totalConnections = 0;
  /** Failed connects since start, and requests left unanswered (firstByteTimeoutMs). */
  failures = 0;
  readonly health: Health; //> 4.2
  //> 4.6
  /** Bytes relayed to it and from it over its connections that have closed. */
  bytesSent = 0;
  bytesReceived = 0;
  /** Its connect and first-byte times (meters.ts). */
  readonly timings = noTimings();
  /** Its labels in the meters (meters.ts), made once. */
  readonly labels: { pool: string; backend: string };
  //< 4.6

  constructor(config: BackendConfig, pool: PoolConfig) {
    this.id = config.id;
    this.labels = { pool: pool.name, backend: config.id }; //> 4.6
    this.host = config.host;
    this.port = config.port;
    this.weight = config.weight;
    this.health = new Health(`${config.id} (pool ${pool.name})`, pool); //> 4.2
  }
  //> 4.2

  /** It accepted a client, took its bytes, and sent nothing back in time (relay.ts). */
  answerMissing(reason: string): void {
    this.failures++;
    this.health.answerMissing(reason);
  }
  //< 4.2
}

export interface Connection {
  backend: Backend;
  socket: net.Socket;
}

export class Pool {
  readonly name: string;
  readonly backends: readonly Backend[];
  private readonly strategy: Strategy;
  private stopProbes = () => {}; //> 4.2

  /**
   * Builds the pool from its configuration. On a reload, `previous` is the pool
   * of the same name: its backends that stay keep their counters, their health
   * and their open connections (least-connections must still see those).
   */
  constructor(
    readonly config: PoolConfig,
    previous?: Pool,
  ) {
    this.name = config.name;
    this.backends = config.backends.map((backendConfig) => {
      const kept = previous?.backends.find((b) => b.id === backendConfig.id);
      if (!kept) return new Backend(backendConfig, config);
      kept.weight = backendConfig.weight;
      kept.health.settings = config; //> 4.2
      return kept;
    });
    this.strategy = createStrategy(config.strategy);
    //> 4.2
    if (config.healthCheck) {
      const settings: ProbeSettings = { ...config.healthCheck };
      settings.proxyProtocol = config.proxyProtocol; //> 4.5
      this.stopProbes = startProbes(this.backends, settings);
    }
    //< 4.2
  }

  /**
   * Connects a client to one of the backends; `clientIp` is read only by a
   * strategy that picks by it. Each failed connect is added to
   * `failures` ("connect to backend 127.0.0.1:8881: ECONNREFUSED"), for the
   * line that refuses the client.
   //> 4.2
   * A failure is retried on the others, and it rejects only when the proxy
   * itself is short of descriptors or buffers (isLocalShortage), which no
   * other backend would change.
   //< 4.2
   */
  async connect(clientIp: () => string, failures: string[] = []): Promise<Connection | undefined> {
    const tried = new Set<Backend>();
    //> 4.2
    for (;;) {
      //< 4.2
      const backend = this.pick(tried, clientIp);
      if (!backend) return undefined;
      tried.add(backend);
      backend.activeConnections++;
      const started = performance.now(); //> 4.6
      try {
        const socket = await connectTo(backend.host, backend.port, this.config.connectTimeoutMs);
        observeConnect(backend.timings, performance.now() - started); //> 4.6
        backend.health.connectSucceeded(); //> 4.2
        backend.totalConnections++;
        socket.on('close', () => {
          backend.activeConnections--;
          //> 4.6
          // Closed: what it relayed each way is final.
          backend.bytesSent += socket.bytesWritten;
          backend.bytesReceived += socket.bytesRead;
          //< 4.6
        });
        return { backend, socket };
      } catch (err) {
        backend.activeConnections--;
        //> 4.2
        // Our own shortage says nothing about the backend: no other backend
        // would fare better, and marking healthy backends down would turn a
        // passing squeeze into 502s for everyone. The caller counts it.
        if (isLocalShortage(err)) throw err;
        //< 4.2
        backend.failures++;
        //> 4.6
        // By error code (ECONNREFUSED, ...): a short list, whatever the client does.
        const kind = (err as NodeJS.ErrnoException).code ?? 'timeout';
        backendFailures.inc({ ...backend.labels, kind });
        //< 4.6
        failures.push(`connect to backend ${backend.id}: ${describe(err)}`);
        backend.health.connectFailed(describe(err)); //> 4.2
      }
    } //> 4.2
  }

  /**
   * The strategy picks among the backends this client has not tried yet.
   //> 4.2
   * Of those, the available ones; when passive health has taken out every one
   * of them, we try them anyway (as nginx does for a one-backend pool): a
   * likely failure beats a certain 502, and the pool comes back as soon as a
   * backend does. A backend that failed a probe stays out.
   //< 4.2
   */
  private pick(tried: ReadonlySet<Backend>, clientIp: () => string): Backend | undefined {
    let candidates: readonly Backend[] = this.backends;
    if (tried.size > 0) candidates = candidates.filter((b) => !tried.has(b));
    //> 4.2
    if (candidates.some(isProbeDown)) candidates = candidates.filter((b) => !isProbeDown(b));
    if (!candidates.every(isAvailable)) {
      const available = candidates.filter(isAvailable);
      if (available.length > 0) candidates = available;
    }
    //< 4.2
    const ip = this.strategy.byClientIp ? clientIp() : '';
    return this.strategy.pick(candidates, ip) as Backend | undefined;
  }

  //> 4.2

  /** Stops the probes; `keep` lists backends that live on in a reloaded pool. */
  close(keep: ReadonlySet<Backend> = new Set()): void {
    this.stopProbes();
    for (const backend of this.backends) if (!keep.has(backend)) backend.health.stop();
  }
  //< 4.2
}

//> 4.2
const isProbeDown = (backend: Backend) => backend.health.probeDown;
const isAvailable = (backend: Backend) => backend.health.available;

/** Errors that come from this process or host running short, not from the backend. */
const LOCAL_SHORTAGES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL']);

export function isLocalShortage(err: unknown): boolean {
  return LOCAL_SHORTAGES.has((err as NodeJS.ErrnoException)?.code ?? '');
}
//< 4.2

/** connect() with a deadline. Rejects with the reason on refusal or timeout. */
function connectTo(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the relay decides when to send our FIN (see relay.ts).
    const socket = net.connect({ host, port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}
