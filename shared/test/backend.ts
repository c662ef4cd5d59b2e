/**
 * The mock backend: a small HTTP server that every test, demo and benchmark
 * puts behind the proxy.
 *
 *   npm run backend -- --port 8888 --delay 500 --size 1048576 --name A
 *
 * Its body is deterministic (see makeBody), so a test can check that a response
 * arrived byte for byte, and it starts with the backend's name, so a reader can
 * see which backend answered. A request may override the size and the delay with
 * a query string: GET /?size=11534336&delay=300.
 *
 * What it leaves out: it is not a real web server (no files, no routing); every
 * path gets the same kind of answer.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { exitWith, firstLine, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { log } from '../lib/log.ts';

export interface BackendOptions {
  port: number;
  delay: number;
  size: number | undefined;
  name: string;
}

const USAGE = 'usage: backend.ts [--port N] [--delay MS] [--size BYTES] [--name NAME]';

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseBackendArgs(argv: string[]): BackendOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '8888' },
      delay: { type: 'string', default: '0' },
      size: { type: 'string' },
      name: { type: 'string', default: 'backend' },
    },
    allowPositionals: false,
  });
  return {
    port: integerOption('--port', values.port, 0, 65535),
    delay: integerOption('--delay', values.delay, 0, 3_600_000),
    size: values.size === undefined ? undefined : integerOption('--size', values.size, 0, 2 ** 31),
    name: values.name,
  };
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
  for (let line = 0; offset < size; line++) {
    const text = `${name} line ${String(line).padStart(10, '0')} `.padEnd(63, '.');
    offset += body.write(`${text}\n`, offset);
  }
  if (bodyCache.size > 8) bodyCache.clear();
  bodyCache.set(`${name}\0${size}`, body);
  return body;
}
const bodyCache = new Map<string, Buffer>();

/** Starts the backend; resolves with the server once it listens. */
export async function startBackend(options: BackendOptions): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://backend').searchParams;
    const size = query.has('size') ? Number(query.get('size')) : options.size;
    const delay = query.has('delay') ? Number(query.get('delay')) : options.delay;
    const answer = () => {
      const body = makeBody(options.name, Number.isSafeInteger(size) ? size : undefined);
      response.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': body.length,
        'x-backend': options.name,
      });
      response.end(body);
    };
    if (delay > 0) {
      const timer = setTimeout(answer, delay);
      response.on('close', () => clearTimeout(timer));
    } else {
      answer();
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

async function main(): Promise<void> {
  const options = parseOrExit('backend.ts', USAGE, parseBackendArgs);
  try {
    const server = await startBackend(options);
    const address = server.address() as { port: number };
    log(`Started.  Listening on port ${address.port}.  Backend "${options.name}".`);
  } catch (err) {
    exitWith('backend.ts', `cannot listen on port ${options.port}: ${firstLine(err)}`, 1);
  }
}

if (isMain(import.meta.url)) {
  void main();
}
