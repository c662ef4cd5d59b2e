/**
 * One client, top to bottom: accepted paused, handed to its listener's pool,
 * then relayed, or refused when no backend accepts.
 *
 *   accept (paused: its bytes wait in the kernel)
 *     └─▶ the listener's pool connects to a backend   pool.ts (strategy, retry), health.ts
 *           ├─ one accepted ─▶ relay until both sides are done   relay.ts (part 3's relay)
 *           └─ none did ────▶ HTTP request: 502 Bad Gateway; anything else: a clean close
 *
 * What it leaves out: looking at a client's bytes before a backend is chosen
 * (the listener names its pool); it looks only when every backend failed, to
 * choose between a 502 and a plain close.
 */
import net from 'node:net';
import type { ListenerConfig } from './config.ts';
import { describe, log } from './log.ts';
import type { Pool } from './pool.ts';
import { relay } from './relay.ts';
import { type Listener, running } from './state.ts';

/**
 * socket() + bind() + listen() for one listener. `onFinished` runs each time a
 * client is done (a graceful stop waits for the last one).
 */
export async function listen(
  listenerConfig: ListenerConfig,
  pool: Pool,
  onFinished: () => void,
): Promise<Listener> {
  // allowHalfOpen: a client's FIN is ours to forward, not for Node to answer at once.
  // pauseOnConnect: a client's bytes stay in the kernel until a backend has
  // accepted, so a failed connect can be retried elsewhere with nothing lost.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const listener: Listener = { config: listenerConfig, pool, server, port: 0 };
  server.on('connection', (client) => {
    running.clientSockets.add(client);
    // The pool of the moment: a reload changes listener.pool, not this client's.
    void serve(client, listener.pool).finally(() => {
      running.clientSockets.delete(client);
      onFinished();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot listen on port ${listenerConfig.port}: ${describe(err)}`)),
    );
    server.listen(listenerConfig.port, () => resolve());
  });
  // An accept() that fails (out of descriptors, say) is logged, not fatal.
  server.on('error', (err) => log(`accept failed on port ${listener.port}: ${describe(err)}`));
  listener.port = portOf(server);
  return listener;
}

/** Serves one client from accept to close. Never throws. */
async function serve(client: net.Socket, pool: Pool): Promise<void> {
  // Until the relay takes over, a reset from the client only needs to end this.
  client.on('error', () => {});
  const connection = await pool.connect(clientIp(client));
  if (!connection) return refuse(client, pool);
  if (client.destroyed) {
    connection.socket.destroy();
    return;
  }
  await relay(client, connection.socket, { idleTimeoutMs: running.config.idleTimeoutMs });
}

/** A method token and a space: the start of an HTTP request line. */
const HTTP_REQUEST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;
const BAD_GATEWAY_BODY = 'No backend is available.\n';
const BAD_GATEWAY =
  'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${BAD_GATEWAY_BODY.length}\r\nConnection: close\r\n\r\n${BAD_GATEWAY_BODY}`;
/** How long a refused client may take to show its first bytes, and then to leave. */
const REFUSE_WAIT_MS = 2000;

/**
 * No backend accepted. A client speaking HTTP gets a 502 that a browser or curl
 * can show; anything else (TLS, say) gets a clean close, since a reply in the
 * wrong protocol would only confuse it.
 */
async function refuse(client: net.Socket, pool: Pool): Promise<void> {
  running.noBackend++;
  const first = await firstBytes(client, REFUSE_WAIT_MS);
  const http = first !== undefined && HTTP_REQUEST.test(first.toString('latin1', 0, 32));
  log(
    `No backend of pool ${pool.name} accepted ${clientIp(client)}:${client.remotePort}: ` +
      (http ? 'answered 502.' : 'closed.'),
  );
  // Read and drop the rest until the client closes: closing a socket with
  // unread bytes makes the kernel send a reset, which can destroy the 502
  // before the client has read it.
  client.on('data', () => {});
  client.setTimeout(REFUSE_WAIT_MS, () => client.destroy());
  if (http) client.end(BAD_GATEWAY);
  else client.end();
  client.resume();
  if (!client.closed) await new Promise((resolve) => client.once('close', resolve));
}

/** The client's first chunk, or undefined if it closes or stays silent for timeoutMs. */
function firstBytes(client: net.Socket, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (chunk?: Buffer) => {
      clearTimeout(timer);
      client.off('data', done).off('end', onEnd).off('close', onEnd).pause();
      resolve(chunk);
    };
    const onEnd = () => done();
    const timer = setTimeout(done, timeoutMs);
    client.once('data', done).once('end', onEnd).once('close', onEnd).resume();
  });
}

function clientIp(client: net.Socket): string {
  // A listener on "::" sees IPv4 clients as ::ffff:a.b.c.d; hash the address itself.
  return (client.remoteAddress ?? '').replace(/^::ffff:/, '');
}

export function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}
