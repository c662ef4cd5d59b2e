/**
 * The relay: part 3's, moved into a file of its own, because part 4 has more
 * to say before it (which backend) than after it. Once a client and a backend
 * are connected, bytes flow both ways until both sides are done:
 * - Flow control: when write() says the receiving socket's buffer is full, stop
 *   reading from the sender until 'drain'. Memory per connection stays bounded
 *   (a read chunk plus about one high-water mark per direction: 16 KiB on Node 20,
 *   64 KiB from Node 22) whatever the response size.
 * - Half-close: a FIN from one side becomes end() on the other, which sends it
 *   only after what was queued before it. A client that sends its request and
 *   shuts down its write side still gets the whole response.
 * - Idle timeout: a pair with no traffic either way for idleTimeoutMs is closed.
 //> 4.2
 * - First byte: with firstByteTimeoutMs, a backend that took the client's bytes
 *   and sends none back in time is given up on, and blamed (first-byte.ts).
 //< 4.2
 * - A reset is passed on as a reset, even when it came in behind the last bytes
 *   (see endAfterCheck), so a cut answer never looks complete.
 *
 * What changed from part 3: relay() calls back once both sockets are closed (a
 * graceful stop waits for that), it starts the client reading (the listener
 * hands clients over paused), and it has no connect errors to report (the pool
 * connected the backend before).
 *
 * What it leaves out: looking at the bytes. It is a byte pipe; the balancer
 * decided everything before the first byte reached the backend.
 */
import type net from 'node:net';
import { answerWithin, type FirstByteOptions } from './health/first-byte.ts'; //> 4.2
import { describe, type EventCounts } from './log.ts';

export interface RelayOptions {
  /** Close the pair after this long without a byte either way; 0 turns it off. */
  idleTimeoutMs: number;
  /** Where resets and idle closes are counted (and logged, the first and in summaries). */
  events: EventCounts;
  /** The first-byte deadline, when the pool sets one (health/first-byte.ts). */
  firstByte: FirstByteOptions; //> 4.2
}

/**
 * The connection pair, as in part 3; each direction listens to what write()
 * says (see forward()):
 *
 *   client  --data-->  backend.write(), full? pause client    backend --drain-->  resume client
 *   backend --data-->  client.write(),  full? pause backend   client  --drain-->  resume backend
 *   client  --end--->  backend.end()                          backend --end--->  client.end()
 *   either  --error->  log it                                 either  --close->  close the other
 *
 * Calls `onClosed` once both sockets are closed. Never throws.
 */
export function relay(
  client: net.Socket,
  backend: net.Socket,
  options: RelayOptions,
  onClosed: () => void,
): void {
  forward(client, backend);
  forward(backend, client);

  // Without an 'error' listener an ECONNRESET would crash the whole process.
  // Here it is counted (a client can cause thousands); 'close' follows and cleans up.
  const onError = countResets(options.events);
  client.on('error', onError);
  backend.on('error', onError);

  // onClosed once both are closed, as closeTogether sees them go.
  let open = 2;
  closeTogether(client, backend, () => --open === 0 && onClosed());
  closeTogether(backend, client, () => --open === 0 && onClosed());
  const stopIdle = closeWhenIdle(client, backend, options);
  answerWithin(client, backend, options.firstByte, stopIdle, () => passOnReset(backend)); //> 4.2

  // The listener accepted the client paused (its bytes waited in the kernel
  // while the pool picked a backend); now there is somewhere to send them.
  client.resume();
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
    // `to` may be gone while `from` lingers (a 504 sent after answerWithin).
    if (!to.destroyed && !to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // Half-close: the sockets are created with allowHalfOpen, so a FIN from `from`
  // reaches us as 'end' and nothing else happens by itself. end() sends our FIN
  // to `to` after everything queued for it has been written, never before.
  from.on('end', () => endAfterCheck(from, to));
}

/**
 * An 'end' is not always a FIN. When a reset arrives in the same wakeup as the
 * last bytes before it, libuv reads the bytes, sees the hang-up, and reports
 * it as end of stream; the error stays in the kernel. Passed on as a FIN, it
 * would make a cut, close-delimited answer look complete. A write of zero
 * bytes asks the kernel: it fails with ECONNRESET after a reset (then 'close'
 * comes with an error, and closeTogether passes the reset on), and succeeds
 * after a FIN.
 *
 * It can ask only while `from` still takes writes, and only with nothing
 * queued for it (else the answer would wait behind a queue the peer may never
 * read). Otherwise the FIN is passed on as it is.
 */
function endAfterCheck(from: net.Socket, to: net.Socket): void {
  if (from.writableEnded || from.destroyed || from.writableLength > 0) {
    to.end();
    return;
  }
  from.write(Buffer.alloc(0), (err) => {
    if (!err) to.end();
  });
}

/**
 * Both sockets share one idle timer. Every byte of the pair is read from or
 * written to the client socket, and Node restarts a socket's timer on both, so
 * the client's timer alone measures "no traffic either way". (The backend's
 * would fire during a long download to a slow client: paused, it reads nothing.)
 */
function closeWhenIdle(client: net.Socket, backend: net.Socket, options: RelayOptions): () => void {
  const { idleTimeoutMs: idleMs, events } = options;
  if (idleMs === 0) return () => {};
  let stopped = false;
  client.setTimeout(idleMs);
  client.on('timeout', () => {
    if (stopped) return;
    events.count('idle', `Closing connection idle for ${idleMs} ms.`);
    // A backend that began an answer and has not ended it may have stalled
    // mid-answer, and the relay cannot tell a stalled answer from a finished
    // one on a kept-alive connection: the client gets a reset, never a FIN
    // that would make part of an answer look whole.
    if (backend.bytesRead > 0 && !backend.readableEnded) client.resetAndDestroy();
    else client.destroy();
    backend.destroy();
  });
  // Returns how to stop it, for a client that is being answered and closed by someone else.
  return () => {
    stopped = true;
    client.setTimeout(0);
  };
}

/**
 * When `socket` closes, `other` must not outlive it. After a clean close its FIN
 * has already been passed on by end() above, and `other` closes by itself once
 * its queue is written: destroying it now would throw away the end of the
 * response. After a close that never passed a FIN on, destroy it.
 *
 * A reset is passed on as a reset (passOnReset). An HTTP/1.0 response without
 * a length ends where the connection ends: had we sent a FIN after a backend's
 * RST, a client would take a truncated page (or file) for a complete one.
 */
function closeTogether(socket: net.Socket, other: net.Socket, onClosed: () => void): void {
  socket.on('close', (hadError) => {
    if (hadError) passOnReset(other);
    else if (!other.writableEnded) other.destroy();
    onClosed();
  });
}

/**
 * Resets `socket` (resetAndDestroy(): SO_LINGER 0, then close(), so the peer
 * gets an RST and knows the transfer broke), unless a FIN was already passed
 * on to it. Then what it was sent is whole, as its sender ended it; it closes
 * once that is written. And it must not be reset then: while its FIN is being
 * sent, Node 20 cannot reset a socket (libuv refuses with EINVAL), and
 * resetAndDestroy() then drops the socket without closing it, a descriptor
 * lost for as long as the process lives.
 */
export function passOnReset(socket: net.Socket): void {
  if (!socket.writableEnded) {
    socket.resetAndDestroy();
  } else if (socket.writableFinished) {
    socket.destroy();
  } else {
    // Closed once its queue is out, or after FLUSH_MS if its peer stops reading.
    socket.once('finish', () => socket.destroy());
    socket.setTimeout(FLUSH_MS, () => socket.destroy());
  }
}

/** How long a socket whose sender went away may take to flush what it was sent. */
const FLUSH_MS = 10_000;

/**
 * The 'error' listener of both sockets, made here without a name: under tsx, a
 * named closure carries its name in a table of its own, 256 bytes a connection
 * ("Memory per held connection" in WHERE-THE-TIME-GOES.md); hence the inline ones.
 */
function countResets(events: EventCounts): (err: Error) => void {
  return (err) => events.count('reset', `Connection ended early: ${describe(err)}`);
}
