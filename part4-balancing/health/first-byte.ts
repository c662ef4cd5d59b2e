/**
 * The first-byte deadline (a pool's firstByteTimeoutMs): how the relay gives
 * up on a backend that took a client's bytes and never answers. Not in
 * relay.ts, which stays part 3's byte pipe: this is a judgement about the
 * backend, made by watching the pipe.
 *
 * What it leaves out: retrying the client elsewhere (its request reached a
 * backend that may have acted on it), and any deadline after the first byte
 * (the idle timeout covers a backend that stops halfway).
 */
import type net from 'node:net';

export interface FirstByteOptions {
  /**
   * Give up on a backend that has not sent its first byte this long after the
   * client's last one; 0 turns it off. (The pool's setting, not the listener's.)
   */
  firstByteTimeoutMs: number;
  /** The client's bytes that went to the backend before the relay started (what routing read). */
  sentBefore: Buffer;
  /**
   * The backend missed its first byte: blame it, and say goodbye to the client
   * (which has had no byte yet). `sent` is the client's first bytes, to tell
   * what it speaks. The relay then resets the backend.
   */
  onNoAnswer: (sent: Buffer) => void;
}

/**
 * A backend that accepted the connection, took the client's bytes and never
 * answers (a black hole, a hung process) would hold the client until the idle
 * timeout, and get the next clients as well, since its connects succeed. With
 * firstByteTimeoutMs, the clock starts once client bytes have gone to the
 * backend and starts again with every further client byte (a request still
 * arriving is not the backend's delay); the backend's first byte stops it for
 * good. When it runs out, onNoAnswer blames the backend and answers the
 * client, and the backend is reset: should it answer after all, there is no
 * one to answer.
 *
 * The client is not sent to another backend: its request reached this one,
 * which may have acted on it, and the relay cannot tell a request that is
 * safe to repeat from one that is not.
 */
export function answerWithin(
  client: net.Socket,
  backend: net.Socket,
  options: FirstByteOptions,
  stopIdle: () => void,
  resetBackend: () => void,
): void {
  const { firstByteTimeoutMs: ms, onNoAnswer } = options;
  if (ms === 0) return;
  let sent = options.sentBefore.length > 0 ? options.sentBefore : undefined;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stop();
      stopIdle(); // onNoAnswer's goodbye has a timeout of its own
      onNoAnswer(sent as Buffer); // the clock runs only once there is one
      resetBackend(); // after the goodbye: a reset must not cut the client's answer
    }, ms);
  };
  const onClientData = (chunk: Buffer) => {
    sent ??= chunk;
    start();
  };
  // An answer, a FIN instead of one, or either side gone: nothing left to judge.
  const stop = () => {
    clearTimeout(timer);
    client.off('data', onClientData).off('close', stop);
    backend.off('data', stop).off('end', stop).off('close', stop);
  };
  // A request head read for routing is already on its way (a PROXY header alone is no request).
  if (sent) start();
  client.on('data', onClientData).once('close', stop);
  backend.once('data', stop).once('end', stop).once('close', stop);
}
