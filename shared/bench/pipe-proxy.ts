/**
 * The floor of the benchmark: the smallest proxy Node can run, each client
 * piped to its own backend connection and back, with nothing else. Every
 * part's row reads against this one: what is left above it is what the part's
 * own features cost, below it is what Node itself costs.
 *
 *   tsx shared/bench/pipe-proxy.ts [listen-port] [backend-host] [backend-port]
 *
 * Same command line and startup line as parts 1 to 3 (defaults 8000
 * 127.0.0.1 8888), so the benchmark starts it as it starts them. It is not a
 * part: no idle timeout, no connect timeout, no log of what happens. pipe()
 * does forward backpressure and a half-close; an error on either side
 * destroys both.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { exitWith, integerOption, isMain, parseOrExit } from '../lib/cli.ts';
import { log } from '../lib/log.ts';

const USAGE = 'usage: pipe-proxy.ts [listen-port] [backend-host] [backend-port]';

export interface PipeOptions {
  port: number;
  backendHost: string;
  backendPort: number;
}

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parsePipeArgs(argv: string[]): PipeOptions {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length > 3) throw new Error('at most three arguments');
  const [port = '8000', backendHost = '127.0.0.1', backendPort = '8888'] = positionals;
  return {
    port: integerOption('listen-port', port, 0, 65535),
    backendHost,
    backendPort: integerOption('backend-port', backendPort, 1, 65535),
  };
}

/** The whole proxy. */
export function pipeProxy({ backendHost, backendPort }: PipeOptions): net.Server {
  return net.createServer((client) => {
    const backend = net.connect(backendPort, backendHost);
    client.pipe(backend).pipe(client);
    client.on('error', () => backend.destroy());
    backend.on('error', () => client.destroy());
  });
}

if (isMain(import.meta.url)) {
  const options = parseOrExit('pipe-proxy.ts', USAGE, parsePipeArgs);
  const server = pipeProxy(options);
  server.on('error', (err) => exitWith('pipe-proxy.ts', err, 1));
  server.listen(options.port, () => {
    log(`Started.  Listening on port ${(server.address() as net.AddressInfo).port}.`);
  });
}
