/**
 * What the benchmark measures: one table of targets, and how to start each of
 * them on a free port in front of one backend.
 *
 * - direct: the backend itself, the baseline of every comparison.
 * - pipe: the smallest Node proxy (pipe-proxy.ts), the floor every part is
 *   read against: what Node costs before any feature.
 * - the parts: each joins with one line in PARTS, and only once its proxy.ts
 *   exists, so the bench grows with the tutorial.
 * - part 4 built ahead of time (`npm run build`), under plain node: the same
 *   code as the part4 row, without tsx.
 * - part 4's routing: an http listener that routes by Host, and a tls listener
 *   that routes by SNI, beside the rows that do the same without reading a
 *   byte. TLS rows stand in front of the mock backend speaking TLS and are
 *   compared with their own baseline, direct-tls, not with direct. And the
 *   http listener with a router module that picks the pool by path (chapter
 *   8), beside the one without.
 * - node-http-proxy (the npm package `http-proxy`), an HTTP proxy that parses
 *   every request with node:http: read beside part4-http, which reads the
 *   first head and relays the rest unread.
 * - the peers a reader would otherwise deploy, when they are installed: nginx's
 *   stream proxy (one worker) and HAProxy in tcp mode (one thread), started from
 *   generated config files in a temporary directory.
 * - a proxy of the reader's (`--try NAME=FILE`): a changed copy of a part, say,
 *   started as the parts are, to be read beside them in one run.
 * - the backend: the mock backend (shared/test/backend.ts), or nginx returning a fixed
 *   body, which costs less CPU and so leaves more of it to the proxies. The
 *   TLS rows always use the mock backend with --tls.
 *
 * What it leaves out: installing anything. A missing peer is skipped with one
 * line that says how to install it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Teardown } from '../lib/cleanup.ts';
import { partArgs, ROOT, startBackend, startPart, startProgram } from '../lib/programs.ts';
import { freePort, waitFor } from '../test/harness.ts';
import type { TargetKind } from './bench-stats.ts';

/** A target that has been started: where to send load, and which process to weigh. */
export interface Running {
  port: number;
  /** The proxy's pid (absent for direct: there is no proxy). */
  pid?: number;
  /** Speak TLS to it. */
  tls?: boolean;
}

/**
 * The name every request of the benchmark carries, as its Host header and,
 * over TLS, its SNI: the one name part 4's routing rows route.
 */
export const ROUTED_NAME = 'bench.example.org';

export interface Target {
  name: string;
  kind: TargetKind;
  /** Serves one client at a time on purpose. */
  serial?: boolean;
  /** What this row teaches, in a sentence (the tour prints it). */
  lesson: string;
  /** Where to read about it. */
  readme?: string;
  /** Stands in front of the TLS backend, and is compared with direct-tls. */
  tls?: boolean;
  /**
   * The row this one is, plus one feature (part4-http: part4 plus routing by
   * Host), or with one thing changed (part4-built: part4 without tsx).
   */
  over?: string;
  /** Runs only when --targets names it (a variant measured once, not in every run). */
  onlyWhenAsked?: boolean;
  /** Why it cannot run here, or undefined when it can. */
  missing(): string | undefined;
  /**
   * Starts it in front of the backend. `capacity`: the most client
   * connections it will be asked to hold at once (the hold mode's N), for the
   * peers whose config sets a limit.
   */
  start(cleanup: Teardown, backendPort: number, capacity?: number): Promise<Running>;
}

type Details = Pick<Target, 'lesson' | 'serial' | 'tls' | 'over' | 'onlyWhenAsked'>;

/** The command line a part is started with, in front of the backend. */
type PartArgs = (cleanup: Teardown, backendPort: number) => Promise<string[]>;

/**
 * A part of the tutorial: `<folder>/proxy.ts <args>`, started through the
 * harness; by default with the quick-start command line (partArgs).
 */
function part(
  name: string,
  folder: string,
  details: Details,
  args: PartArgs = async (_cleanup, backendPort) => partArgs(folder, [backendPort]),
): Target {
  return {
    name,
    kind: 'part',
    readme: `${folder}/README.md`,
    ...details,
    missing: () =>
      existsSync(path.join(ROOT, folder, 'proxy.ts')) ? undefined : `no ${folder}/proxy.ts yet`,
    start: async (cleanup, backendPort) => {
      const program = await startPart(cleanup, folder, await args(cleanup, backendPort));
      return { port: program.port, pid: program.pid, tls: details.tls };
    },
  };
}

/**
 * Part 4 from a config file with one http or tls listener whose host table
 * alone sends ROUTED_NAME to the backend. There is no default pool, so a
 * request that did not route shows in the table: a 404 (non-2xx) over HTTP, a
 * closed connection (an error) over TLS.
 */
function part4Routing(name: string, protocol: 'http' | 'tls', details: Details): Target {
  return part(name, 'part4-balancing', details, async (cleanup, backendPort) => {
    const file = path.join(await tempDir(cleanup, name), 'bench.config.json');
    const config = {
      listen: [{ port: 0, protocol, hosts: { [ROUTED_NAME]: 'bench' } }],
      pools: { bench: { backends: [{ address: `127.0.0.1:${backendPort}` }] } },
    };
    await writeFile(file, JSON.stringify(config));
    return ['--config', file];
  });
}

export const SERIAL_NOTE = 'serial by design: it serves one connection at a time';

/** The parts, one line each. */
export const PARTS: Target[] = [
  part('part1', 'part1-oneshot', {
    serial: true,
    lesson:
      'one client at a time, in sequential style: its few answers are quick, but the other clients queue behind the one being served.',
  }),
  part('part2', 'part2-epoll-style', {
    lesson:
      "every client at once on one event loop, as rsp did with epoll: the proxy's real cost. It ignores backpressure, which this fast reader does not show.",
  }),
  part('part3', 'part3-backpressure', {
    lesson:
      'the same event loop with flow control and idle timeouts: bounded memory for slow readers should cost next to nothing here.',
  }),
  part('part4', 'part4-balancing', {
    lesson:
      'the load balancer (pools, health checks, retries) in front of one backend: what those features cost per request.',
  }),
];

/**
 * Part 4 as it runs for real: compiled by `npm run build` (shared/tools/build.ts),
 * afresh for each run into a temporary folder, so that it is never an old
 * build, and started with node alone, on the part4 row's command line.
 */
export const PART4_BUILT: Target = {
  name: 'part4-built',
  kind: 'part',
  readme: 'part4-balancing/README.md',
  over: 'part4',
  lesson:
    'part4 compiled ahead of time (npm run build) and run by node alone: the same code, read against part4, without tsx.',
  missing: () => undefined,
  start: async (cleanup, backendPort) => {
    // Imported here: only this row needs esbuild.
    const { buildPart4 } = await import('../tools/build.ts');
    const built = await buildPart4(await tempDir(cleanup, 'part4-built'));
    const args = partArgs('part4-balancing', [backendPort]);
    const program = await startProgram(cleanup, built.entry, args);
    return { port: program.port, pid: program.pid };
  },
};

/** The smallest Node proxy: the floor under every part. */
export const PIPE: Target = {
  name: 'pipe',
  kind: 'floor',
  lesson:
    "ten lines of Node (net.createServer, pipe() both ways), no feature at all: what Node's own sockets cost, the floor under every part.",
  readme: 'shared/bench/pipe-proxy.ts',
  missing: () => undefined,
  start: async (cleanup, backendPort) => {
    const program = await startProgram(cleanup, 'shared/bench/pipe-proxy.ts', [
      '0',
      '127.0.0.1',
      String(backendPort),
    ]);
    return { port: program.port, pid: program.pid };
  },
};

/**
 * node-http-proxy in front of the backend (http-proxy.ts), with a keep-alive
 * agent (`agent` keepalive) or without one, the package's default (none).
 */
function httpProxyTarget(name: string, agent: 'none' | 'keepalive', details: Details): Target {
  return {
    name,
    kind: 'peer',
    readme: 'shared/bench/http-proxy.ts',
    ...details,
    missing: () =>
      existsSync(path.join(ROOT, 'node_modules', 'http-proxy'))
        ? undefined
        : 'the http-proxy package is not installed (npm install)',
    start: async (cleanup, backendPort) => {
      const program = await startProgram(cleanup, 'shared/bench/http-proxy.ts', [
        '--agent',
        agent,
        '0',
        '127.0.0.1',
        String(backendPort),
      ]);
      return { port: program.port, pid: program.pid };
    },
  };
}

/** node-http-proxy as a Node user sets it up, backend connections kept alive; and its default, without. */
export const HTTP_PROXY_ROWS: Target[] = [
  httpProxyTarget('http-proxy', 'keepalive', {
    lesson:
      'node-http-proxy (npm http-proxy) with a keep-alive agent: node:http parses every request and every answer, the way most Node proxies work; read beside part4-http.',
  }),
  httpProxyTarget('http-proxy-noagent', 'none', {
    onlyWhenAsked: true,
    lesson:
      'node-http-proxy as its README sets it up, without an agent: a new backend connection for every request.',
  }),
];

/** Part 4 routing by Host: read beside part4, which sends every client to the pool unread. */
export const PART4_HTTP = part4Routing('part4-http', 'http', {
  over: 'part4',
  lesson:
    "part 4 with an http listener: it reads the first request's head and routes its Host through the host table before connecting.",
});

/** A router of the smallest kind: the pool by the path's first segment. */
export const BENCH_ROUTER = `export default (request) =>
  request.http.path.startsWith('/api/') ? { pool: 'api' } : { pool: 'bench' };
`;

/**
 * part4-http with a router module (chapter 8) that picks the pool by path,
 * in a thread of its own: read beside part4-http, what asking a router costs.
 */
export const PART4_ROUTER: Target = part(
  'part4-router',
  'part4-balancing',
  {
    over: 'part4-http',
    lesson:
      'part4-http with a router module that picks the pool by path: one question to its thread and one answer per connection.',
  },
  async (cleanup, backendPort) => {
    const dir = await tempDir(cleanup, 'part4-router');
    await writeFile(path.join(dir, 'router.mjs'), BENCH_ROUTER);
    const backends = [{ address: `127.0.0.1:${backendPort}` }];
    const config = {
      listen: [
        { port: 0, protocol: 'http', router: './router.mjs', hosts: { [ROUTED_NAME]: 'bench' } },
      ],
      pools: { bench: { backends }, api: { backends } },
    };
    await writeFile(path.join(dir, 'bench.config.json'), JSON.stringify(config));
    return ['--config', path.join(dir, 'bench.config.json')];
  },
);

/**
 * A proxy of the reader's, `--try NAME=FILE`: started as the parts are, with
 * port 0 and the backend on the command line. A file in a folder named like
 * part 4's (part4-...) gets part 4's quick-start line (`0 127.0.0.1:PORT`),
 * any other the line of parts 1 to 3 (`0 127.0.0.1 PORT`). It must print
 * "Listening on port N" as they do.
 */
export function triedTarget(name: string, file: string): Target {
  const folder = path.basename(path.dirname(file));
  return {
    name,
    kind: 'tried',
    lesson: `${file}, a proxy of your own, beside the parts.`,
    missing: () => (existsSync(file) ? undefined : `no file ${file}`),
    start: async (cleanup, backendPort) => {
      const program = await startProgram(cleanup, file, partArgs(folder, [backendPort]));
      return { port: program.port, pid: program.pid };
    },
  };
}

/** Finds a program on PATH or in the sbin directories, where Debian puts nginx and haproxy. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  return dirs
    .filter((dir) => dir !== '')
    .map((dir) => path.join(dir, name))
    .find((file) => existsSync(file));
}

/**
 * How to get nginx's stream module: '' when it is built in, the `load_module`
 * line when it is a dynamic module that is installed, undefined when it is absent.
 */
export function nginxStreamModule(nginx: string): string | undefined {
  const built = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  const flags = `${built.stdout}${built.stderr}`;
  if (/--with-stream(\s|$)/.test(flags)) return '';
  if (!/--with-stream=dynamic/.test(flags)) return undefined;
  const modules = /--modules-path=(\S+)/.exec(flags)?.[1] ?? '/usr/lib/nginx/modules';
  const file = path.join(modules, 'ngx_stream_module.so');
  return existsSync(file) ? `load_module ${file};` : undefined;
}

/**
 * The top of every nginx config: one worker, in the foreground, everything in
 * `dir`; a worker takes 4096 connections, or two per client and some to spare
 * for `capacity` clients.
 */
function nginxMain(dir: string, loadModule: string, workers = 1, capacity = 0): string {
  return `${loadModule}
daemon off;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections ${Math.max(4096, 2 * capacity + 64)}; }
`;
}

/** nginx as a TCP proxy in front of the backend, as a reader would put it there. */
export function nginxStreamConfig(
  dir: string,
  loadModule: string,
  port: number,
  backendPort: number,
  workers = 1,
  capacity = 0,
): string {
  return `${nginxMain(dir, loadModule, workers, capacity)}stream {
  server {
    listen 127.0.0.1:${port};
    proxy_pass 127.0.0.1:${backendPort};
  }
}
`;
}

/** nginx as the backend: a fixed short body, no files, no logging; `capacity` clients at once. */
export function nginxBackendConfig(dir: string, port: number, capacity = 0): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${dir}/${kind};`)
    .join('\n');
  return `${nginxMain(dir, '', 1, capacity)}http {
  access_log off;
${temp}
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type text/plain;
      return 200 "Hello from backend nginx\\n";
    }
  }
}
`;
}

/** HAProxy in tcp mode with one thread, in front of the backend; at least 4096 clients at once. */
export function haproxyConfig(port: number, backendPort: number, capacity = 0): string {
  return `global
  nbthread 1
  maxconn ${Math.max(4096, capacity + 64)}
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen bench
  bind 127.0.0.1:${port}
  server backend 127.0.0.1:${backendPort}
`;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A temporary directory, removed on clean-up. */
export async function tempDir(cleanup: Teardown, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `rsp-bench-${prefix}-`));
  cleanup.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts a program that is not ours (nginx, haproxy) and waits until its port
 * accepts connections; it is stopped with SIGTERM (SIGKILL after 3 s) on clean-up.
 */
async function startBinary(
  cleanup: Teardown,
  file: string,
  args: string[],
  port: number,
): Promise<Running> {
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  cleanup.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        throw new Error(`${path.basename(file)} stopped: ${output.trim().split('\n').pop()}`);
      }
      return accepting(port);
    },
    { timeoutMs: 10_000, what: `${path.basename(file)} on port ${port}` },
  );
  return { port, pid: child.pid as number };
}

/** Starts nginx with a config generated by `config(dir, port)`. */
async function startNginx(
  cleanup: Teardown,
  config: (dir: string, port: number) => string,
): Promise<Running> {
  const nginx = findBinary('nginx') as string;
  const dir = await tempDir(cleanup, 'nginx');
  const port = await freePort();
  await writeFile(path.join(dir, 'nginx.conf'), config(dir, port));
  return startBinary(
    cleanup,
    nginx,
    ['-p', dir, '-e', 'stderr', '-c', path.join(dir, 'nginx.conf')],
    port,
  );
}

const NGINX_INSTALL = 'Debian: apt-get install nginx libnginx-mod-stream';

/** nginx's stream proxy with `workers` worker processes. */
function nginxStream(name: string, workers: number, lesson: string): Target {
  return {
    name,
    kind: 'peer',
    lesson,
    missing() {
      const nginx = findBinary('nginx');
      if (!nginx) return `not installed (${NGINX_INSTALL})`;
      if (nginxStreamModule(nginx) === undefined) return `no stream module (${NGINX_INSTALL})`;
      return undefined;
    },
    start: (cleanup, backendPort, capacity) => {
      const loadModule = nginxStreamModule(findBinary('nginx') as string) ?? '';
      return startNginx(cleanup, (dir, port) =>
        nginxStreamConfig(dir, loadModule, port, backendPort, workers, capacity),
      );
    },
  };
}

export const PEERS: Target[] = [
  nginxStream(
    'nginx',
    1,
    "nginx's stream proxy (C, one worker): what a reader would otherwise deploy.",
  ),
  {
    name: 'haproxy',
    kind: 'peer',
    lesson: 'HAProxy in tcp mode (C, one thread): the other usual choice.',
    missing: () =>
      findBinary('haproxy') ? undefined : 'not installed (Debian: apt-get install haproxy)',
    async start(cleanup, backendPort, capacity) {
      const dir = await tempDir(cleanup, 'haproxy');
      const port = await freePort();
      const file = path.join(dir, 'haproxy.cfg');
      await writeFile(file, haproxyConfig(port, backendPort, capacity));
      return startBinary(cleanup, findBinary('haproxy') as string, ['-f', file, '-db'], port);
    },
  },
];

export const DIRECT: Target = {
  name: 'direct',
  kind: 'direct',
  lesson: 'the backend on its own, no proxy: the baseline every other row is compared with.',
  missing: () => undefined,
  start: async (_cleanup, backendPort) => ({ port: backendPort }),
};

/**
 * The TLS rows, with their own baseline: TLS costs the client and the backend
 * far more than it costs a proxy that relays it unread, so these rows are
 * compared with each other, never with plain direct.
 */
export const TLS_ROWS: Target[] = [
  {
    name: 'direct-tls',
    kind: 'direct',
    tls: true,
    lesson: 'the backend speaking TLS, no proxy: the baseline of the TLS rows.',
    missing: () => undefined,
    start: async (_cleanup, backendPort) => ({ port: backendPort, tls: true }),
  },
  part('part4-tcp-tls', 'part4-balancing', {
    tls: true,
    lesson:
      'part 4 relaying TLS with a tcp listener, reading none of it: the row part4-tls adds to.',
  }),
  part4Routing('part4-tls', 'tls', {
    tls: true,
    over: 'part4-tcp-tls',
    lesson:
      "part 4 with a tls listener: it reads the ClientHello's SNI to pick the pool, and never terminates TLS.",
  }),
];

/**
 * Two processes each: part 4 with --workers 2 beside part4 (one process), and
 * nginx with two workers beside its one. On two cores the load generator and
 * the backend want them too, so these rows show what a second core buys when
 * it is not free.
 */
export const TWO_WORKERS: Target[] = [
  part(
    'part4-w2',
    'part4-balancing',
    {
      over: 'part4',
      lesson:
        "part 4 with --workers 2: a primary and two workers on the same port (node:cluster). Under tsx, as part4 is, so that the second worker is the one difference; each of its three processes carries tsx's memory, which part 4 built ahead does without (npm run bench:start weighs both).",
    },
    async (_cleanup, backendPort) => [
      ...partArgs('part4-balancing', [backendPort]),
      '--workers',
      '2',
    ],
  ),
  {
    ...part('part4-w2-rr', 'part4-balancing', {
      over: 'part4-w2',
      onlyWhenAsked: true,
      lesson:
        "part4-w2 with node:cluster's default scheduling on Linux (NODE_CLUSTER_SCHED_POLICY=rr): the primary accepts every client and passes it to a worker over a pipe, where part4-w2's workers accept for themselves.",
    }),
    start: async (cleanup, backendPort) => {
      const args = [...partArgs('part4-balancing', [backendPort]), '--workers', '2'];
      const env = { NODE_CLUSTER_SCHED_POLICY: 'rr' };
      const program = await startPart(cleanup, 'part4-balancing', args, { env });
      return { port: program.port, pid: program.pid };
    },
  },
  nginxStream('nginx-w2', 2, "nginx's stream proxy with two worker processes."),
];

/** Every target in table order. */
export const TARGETS: Target[] = [
  DIRECT,
  PIPE,
  ...PARTS,
  PART4_BUILT,
  PART4_HTTP,
  PART4_ROUTER,
  ...HTTP_PROXY_ROWS,
  ...PEERS,
  ...TWO_WORKERS,
  ...TLS_ROWS,
];

/** The row a target is compared with: itself for a baseline, direct-tls for TLS, direct otherwise. */
export function baselineOf(target: Target): string {
  if (target.kind === 'direct') return target.name;
  return target.tls ? 'direct-tls' : 'direct';
}

export type BackendKind = 'mock' | 'nginx';

/**
 * Starts the backend every target talks to; resolves with its port and pid.
 * `keepAliveMs`: how long the mock backend keeps an idle connection open
 * (Node's 5 s by default; nginx's is 75 s). `capacity`: the most connections
 * it will hold at once, for nginx's worker_connections.
 */
export async function startBenchBackend(
  cleanup: Teardown,
  kind: BackendKind | 'tls',
  keepAliveMs?: number,
  capacity?: number,
): Promise<Running> {
  if (kind === 'tls') {
    const backend = await startBackend(cleanup, { tls: true, keepAliveMs });
    return { port: backend.port, pid: backend.pid, tls: true };
  }
  if (kind === 'mock') {
    const backend = await startBackend(cleanup, { keepAliveMs });
    return { port: backend.port, pid: backend.pid };
  }
  if (!findBinary('nginx'))
    throw new Error(`--backend nginx: nginx is not installed (${NGINX_INSTALL})`);
  return startNginx(cleanup, (dir, port) => nginxBackendConfig(dir, port, capacity));
}
