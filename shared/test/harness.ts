/**
 * The test harness: start the real programs as a reader would, talk to them over
 * real sockets on 127.0.0.1, and read what the kernel says about them.
 *
 * - startBackend / startPart, runProgram, ROOT: from shared/lib/programs.ts,
 *   re-exported here for the tests (the benchmark, the demos and the tools,
 *   which start programs too, import them from there).
 * - serveBackend: the mock backend inside the test's own process, no spawn.
 * - listenUntilTeardown, openConnections: a test's own server on a free port,
 *   and the connections it must close itself when it stops.
 * - httpGet, openSocket, readAll: raw-socket clients, nothing hidden by an HTTP library.
 * - rssKiB, openFds, heldSockets: a pid's resident memory, open descriptors
 *   and the TCP connections it holds, from /proc.
 * - waitFor: poll a condition with a deadline (never a bare sleep).
 */
import { once } from 'node:events';
import { readdir, readFile, readlink } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { Teardown } from '../lib/cleanup.ts';
import { type BackendSettings, LISTENING, type Program } from '../lib/programs.ts';
import { startBackend as startBackendServer } from './backend.ts';

export {
  type BackendSettings,
  type Program,
  partArgs,
  ROOT,
  runProgram,
  startBackend,
  startPart,
  type Teardown,
  takesManyBackends,
} from '../lib/programs.ts';

/**
 * The mock backend, served from the test's own process: the same server as
 * shared/test/backend.ts, without a process of its own to start (a Node process
 * running TypeScript costs more CPU to start than most tests spend).
 */
export interface Backend {
  port: number;
  /**
   * Stops it at once, as a killed process would be: the listener closes (new
   * connections are refused), and every open connection is closed where it
   * stands, the kernel sending a FIN, or an RST where data was left unread.
   * With 'reset', every open connection is reset (an RST, as SO_LINGER 0
   * sends), so that no client can take a cut answer for a whole one.
   */
  kill(how?: 'close' | 'reset'): Promise<void>;
}

/**
 * Serves the mock backend in this process on a free port unless one is given,
 * until the test ends. Use startBackend for a separate process (a tool, or a
 * test that needs the backend's pid).
 */
export async function serveBackend(t: Teardown, settings: BackendSettings = {}): Promise<Backend> {
  const server = await startBackendServer({
    port: settings.port ?? 0,
    delay: settings.delay ?? 0,
    size: settings.size,
    name: settings.name ?? 'backend',
    proxyProtocol: settings.proxyProtocol,
    tls: settings.tls,
    keepAliveMs: settings.keepAliveMs,
  });
  const sockets = openConnections(server);
  let closed: Promise<void> | undefined;
  const kill = (how: 'close' | 'reset' = 'close') => {
    closed ??= new Promise<void>((resolve) => {
      // The connections first: an http.Server's close() destroys those it
      // thinks idle (on Node 20, one whose request has been read, even while
      // its answer is still being sent) with a FIN, not a reset.
      // (Not one whose FIN is on its way: its answer is whole, and Node 20
      // cannot reset it then; it would lose the socket, and hang at exit.)
      for (const socket of sockets) {
        if (how === 'reset' && !socket.writableEnded) socket.resetAndDestroy();
        else socket.destroy();
      }
      server.close(() => resolve());
    });
    return closed;
  };
  t.teardown(kill);
  return { port: (server.address() as net.AddressInfo).port, kill };
}

/**
 * The connections `server` accepts from now on that are still open, kept up
 * to date as they close: what a server that stops must close itself (close()
 * only refuses new ones, and waits for these).
 */
export function openConnections(server: net.Server): Set<net.Socket> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/**
 * Listens on a free port of 127.0.0.1 until the test ends, then closes the
 * server and every connection it accepted that is still open (close() alone
 * would wait for them); the teardown resolves once the server has closed.
 * Resolves with the port.
 */
export async function listenUntilTeardown(t: Teardown, server: net.Server): Promise<number> {
  const open = openConnections(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of open) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/**
 * A port of 127.0.0.1 where nothing listens, and nothing will while the tests
 * run: the address of a dead backend or an unreachable Redis. It is below
 * 1024, where the kernel never picks a port for listen(0) or an outgoing
 * connection (a port from freePort() can be taken by another test's server
 * before it is used, and a "dead" backend then answers). Each call in a
 * process gets a different one, checked with a connect that must be refused.
 */
export async function deadPort(): Promise<number> {
  for (; nextDeadPort < 1024; nextDeadPort++) {
    const port = nextDeadPort;
    const socket = net.connect(port, '127.0.0.1');
    const refused = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(false));
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    socket.destroy();
    if (refused) {
      nextDeadPort++;
      return port;
    }
  }
  throw new Error('no port below 1024 of 127.0.0.1 refuses connections');
}
let nextDeadPort = 1;

/** A free port right now (listen on 0, read it, close). Someone may take it later. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Connects a raw TCP socket to 127.0.0.1:port; closed on teardown. With
 * allowHalfOpen, readAll can tell a reset right behind the last bytes from a FIN.
 */
export async function openSocket(
  t: Teardown,
  port: number,
  { allowHalfOpen = false } = {},
): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

export interface Received {
  data: Buffer;
  /** 'end' when the peer closed cleanly, 'reset' on ECONNRESET or another error. */
  how: 'end' | 'reset';
  error?: Error;
}

/**
 * Reads until the peer closes (or resets) or the deadline passes (then it
 * rejects). Only a socket opened with allowHalfOpen tells every reset apart.
 */
export function readAll(socket: net.Socket, timeoutMs = 10_000): Promise<Received> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no close within ${timeoutMs} ms (got ${Buffer.concat(chunks).length} bytes)`),
      );
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      error = err;
    });
    socket.on('end', () => {
      void endWasReset(socket).then((reset) => {
        if (!reset) socket.end(); // a FIN: our side ends too, so the socket closes
      });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), how: error ? 'reset' : 'end', error });
    });
  });
}

/**
 * After an 'end': was it a FIN, or a reset? A reset that comes in right
 * behind the last bytes reaches Node as an 'end' too (libuv takes the hang-up
 * for end of stream after a partial read). A socket opened with allowHalfOpen
 * can still ask the kernel: a write of zero bytes fails after a reset (the
 * socket then errors and closes), and succeeds after a FIN. `raw` is the TCP
 * socket itself, the one under a TLS socket. Without allowHalfOpen, or once
 * our side has ended, it cannot ask, and answers false.
 */
export function endWasReset(raw: net.Socket): Promise<boolean> {
  if (!raw.allowHalfOpen || raw.writableEnded || raw.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => raw.write(Buffer.alloc(0), (err) => resolve(Boolean(err))));
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits a raw HTTP/1.x response into status, headers and body. */
export function parseResponse(raw: Buffer): HttpResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0)
    throw new Error(
      `no complete HTTP head in ${raw.length} bytes: ${JSON.stringify(raw.subarray(0, 200).toString())}`,
    );
  const [statusLine, ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: raw.subarray(headEnd + 4) };
}

export function requestHead(pathname = '/', host = 'localhost'): string {
  return `GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
}

/**
 * One GET over a fresh raw socket with `Connection: close`; resolves when the
 * server closes. Rejects on a connection error or when the deadline passes.
 */
export async function httpGet(
  port: number,
  pathname = '/',
  timeoutMs = 10_000,
  host = 'localhost',
): Promise<HttpResponse> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(requestHead(pathname, host));
  const received = await readAll(socket, timeoutMs);
  if (received.data.length === 0 && received.error) throw received.error;
  return parseResponse(received.data);
}

/** Polls `condition` every `intervalMs` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Waits for the startup lines of a part with `count` listeners (or workers
 * times listeners); returns the ports in the order they were printed, each once.
 */
export async function listenerPorts(proxy: Program, count: number): Promise<number[]> {
  const printed = () => [...proxy.output().matchAll(new RegExp(LISTENING, 'g'))];
  await waitFor(() => printed().length >= count, { what: `${count} startup lines` });
  return [...new Set(printed().map((match) => Number(match[1])))];
}

/** Resident set size of a process in KiB (VmRSS in /proc/PID/status). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+) kB/m);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** Number of open file descriptors of a process (entries of /proc/PID/fd). */
export async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** TCP states as /proc/net/tcp numbers them (include/net/tcp_states.h), in `ss`'s words. */
const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN-SENT',
  '03': 'SYN-RECV',
  '04': 'FIN-WAIT-1',
  '05': 'FIN-WAIT-2',
  '06': 'TIME-WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE-WAIT',
  '09': 'LAST-ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

export interface HeldSocket {
  localPort: number;
  remotePort: number;
  state: string;
}

/**
 * The TCP sockets a process holds open, listening ones left out: its
 * descriptors (/proc/PID/fd, "socket:[inode]") matched by inode with the
 * kernel's tables (/proc/PID/net/tcp and tcp6). A socket it has closed is not
 * listed, whatever state the kernel keeps it in for a while (FIN-WAIT-2,
 * TIME-WAIT): only what the process still holds. Linux only, as /proc is.
 *
 * The TCP tables list every socket of the machine, closed ones too: after a
 * benchmark, tens of thousands in TIME-WAIT, megabytes the kernel writes out
 * at each read (on a busy machine, half a second of CPU). So a table is read
 * only while some socket is still to be found: the Unix sockets' (a few
 * lines) first, then tcp (IPv4: the connections to backends on 127.0.0.1),
 * then tcp6 (a listener on every address, and the clients it accepts); none
 * when every socket is a listener or a Unix socket seen before, as when a
 * test waits for a proxy to close its last connection.
 */
export async function heldSockets(pid: number): Promise<HeldSocket[]> {
  return (await socketsOf(pid)).filter((socket) => socket.state !== 'LISTEN');
}

/** The ports a process listens on through a descriptor of its own (as heldSockets reads them). */
export async function listeningPorts(pid: number): Promise<number[]> {
  const sockets = await socketsOf(pid);
  return sockets.filter((socket) => socket.state === 'LISTEN').map((socket) => socket.localPort);
}

/**
 * Sockets seen before that are no connection, by inode: a listener (with
 * what socketsOf gave for it) or a Unix socket (a program's stdout and
 * stderr, when its parent reads them through pipes; undefined). Neither ever
 * becomes a connection, and an inode is not given to another socket while
 * this one is open: one seen so, still among a process's descriptors, is
 * still what it was.
 */
const notConnections = new Map<string, HeldSocket | undefined>();

/** The lines of a /proc/net table by the inode in their `column`, each split into its fields. */
function byInode(text: string, column: number): Map<string, string[]> {
  const lines = new Map<string, string[]>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length > column) lines.set(fields[column], fields);
  }
  return lines;
}

/** Every TCP socket a process holds open, listening ones included. */
async function socketsOf(pid: number): Promise<HeldSocket[]> {
  const held: HeldSocket[] = [];
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (!inode) continue;
    if (!notConnections.has(inode)) inodes.add(inode);
    else {
      const listener = notConnections.get(inode);
      if (listener) held.push({ ...listener });
    }
  }
  // Unix: Num RefCount Protocol Flags Type St Inode Path.
  // TCP: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
  for (const [table, column] of [
    ['unix', 6],
    ['tcp', 9],
    ['tcp6', 9],
  ] as const) {
    if (inodes.size === 0) break;
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    const lines = byInode(text, column);
    for (const inode of [...inodes]) {
      const fields = lines.get(inode);
      if (!fields) continue;
      inodes.delete(inode);
      if (table === 'unix') {
        notConnections.set(inode, undefined);
        continue;
      }
      const port = (address: string) => Number.parseInt(address.split(':')[1], 16);
      const socket = {
        localPort: port(fields[1]),
        remotePort: port(fields[2]),
        state: TCP_STATES[fields[3]] ?? fields[3],
      };
      if (socket.state === 'LISTEN') notConnections.set(inode, socket);
      held.push(socket);
    }
  }
  return held;
}

/**
 * Opens `count` clients that each send a GET for `pathname` and then read slowly:
 * one chunk every `readEveryMs`, or nothing at all when it is undefined (the
 * socket reads a few KiB into Node's buffer, then the kernel's buffer fills).
 */
export async function slowReaders(
  t: Teardown,
  port: number,
  count: number,
  pathname: string,
  readEveryMs?: number,
): Promise<net.Socket[]> {
  const readers = await Promise.all(Array.from({ length: count }, () => openSocket(t, port)));
  for (const reader of readers) {
    reader.on('error', () => {});
    reader.write(requestHead(pathname));
    if (readEveryMs === undefined) continue;
    let timer: NodeJS.Timeout | undefined;
    reader.on('data', () => {
      reader.pause();
      timer = setTimeout(() => reader.resume(), readEveryMs);
    });
    reader.once('close', () => clearTimeout(timer));
  }
  return readers;
}

/**
 * What a real node:tls client sends first (its ClientHello, in the records
 * that carry it): a plain TCP server records the bytes until the first record
 * is whole, and never answers.
 */
export async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const hello = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 5 && received.length >= 5 + received.readUInt16BE(3)) {
          resolve(received);
          socket.destroy();
        }
      });
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port, ...options });
  client.on('error', () => {}); // we hang up on it
  try {
    return await hello;
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
