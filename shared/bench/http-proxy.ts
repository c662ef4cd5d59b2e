/**
 * The `http-proxy` row of the benchmark: node-http-proxy, the most used proxy
 * package in Node, set up as its README does (a `node:http` server that hands
 * each request to `proxy.web()`), in front of one backend. Read beside
 * `part4-http`: this one parses every request and every answer with
 * node:http; part 4 reads the first request's head for its Host, then relays
 * bytes.
 *
 *   tsx shared/bench/http-proxy.ts [--agent none|keepalive] [listen-port] [backend-host] [backend-port]
 *
 * Same command line and startup line as pipe-proxy.ts (defaults 8000
 * 127.0.0.1 8888). `--agent none` is the package's default: no agent, so every
 * request opens a new backend connection and asks it to close
 * (`Connection: close`). `--agent keepalive` passes
 * `new http.Agent({ keepAlive: true })`, which keeps up to 256 idle backend
 * connections for the next requests. The benchmark's `http-proxy` row is
 * keepalive; `http-proxy-noagent` is the default, measured beside it in
 * WHERE-THE-TIME-GOES.md.
 *
 * One setting departs from the README: the server's keepAliveTimeout, how
 * long an idle client connection stays open, is part 3's and part 4's idle
 * timeout (60 s) instead of Node's 5 s, so that `--mode hold` can hold its
 * clients as it holds theirs.
 *
 * What it leaves out: everything the package can do beyond relaying (header
 * rewriting, X-Forwarded-For with `xfwd`, WebSockets); a failed backend gets
 * a bare 502.
 */
import http from 'node:http';
import type net from 'node:net';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { exitWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { log } from '../lib/log.ts';

const USAGE =
  'usage: http-proxy.ts [--agent none|keepalive] [listen-port] [backend-host] [backend-port]';

/** Part 3's and part 4's idle timeout. */
const IDLE_MS = 60_000;

interface HttpProxyOptions {
  port: number;
  backendHost: string;
  backendPort: number;
  /** none: the package's default, a new backend connection per request; keepalive: an agent that keeps them. */
  agent: 'none' | 'keepalive';
}

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseHttpProxyArgs(argv: string[]): HttpProxyOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { agent: { type: 'string', default: 'keepalive' } },
  });
  if (positionals.length > 3) throw new Error('at most three arguments');
  if (values.agent !== 'none' && values.agent !== 'keepalive') {
    throw new Error(`--agent must be none or keepalive, got "${values.agent}"`);
  }
  const [port = '8000', backendHost = '127.0.0.1', backendPort = '8888'] = positionals;
  return {
    port: integerOption('listen-port', port, 0, 65535),
    backendHost,
    backendPort: integerOption('backend-port', backendPort, 1, 65535),
    agent: values.agent,
  };
}

/** The whole proxy: the README's "stand-alone proxy server with custom server logic". */
function httpProxyServer(options: HttpProxyOptions): http.Server {
  const proxy = httpProxy.createProxyServer({
    target: `http://${options.backendHost}:${options.backendPort}`,
    agent: options.agent === 'keepalive' ? new http.Agent({ keepAlive: true }) : undefined,
  });
  // Without a listener, a backend error is thrown and the process dies.
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = IDLE_MS;
  return server;
}

if (isMain(import.meta.url)) {
  const options = parseOrExit('http-proxy.ts', USAGE, parseHttpProxyArgs);
  const server = httpProxyServer(options);
  server.on('error', (err) => exitWith('http-proxy.ts', err, 1));
  server.listen(options.port, () => {
    log(`Started.  Listening on port ${(server.address() as net.AddressInfo).port}.`);
  });
}
