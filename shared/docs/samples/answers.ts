/**
 * What a client gets back, as the chapters show it: the proxy's own answers
 * (part 4's refuse.ts builds them), the mock backend's answers through part 4
 * (its strategy or its host table picks the backend; the mock backend's own
 * functions write the body), and the PROXY protocol headers of the demo.
 *
 *   <!-- render: answer bad-gateway -->     a block, by the sample's name (ANSWERS)
 *
 * Every sample is built in this process from the code that decides it: a
 * request head goes through part 4's reader, a name through its host table,
 * twelve clients through its round robin.
 *
 * What it leaves out: anything a real run alone has, such as a ClientHello
 * (its random bytes change on every run: the chapter says when it was taken).
 */

import { createStrategy } from '../../../part4-balancing/pools/strategies/index.ts';
import { encodeProxyV1 } from '../../../part4-balancing/proxy-protocol/proxy-protocol.ts';
import {
  BAD_GATEWAY,
  httpErrorResponse,
  type ProxyStatus,
} from '../../../part4-balancing/refuse.ts';
import { HostTable } from '../../../part4-balancing/vhosts/hosts.ts';
import { readHttpHead } from '../../../part4-balancing/vhosts/http-head.ts';
import { proxyHeaders } from '../../demos/demo-sni.ts';
import { makeBody, toldLines } from '../../test/backend.ts';
import { parseHeader } from '../../test/backend-front.ts';
import { fenced } from './capture.ts';
import { backendsOf, exampleConfig } from './fixtures.ts';
import { words } from './source-text.ts';

/** An answer as curl -i prints it: its CRLFs as line breaks, no line break at its end. */
const shown = (bytes: Buffer | string) => String(bytes).replace(/\r\n/g, '\n').replace(/\n$/, '');

/** The status line part 4 answers a request head with, or undefined when it routes it. */
function statusFor(head: string): ProxyStatus | undefined {
  const read = readHttpHead(Buffer.from(head));
  return read.state === 'error' ? read.status : undefined;
}

/** The mock backends of part 4's "Run it" for the virtual hosts, by port: `--port P --name N`. */
const VHOSTS_BACKENDS: Record<number, string> = {
  8881: 'A',
  8882: 'apps',
  8891: 'secure',
  8892: 'shop',
};

/**
 * The name of the mock backend that a listener of `protocol` in the
 * configuration `configName` sends `name` to: the host table picks the pool,
 * and the pool's one backend is the one of "Run it" on its port.
 */
function backendFor(configName: string, protocol: string, name: string): string {
  const config = exampleConfig(configName);
  const listener = config.listeners.find((l) => l.protocol === protocol);
  if (!listener) throw new Error(`${configName} has no ${protocol} listener`);
  const pool = new HostTable(listener.hosts ?? {}, listener.pool).route(name);
  if (pool === undefined) throw new Error(`${configName} routes ${name} nowhere`);
  const [backend] = backendsOf(config, pool);
  return VHOSTS_BACKENDS[backend.port];
}

/** Answers by sample name. */
export const ANSWERS: Record<string, () => string> = {
  /** Every backend of the pool refused an HTTP client. */
  'bad-gateway': () => shown(BAD_GATEWAY),
  /** An http listener asked for a name no route serves. */
  'no-site': () =>
    shown(
      httpErrorResponse(
        404,
        words('part4-balancing/route.ts', 'No site is served here for ')('example.com'),
      ),
    ),
  /** The first line of the answer to each of chapter 4's bad heads (its `send` lines), the last one never finished. */
  'bad-heads': () => {
    const heads = [
      `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: www.example.org\r\n\r\n`,
      'GET / HTTP/1.1\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: www.example.org\r\nX: ${'a'.repeat(17000)}\r\n\r\n`,
      'GET / HTTP/1.1\r\nHost: www.example.org\r\nHost: x\r\n\r\n',
    ];
    const statuses = heads.map((head) => {
      const status = statusFor(head);
      if (status === undefined) throw new Error(`a head is routed: ${head.slice(0, 40)}`);
      return status;
    });
    const half = readHttpHead(Buffer.from('GET / HTTP/1.1\r\nHost: www.exa'));
    if (half.state !== 'need-more') throw new Error('half a head is not waited for');
    // route.ts answers a head still unfinished at headTimeoutMs with a 408.
    return [...statuses, 408 as const]
      .map((status) => shown(httpErrorResponse(status)).split('\n')[0])
      .join('\n');
  },
  /** What part 4 sends a backend first, in v1 and v2, for a client of 203.0.113.7 (demo:sni). */
  'proxy-headers': () => proxyHeaders('www.example.org'),
  /** Twelve requests through the example configuration, counted by answer (`sort | uniq -c`). */
  'twelve-requests': () => {
    const names: Record<number, string> = { 8881: 'A', 8882: 'B', 8883: 'C' };
    const backends = backendsOf(exampleConfig(), 'web');
    const roundRobin = createStrategy('round-robin');
    const counts = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const { port } = roundRobin.pick(backends, '127.0.0.1') as (typeof backends)[number];
      const body = shown(makeBody(names[port]));
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    return [...counts]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([body, n]) => `${String(n).padStart(7)} ${body}`)
      .join('\n');
  },
  /** Two TLS clients of vhosts.config.json's tls listener, routed by SNI to their TLS backends. */
  'tls-by-name': () =>
    ['secure.example.org', 'a.shop.example.org']
      .map((name) =>
        shown(
          makeBody(backendFor('vhosts.config.json', 'tls', name)) + toldLines({ serverName: name }),
        ),
      )
      .join('\n'),
  /** Two requests on one connection to the http listener: the first one's Host routes both. */
  'one-connection': () => {
    const backend = backendFor('vhosts.config.json', 'http', 'www.example.org');
    return [1, 2].map(() => shown(makeBody(backend))).join('\n');
  },
  /** The apps backend behind a pool that sends PROXY v1, for a client at 127.0.0.1:50642. */
  'told-by-proxy-v1': () => {
    const backend = backendFor('proxy.config.json', 'http', 'api.example.org');
    const header = encodeProxyV1({
      sourceAddress: '127.0.0.1',
      sourcePort: 50642,
      destinationAddress: '127.0.0.1',
      destinationPort: 8080,
    });
    return shown(makeBody(backend) + toldLines(parseHeader(header)));
  },
};

export const ANSWER_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  answer: ([name]) => {
    const sample = ANSWERS[name];
    if (!sample) {
      throw new Error(`no answer sample ${name} (samples: ${Object.keys(ANSWERS).join(', ')})`);
    }
    return fenced(sample());
  },
};
