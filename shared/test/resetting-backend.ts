/**
 * The backend of the reset tests of the byte relay (part 3's proxy.test.ts,
 * and part 4's relay.test.ts, which carries them over): a raw TCP server that
 * answers a request with the start of a close-delimited response and holds
 * the connection until the test resets it, and says how the connection from
 * the proxy ended, for a reset in the other direction.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { Teardown } from '../lib/cleanup.ts';
import { listenUntilTeardown } from './harness.ts';

export interface ResettingBackend {
  port: number;
  /** Bytes received on its latest connection. */
  received(): number;
  /** How the connection from the proxy ended. */
  ended(): 'open' | 'end' | 'reset';
  /**
   * Resets its latest connection, after `last` if given (in the same write as
   * far as the proxy sees); resolves once the socket is closed.
   */
  reset(last?: string): Promise<unknown>;
}

/** Listens on a free port of 127.0.0.1 until the test ends. */
export async function resettingBackend(t: Teardown): Promise<ResettingBackend> {
  let connection: net.Socket | undefined;
  let received = 0;
  let ended: 'open' | 'end' | 'reset' = 'open';
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connection = socket;
    socket.on('error', () => {
      ended = 'reset';
    });
    socket.on('end', () => {
      ended = 'end';
    });
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) socket.write(`HTTP/1.0 200 OK\r\n\r\n${'x'.repeat(1000)}`);
      received += chunk.length;
    });
  });
  return {
    port: await listenUntilTeardown(t, server),
    received: () => received,
    ended: () => ended,
    reset: (last) => {
      const socket = connection;
      if (last === undefined) socket?.resetAndDestroy();
      else socket?.write(last, () => socket.resetAndDestroy());
      return socket === undefined || socket.closed ? Promise.resolve() : once(socket, 'close');
    },
  };
}
