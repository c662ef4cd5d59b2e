/**
 * Every way the proxy turns a client away, in one place: serve.ts refuses a
 * client no backend accepted, and route.ts one it finds no pool for. Each
 * refusal is counted (log.ts's EventCounts), then the client gets a FIN, and a
 * moment to leave.
 //> 4.2
 *
 * An answer goes before the FIN, in the client's own protocol: a client that
 * spoke HTTP gets a status line that a browser or curl can show; anything else
 * (TLS, say) gets a clean close, since a reply it cannot parse would only
 * confuse it. serve.ts answers 502 when no backend accepted a client, and 504
 * when its backend never answered.
 //< 4.2
 //> 4.4
 * route.ts answers a request head it will not route (400, 404, 408, 414,
 * 431), and closes what it cannot read (a PROXY header, a ClientHello).
 //< 4.4
 //> 4.8
 * A router (router/ask.ts) answers what it rejects with, and a 500 when it
 * fails; a tcp or tls client gets a close.
 //< 4.8
 *
 * What it leaves out: a queue (a client no backend accepts is turned away at
 * once, not kept until one does).
 //> 4.2
 * Nor, in an answer, HTML error pages or anything but Connection: close (the
 * request was not read to its end, so the connection cannot carry another).
 //< 4.2
 */
import { STATUS_CODES } from 'node:http'; //> 4.8
import type net from 'node:net';
import type { EventCounts } from './log.ts';
import { printable } from './log.ts'; //> 4.4
//> 4.2

const REASONS = {
  //> 4.8
  // Any 4xx or 5xx: a router's rejection, or its failure (500), in Node's words.
  ...(Object.fromEntries(
    Object.entries(STATUS_CODES).filter(([status]) => Number(status) >= 400),
  ) as Record<number, string>),
  //< 4.8
  //> 4.4
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  //< 4.4
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
} as const;

export type ProxyStatus = keyof typeof REASONS;

/**
 * A complete response for a status the proxy answers itself: a short text body
 * and Connection: close.
 */
export function httpErrorResponse(status: ProxyStatus, body = `${REASONS[status]}\n`): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export const BAD_GATEWAY = httpErrorResponse(502, 'No backend is available.\n');
export const GATEWAY_TIMEOUT = httpErrorResponse(504, 'The backend did not answer in time.\n');

/** A method token and a space: the start of an HTTP request line. */
const HTTP_REQUEST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/** Whether a client's first bytes are an HTTP request. */
export function looksLikeHttp(first: Buffer | undefined): boolean {
  return first !== undefined && HTTP_REQUEST.test(first.toString('latin1', 0, 32));
}

/** How long a refused client on a plain TCP listener may take to show its first bytes. */
const SNIFF_MS = 2000;
//< 4.2

/**
 * No backend accepted `who`: it is closed, and counted.
 //> 4.2
 * A client that spoke HTTP gets a 502 first. Its first bytes tell: those read
 * to route it (`first`), or on a tcp listener, which reads none, those it
 * sends within a moment.
 //< 4.2
 */
export async function refuse(
  client: net.Socket,
  events: EventCounts,
  first: Buffer, //> 4.2
  who: string,
  why: string,
): Promise<undefined> {
  //> 4.2
  if (looksLikeHttp(first.length > 0 ? first : await firstBytes(client, SNIFF_MS))) {
    events.count('noBackend', `Refused ${who} (${why}): answered 502.`);
    await closeGently(client, BAD_GATEWAY);
    return undefined;
  }
  //< 4.2
  events.count('noBackend', `Refused ${who} (${why}): closed.`);
  await closeGently(client);
  return undefined;
}
//> 4.4

/** Answers an HTTP error the proxy decided itself, counted, and closes. */
export async function answer(
  client: net.Socket,
  events: EventCounts,
  status: ProxyStatus,
  why: string,
  body?: string,
): Promise<undefined> {
  events.count(status === 404 ? 'noRoute' : 'badHead', `Answered ${status}: ${printable(why)}.`);
  await closeGently(client, httpErrorResponse(status, body));
  return undefined;
}
//< 4.4

//> 4.8

/** Any status from 400 to 599 (REASONS has them all from chapter 8 on): a router's answer. */
export function statusResponse(status: number, body?: string): Buffer {
  return httpErrorResponse(status as ProxyStatus, body);
}
//< 4.8

/** Closes a client that gets no answer, counted as `kind`. */
export async function closeCounted(
  client: net.Socket,
  events: EventCounts,
  kind: string,
  line: string,
): Promise<undefined> {
  events.count(kind, line);
  await closeGently(client);
  return undefined;
}

/** How long a client we close may take to leave after our last bytes. */
const LINGER_MS = 2000;

/**
 * Sends `last` (if any) and a FIN, then reads and drops whatever the client
 * still sends until it closes: closing a socket with unread bytes makes the
 * kernel send a reset rather than a FIN, and a reset can destroy what we sent
 * last before the client has read it.
 */
export async function closeGently(client: net.Socket, last?: Buffer): Promise<void> {
  client.on('data', () => {});
  client.setTimeout(LINGER_MS, () => client.destroy());
  if (last) client.end(last);
  else client.end();
  client.resume();
  if (!client.closed) await new Promise((resolve) => client.once('close', resolve));
}
//> 4.2

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
//< 4.2
