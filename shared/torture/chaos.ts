/**
 * `npm run soak:chaos`: part 4 under steady traffic while its world breaks
 * around it, every answer checked byte for byte.
 *
 *   clients ─▶ part 4 ─┬─ tcp listener ─▶ pool "web" ──────────┐
 *   (keep-alive and    ├─ http listener ─┐                     ├─▶ backends A, B, C
 *    a connection per  └─ tls listener ──┴─ routes from Redis ─┘   (killed, restarted)
 *    request)                              (stopped, restarted,
 *                                           silenced)          SIGHUP every few seconds
 *
 *   npm run soak:chaos                      five minutes
 *   npm run soak:chaos -- --seconds 20      the length npm test runs
 *   npm run soak:chaos -- --save            and the report to shared/results/chaos.json
 *
 * Every response is a mock backend's body, whose bytes the client knows from
 * the backend's name and the size it asked for. Each request ends one way:
 *
 *   ok           status 200 and every byte right
 *   truncated    the connection ended cleanly before the body was whole: a
 *                cut response presented as complete. Never allowed.
 *   wrong bytes  a body that differs from the backend's. Never allowed.
 *   cut by kill  closed or reset while the backend answering it (or, before
 *                its head, any backend) was being killed: nothing can save a
 *                request whose backend dies under it, but it must stay a
 *                reset or a close, never a short "complete" answer
 *   refused      closed before any byte, or 502: allowed only while no
 *                backend was up (and a moment after, while the proxy sees
 *                them come back)
 *   unexplained  any other failure (refused or 502 while a backend was up,
 *                no answer within 10 s, another status). Never allowed.
 *
 * A keep-alive connection closed before any byte of an answer (its backend
 * went, or the idle timeout took it) is what every HTTP client meets: like
 * them, the soak sends that request again on a new connection, and counts it.
 *
 * The chaos, on a schedule drawn from --seed: a backend killed (every one
 * of its connections reset where it stands, so that a cut answer can only
 * look whole if the proxy made it so) and restarted a moment later, every few
 * seconds; now and then all three at once; a SIGHUP reload every 3 s; Redis
 * silenced (every byte dropped, nothing closed) for a few seconds, then
 * stopped and started again empty, its routes written back before the proxy
 * can reach it.
 *
 * Everything goes to 127.0.0.1, at a bounded rate, and stops by itself.
 * `--save` writes the report to `shared/results/` (chaos.json, or
 * chaos-20s.json for --seconds 20, and so on), where `npm run docs` renders
 * part 4's table from it.
 *
 * What it leaves out: faults on the path to a backend that is up (the fault
 * table of chapter 2 covers those one at a time), and the status port.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { type Cleanup, type Teardown, withCleanup } from '../lib/cleanup.ts';
import { failWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { type Program, startPart } from '../lib/programs.ts';
import { npmCommand, type Provenance, provenance, writeResults } from '../lib/results.ts';
import { markdownTable } from '../lib/table.ts';
import { makeBody } from '../test/backend.ts';
import { startFaultRelay } from '../test/fault-relay.ts';
import {
  type Backend,
  endWasReset,
  listenerPorts,
  openFds,
  rssKiB,
  serveBackend,
  waitFor,
} from '../test/harness.ts';
import { redisClient, startRedis } from '../test/redis.ts';
import { aftermath } from './torture.ts';

const USAGE = 'usage: chaos.ts [--seconds N] [--rate REQ_PER_S] [--seed N] [--json FILE] [--save]';
const NAMES = ['A', 'B', 'C'] as const;
/** Body sizes the clients ask for: a line, a page, a few segments, many. */
const SIZES = [100, 4096, 65_536, 300_000];
/**
 * One request in ten asks for this many, which the backend sends a piece at a
 * time (its `trickle`), so that it is still sending when it is killed: the
 * kills aim at those. (A body sent at once sits whole in loopback's socket
 * buffers within a moment, where a kill no longer cuts it.)
 */
const SLOW_SIZE = 1024 * 1024;
const SLOW_SHARE = 0.1;
/** Between two 64 KiB pieces of a slow answer: 16 pieces, about a third of a second. */
const TRICKLE_MS = 20;
const HOST = 'soak.test';
const TLS_HOST = 'secure.soak.test';
/** How long after the last backend came back a refusal is still the outage's. */
const GRACE_MS = 2000;
const ANSWER_MS = 10_000;
/**
 * How much the proxy's memory may grow over a run: V8's heap grows to its
 * working size in the first seconds (30 to 50 MiB here, in 20 s as in five
 * minutes); a proxy that kept what it relays would pass this soon.
 */
const MEMORY_BOUND_MIB = 100;

export interface ChaosOptions {
  seconds: number;
  /** Requests per second, over all clients. */
  rate: number;
  seed: number;
  /** Where to write the report as JSON too (for a test). */
  json?: string;
  /** Write the report to shared/results/ under savedName(). */
  save?: boolean;
}

/** The name --save gives a run: chaos, with what differs from the defaults (chaos-20s-rate-60). */
export function savedName(options: Pick<ChaosOptions, 'seconds' | 'rate' | 'seed'>): string {
  return [
    'chaos',
    options.seconds === 300 ? '' : `${options.seconds}s`,
    options.rate === 300 ? '' : `rate-${options.rate}`,
    options.seed === 1 ? '' : `seed-${options.seed}`,
  ]
    .filter(Boolean)
    .join('-');
}

/** What --save writes: the report, with its run and options. */
export interface SavedChaos extends Provenance, ChaosReport {
  options: Omit<ChaosOptions, 'json' | 'save'>;
}

export function parseChaosArgs(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '300' },
      rate: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      save: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.json !== undefined && values.save) throw new Error('--json and --save: choose one');
  return {
    seconds: integerOption('--seconds', values.seconds, 5, 24 * 3600),
    rate: integerOption('--rate', values.rate, 6, 10_000),
    seed: integerOption('--seed', values.seed, 0, 2 ** 31),
    json: values.json,
    ...(values.save ? { save: true } : {}),
  };
}

export const CAUSES = [
  'ok',
  'truncated',
  'wrong bytes',
  'cut by kill',
  'refused',
  'unexplained',
] as const;
export type Cause = (typeof CAUSES)[number];
/** The causes the soak's goal allows never. */
const NEVER: readonly Cause[] = ['truncated', 'wrong bytes', 'unexplained'];

/** One client's traffic: a listener, a way of connecting, and what happened to its requests. */
export interface Stream {
  listener: 'tcp' | 'http' | 'tls';
  keepAlive: boolean;
  counts: Record<Cause, number>;
  /** Keep-alive requests sent again on a new connection (closed before any byte). */
  resent: number;
  /** The longest time between two good answers, in ms. */
  longestGapMs: number;
  /** The first few failures of a cause never allowed, for the report. */
  examples: string[];
}

export interface ChaosReport {
  streams: Stream[];
  seconds: number;
  kills: number;
  reloads: number;
  redisOutages: number;
  /** The longest time with no backend up, by the soak's own schedule, in ms. */
  longestNoBackendMs: number;
  fds: [number, number];
  rssMiB: [number, number];
  /** Problems with the proxy itself: it died, leaked descriptors, printed a stack trace. */
  problems: string[];
}

/** Runs the soak; resolves with its report. Everything it starts is registered on `cleanup`. */
export async function chaos(options: ChaosOptions, cleanup: Cleanup): Promise<ChaosReport> {
  const random = seeded(options.seed);
  const world = await startWorld(cleanup);
  const { proxy } = world;

  // Warm up: every stream answered once, then the proxy's counts as they stand.
  const streams = makeStreams();
  for (const stream of streams) {
    await waitFor(async () => (await exchangeOnce(world, stream, 100)).cause === 'ok', {
      timeoutMs: 15_000,
      what: `a first answer on the ${stream.listener} listener`,
    });
  }
  const fdsBefore = await openFds(proxy.pid);
  const rssBefore = await rssKiB(proxy.pid);

  const endAt = Date.now() + options.seconds * 1000;
  const traffic = streams.map((stream) =>
    runStream(world, stream, endAt, options.rate / streams.length, random),
  );
  const schedule = runChaos(world, endAt, random);
  await Promise.all([...traffic, schedule.done]);

  // The world mended: every backend up, Redis reachable. Then the descriptors.
  const after = await aftermath(proxy, fdsBefore, 20_000);
  const grewMiB = (after.rssKiB - rssBefore) / 1024;
  if (grewMiB > MEMORY_BOUND_MIB) {
    after.problems.push(`memory GREW ${grewMiB.toFixed(0)} MiB (over ${MEMORY_BOUND_MIB})`);
  }
  return {
    streams,
    seconds: options.seconds,
    kills: schedule.kills,
    reloads: schedule.reloads,
    redisOutages: schedule.redisOutages,
    longestNoBackendMs: world.outage.longestMs,
    fds: [fdsBefore, after.fds],
    rssMiB: [rssBefore / 1024, after.rssKiB / 1024],
    problems: after.problems,
  };
}

/** True when the soak met its goal: nothing truncated, wrong or unexplained, and the proxy sound. */
export function passed(report: ChaosReport): boolean {
  const bad = report.streams.reduce(
    (sum, s) => sum + s.counts.truncated + s.counts['wrong bytes'] + s.counts.unexplained,
    0,
  );
  return bad === 0 && report.problems.length === 0;
}

// --- The world: backends, Redis, the proxy --------------------------------------

/** A backend that can be killed and started again on the same ports, plain and TLS. */
interface Host {
  name: string;
  ports: { plain: number; tls: number };
  servers: Backend[];
  up: boolean;
  /** When each kill happened: a request open across one of them may be cut. */
  kills: number[];
  /** Slow answers it is sending now (its head read, its body not yet). */
  slowAnswers: number;
}

/** When no backend was up: the open window, if any, and the ones past. */
interface Outage {
  since?: number;
  past: [number, number][];
  longestMs: number;
}

interface World {
  cleanup: Cleanup;
  hosts: Host[];
  proxy: Program;
  ports: { tcp: number; http: number; tls: number };
  configFile: string;
  config: Record<string, unknown>;
  redis: Awaited<ReturnType<typeof startRedis>>;
  relay: Awaited<ReturnType<typeof startFaultRelay>>;
  outage: Outage;
}

async function startWorld(cleanup: Cleanup): Promise<World> {
  const hosts: Host[] = [];
  for (const name of NAMES) {
    const host: Host = {
      name,
      ports: { plain: 0, tls: 0 },
      servers: [],
      up: false,
      kills: [],
      slowAnswers: 0,
    };
    await startHost(cleanup, host);
    hosts.push(host);
  }
  const redis = await startRedis(cleanup);
  const relay = await startFaultRelay(cleanup, redis.port);
  await writeRoutes(cleanup, redis, hosts);

  const dir = mkdtempSync(path.join(tmpdir(), 'chaos-'));
  cleanup.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'chaos.json');
  const addresses = (kind: 'plain' | 'tls') =>
    hosts.map((host) => ({ address: `127.0.0.1:${host.ports[kind]}` }));
  // Health checks every 250 ms: a restarted backend is back in its pool within a
  // moment, so a refusal well after the outage is the proxy's fault.
  const pool = { failTimeoutMs: 1000, healthCheck: { intervalMs: 250, timeoutMs: 200 } };
  const config: Record<string, unknown> = {
    listen: [
      { port: 0, pool: 'web' },
      { port: 0, protocol: 'http' },
      { port: 0, protocol: 'tls' },
    ],
    statusPort: 0,
    pools: { web: { backends: addresses('plain'), ...pool } },
    routeSource: { redis: `redis://127.0.0.1:${relay.port}`, pool },
    idleTimeoutMs: 30_000,
  };
  writeFileSync(configFile, JSON.stringify(config));
  const proxy = await startPart(cleanup, 'part4-balancing', ['--config', configFile]);
  // One "Listening on port N" line per listener, in the order of `listen`.
  const [tcp, http, tlsPort] = await listenerPorts(proxy, 3);
  return {
    cleanup,
    hosts,
    proxy,
    ports: { tcp, http, tls: tlsPort },
    configFile,
    config,
    redis,
    relay,
    outage: { past: [], longestMs: 0 },
  };
}

async function startHost(t: Teardown, host: Host): Promise<void> {
  const plain = await serveBackend(t, { name: host.name, port: host.ports.plain });
  const secure = await serveBackend(t, { name: host.name, port: host.ports.tls, tls: true });
  host.ports = { plain: plain.port, tls: secure.port };
  host.servers = [plain, secure];
  host.up = true;
}

/** The fleet's routes, in the Go proxy's keys: the http name to plain backends, the tls one to TLS. */
async function writeRoutes(
  t: Teardown,
  redis: World['redis'],
  hosts: readonly Host[],
): Promise<void> {
  const client = await redisClient(t, redis);
  await client.sAdd(
    `hostnames:${HOST}:backends`,
    hosts.map((host) => `127.0.0.1:${host.ports.plain}`),
  );
  await client.sAdd(
    `hostnames:${TLS_HOST}:backends`,
    hosts.map((host) => `127.0.0.1:${host.ports.tls}`),
  );
  await client.quit();
}

// --- The chaos -------------------------------------------------------------------

function runChaos(
  world: World,
  endAt: number,
  random: () => number,
): { done: Promise<void>; kills: number; reloads: number; redisOutages: number } {
  const state = { done: Promise.resolve(), kills: 0, reloads: 0, redisOutages: 0 };
  const until = (ms: number) => delay(Math.max(0, Math.min(ms, endAt - Date.now())));

  const backends = async () => {
    let round = 0;
    while (Date.now() < endAt - 1000) {
      await until(1000 + random() * 1500);
      if (Date.now() >= endAt - 1000) break;
      round++;
      // Every eighth round, all three at once: the clients meet a pool with none.
      // Otherwise one, sending a slow answer if any is: a kill mid-answer is the
      // one a careless relay would pass on as a short but clean ending.
      const sending = world.hosts.filter((host) => host.slowAnswers > 0);
      const pickFrom = sending.length > 0 ? sending : world.hosts;
      const victims =
        round % 8 === 4 ? world.hosts : [pickFrom[Math.floor(random() * pickFrom.length)]];
      for (const host of victims) await killHost(world, host);
      state.kills += victims.length;
      await until(300 + random() * 1200);
      for (const host of victims) await startHost(world.cleanup, host);
      noteBackends(world);
    }
  };

  const reloads = async () => {
    let idle = 30_000;
    while (Date.now() < endAt - 500) {
      await until(3000);
      if (Date.now() >= endAt - 500) break;
      idle = idle === 30_000 ? 31_000 : 30_000;
      writeFileSync(world.configFile, JSON.stringify({ ...world.config, idleTimeoutMs: idle }));
      world.proxy.child.kill('SIGHUP');
      state.reloads++;
    }
  };

  const redis = async () => {
    while (Date.now() < endAt - 8000) {
      await until(2000 + random() * 2000);
      // Silent: no FIN, no RST, every byte dropped. Then healed.
      world.relay.set('silence');
      await until(3000);
      world.relay.set('none');
      state.redisOutages++;
      await until(2000 + random() * 2000);
      // Stopped, then started again empty: its routes are written back while
      // the proxy cannot reach it, as an operator's Redis comes back with its data.
      world.relay.set('cut');
      await world.redis.stop();
      await until(1000 + random() * 1000);
      await world.redis.start();
      await writeRoutes(world.cleanup, world.redis, world.hosts);
      world.relay.set('none');
      state.redisOutages++;
    }
  };

  state.done = Promise.all([backends(), reloads(), redis()]).then(() => {});
  return state;
}

async function killHost(world: World, host: Host): Promise<void> {
  host.up = false;
  host.kills.push(Date.now());
  noteBackends(world);
  await Promise.all(host.servers.map((server) => server.kill('reset')));
}

/** Opens or closes the window in which no backend is up. */
function noteBackends(world: World): void {
  const { outage } = world;
  const anyUp = world.hosts.some((host) => host.up);
  if (!anyUp && outage.since === undefined) outage.since = Date.now();
  if (anyUp && outage.since !== undefined) {
    const window: [number, number] = [outage.since, Date.now()];
    outage.past.push(window);
    outage.longestMs = Math.max(outage.longestMs, window[1] - window[0]);
    outage.since = undefined;
  }
}

// --- The clients -------------------------------------------------------------------

function makeStreams(): Stream[] {
  const streams: Stream[] = [];
  for (const listener of ['tcp', 'http', 'tls'] as const) {
    for (const keepAlive of [true, false]) {
      const counts = Object.fromEntries(CAUSES.map((cause) => [cause, 0])) as Record<Cause, number>;
      streams.push({ listener, keepAlive, counts, resent: 0, longestGapMs: 0, examples: [] });
    }
  }
  return streams;
}

/** Sends requests one after another at `rate` per second until `endAt`. */
async function runStream(
  world: World,
  stream: Stream,
  endAt: number,
  rate: number,
  random: () => number,
): Promise<void> {
  let socket: net.Socket | undefined;
  let lastGood = Date.now();
  const interval = 1000 / rate;
  try {
    while (Date.now() < endAt) {
      const began = Date.now();
      const size = random() < SLOW_SHARE ? SLOW_SIZE : SIZES[Math.floor(random() * SIZES.length)];
      let result: Exchange;
      if (stream.keepAlive && socket && !socket.destroyed) {
        result = await exchange(socket, request(stream, size), true, slowFrom(world, size));
        if (result.cause !== 'ok') socket = undefined;
        // Closed before any byte of the answer: a client sends it again.
        if (result.bytes === 0 && result.cause !== 'ok') {
          stream.resent++;
          ({ result, socket } = await freshExchange(world, stream, size));
        }
      } else {
        ({ result, socket } = await freshExchange(world, stream, size));
      }
      if (!stream.keepAlive) socket?.destroy();
      const cause = judge(world, result, began);
      stream.counts[cause]++;
      if (NEVER.includes(cause) && stream.examples.length < 5) {
        const when = new Date(began).toISOString().slice(11, 23);
        const lastKill = world.hosts.find((host) => host.name === result.backend)?.kills.at(-1);
        const killed =
          lastKill === undefined ? 'not killed' : `killed ${Date.now() - lastKill} ms before`;
        stream.examples.push(
          `${when} ${cause}: ${result.detail} (size ${size}, backend ${result.backend ?? '?'}, ${killed}, after ${Date.now() - began} ms)`,
        );
      }
      const now = Date.now();
      if (cause === 'ok') {
        stream.longestGapMs = Math.max(stream.longestGapMs, now - lastGood);
        lastGood = now;
      }
      await delay(Math.max(0, began + interval - now));
    }
  } finally {
    socket?.destroy();
  }
}

/** One request on a new connection; the connection is handed back for keep-alive. */
async function freshExchange(
  world: World,
  stream: Stream,
  size: number,
): Promise<{ result: Exchange; socket: net.Socket | undefined }> {
  const socket = connectTo(world, stream);
  const result = await exchange(
    socket,
    request(stream, size),
    stream.keepAlive,
    slowFrom(world, size),
  );
  if (result.cause !== 'ok') socket.destroy();
  return { result, socket: result.cause === 'ok' ? socket : undefined };
}

async function exchangeOnce(world: World, stream: Stream, size: number): Promise<Exchange> {
  const socket = connectTo(world, { ...stream, keepAlive: false });
  try {
    return await exchange(socket, request({ ...stream, keepAlive: false }, size), false);
  } finally {
    socket.destroy();
  }
}

/** The hosts to tell of a slow answer: every one, for a slow request. */
function slowFrom(world: World, size: number): readonly Host[] | undefined {
  return size === SLOW_SIZE ? world.hosts : undefined;
}

/** The TCP socket under each client socket (itself, or the one under TLS), to ask after an 'end'. */
const rawOf = new WeakMap<net.Socket, net.Socket>();

function connectTo(world: World, stream: Stream): net.Socket {
  // allowHalfOpen: after an 'end', the socket can still ask the kernel
  // whether it was a FIN or a reset (endWasReset).
  const port = world.ports[stream.listener];
  const raw = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  // (A TLSSocket is a net.Socket and takes allowHalfOpen, which @types/node leaves out.)
  const secure: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    socket: raw,
    servername: TLS_HOST,
    rejectUnauthorized: false,
    allowHalfOpen: true,
  };
  const socket = stream.listener === 'tls' ? tls.connect(secure) : raw;
  raw.on('error', () => {});
  socket.on('error', () => {});
  rawOf.set(socket, raw);
  return socket;
}

function request(stream: Pick<Stream, 'listener' | 'keepAlive'>, size: number): string {
  const host = stream.listener === 'tls' ? TLS_HOST : HOST;
  const connection = stream.keepAlive ? 'keep-alive' : 'close';
  const trickle = size === SLOW_SIZE ? `&trickle=${TRICKLE_MS}` : '';
  return `GET /?size=${size}${trickle} HTTP/1.1\r\nHost: ${host}\r\nConnection: ${connection}\r\n\r\n`;
}

/** What one request met, before it is judged against the chaos of the moment. */
interface Exchange {
  cause: 'ok' | 'truncated' | 'wrong bytes' | 'closed' | 'reset' | 'timeout' | 'status';
  /** Bytes of the answer received. */
  bytes: number;
  status?: number;
  /** The backend that answered, from its x-backend header. */
  backend?: string;
  detail: string;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Writes one request and reads its answer: the head, then exactly
 * content-length bytes, hashed as they come. With keep-alive it resolves as
 * soon as the body is whole and leaves the socket open; otherwise it waits
 * for the close, and a close that comes early is a truncation (FIN) or a
 * reset (RST). A host in `slowFrom` is told while it sends a slow answer.
 */
function exchange(
  socket: net.Socket,
  text: string,
  keepAlive: boolean,
  slowFrom?: readonly Host[],
): Promise<Exchange> {
  return new Promise((resolve) => {
    let headBytes = Buffer.alloc(0);
    let head: { status: number; length: number; backend?: string } | undefined;
    const body = { bytes: 0, hash: createHash('sha256') };
    let reset = false;
    let sender: Host | undefined;
    const received = () => (head ? headBytes.length + body.bytes : headBytes.length);
    let finished = false;
    const finish = (result: Exchange) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (sender) sender.slowAnswers--;
      socket.off('data', onData).off('error', onError).off('close', onClose).off('end', onEnd);
      resolve(result);
    };
    /** The answer once the body is whole (and, without keep-alive, the connection closed). */
    const judgeBody = (ended: boolean): Exchange | undefined => {
      if (!head) return undefined;
      const base = { bytes: received(), status: head.status, backend: head.backend };
      if (body.bytes > head.length) {
        return {
          ...base,
          cause: 'wrong bytes',
          detail: `${body.bytes - head.length} bytes too many`,
        };
      }
      if (body.bytes < head.length) return undefined;
      if (head.status !== 200) return { ...base, cause: 'status', detail: `status ${head.status}` };
      if (!keepAlive && !ended) return undefined;
      const right = head.backend === undefined ? undefined : expected(head.backend, body.bytes);
      if (right === undefined || !right.equals(body.hash.copy().digest())) {
        return { ...base, cause: 'wrong bytes', detail: `a body not from backend ${head.backend}` };
      }
      return { ...base, cause: 'ok', detail: 'ok' };
    };
    const onData = (chunk: Buffer) => {
      if (!head) {
        headBytes = Buffer.concat([headBytes, chunk]);
        const end = headBytes.indexOf(HEAD_END);
        if (end < 0) return;
        const lines = headBytes.subarray(0, end).toString('latin1').split('\r\n');
        const header = (name: string) =>
          lines
            .find((line) => line.toLowerCase().startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        head = {
          status: Number(lines[0].split(' ')[1]),
          length: Number(header('content-length') ?? 0),
          backend: header('x-backend'),
        };
        chunk = headBytes.subarray(end + 4);
        headBytes = headBytes.subarray(0, end + 4);
        sender = slowFrom?.find((host) => host.name === head?.backend);
        if (sender) sender.slowAnswers++;
      }
      body.bytes += chunk.length;
      body.hash.update(chunk);
      const result = judgeBody(false);
      if (result) return finish(result);
    };
    const onError = () => {
      reset = true;
    };
    // An early 'end' may be a reset in disguise: ask the kernel, then judge as at a close.
    const onEnd = () => {
      const done = judgeBody(true);
      if (done) return finish(done);
      const raw = rawOf.get(socket) ?? socket;
      void endWasReset(raw).then((wasReset) => {
        if (finished) return;
        reset ||= wasReset;
        onClose();
        socket.destroy();
      });
    };
    const onClose = () => {
      const done = judgeBody(true);
      if (done) return finish(done);
      const base = { bytes: received(), status: head?.status, backend: head?.backend };
      if (received() === 0) {
        const detail = reset ? 'reset before any byte' : 'closed before any byte';
        return finish({ ...base, cause: 'closed', detail });
      }
      if (reset)
        return finish({ ...base, cause: 'reset', detail: `reset after ${received()} bytes` });
      finish({ ...base, cause: 'truncated', detail: `a clean close after ${received()} bytes` });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish({ cause: 'timeout', bytes: received(), detail: `no answer in ${ANSWER_MS} ms` });
    }, ANSWER_MS);
    socket.on('data', onData).on('error', onError).on('end', onEnd).on('close', onClose);
    socket.write(text);
  });
}

/** Sorts an exchange into a cause, given what the chaos did while it was open. */
function judge(world: World, result: Exchange, began: number): Cause {
  const now = Date.now();
  if (result.cause === 'ok' || result.cause === 'truncated' || result.cause === 'wrong bytes') {
    return result.cause;
  }
  // Closed or reset while its backend (or, not knowing which, any) was being killed.
  if (result.cause === 'closed' || result.cause === 'reset') {
    const suspects = world.hosts.filter(
      (host) => result.backend === undefined || host.name === result.backend,
    );
    if (suspects.some((host) => host.kills.some((at) => at >= began - 50 && at <= now))) {
      return 'cut by kill';
    }
  }
  // Refused (502, or closed before any byte) while no backend was up.
  const refused = result.status === 502 || (result.cause === 'closed' && result.bytes === 0);
  if (refused && overlapsOutage(world.outage, began, now)) return 'refused';
  return 'unexplained';
}

function overlapsOutage(outage: Outage, from: number, to: number): boolean {
  if (outage.since !== undefined && outage.since <= to) return true;
  return outage.past.some(([start, end]) => start <= to && end + GRACE_MS >= from);
}

const hashes = new Map<string, Buffer>();

/** The hash of the body backend `name` sends for `size` bytes. */
function expected(name: string, size: number): Buffer | undefined {
  if (!(NAMES as readonly string[]).includes(name)) return undefined;
  const key = `${name} ${size}`;
  let known = hashes.get(key);
  if (!known) {
    known = hash(makeBody(name, size));
    hashes.set(key, known);
  }
  return known;
}

function hash(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** A small seeded generator (mulberry32), so that a run's chaos can be drawn again. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- The report ------------------------------------------------------------------

/** The table of the report: a row per stream, its requests counted by how each ended. */
export function chaosTable(report: Pick<ChaosReport, 'streams'>): string {
  const header = ['listener', 'connections', 'requests', ...CAUSES, 'resent', 'longest gap'];
  const rows = report.streams.map((stream) => {
    const total = CAUSES.reduce((sum, cause) => sum + stream.counts[cause], 0);
    return [
      stream.listener,
      stream.keepAlive ? 'keep-alive' : 'one per request',
      String(total),
      ...CAUSES.map((cause) => String(stream.counts[cause])),
      String(stream.resent),
      `${(stream.longestGapMs / 1000).toFixed(1)} s`,
    ];
  });
  return markdownTable(header, rows);
}

export function formatReport(report: ChaosReport): string {
  const examples = report.streams.flatMap((stream) =>
    stream.examples.map(
      (text) => `  ${stream.listener}, ${stream.keepAlive ? 'keep-alive' : 'new'}: ${text}`,
    ),
  );
  return [
    chaosTable(report),
    '',
    `${report.seconds} s; ${report.kills} backend kills, ${report.reloads} reloads, ${report.redisOutages} Redis outages (silent or stopped).`,
    `Longest time with no backend up: ${(report.longestNoBackendMs / 1000).toFixed(1)} s.`,
    `Proxy descriptors ${report.fds[0]} -> ${report.fds[1]}, RSS ${report.rssMiB[0].toFixed(1)} -> ${report.rssMiB[1].toFixed(1)} MiB.`,
    ...(examples.length > 0 ? ['Failures never allowed (the first few):', ...examples] : []),
    ...report.problems.map((problem) => `PROBLEM: ${problem}`),
    passed(report) ? 'Goal met: nothing truncated, wrong or unexplained.' : 'Goal MISSED.',
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOrExit('chaos.ts', USAGE, parseChaosArgs);
  try {
    await withCleanup(async (cleanup) => {
      console.error(`Soaking part 4 for ${options.seconds} s at ${options.rate} requests/s...`);
      const began = provenance(npmCommand('soak:chaos'));
      const report = await chaos(options, cleanup);
      console.log(formatReport(report));
      if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
      if (options.save) {
        const { seconds, rate, seed } = options;
        const saved: SavedChaos = { ...began, options: { seconds, rate, seed }, ...report };
        console.log(`Wrote ${writeResults(savedName(options), saved)}.`);
      }
      if (!passed(report)) process.exitCode = 1;
    });
  } catch (err) {
    failWith('chaos.ts', err);
  }
  // Everything it started is stopped. Exit now rather than wait for Node's
  // own clean-up of the sockets: once, at the end of a five-minute run, it
  // spun there for minutes after the report (Node 20.20, cause not found).
  process.exit();
}

if (isMain(import.meta.url)) await main();
