/**
 * part3-backpressure: part 2, plus flow control, half-close and idle timeouts.
 *
 *   proxy.ts [--idle-timeout MS] [listen-port] [backend-host] [backend-port]
 *            (defaults: 60000 ms, 8000 127.0.0.1 8888)
 *
 * The same event-driven relay as part 2, with three things a proxy in front of
 * real clients cannot do without:
 * - Flow control: when write() says the receiving socket's buffer is full, stop
 *   reading from the sender until 'drain'. Memory per connection stays bounded
 *   (a read chunk plus about one high-water mark per direction: 16 KiB on Node 20,
 *   64 KiB from Node 22) whatever the response size.
 * - Half-close: a FIN from one side becomes end() on the other, which sends it
 *   only after what was queued before it. A client that sends its request and
 *   shuts down its write side still gets the whole response.
 * - Idle timeout: a pair with no traffic either way for --idle-timeout is closed.
 *
 * It is nginx's stream proxy in miniature (one fixed buffer per direction, read
 * only while there is room, flush before forwarding a half-close).
 *
 * What it leaves out, on purpose: more than one backend (part 4).
 */
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';

export const USAGE =
  'usage: proxy.ts [--idle-timeout MS] [listen-port] [backend-host] [backend-port]';
// How long to wait for the backend to accept, so an unreachable host cannot hang a client.
const CONNECT_TIMEOUT_MS = 5000;
// A minute (nginx's stream proxy_timeout defaults to ten): long enough for a slow
// client, short enough that abandoned connections do not pile up. 0 turns it off.
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

interface Options {
  listenPort: number;
  backendHost: string;
  backendPort: number;
  idleTimeoutMs: number;
}

/** The whole program: listen, and hand every new client to handleClient. */
async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const server = await listen(options.listenPort);
  // No loop here: the event loop is the loop. Each 'connection' event is one
  // accept4() that libuv did for us because epoll said the listening socket was ready.
  server.on('connection', (client: net.Socket) => handleClient(client, options));
  log(`Started.  Listening on port ${(server.address() as net.AddressInfo).port}.`);
}

/** Connects a backend for this client and wires the two together. Returns at once. */
function handleClient(client: net.Socket, options: Options): void {
  const backend = connectToBackend(options.backendHost, options.backendPort);
  relay(client, backend, `${options.backendHost}:${options.backendPort}`);
  closeWhenIdle(client, backend, options.idleTimeoutMs);
}

/**
 * The connection pair, as in part 2, but each direction now listens to what
 * write() says (see forward()):
 *
 *   client  --data-->  backend.write(), full? pause client    backend --drain-->  resume client
 *   backend --data-->  client.write(),  full? pause backend   client  --drain-->  resume backend
 *   client  --end--->  backend.end()                          backend --end--->  client.end()
 *   either  --error->  log it                                 either  --close->  close the other
 */
function relay(client: net.Socket, backend: net.Socket, where: string): void {
  forward(client, backend);
  forward(backend, client);

  // Without an 'error' listener an ECONNRESET would crash the whole process.
  // Here it is one line in the log; 'close' follows and cleans up.
  client.on('error', (err) => log(`Connection ended early: ${describe(err)}`));
  // Node clears backend.connecting before it emits a failed connect's 'error',
  // so remember the 'connect' event instead.
  let connected = false;
  backend.once('connect', () => {
    connected = true;
  });
  backend.on('error', (err) => {
    if (!connected) log(`Could not connect to backend ${where}: ${describe(err)}`);
    else log(`Connection ended early: ${describe(err)}`);
  });

  closeTogether(client, backend);
  closeTogether(backend, client, () => connected);
}

/**
 * One direction, with flow control. The two sockets and their buffers:
 *
 *       from                         proxy (user space)                       to
 *   [kernel recv buf] --'data'--> chunk --write()--> [to's writable buffer] --> [kernel send buf]
 *          ^                                            |  over its high-water mark
 *          |  paused: the kernel buffer fills,          |  (16 KiB; 64 KiB from Node 22):
 *          |  its TCP window closes, the sender waits   v  write() returns false
 *          +------------ from.pause() <-----------------+
 *                        from.resume() <-- 'drain' (the buffer went out to the kernel)
 *
 * While `from` is paused libuv stops reading it (EPOLLIN is off), so the
 * backpressure travels back over TCP to whoever sends too fast. What the proxy
 * holds is one chunk (at most 64 KiB) plus `to`'s buffer, per direction.
 */
function forward(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // Half-close: the sockets are created with allowHalfOpen, so a FIN from `from`
  // reaches us as 'end' and nothing else happens by itself. end() sends our FIN
  // to `to` after everything queued for it has been written, never before.
  from.on('end', () => to.end());
}

/**
 * Both sockets share one idle timer. Every byte of the pair is read from or
 * written to the client socket, and Node restarts a socket's timer on both, so
 * the client's timer alone measures "no traffic either way". (The backend's
 * would fire during a long download to a slow client: paused, it reads nothing.)
 */
function closeWhenIdle(client: net.Socket, backend: net.Socket, idleMs: number): void {
  if (idleMs === 0) return;
  client.setTimeout(idleMs);
  client.once('timeout', () => {
    log(`Closing connection idle for ${idleMs} ms.`);
    client.destroy();
    backend.destroy();
  });
}

/**
 * When `socket` closes, `other` must not outlive it. After a clean close its FIN
 * has already been passed on by end() above, and `other` closes by itself once
 * its queue is written: destroying it now would throw away the end of the
 * response. After a close that never passed a FIN on, destroy it.
 *
 * A reset is passed on as a reset. An HTTP/1.0 response without a length ends
 * where the connection ends: had we sent a FIN after a backend's RST, a client
 * would take a truncated page (or file) for a complete one. resetAndDestroy()
 * sends an RST instead, so the client knows the transfer broke. A connect that
 * failed broke no stream (`wasConnected` says so): the client gets a plain close.
 */
function closeTogether(socket: net.Socket, other: net.Socket, wasConnected = () => true): void {
  socket.on('close', (hadError) => {
    if (hadError && wasConnected()) other.resetAndDestroy();
    else if (!other.writableEnded) other.destroy();
  });
}

/**
 * socket() + a non-blocking connect(). The socket is usable at once: writes made
 * before the connection is up are queued and sent when it is.
 */
function connectToBackend(host: string, port: number): net.Socket {
  const backend = net.connect({ host, port, timeout: CONNECT_TIMEOUT_MS, allowHalfOpen: true });
  backend.once('timeout', () => backend.destroy(new Error('connect timed out')));
  // The timeout guards the connect only; a quiet backend is not an error here.
  backend.once('connect', () => backend.setTimeout(0));
  return backend;
}

/** socket() + bind() + listen(). */
async function listen(port: number): Promise<net.Server> {
  // allowHalfOpen: a client's FIN is ours to forward, not for Node to answer at once.
  const server = net.createServer({ allowHalfOpen: true });
  try {
    server.listen(port);
    await once(server, 'listening');
  } catch (err) {
    fail(`cannot listen on port ${port}: ${describe(err)}`, 1);
  }
  // An accept() that fails is logged, not fatal. Out of descriptors, though,
  // libuv accepts the waiting clients and closes them at once by itself, and
  // tells no one: nothing reaches this handler. Part 4 sets a connection
  // limit below the descriptor limit, so it refuses (and logs) first.
  server.on('error', (err) => log(`accept failed: ${describe(err)}`));
  return server;
}

export function parseCommandLine(args: string[]): Options {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    fail((err as Error).message.split('\n')[0], 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length > 3) fail(`too many arguments (${positionals.length})`, 2);
  const [listenPort = '8000', backendHost = '127.0.0.1', backendPort = '8888'] = positionals;
  return {
    listenPort: integer('listen-port', listenPort, 0, 65535),
    backendHost,
    backendPort: integer('backend-port', backendPort, 1, 65535),
    idleTimeoutMs: integer(
      '--idle-timeout',
      values['idle-timeout'] ?? String(DEFAULT_IDLE_TIMEOUT_MS),
      0,
      2 ** 31 - 1,
    ),
  };
}

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    options: {
      'idle-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
}

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got "${text}"`, 2);
  }
  return value;
}

/** One clear line (plus the usage for argument errors) and an exit code. Never a stack trace. */
function fail(message: string, code: number): never {
  console.error(`proxy.ts: ${message}`);
  if (code === 2) console.error(USAGE);
  process.exit(code);
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(err);
}

export function log(message: string): void {
  const two = (n: number) => String(n).padStart(2, '0');
  const d = new Date();
  const stamp = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  console.log(`[${stamp}] ${message}`);
}

// Started as a program (not imported): run.
if (import.meta.filename === process.argv[1]) await main();
