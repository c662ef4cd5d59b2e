/**
 * part1-oneshot: the simplest reverse proxy that works.
 *
 *   proxy.ts [listen-port] [backend-host] [backend-port]    (defaults 8000 127.0.0.1 8888)
 *
 * It takes one client at a time: accept, connect to the backend, relay bytes both
 * ways until the backend has answered, close, then take the next client. It is
 * written in sequential style (await every step, as C code would block on it), so
 * it reads top to bottom like rsp's first version.
 *
 * What it leaves out, on purpose: serving more than one client at once (part 2),
 * idle timeouts (part 3), more than one backend (part 4).
 */
import { on, once } from 'node:events';
import net from 'node:net';
import { finished } from 'node:stream/promises';

export const USAGE = 'usage: proxy.ts [listen-port] [backend-host] [backend-port]';
// How long to wait for the backend to accept, so an unreachable host cannot hang us.
const CONNECT_TIMEOUT_MS = 5000;

interface Options {
  listenPort: number;
  backendHost: string;
  backendPort: number;
}

/** The whole program: listen, then serve clients one after another, forever. */
async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const server = await listen(options.listenPort);
  log(`Started.  Listening on port ${(server.address() as net.AddressInfo).port}.`);

  // `on` queues connections that arrive while we are busy, like the listen
  // backlog queues them for accept(): they wait their turn.
  for await (const [client] of on(server, 'connection') as AsyncIterable<[net.Socket]>) {
    await handleClient(client, options);
  }
}

/** Serves one client from start to finish. Never throws: a bad client must not stop the loop. */
async function handleClient(client: net.Socket, options: Options): Promise<void> {
  const where = `${options.backendHost}:${options.backendPort}`;
  let backend: net.Socket;
  try {
    backend = await connectToBackend(options.backendHost, options.backendPort);
  } catch (err) {
    log(`Could not connect to backend ${where}: ${describe(err)}`);
    client.destroy();
    return;
  }

  try {
    await relay(client, backend);
  } catch (err) {
    log(`Connection ended early: ${describe(err)}`);
  } finally {
    client.destroy();
    backend.destroy();
  }
}

/**
 * Copies the request to the backend and the response to the client, at the same
 * time (a client may keep sending while the answer streams back). We are done
 * when the backend has finished its answer and the client has all of it.
 */
async function relay(client: net.Socket, backend: net.Socket): Promise<void> {
  const request = copy(client, backend);
  // Nothing waits for the request side. If it fails, the client is gone (a reset,
  // perhaps before its request reached the backend, which would then wait for it
  // forever): close the backend too, which ends the copy below.
  request.catch(() => backend.destroy());
  await copy(backend, client);
  // Let the last bytes reach the client before finally() closes the socket.
  await finished(client, { readable: false });
}

/**
 * Reads `from` until end-of-stream and writes each chunk to `to`. When `to`'s
 * buffer is full (write() returns false), it waits for 'drain' before reading
 * more: the closest Node gets to a blocking write(), and why this part never
 * holds more than a chunk or two in memory.
 */
async function copy(from: net.Socket, to: net.Socket): Promise<void> {
  for await (const chunk of from) {
    if (!to.write(chunk)) await drained(to);
  }
  to.end();
}

/** Resolves on 'drain'; rejects if the socket closes first (then no drain will come). */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    // write() also returns false on a socket that is already gone: no event will come.
    if (socket.destroyed) return reject(new Error('peer closed while we were writing'));
    const onDrain = () => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.off('drain', onDrain);
      reject(new Error('peer closed while we were writing'));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** socket() + connect(), with a deadline. */
async function connectToBackend(host: string, port: number): Promise<net.Socket> {
  const backend = net.connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
  backend.once('timeout', () => backend.destroy(new Error('connect timed out')));
  try {
    await once(backend, 'connect'); // rejects if 'error' comes first
  } catch (err) {
    backend.destroy();
    throw err;
  }
  backend.setTimeout(0);
  // Errors after this point (a reset mid-answer) surface in copy()'s loop.
  backend.on('error', () => {});
  return backend;
}

/** socket() + bind() + listen(). */
async function listen(port: number): Promise<net.Server> {
  const server = net.createServer();
  // A client waiting in the queue may reset before its turn; that must not crash us.
  server.on('connection', (client) => client.on('error', () => {}));
  try {
    server.listen(port);
    await once(server, 'listening');
  } catch (err) {
    fail(`cannot listen on port ${port}: ${describe(err)}`, 1);
  }
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
