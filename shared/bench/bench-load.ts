/**
 * The load generators of the benchmark and the memory meter that runs beside them.
 *
 * - keepAliveLoad: autocannon, each of N clients sending request after request
 *   on one connection. The latencies are taken from autocannon's 'response'
 *   events, not from its histogram, which rounds to whole milliseconds: too
 *   coarse for a proxy that adds a tenth of one.
 * - closeLoad: a new connection for every request, as `ab` did in the blog
 *   series. It is a small client of its own because autocannon does not do this
 *   correctly: with `Connection: close` it writes the next request on the dying
 *   connection and times every later answer from that stale request, and its
 *   `reconnectRate: 1` leaves the answers out of its counts.
 * - pacedLoad: a fixed number of requests per second, evenly spaced, in either
 *   mode: the latency a proxy adds when nobody is pushed to the limit.
 * - watchRss: the resident memory of a process and its children, sampled from
 *   /proc while a run goes on; the highest value is what the table shows.
 * - holdConnections: N clients that each send one request, read its answer,
 *   and then hold their connection open, idle, until told to close; and
 *   settledRss, the memory of a process once it has stopped moving, read
 *   before and while they are held; and heapInUse, the JavaScript heap its
 *   Node processes keep after a full collection (heap-probe.js).
 *
 * Each speaks HTTP or, with `tls`, HTTPS without checking the certificate
 * (the mock backend's is self-signed); `name` is sent as the Host header and
 * as the TLS server name, so that part 4 can route by either.
 *
 * What it leaves out: checking response bodies (the behaviour tests do that),
 * HTTP pipelining.
 */
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import autocannon from 'autocannon';
import { requestHead, rssKiB, waitFor } from '../test/harness.ts';
import { type RunResult, summariseLatencies } from './bench-stats.ts';

export type Mode = 'keepalive' | 'close';

/** The --mode option of the bench and the profiler; throws a one-line Error otherwise. */
export function modeOption(text: string): Mode {
  if (text !== 'keepalive' && text !== 'close') {
    throw new Error(`--mode must be keepalive or close, got "${text}"`);
  }
  return text;
}

export interface LoadOptions {
  port: number;
  connections: number;
  /** Stop after this many seconds (in-flight requests are dropped, not counted)... */
  seconds?: number;
  /** ...or after this many requests have been answered (closeLoad only). */
  amount?: number;
  /** A request without an answer for this long counts as a timeout. */
  timeoutSeconds?: number;
  /** Called after each answer with the number answered so far (closeLoad and pacedLoad). */
  onAnswer?: (answered: number) => void;
  /** Speak TLS (certificates are not checked). */
  tls?: boolean;
  /** The Host header and TLS server name; without it, 127.0.0.1:port or localhost, and no SNI. */
  name?: string;
  /** Requests per second, evenly spaced (pacedLoad); without it, as fast as the target answers. */
  rate?: number;
}

const DEFAULT_TIMEOUT_S = 10;

/** One client's connection to the target: plain TCP, or TLS (its certificate unchecked). */
function connectTo(options: LoadOptions): net.Socket {
  return options.tls
    ? tls.connect({
        port: options.port,
        host: '127.0.0.1',
        servername: options.name,
        rejectUnauthorized: false,
      })
    : net.connect(options.port, '127.0.0.1');
}

export function load(mode: Mode, options: LoadOptions): Promise<RunResult> {
  if (options.rate !== undefined) return pacedLoad(mode, options);
  return mode === 'keepalive' ? keepAliveLoad(options) : closeLoad(options);
}

/** N keep-alive connections for `seconds`, driven by autocannon. */
export function keepAliveLoad(options: LoadOptions): Promise<RunResult> {
  const latencies: number[] = [];
  const served = new Set<unknown>();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${options.port}/`,
        connections: options.connections,
        duration: options.seconds ?? 5,
        timeout: options.timeoutSeconds ?? DEFAULT_TIMEOUT_S,
        headers: options.name === undefined ? undefined : { host: options.name },
        servername: options.name,
      },
      (err, result) => {
        if (err) return reject(err);
        const answered = result.requests.total;
        resolve({
          requests: answered,
          seconds: result.duration,
          rps: answered / result.duration,
          latency: summariseLatencies(latencies),
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          connections: options.connections,
          clientsServed: served.size,
        });
      },
    );
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      served.add(client);
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/**
 * N clients, each in a loop: connect, send one request with `Connection: close`,
 * read until the server closes, and again. An answer counts when the server
 * closed cleanly after a status line; a reset or a close without a status line is
 * an error.
 */
export function closeLoad(options: LoadOptions): Promise<RunResult> {
  const request = requestHead('/', options.name);
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
  const latencies: number[] = [];
  const served = new Set<number>();
  const inFlight = new Set<net.Socket>();
  let started = 0;
  let answered = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let running = options.connections;
  let stopped = false;
  const began = performance.now();
  let ended = began;

  return new Promise((resolve) => {
    const finish = () => {
      stopped = true;
      clearTimeout(deadline);
      for (const socket of inFlight) socket.destroy();
      const seconds = (ended - began) / 1000;
      resolve({
        requests: answered,
        seconds,
        rps: seconds > 0 ? answered / seconds : 0,
        latency: summariseLatencies(latencies),
        errors,
        timeouts,
        non2xx,
        connections: options.connections,
        clientsServed: served.size,
      });
    };
    const deadline = setTimeout(
      () => {
        ended = performance.now();
        finish();
      },
      options.seconds === undefined ? 2 ** 31 - 1 : options.seconds * 1000,
    );

    const next = (client: number) => {
      if (stopped) return;
      if (options.amount !== undefined && started >= options.amount) {
        if (--running === 0) {
          ended = performance.now();
          finish();
        }
        return;
      }
      started++;
      const sent = performance.now();
      let head = '';
      let tookMs = 0;
      let failed = false;
      const socket = connectTo(options);
      inFlight.add(socket);
      socket.setNoDelay(true);
      socket.setTimeout(timeoutMs);
      socket.write(request);
      socket.on('data', (chunk: Buffer) => {
        if (head.length < 12) head += chunk.toString('latin1', 0, 12);
      });
      socket.once('end', () => {
        tookMs = performance.now() - sent;
      });
      socket.once('timeout', () => {
        timeouts++;
        failed = true;
        socket.destroy();
      });
      socket.on('error', () => {
        failed = true;
      });
      socket.once('close', () => {
        inFlight.delete(socket);
        if (stopped) return;
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
        if (failed || !status || tookMs === 0) {
          errors++;
        } else {
          answered++;
          served.add(client);
          if (status.startsWith('2')) latencies.push(tookMs);
          else non2xx++;
          options.onAnswer?.(answered);
        }
        next(client);
      });
    };
    for (let client = 0; client < options.connections; client++) next(client);
  });
}

/**
 * `rate` requests a second for `seconds`, evenly spaced (to the millisecond of
 * Node's timers), over at most `connections` connections. Node's own HTTP
 * client does the talking; its cost is the same for every target.
 *
 * Autocannon's overallRate is not used because it sends bursts: each
 * connection sends its share of the second back to back, then waits for the
 * next second, so most of a second's requests meet at its start and the
 * latency measured is a burst's. Here request i is due at i/rate seconds from
 * the start, a late timer is caught up at once (the rate is kept, not lowered),
 * and a request that finds every connection busy waits in the agent's queue,
 * which its latency includes. Requests still in flight at the end are waited
 * for, up to the timeout.
 *
 * In keepalive mode the connections are opened before the clock starts and
 * take turns (the agent hands a request to the connection idle the longest),
 * as autocannon's clients do: no connection is set up, no TLS handshake made,
 * while latency is measured. In close mode each request has a new connection.
 */
export async function pacedLoad(mode: Mode, options: LoadOptions): Promise<RunResult> {
  const rate = options.rate ?? 1;
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
  const total = Math.max(1, Math.round(rate * (options.seconds ?? 5)));
  const get = requester(mode, options, timeoutMs);
  if (mode === 'keepalive') {
    await Promise.all(Array.from({ length: options.connections }, () => get.request()));
  }

  const latencies: number[] = [];
  let sent = 0;
  let settled = 0;
  let answered = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  const began = performance.now();
  const outcome = (start: number, answer: Answer) => {
    settled++;
    if (answer === 'error' || answer === 'timeout') {
      errors++;
      if (answer === 'timeout') timeouts++;
      return;
    }
    answered++;
    if (answer >= 200 && answer < 300) latencies.push(performance.now() - start);
    else non2xx++;
    options.onAnswer?.(answered);
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsedMs = performance.now() - began;
      const due = Math.min(total, Math.floor((elapsedMs / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const start = performance.now();
        void get.request().then((answer) => {
          outcome(start, answer);
          if (settled === total) resolve();
        });
      }
      if (sent < total) setTimeout(tick, Math.max(0, (sent / rate) * 1000 - elapsedMs));
    };
    tick();
  });
  const seconds = Math.max(options.seconds ?? 5, (performance.now() - began) / 1000);
  get.close();
  return {
    requests: answered,
    seconds,
    rps: answered / seconds,
    latency: summariseLatencies(latencies),
    errors,
    timeouts,
    non2xx,
    connections: options.connections,
    clientsServed: get.sockets.size,
  };
}

/** An answer's status, or how a request failed. */
type Answer = number | 'error' | 'timeout';

/**
 * GET / with Node's HTTP client over an agent of at most `connections`
 * connections; each request settles once, with its answer's status or its
 * failure (a request without an answer for `timeoutMs` is destroyed).
 */
function requester(mode: Mode, options: LoadOptions, timeoutMs: number) {
  const client = options.tls ? https : http;
  const agent = new client.Agent({
    keepAlive: mode === 'keepalive',
    maxSockets: options.connections,
    scheduling: 'fifo',
  });
  const headers: Record<string, string> = {};
  if (options.name !== undefined) headers.host = options.name;
  if (mode === 'close') headers.connection = 'close';
  const sockets = new Set<net.Socket>();
  const request = () =>
    new Promise<Answer>((settle) => {
      const sent = client.request({
        host: '127.0.0.1',
        port: options.port,
        path: '/',
        agent,
        headers,
        servername: options.tls ? options.name : undefined,
        rejectUnauthorized: false,
      });
      // Started here, not at 'socket': a wait in the agent's queue counts too.
      const timer = setTimeout(() => {
        settle('timeout');
        sent.destroy();
      }, timeoutMs);
      sent.on('socket', (socket) => sockets.add(socket));
      sent.on('response', (response) => {
        response.on('error', () => {});
        response.once('close', () => {
          clearTimeout(timer);
          settle(response.complete ? (response.statusCode ?? 0) : 'error');
        });
        response.resume();
      });
      sent.on('error', () => {
        clearTimeout(timer);
        settle('error');
      });
      sent.end();
    });
  return { request, sockets, close: () => agent.destroy() };
}

/** Pids of the processes whose parent chain leads to `pid` (nginx's workers, cluster workers). */
export async function descendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name may contain spaces and parentheses: the fields start after the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isFinite(parent)) continue;
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
    for (const child of children.get(current) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The processes among `pids` that run this node (part 4's workers, say; not tsx's esbuild service). */
export async function nodeProcesses(pids: number[]): Promise<number[]> {
  const node = realpathSync(process.execPath);
  const exes = await Promise.all(pids.map((pid) => readlink(`/proc/${pid}/exe`).catch(() => '')));
  return pids.filter((_, i) => exes[i] === node);
}

/** Resident memory of a process plus its descendants, in KiB (processes that vanished count 0). */
export async function treeRssKiB(pid: number): Promise<number> {
  return sumRssKiB([pid, ...(await descendants(pid))]);
}

async function sumRssKiB(pids: number[]): Promise<number> {
  const sizes = await Promise.all(pids.map((each) => rssKiB(each).catch(() => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

export interface RssWatch {
  /** Stops sampling; resolves with the highest reading (undefined if none succeeded). */
  stop(): Promise<number | undefined>;
}

/**
 * Samples the resident memory of `pid` and its descendants every `intervalMs`
 * until stopped. The process tree is looked up once, at the start: finding it
 * reads every process's entry in /proc, tens of milliseconds on a busy
 * machine, in the event loop that is timing the answers. A tree that changes
 * during the run (none of the targets forks under load) would be missed.
 */
export function watchRss(pid: number, intervalMs = 200): RssWatch {
  let peak: number | undefined;
  const tree = descendants(pid).then((children) => [pid, ...children]);
  let sampling: Promise<void> = Promise.resolve();
  const sample = () => {
    sampling = tree
      .then(sumRssKiB)
      .then((kib) => {
        if (kib > 0) peak = Math.max(peak ?? 0, kib);
      })
      .catch(() => {});
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      sample();
      await sampling;
      return peak;
    },
  };
}

/** Connections held open by holdConnections(). */
export interface Held {
  /** Clients that got a whole answer (any status) and were still open when the last one did. */
  answered: number;
  /** Clients that failed: refused, reset, closed or timed out before a whole answer. */
  errors: number;
  /** Answers that were not 2xx. */
  non2xx: number;
  /** How many of the answered connections are open now (the server may close some while held). */
  open(): number;
  /** Closes every connection and waits until each has closed. */
  close(): Promise<void>;
}

/**
 * N clients, `concurrency` at a time (a flood of connects would overflow the
 * listen queue and wait out SYN retransmissions): each connects, sends one
 * keep-alive request, reads its answer (a head with Content-Length, then that
 * many bytes) and then holds its connection, idle. Resolves once every client
 * has its answer or has failed; the answered connections stay open until
 * close().
 */
export async function holdConnections(
  options: Pick<LoadOptions, 'port' | 'connections' | 'tls' | 'name' | 'timeoutSeconds'> & {
    concurrency?: number;
  },
): Promise<Held> {
  const head = `GET / HTTP/1.1\r\nHost: ${options.name ?? `127.0.0.1:${options.port}`}\r\n\r\n`;
  const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
  const sockets = new Set<net.Socket>();
  let errors = 0;
  let non2xx = 0;
  let next = 0;

  const one = () =>
    new Promise<void>((settle) => {
      const socket = connectTo(options);
      let received = Buffer.alloc(0);
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (ok) sockets.add(socket);
        else {
          errors++;
          socket.destroy();
        }
        settle();
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.on('error', () => finish(false));
      socket.on('close', () => {
        sockets.delete(socket);
        finish(false);
      });
      socket.write(head);
      socket.on('data', (chunk: Buffer) => {
        if (done) return;
        received = Buffer.concat([received, chunk]);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = received.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? Number.NaN);
        if (!Number.isFinite(length)) return finish(false);
        if (received.length < end + 4 + length) return;
        if (!/^HTTP\/1\.1 2\d\d /.test(text)) non2xx++;
        received = Buffer.alloc(0);
        finish(true);
      });
    });

  const worker = async () => {
    while (next < options.connections) {
      next++;
      await one();
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 100, options.connections) }, worker),
  );
  const answered = sockets.size;
  return {
    answered,
    errors,
    non2xx,
    open: () => sockets.size,
    async close() {
      const closing = [...sockets].map((socket) => once(socket, 'close'));
      for (const socket of sockets) socket.destroy();
      await Promise.all(closing);
    },
  };
}

interface Settled {
  /** The median of the last readings, in KiB. */
  kib: number;
  /** Whether they agreed within the tolerance before the deadline. */
  settled: boolean;
  /** Every reading taken, in KiB, in order. */
  readings: number[];
}

/**
 * The resident memory of `pid` and its descendants once it stops moving:
 * read every `intervalMs` until the last `readings` readings lie within
 * `toleranceKiB` of each other, or the deadline passes (then `settled` is
 * false and the last readings are used all the same).
 *
 * Why settle at all: a process that has just accepted thousands of
 * connections is still busy for a moment (Node runs its garbage collector
 * after the work, the allocator returns or reuses freed pages), and one
 * reading taken then says as much about timing as about memory. Garbage that
 * is never collected while the process idles stays in the figure: the
 * collector cannot be forced from outside (nor in nginx), and a proxy that
 * holds connections idle carries that garbage too.
 */
export async function settledRss(
  pid: number,
  {
    intervalMs = 250,
    readings = 4,
    toleranceKiB = 256,
    deadlineMs = 10_000,
  }: { intervalMs?: number; readings?: number; toleranceKiB?: number; deadlineMs?: number } = {},
): Promise<Settled> {
  const tree = [pid, ...(await descendants(pid))];
  const taken: number[] = [];
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    taken.push(await sumRssKiB(tree));
    const last = taken.slice(-readings);
    const settled =
      last.length === readings && Math.max(...last) - Math.min(...last) <= toleranceKiB;
    if (settled || performance.now() >= deadline) {
      const sorted = [...last].sort((a, b) => a - b);
      return { kib: sorted[Math.floor(sorted.length / 2)], settled, readings: taken };
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The environment variable that turns heap-probe.js on: the folder it writes its readings to. */
export const HEAP_PROBE_DIR = 'RSP_HEAP_PROBE_DIR';

/**
 * The JavaScript heap in use (bytes) of a process and its descendants, each
 * read after two full collections by heap-probe.js, which `probeDir` names:
 * only Node processes started with it are asked (SIGUSR2 would end a Node
 * process without it, and means something else to nginx). Undefined when
 * there is none, as for nginx.
 */
export async function heapInUse(pid: number, probeDir: string): Promise<number | undefined> {
  const asked: number[] = [];
  for (const each of await nodeProcesses([pid, ...(await descendants(pid))])) {
    const environ = await readFile(`/proc/${each}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`${HEAP_PROBE_DIR}=${probeDir}`)) asked.push(each);
  }
  if (asked.length === 0) return undefined;
  const files = asked.map((each) => path.join(probeDir, `${each}.json`));
  await Promise.all(files.map((file) => rm(file, { force: true })));
  for (const each of asked) process.kill(each, 'SIGUSR2');
  let total = 0;
  for (const file of files) {
    const text = await waitFor(() => readFile(file, 'utf8').catch(() => ''), {
      what: `a heap reading in ${file}`,
    });
    total += (JSON.parse(text) as { heapUsed: number }).heapUsed;
  }
  return total;
}
