/**
 * What part 4's integration tests share: named backends, a configuration file
 * written to the test's own directory, the balancer started on it (or in fleet
 * mode, on Redis), and two questions asked over real sockets (which backend
 * answered, what the status endpoint says).
 *
 * What it leaves out: anything part-independent; that lives in ../shared/test/harness.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { ROOT } from '../../shared/lib/programs.ts';
import {
  type Backend,
  httpGet,
  listenerPorts,
  type Program,
  parseResponse,
  readAll,
  requestHead,
  serveBackend,
  startPart,
  waitFor,
} from '../../shared/test/harness.ts';
import type { BackendStatus, Snapshot } from '../status/snapshot.ts';

/** The ports of a balancer's startup lines, as the harness reads them. */
export { listenerPorts };

/**
 * The folder of the proxy these tests start, from the repository's root: the
 * one this file is in, 'part4-balancing' itself, or a step's copy of it
 * ('.steps/4.N/part4-balancing', as `npm run test:steps` renders it).
 */
export const PART = path.relative(ROOT, path.dirname(path.dirname(fileURLToPath(import.meta.url))));

export interface Named {
  name: string;
  program: Backend;
  /** "127.0.0.1:PORT", as a configuration names it. */
  address: string;
}

/** Starts one mock backend per name, all at once. */
export function startBackends(t: Test, names: string[]): Promise<Named[]> {
  return Promise.all(
    names.map(async (name) => {
      const program = await serveBackend(t, { name });
      return { name, program, address: `127.0.0.1:${program.port}` };
    }),
  );
}

/** Tests whose directory exists: t.testdir() empties it on every call. */
const haveDir = new WeakSet<Test>();

/** Writes `json` (or text) as a file in the test's directory; returns its path. */
export function writeConfig(t: Test, json: unknown, file = 'balancer.json'): string {
  const dir = haveDir.has(t) ? t.testdirName : t.testdir();
  haveDir.add(t);
  const where = path.join(dir, file);
  writeFileSync(where, typeof json === 'string' ? json : JSON.stringify(json, null, 2));
  return where;
}

/** A one-listener, one-pool configuration on free ports with its status endpoint. */
export function onePool(pool: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { listen: [{ port: 0, pool: 'web' }], statusPort: 0, pools: { web: pool }, ...extra };
}

export interface Balancer {
  proxy: Program;
  /** The configuration file (rewrite it and send SIGHUP to reload). */
  file: string;
  /** The status port, when the configuration has one. */
  statusPort?: number;
}

/** Balancers started per test so far: the second one's file is balancer-2.json. */
const balancers = new WeakMap<Test, number>();

/** Writes the configuration and starts the balancer on it. */
export async function startBalancer(
  t: Test,
  json: unknown,
  args: string[] = [],
): Promise<Balancer> {
  const count = (balancers.get(t) ?? 0) + 1;
  balancers.set(t, count);
  const file = writeConfig(t, json, count === 1 ? 'balancer.json' : `balancer-${count}.json`);
  const proxy = await startPart(t, PART, ['--config', file, ...args]);
  const hasStatus =
    (json as { statusPort?: number }).statusPort !== undefined || args.includes('--status-port');
  return { proxy, file, statusPort: hasStatus ? await statusPortOf(proxy) : undefined };
}

/** The status port, from the line a balancer prints when it listens there. */
async function statusPortOf(proxy: Program): Promise<number> {
  return Number((await proxy.waitForOutput(/Status on port (\d+)/))[1]);
}

export interface Fleet {
  proxy: Program;
  /** The ports of the http and https listeners (shared by every worker). */
  http: number;
  https: number;
  /** The status port, when the arguments ask for one. */
  statusPort?: number;
}

/**
 * Starts fleet mode: `--redis URL --http 0 --https 0`, then `args`. Resolves
 * once every worker (one without --workers) has printed its two startup lines,
 * and the status line when `args` has --status-port.
 */
export async function startFleet(
  t: Test,
  redis: string | string[],
  args: string[] = [],
): Promise<Fleet> {
  // A URL, or the options that name the Redis (--redis-sentinel ... --redis-master ...).
  const source = typeof redis === 'string' ? ['--redis', redis] : redis;
  const fleetArgs = [...source, '--http', '0', '--https', '0'];
  const proxy = await startPart(t, PART, [...fleetArgs, ...args]);
  const workers = args.includes('--workers') ? Number(args[args.indexOf('--workers') + 1]) : 1;
  const [http, https] = await listenerPorts(proxy, 2 * workers);
  const statusPort = args.includes('--status-port') ? await statusPortOf(proxy) : undefined;
  return { proxy, http, https, statusPort };
}

/** GETs `pathname` and returns the name of the backend that answered (from its body). */
export async function whoAnswered(
  port: number,
  pathname = '/',
  localAddress?: string,
): Promise<string> {
  const body = localAddress
    ? parseResponse((await request(port, pathname, localAddress)).data).body
    : (await httpGet(port, pathname)).body;
  const match = body.toString().match(/^Hello from backend (\S+)/);
  if (!match) throw new Error(`not a backend's answer: ${JSON.stringify(body.toString())}`);
  return match[1];
}

/** Which backend answers a GET with this Host ('' when the proxy closes, "(body)" when it answers itself). */
export async function whoServesHost(port: number, host: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const received = await readAll(socket, 5000);
  if (received.data.length === 0) return '';
  const body = parseResponse(received.data).body.toString();
  return body.match(/^Hello from backend (\S+)/)?.[1] ?? `(${body.trim()})`;
}

/** One raw request from a chosen local address (127.0.0.0/8 is all loopback on Linux). */
async function request(port: number, pathname: string, localAddress: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.write(requestHead(pathname));
  return readAll(socket);
}

/** Asks `count` requests one after another; returns who answered each. */
export async function sequence(port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(await whoAnswered(port));
  return names;
}

/** The status JSON, fleet mode's and --workers' fields included (status/snapshot.ts). */
export type Status = Snapshot;
export type { BackendStatus };

/** GET / on the status port. */
export async function status(statusPort: number): Promise<Status> {
  const response = await httpGet(statusPort);
  if (response.status !== 200) throw new Error(`status endpoint answered ${response.status}`);
  return JSON.parse(response.body.toString());
}

/** Polls the status endpoint until `accept` says yes; returns that report. */
export async function statusWhen(
  statusPort: number,
  accept: (report: Status) => boolean,
  what: string,
): Promise<Status> {
  let report: Status | undefined;
  await waitFor(
    async () => {
      report = await status(statusPort);
      return accept(report);
    },
    { what },
  );
  return report as Status;
}

/** Waits until the balancer relays exactly `count` connections; returns that report. */
export function whenOpen(statusPort: number, count: number): Promise<Status> {
  return statusWhen(
    statusPort,
    (report) => report.totals.activeConnections === count,
    `${count} open connection(s)`,
  );
}

/** One backend's entry in the status, by its address. */
export function backendStatus(report: Status, pool: string, address: string): BackendStatus {
  const entry = report.pools[pool]?.backends.find((b) => b.id === address);
  if (!entry) throw new Error(`no backend ${address} in pool ${pool}`);
  return entry;
}

/** Sends a request that the backend answers after `delayMs`; resolves with the raw answer. */
export function slowRequest(t: Test, port: number, delayMs: number) {
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(requestHead(`/?delay=${delayMs}`));
  return readAll(socket, delayMs + 10_000);
}

/**
 * A port that never answers a connect: a child process listens with a backlog
 * of 1, then blocks its event loop so it never accepts. Once two connections
 * fill its accept queue, the kernel drops every further SYN, and a connect
 * hangs as it would against a host that has gone away.
 */
export async function unansweredPort(t: Test): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const server = require('node:net').createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         console.log(server.address().port);
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const [line] = await once(child.stdout as NodeJS.ReadableStream, 'data');
  const port = Number(String(line).trim());
  for (let i = 0; i < 2; i++) {
    const filler = net.connect(port, '127.0.0.1');
    t.teardown(() => filler.destroy());
    await once(filler, 'connect');
  }
  return `127.0.0.1:${port}`;
}
