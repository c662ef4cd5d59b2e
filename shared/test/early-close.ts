/**
 * Clients that leave before they have said enough to be routed: they connect,
 * send nothing or part of what the listener reads first (a request head, a
 * ClientHello, a PROXY header), and then close their side with a FIN or
 * abort with a reset. A proxy must close each of them; one that waits for the
 * rest of a head that will never come keeps the socket in CLOSE-WAIT for ever.
 * part4-balancing/test/early-close.test.ts sends every shape to every kind of
 * listener, and the torture's `early close` attack does the same in bulk.
 *
 * What it leaves out: clients that send a whole head and then stay silent
 * (the head timeout's business, and the torture's `idle` attack's).
 */
import { once } from 'node:events';
import net from 'node:net';
import type { Teardown } from '../lib/cleanup.ts';
import { captureClientHello, listenUntilTeardown, type Received, readAll } from './harness.ts';

/** What a listener reads first: its protocol, and a PROXY header before it or not. */
export interface ListenerKind {
  protocol: 'tcp' | 'http' | 'tls';
  proxy: boolean;
}

/** "http", "tls+proxy": how tests and the torture table name a kind of listener. */
export function kindName(kind: ListenerKind): string {
  return `${kind.protocol}${kind.proxy ? '+proxy' : ''}`;
}

/** The six kinds of a configured listener: each protocol, with and without acceptProxyProtocol. */
export const LISTENER_KINDS: ListenerKind[] = ['tcp', 'http', 'tls'].flatMap((protocol) =>
  [false, true].map((proxy) => ({ protocol: protocol as ListenerKind['protocol'], proxy })),
);

/** What a trusted balancer in front would send first (a client 192.0.2.1:56324). */
export const PROXY_V1 = Buffer.from('PROXY TCP4 192.0.2.1 127.0.0.1 56324 80\r\n');
const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A real ClientHello (node:tls, SNI localhost), captured once. */
let hello: Promise<Buffer> | undefined;
export function clientHello(): Promise<Buffer> {
  hello ??= captureClientHello({ servername: 'localhost', rejectUnauthorized: false });
  return hello;
}

export interface EarlyEnd {
  /** "half a head, FIN" */
  name: string;
  /** What the client sends before it ends, on a listener of this kind. */
  bytes(kind: ListenerKind, hello: Buffer): Buffer;
  end: 'FIN' | 'RST';
}

/** Bytes meant for the listener's own reader, after the PROXY header such a listener requires. */
const inner = (bytes: (hello: Buffer) => Buffer) => (kind: ListenerKind, hello: Buffer) =>
  kind.proxy ? Buffer.concat([PROXY_V1, bytes(hello)]) : bytes(hello);
/** The first byte of what the listener reads first: never enough to decide anything. */
const firstByte = (kind: ListenerKind) =>
  Buffer.from(kind.proxy ? 'P' : kind.protocol === 'tls' ? '\x16' : 'G', 'latin1');

const SENT: [name: string, bytes: EarlyEnd['bytes']][] = [
  ['nothing', () => Buffer.alloc(0)],
  ['one byte', firstByte],
  ['half a request line', inner(() => Buffer.from('GET /ind'))],
  ['half a head', inner(() => Buffer.from('GET / HTTP/1.1\r\nHost: loc'))],
  // The record header and part of the handshake message it announces.
  ['half a ClientHello', inner((hello) => hello.subarray(0, 40))],
  ['half a PROXY v1 header', () => PROXY_V1.subarray(0, 20)],
  ['half a PROXY v2 header', () => Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11])])],
];

/** Every shape of an early end: each of the above, then a FIN, and then a reset. */
export const EARLY_ENDS: EarlyEnd[] = SENT.flatMap(([name, bytes]) =>
  (['FIN', 'RST'] as const).map((end) => ({ name: `${name}, ${end}`, bytes, end })),
);

/**
 * Connects, sends the shape's bytes, and ends as it says. Resolves with the
 * socket once its end is on its way; the caller destroys it when done (after a
 * FIN it waits, half-closed, for the proxy's FIN, which may never come).
 */
export async function endEarly(
  port: number,
  shape: EarlyEnd,
  kind: ListenerKind,
): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  const bytes = shape.bytes(kind, await clientHello());
  if (bytes.length > 0) await new Promise((resolve) => socket.write(bytes, resolve));
  if (shape.end === 'FIN') socket.end();
  else socket.resetAndDestroy();
  return socket;
}

/** How long finBackend waits, after a client's FIN, before it answers. */
export const SLOW_MS = 300;

/** What the client of requestThenFin sends (after a PROXY header, on a listener that wants one). */
export async function wholeRequest(kind: ListenerKind): Promise<Buffer> {
  return kind.protocol === 'tls'
    ? clientHello()
    : Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
}

/** The answer of finBackend to a client that sent `bytes` and then its FIN. */
export function finAnswer(bytes: number): string {
  return `heard ${bytes} bytes, then a FIN`;
}

/**
 * A backend that answers only once the client has finished: it reads until the
 * FIN, waits SLOW_MS, then writes finAnswer() and closes. (Node's HTTP server
 * would not do: it drops a request whose client has half-closed.) Behind a
 * proxy, the answer says the client's FIN was passed on, after its bytes.
 */
export async function finBackend(t: Teardown): Promise<{ port: number; address: string }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let heard = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      heard += chunk.length;
    });
    socket.once('end', () => {
      const timer = setTimeout(() => socket.end(finAnswer(heard)), SLOW_MS);
      socket.once('close', () => clearTimeout(timer));
    });
  });
  const port = await listenUntilTeardown(t, server);
  return { port, address: `127.0.0.1:${port}` };
}

/**
 * A whole request head (on a tls listener, a whole ClientHello), then a FIN at
 * once: a half-close, before the backend has answered anything. Resolves with
 * what the client received by the time the connection closed.
 */
export async function requestThenFin(port: number, kind: ListenerKind): Promise<Received> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const request = await wholeRequest(kind);
  socket.end(kind.proxy ? Buffer.concat([PROXY_V1, request]) : request);
  return readAll(socket, SLOW_MS + 10_000);
}
