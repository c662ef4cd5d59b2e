/**
 * The relay: once a client and a backend are connected, copy bytes both ways
 * until both are done. This is part 3's relay, moved into a file of its own
 * because part 4 has more to say before it (which backend) than after it.
 *
 *   client ──data──▶ write to backend ──▶ full? pause client ... 'drain' ──▶ resume client
 *   client ◀── write to client ◀──data── backend   (the same, the other way round)
 *
 * - Flow control: when write() returns false the receiving socket's buffer is
 *   full, so we stop reading from the sender until 'drain'. Each direction holds
 *   at most a read chunk plus the writable buffer, whatever the response size.
 * - Half-close: an end-of-stream from one side becomes end() on the other, and
 *   end() sends its FIN only after what was buffered before it has been flushed.
 *   A client that sends its request and shuts down its write side still gets
 *   the whole response. (Both sockets must be created with allowHalfOpen.)
 * - Idle timeout: a pair with no traffic either way for idleTimeoutMs is closed.
 * - Resets: an error on one side destroys the other; there is no one left to
 *   deliver the rest to.
 *
 * What it leaves out: looking at the bytes. It is a byte pipe; the balancer
 * decided everything before the first byte reached the backend.
 */
import type net from 'node:net';
import { log } from './log.ts';

export interface RelayOptions {
  /** Close the pair after this long without a byte either way; 0 disables it. */
  idleTimeoutMs: number;
}

/** Relays until both sockets are closed, then resolves. Never rejects. */
export function relay(
  client: net.Socket,
  backend: net.Socket,
  options: RelayOptions,
): Promise<void> {
  pipe(client, backend);
  pipe(backend, client);
  onResetDestroy(client, backend);
  onResetDestroy(backend, client);

  // Every byte of the pair is either read from or written to the client socket,
  // and both reset its timer, so one timer covers both directions.
  client.setTimeout(options.idleTimeoutMs);
  client.on('timeout', () => {
    log(
      `Closing idle connection ${client.remoteAddress}:${client.remotePort} -> ` +
        `${backend.remoteAddress}:${backend.remotePort}: no traffic for ${options.idleTimeoutMs} ms.`,
    );
    client.destroy();
    backend.destroy();
  });

  // A server with pauseOnConnect hands us the client paused; start reading now.
  client.resume();
  return Promise.all([closed(client), closed(backend)]).then(() => {});
}

/** One direction: read from `from`, write to `to`, and respect `to`'s buffer. */
function pipe(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // Forward the half-close; end() flushes what is buffered before the FIN.
  from.on('end', () => to.end());
}

/**
 * A socket that closes with an error (a reset, a write to a dead peer) takes
 * its partner with it. A clean close needs nothing: it means both FINs have
 * crossed, so the partner is finishing on its own.
 */
function onResetDestroy(socket: net.Socket, partner: net.Socket): void {
  // Without an 'error' listener a reset would crash the process.
  socket.on('error', () => {});
  socket.once('close', (hadError) => {
    if (hadError) partner.destroy();
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}
