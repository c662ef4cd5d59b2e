/**
 * part2-epoll-style: every connection at once, on one thread, driven by events.
 *
 *   proxy.ts [listen-port] [backend-host] [backend-port]    (defaults 8000 127.0.0.1 8888)
 *
 * part1 awaited each step of one client before it looked at the next. Here nothing
 * waits: each accepted client and its backend connection are wired together with
 * event handlers ('data', 'end', 'error', 'close') and the function returns at
 * once. Node's event loop (libuv on top of epoll) calls the handlers when the
 * kernel says a socket is ready, so one thread serves any number of pairs. This
 * is the reactor of the C series' second version, with libuv as the reactor.
 *
 * What it leaves out, on purpose: flow control. Whatever arrives from one side is
 * written to the other without looking at write()'s return value, so a slow reader
 * makes the proxy hold the whole response in memory (see "KNOWN BUG" below; part 3
 * fixes it). Also left out: half-close and idle timeouts (part 3), more than one
 * backend (part 4).
 */
import { once } from 'node:events';
import net from 'node:net';

export const USAGE = 'usage: proxy.ts [listen-port] [backend-host] [backend-port]';
// How long to wait for the backend to accept, so an unreachable host cannot hang a client.
const CONNECT_TIMEOUT_MS = 5000;

interface Options {
  listenPort: number;
  backendHost: string;
  backendPort: number;
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
}

/**
 * The connection pair, as four kinds of event on each socket:
 *
 *   client  --data-->  backend.write()      backend --data-->  client.write()
 *   client  --end--->  backend.end()        backend --end--->  client.end()
 *   either  --error->  log it               either  --close->  close the other
 *
 * 'close' comes after every way a socket can finish (clean end, reset, timeout,
 * our own destroy()), so closing the other side there is what guarantees that
 * no half of a pair outlives the other and no descriptor leaks.
 */
function relay(client: net.Socket, backend: net.Socket, where: string): void {
  // KNOWN BUG, kept on purpose (part 3 fixes it): write() returns false when the
  // socket's buffer is over its high-water mark, and we ignore that. The chunk is
  // queued in user space anyway, and we keep reading from the sender as fast as it
  // sends. Against a client that reads slowly, the whole response piles up here.
  client.on('data', (chunk: Buffer) => backend.write(chunk));
  backend.on('data', (chunk: Buffer) => client.write(chunk));

  // end() sends FIN after what is queued has been written.
  client.on('end', () => backend.end());
  backend.on('end', () => client.end());

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
  closeTogether(backend, client);
}

/**
 * When `socket` closes, `other` must not outlive it. After a clean close its FIN
 * has already been passed on by end() above, and `other` closes by itself once
 * its queue is written: destroying it now would throw away the end of the
 * response. After a reset, or a close that never passed a FIN on, destroy it.
 */
function closeTogether(socket: net.Socket, other: net.Socket): void {
  socket.on('close', (hadError) => {
    if (hadError || !other.writableEnded) other.destroy();
  });
}

/**
 * socket() + a non-blocking connect(). The socket is usable at once: writes made
 * before the connection is up are queued and sent when it is.
 */
function connectToBackend(host: string, port: number): net.Socket {
  const backend = net.connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
  backend.once('timeout', () => backend.destroy(new Error('connect timed out')));
  // The timeout guards the connect only; a quiet backend is not an error here.
  backend.once('connect', () => backend.setTimeout(0));
  return backend;
}

/** socket() + bind() + listen(). */
async function listen(port: number): Promise<net.Server> {
  const server = net.createServer();
  try {
    server.listen(port);
    await once(server, 'listening');
  } catch (err) {
    fail(`cannot listen on port ${port}: ${describe(err)}`, 1);
  }
  // An accept() that fails (out of descriptors, say) is logged, not fatal.
  server.on('error', (err) => log(`accept failed: ${describe(err)}`));
  return server;
}

export function parseCommandLine(args: string[]): Options {
  if (args.includes('-h') || args.includes('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  if (args.length > 3) fail(`too many arguments (${args.length})`, 2);
  const [listenPort = '8000', backendHost = '127.0.0.1', backendPort = '8888'] = args;
  return {
    listenPort: parsePort('listen-port', listenPort, 0),
    backendHost,
    backendPort: parsePort('backend-port', backendPort, 1),
  };
}

function parsePort(name: string, text: string, min: number): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < min || port > 65535) {
    fail(`${name} must be an integer from ${min} to 65535, got "${text}"`, 2);
  }
  return port;
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
