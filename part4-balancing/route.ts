/**
 * Which pool serves a client: the step between accept and connect. A plain
 * TCP listener names its pool and reads nothing.
 //> 4.4
 * An HTTP listener reads the first request's head for its Host, a TLS
 * listener the ClientHello for its SNI, and the listener's host table turns
 * the name into a pool.
 //> 4.5
 * Before either, a listener behind another balancer reads the PROXY protocol
 * header that balancer sends, for the real client address.
 //< 4.5
 *
 *   accepted client
 //> 4.5
 *     ├─ acceptProxyProtocol: from a trusted address? ─ no ──────────▶ close
 *     │    └─ read the PROXY header (proxy-protocol.ts) ─ bad, late ──▶ close
 //< 4.5
 *     ├─ http: read the request head (http-head.ts) ── bad ──▶ 400 / 414 / 431, late ──▶ 408
 *     ├─ tls:  read the ClientHello (client-hello.ts) ── bad or late ───────────────▶ close
 *     └─ the name through the host table (hosts.ts) ─ no pool ─▶ http: 404, tls: close
 *          └─▶ { pool, and every byte read so far, to be sent to the backend first }
 *
 * Nothing read is changed or dropped but the PROXY header: the backend gets
 * the request head or the ClientHello byte for byte, so TLS is never
 * terminated here. What is read is held (at most the head limit, 16 KiB by
 * default) until a backend accepts, so a failed connect can still be retried
 * on another backend, as with a plain TCP listener.
 *
 //< 4.4
 //> 4.8
 * A listener's router (router/), when it has one, is asked between the
 * reading and the host table: it may name a pool or a backend, reject the
 * client, or leave it to the host table and the listener's pool.
 *
 //< 4.8
 //> 4.4
 * Routing happens once, on the first request: a keep-alive connection stays
 * with the pool its first request chose, whatever Host later requests name
 * (as in the Go proxy, nginx's ssl_preread and HAProxy in tcp mode).
 *
 * What it leaves out: reading past the first request (that needs an HTTP
 * proxy that parses every message).
 //< 4.4
 //> 4.5
 * Nor are the per-address limits on the address a PROXY header gives (they
 * count the address that connected).
 //< 4.5
 */
import net from 'node:net';
import type { ListenerConfig } from './config.ts';
import type { FleetRoutes } from './fleet/fleet.ts'; //> 4.7
import type { ConnectionAddresses } from './ip.ts';
import { type EventCounts, printable } from './log.ts';
import type { Pool } from './pools/pool.ts';
import { ProxyHeaderReader } from './proxy-protocol/proxy-protocol.ts'; //> 4.5
import { askRouter } from './router/ask.ts'; //> 4.8
import type { RouterThread } from './router/router.ts'; //> 4.8
import { closeCounted } from './refuse.ts';
import { answer } from './refuse.ts'; //> 4.4
import { ClientHelloReader } from './vhosts/client-hello.ts'; //> 4.4
import { HostTable, hostFromHeader } from './vhosts/hosts.ts'; //> 4.4
import { HttpHeadReader } from './vhosts/http-head.ts'; //> 4.4

const NOTHING: Buffer = Buffer.alloc(0); // "nothing read yet", one buffer for every client

/**
 * What a listener routes with: its configuration and the pools.
 //> 4.3
 * A reload replaces it; a client keeps the one it was accepted with.
 //< 4.3
 */
export interface Routing {
  config: ListenerConfig;
  pools: ReadonlyMap<string, Pool>;
  //> 4.4
  /** http and tls listeners: names to pool names, and the default (the listener's pool). */
  hosts?: HostTable;
  //< 4.4
  /** acceptProxyProtocol: the trustedProxies. */
  trusted?: net.BlockList; //> 4.5
  /** Fleet mode: the routes from Redis, for a listener with neither hosts nor a pool. */
  fleet?: FleetRoutes; //> 4.7
  /** Its router module, in its thread (router/): asked first, once the client is read. */
  router?: RouterThread; //> 4.8
}

/** The routing of a listener's configuration over a set of pools. */
export function routingFor(config: ListenerConfig, pools: ReadonlyMap<string, Pool>): Routing {
  const routing: Routing = { config, pools };
  //> 4.4
  if (config.protocol !== 'tcp') routing.hosts = new HostTable(config.hosts ?? {}, config.pool);
  //< 4.4
  //> 4.5
  if (config.trustedProxies) {
    routing.trusted = new net.BlockList();
    for (const range of config.trustedProxies) {
      const [base, bits] = range.split('/');
      routing.trusted.addSubnet(base, Number(bits), net.isIPv6(base) ? 'ipv6' : 'ipv4');
    }
  }
  //< 4.5
  return routing;
}

/** Where a client goes, and what must reach the backend before the relay starts. */
export interface Route {
  pool: Pool;
  /**
   * The name that chose the pool, if any.
   //> 4.4
   * A Host or an SNI.
   //< 4.4
   //> 4.5
   * A PROXY v2 header passes it on to the backend (AUTHORITY).
   //< 4.5
   */
  name?: string;
  /** Its connection's addresses: the client's is the strategy's (ip-hash) and the log's. */
  addresses: ConnectionAddresses;
  /**
   * Bytes read from the client to route it (a tcp listener reads none): sent
   * to the backend first.
   //> 4.5
   * A PROXY header is not among them.
   //< 4.5
   */
  first: Buffer;
}

/**
 * The route for one accepted, paused client, or undefined when there is none
 * and the client was closed. Never throws.
 //> 4.4
 * An http listener answers an HTTP error before it closes; and a client may
 * leave while its first bytes are read.
 //< 4.4
 */
export async function routeClient(
  client: net.Socket,
  routing: Routing,
  events: EventCounts,
): Promise<Route | undefined> {
  const config = routing.config; //> 4.4
  const deadline = Date.now() + config.headTimeoutMs; //> 4.4
  let addresses: ConnectionAddresses = new SocketAddresses(client);
  let first = NOTHING;
  let name: string | undefined;

  //> 4.5
  if (config.acceptProxyProtocol) {
    if (!isTrusted(addresses.sourceAddress, routing.trusted)) {
      return closeCounted(
        client,
        events,
        'badProxy',
        `Closed ${describeClient(addresses)}: not in trustedProxies.`,
      );
    }
    const read = await readFirst(client, new ProxyHeaderReader(), deadline, first);
    if (read.state !== 'done') {
      const why = read.state === 'error' ? read.reason : `no PROXY header (${read.state})`;
      return closeCounted(
        client,
        events,
        'badProxy',
        `Closed ${describeClient(addresses)}: ${printable(why)}.`,
      );
    }
    const { source, destination } = read.header;
    // LOCAL and UNKNOWN headers carry no addresses: the connection's own stand.
    if (source && destination) {
      addresses = {
        sourceAddress: source.address,
        sourcePort: source.port,
        destinationAddress: destination.address,
        destinationPort: destination.port,
      };
    }
    first = read.bytes.subarray(read.headerLength);
  }
  //< 4.5
  //> 4.4
  if (config.protocol === 'http') {
    const read = await readFirst(client, new HttpHeadReader(config), deadline, first);
    if (read.state === 'closed') return undefined;
    if (read.state === 'timeout') {
      return answer(
        client,
        events,
        408,
        `${describeClient(addresses)} sent no complete request head within ${config.headTimeoutMs} ms`,
      );
    }
    if (read.state === 'error')
      return answer(client, events, read.status, `${describeClient(addresses)}: ${read.reason}`);
    name = read.host === undefined ? undefined : hostFromHeader(read.host);
    first = read.bytes;
  } else if (config.protocol === 'tls') {
    const reader = new ClientHelloReader({ maxBytes: config.maxHelloBytes });
    const read = await readFirst(client, reader, deadline, first);
    if (read.state === 'closed') return undefined;
    if (read.state !== 'done') {
      const why = read.state === 'error' ? read.reason : 'no complete ClientHello in time';
      return closeCounted(
        client,
        events,
        'badHello',
        `Closed ${describeClient(addresses)}: ${printable(why)}.`,
      );
    }
    name = read.sni;
    first = read.bytes;
  }
  //< 4.4
  //> 4.8

  // A router decides first; what it leaves undecided goes on as below.
  if (routing.router) {
    const read = { addresses, name, first };
    const routed = await askRouter(
      routing.router,
      routing,
      client,
      read,
      events,
      describeClient(addresses),
    );
    if (routed === 'done') return undefined;
    if (routed !== 'fall-through') return { pool: routed.pool, name, addresses, first };
  }
  //< 4.8

  const pool = choosePool(routing, name);
  if (pool === undefined) {
    const shown = name === undefined ? 'no name' : printable(name);
    const line = `No route for ${shown} from ${describeClient(addresses)}`;
    //> 4.4
    if (config.protocol === 'http') {
      return answer(client, events, 404, line, `No site is served here for ${shown}.\n`);
    }
    //< 4.4
    return closeCounted(client, events, 'noRoute', `${line}: closed.`);
  }
  return { pool, name, addresses, first };
}

/**
 * The pool for a client: its listener's pool.
 //> 4.4
 * An http or tls listener's host table turns the client's name into a pool,
 * with that one as its default.
 //< 4.4
 //> 4.7
 * In fleet mode, an http or tls listener with neither hosts nor a pool asks
 * the fleet's routes from Redis (fleet/fleet.ts).
 //< 4.7
 */
function choosePool(routing: Routing, name: string | undefined): Pool | undefined {
  const { config } = routing;
  //> 4.7
  if (config.protocol !== 'tcp' && config.hosts === undefined && config.pool === undefined) {
    return routing.fleet?.poolFor(name, config.protocol);
  }
  //< 4.7
  let poolName = config.pool;
  if (routing.hosts) poolName = routing.hosts.route(name); //> 4.4
  return poolName === undefined ? undefined : routing.pools.get(poolName);
}
//> 4.4

type Pushed = { state: 'need-more' } | { state: string };

/**
 * Feeds the client's bytes to `reader` until it has an answer, the client
 * closes, or the deadline passes; then pauses the client again. `already`
 * holds bytes read before (after a PROXY header).
 */
async function readFirst<R extends Pushed>(
  client: net.Socket,
  reader: { push(chunk: Buffer): R },
  deadline: number,
  already: Buffer,
): Promise<Exclude<R, { state: 'need-more' }> | { state: 'timeout' } | { state: 'closed' }> {
  type Answer = Exclude<R, { state: 'need-more' }> | { state: 'timeout' } | { state: 'closed' };
  if (already.length > 0) {
    const result = reader.push(already);
    if (result.state !== 'need-more') return result as Answer;
  }
  return new Promise<Answer>((resolve) => {
    const finish = (answer: Answer) => {
      clearTimeout(timer);
      client.off('data', onData).off('end', onEnd).off('close', onEnd).pause();
      resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      const result = reader.push(chunk);
      if (result.state !== 'need-more') finish(result as Answer);
    };
    const onEnd = () => finish({ state: 'closed' });
    const timer = setTimeout(
      () => finish({ state: 'timeout' }),
      Math.max(0, deadline - Date.now()),
    );
    client.on('data', onData).once('end', onEnd).once('close', onEnd).resume();
  });
}

//< 4.4
//> 4.5

function isTrusted(address: string | undefined, trusted: net.BlockList | undefined): boolean {
  if (address === undefined || trusted === undefined) return false;
  return trusted.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}
//< 4.5

/** A client's addresses, each read (a system call) only when something asks. */
export class SocketAddresses implements ConnectionAddresses {
  constructor(private readonly socket: net.Socket) {}
  get sourceAddress(): string {
    return clientIp(this.socket);
  }
  get sourcePort(): number | undefined {
    return this.socket.remotePort;
  }
  //> 4.5
  get destinationAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get destinationPort(): number | undefined {
    return this.socket.localPort;
  }
  //< 4.5
}

/** The client as the log names it, "address:port" (from chapter 5, a PROXY header's). */
export function describeClient(addresses: ConnectionAddresses): string {
  return `${printable(addresses.sourceAddress ?? '?')}:${addresses.sourcePort}`;
}

export function clientIp(client: net.Socket): string {
  // A listener on "::" sees IPv4 clients as ::ffff:a.b.c.d; hash the address itself.
  return (client.remoteAddress ?? '').replace(/^::ffff:/, '');
}
