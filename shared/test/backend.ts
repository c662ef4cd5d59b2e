/**
 * The mock backend: a small HTTP server that every test, demo and benchmark
 * puts behind the proxy.
 *
 *   npm run backend -- --port 8888 --delay 500 --size 1048576 --name A
 *   npm run backend -- --keep-alive 120000
 *
 * Its body is deterministic (see makeBody), so a test can check that a response
 * arrived byte for byte, and it starts with the backend's name, so a reader can
 * see which backend answered. A request may override the size and the delay with
 * a query string: GET /?size=11534336&delay=300. An idle keep-alive connection
 * is closed after Node's default 5 s, or after --keep-alive MS (the benchmark's
 * hold mode keeps thousands of connections idle for longer than that).
 *
 * With --proxy-protocol it expects a PROXY header first and says which client
 * address it was told; with --tls it speaks HTTPS with a self-signed
 * certificate and says which server name the client asked for
 * (backend-front.ts). With `trickle=MS` in the query it sends its body in
 * 64 KiB pieces, one every MS milliseconds, as a backend that streams what it
 * makes (GET /?size=1048576&trickle=20 takes about a third of a second).
 * Try them through part 4 with curl:
 *
 *   npm run backend -- --port 8881 --name A --proxy-protocol
 *   npm run backend -- --port 8443 --name S --tls
 *   curl -sk --resolve secure.example.org:9443:127.0.0.1 https://secure.example.org:9443/
 *
 * What it leaves out: it is not a real web server (no files, no routing); every
 * path gets the same kind of answer.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { exitWith, firstLine, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { log } from '../lib/log.ts';
import { readProxyHeader, selfSignedContext, type Told, wrapTls } from './backend-front.ts';

export interface BackendOptions {
  port: number;
  delay: number;
  size: number | undefined;
  name: string;
  /** Expect a PROXY protocol header (v1 or v2) first on every connection. */
  proxyProtocol?: boolean;
  /** Speak TLS, with a self-signed certificate. */
  tls?: boolean;
  /** Close an idle keep-alive connection after this long (absent: Node's default, 5 s). */
  keepAliveMs?: number;
}

const USAGE =
  'usage: backend.ts [--port N] [--delay MS] [--size BYTES] [--name NAME] [--proxy-protocol] [--tls]\n' +
  '                  [--keep-alive MS]';

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseBackendArgs(argv: string[]): BackendOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8888' },
      delay: { type: 'string', default: '0' },
      size: { type: 'string' },
      name: { type: 'string', default: 'backend' },
      'proxy-protocol': { type: 'boolean', default: false },
      tls: { type: 'boolean', default: false },
      'keep-alive': { type: 'string' },
    },
    allowPositionals: false,
  });
  return checkCombination({
    port: integerOption('--port', values.port, 0, 65535),
    delay: integerOption('--delay', values.delay, 0, 3_600_000),
    size: values.size === undefined ? undefined : integerOption('--size', values.size, 0, 2 ** 31),
    name: values.name,
    proxyProtocol: values['proxy-protocol'],
    tls: values.tls,
    ...(values['keep-alive'] === undefined
      ? {}
      : { keepAliveMs: integerOption('--keep-alive', values['keep-alive'], 1, 3_600_000) }),
  });
}

/** --tls and --proxy-protocol do not go together: TLS would take the socket's handle past the header. */
function checkCombination(options: BackendOptions): BackendOptions {
  if (options.tls && options.proxyProtocol)
    throw new Error('--tls and --proxy-protocol: one or the other');
  return options;
}

/**
 * The body for a backend called `name`, exactly `size` bytes long: a greeting
 * line, then numbered 64-byte lines, so a lost, doubled or reordered chunk shows.
 * Without a size it is just the greeting.
 */
export function makeBody(name: string, size?: number): Buffer {
  const greeting = `Hello from backend ${name}\n`;
  if (size === undefined) return Buffer.from(greeting);
  const cached = bodyCache.get(`${name}\0${size}`);
  if (cached) return cached;
  const body = Buffer.alloc(size);
  let offset = body.write(greeting.slice(0, size));
  const lineText = (line: number) =>
    `${`${name} line ${String(line).padStart(10, '0')} `.padEnd(63, '.')}\n`;
  const template = Buffer.from(lineText(0));
  if (template.length === 64 && offset < size) {
    // Line 0 copied over the whole body in doubling steps, then each line's
    // number written in: building 64-byte strings one by one costs seconds for
    // a 48 MiB body on a busy machine.
    const start = offset;
    let filled = template.copy(body, start, 0, Math.min(64, size - start));
    while (start + filled < size) {
      filled += body.copy(
        body,
        start + filled,
        start,
        start + Math.min(filled, size - start - filled),
      );
    }
    const lastDigit = Buffer.byteLength(`${name} line `) + 9;
    for (let line = 1, lineAt = start + 64; lineAt < size; line++, lineAt += 64) {
      for (let at = lineAt + lastDigit, n = line; n > 0; at--, n = Math.floor(n / 10)) {
        if (at < size) body[at] = 48 + (n % 10);
      }
    }
  } else {
    for (let line = 0; offset < size; line++) offset += body.write(lineText(line), offset);
  }
  if (bodyCache.size > 8) bodyCache.clear();
  bodyCache.set(`${name}\0${size}`, body);
  return body;
}
const bodyCache = new Map<string, Buffer>();

/** What each connection was told before HTTP began (a PROXY header, an SNI). */
const toldBy = new WeakMap<net.Socket, Told>();

/** The lines the backend adds after its greeting when it was told something. */
export function toldLines(told: Told): string {
  let lines = '';
  if (told.client !== undefined) lines += `Client address: ${told.client}\n`;
  if (told.authority !== undefined) lines += `Routed for: ${told.authority}\n`;
  if (told.serverName !== undefined) lines += `TLS server name: ${told.serverName || '(none)'}\n`;
  return lines;
}

const PIECE = 64 * 1024;

/** Writes `body` a piece every `everyMs`, until it is all sent or the connection goes. */
function sendInPieces(response: http.ServerResponse, body: Buffer, everyMs: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    const piece = body.subarray(sent, sent + PIECE);
    sent += piece.length;
    if (sent >= body.length) {
      clearInterval(timer);
      response.end(piece);
    } else {
      response.write(piece);
    }
  }, everyMs);
  response.on('close', () => clearInterval(timer));
}

/** Starts the backend; resolves with the server once it listens. */
export async function startBackend(options: BackendOptions): Promise<net.Server> {
  const server = http.createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://backend').searchParams;
    const size = query.has('size') ? Number(query.get('size')) : options.size;
    const delay = query.has('delay') ? Number(query.get('delay')) : options.delay;
    const trickle = Number(query.get('trickle') ?? 0) || 0;
    const answer = () => {
      const told = { ...toldBy.get(request.socket) };
      if (request.socket instanceof tls.TLSSocket)
        told.serverName = request.socket.servername || '';
      const sized = Number.isSafeInteger(size) ? size : undefined;
      const extra = sized === undefined ? toldLines(told) : '';
      const body = Buffer.concat([makeBody(options.name, sized), Buffer.from(extra)]);
      response.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': body.length,
        'x-backend': options.name,
      });
      if (trickle > 0) sendInPieces(response, body, trickle);
      else response.end(body);
    };
    if (delay > 0) {
      const timer = setTimeout(answer, delay);
      response.on('close', () => clearTimeout(timer));
    } else {
      answer();
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  if (options.keepAliveMs !== undefined) server.keepAliveTimeout = options.keepAliveMs;
  // Plain HTTP: the HTTP server listens itself. Otherwise a TCP server in
  // front reads the PROXY header and starts TLS, then hands the socket over.
  const context = options.tls ? tls.createSecureContext(selfSignedContext()) : undefined;
  const front =
    options.proxyProtocol || context
      ? net.createServer(async (socket) => {
          socket.on('error', () => {});
          try {
            const told = options.proxyProtocol ? await readProxyHeader(socket) : {};
            // Node's HTTP server reads a new socket's handle natively, past the
            // stream buffer where readProxyHeader put back the bytes after the
            // header; a handle marked consumed is read through the stream.
            if (!context)
              (socket as unknown as { _handle: { _consumed: boolean } })._handle._consumed = true;
            const stream = context ? wrapTls(socket, context) : socket;
            stream.on('error', () => socket.destroy());
            toldBy.set(stream, told);
            server.emit('connection', stream);
            stream.resume(); // readProxyHeader left it paused
          } catch {
            socket.destroy(); // no valid PROXY header: the spec says close
          }
        })
      : server;
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port, () => {
      front.off('error', reject);
      resolve();
    });
  });
  return front;
}

async function main(): Promise<void> {
  const options = parseOrExit('backend.ts', USAGE, parseBackendArgs);
  try {
    const server = await startBackend(options);
    const address = server.address() as { port: number };
    const extras = [options.tls ? 'TLS' : '', options.proxyProtocol ? 'PROXY protocol' : '']
      .filter(Boolean)
      .join(', ');
    log(
      `Started.  Listening on port ${address.port}.  Backend "${options.name}"${extras ? ` (${extras})` : ''}.`,
    );
  } catch (err) {
    exitWith('backend.ts', `cannot listen on port ${options.port}: ${firstLine(err)}`, 1);
  }
}

if (isMain(import.meta.url)) {
  void main();
}
