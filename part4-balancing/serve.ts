/**
 * One client, top to bottom: accepted paused, routed to a pool, connected to
 * one of its backends, then relayed; or refused when no backend accepts.
 *
 *   accept (paused: its bytes wait in the kernel)
 //> 4.3
 *     ├─ over a connection limit ─▶ closed, counted
 //< 4.3
 *     └─▶ which pool: the listener's (by Host or SNI: chapter 4)   route.ts
 *           └─▶ the pool connects to a backend (retrying: chapter 2)   pool.ts
 *                 ├─ one accepted ─▶ the bytes read so far, then relay until
 *                 │                  both sides are done   relay.ts (part 3's)
 *                 └─ none did ────▶ a clean close (an HTTP client: 502, chapter 2)
 *
 * The rule for closing: every accepted client has one owner, own() below, and
 * its close is the only one for good. Whichever way serving ends (refused at
 * accept, answered, no route, timed out, the client gone, relayed to the end,
 * an exception), it destroys the client if still open and releases its
 * counts, once: as serve() returns, or at the relay's end. The graceful
 * closes on the way (an answer and a FIN, then a linger: closeGently; the
 * relay's half-closes) finish before, so that destroy cuts nothing short; on
 * any other way out it is the close. A way out added later cannot leave a
 * socket in CLOSE-WAIT. The backend socket a client is given has its owner
 * too: serve(), until the relay takes it.
 *
 * What it leaves out: retrying after a backend has accepted (it may have acted
 * on the request), and queueing clients when every backend is busy.
 */
import net from 'node:net';
import type { ListenerConfig } from './config.ts';
import { joinHostPort } from './ip.ts';
import { describe, log, printable } from './log.ts';
import type { EventCounts } from './log.ts'; //> 4.2
import type { Connection } from './pools/pool.ts'; //> 4.2
import type { Pool } from './pools/pool.ts';
import { isLocalShortage } from './pools/pool.ts'; //> 4.2
import { refuse } from './refuse.ts';
import { closeGently, GATEWAY_TIMEOUT, looksLikeHttp } from './refuse.ts'; //> 4.2
import { relay } from './relay.ts';
import { clientIp, describeClient, type Route, type Routing, routeClient } from './route.ts';
import type { Listener, RunningState } from './state.ts';
import { encodeProxyV1, encodeProxyV2 } from './proxy-protocol/proxy-protocol.ts'; //> 4.5
import { backendFailures, observeFirstByte } from './meters.ts'; //> 4.6

/**
 * socket() + bind() + listen() for one listener. `onFinished` runs each time a
 * client is done (a graceful stop waits for the last one).
 */
export async function listen(
  running: RunningState,
  routing: Routing,
  onFinished: () => void,
): Promise<Listener> {
  const listenerConfig = routing.config;
  // allowHalfOpen: a client's FIN is ours to forward, not for Node to answer at once.
  // pauseOnConnect: a client's bytes stay in the kernel until we read them, to
  // route by them, or until a backend has accepted, so a failed connect can be
  // retried elsewhere with nothing lost.
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const listener: Listener = {
    config: listenerConfig,
    routing,
    server,
    port: 0,
    open: 0, //> 4.3
    accepted: 0, //> 4.6
  };
  server.on('connection', (client) => own(running, listener, client, onFinished));
  const where = listenerName(listenerConfig);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${where}: ${describe(err)}`)));
    server.listen(listenerConfig.port, listenerConfig.host, () => resolve());
  });
  // An accept() that fails is logged, not fatal. (Out of descriptors, libuv
  // accepts and closes the waiting clients itself and tells no one: the
  // maxConnections limit below exists so that we refuse them first.)
  server.on('error', (err) => log(`accept failed on ${where}: ${describe(err)}`));
  listener.port = portOf(server);
  return listener;
}

/** "port 8000" for a listener on every address, "127.0.0.1:8000" for one on one address. */
export function listenerName(config: ListenerConfig, port = config.port): string {
  return config.host === undefined ? `port ${port}` : joinHostPort(config.host, port);
}

/**
 * The owner of one accepted client (the rule at the top of this file): it
 * admits it, serves it, and closes it, whatever happened in between.
 */
function own(
  running: RunningState,
  listener: Listener,
  client: net.Socket,
  onFinished: () => void,
): void {
  // Until the relay takes over, a reset from the client only needs to end this.
  client.on('error', ignore);
  listener.accepted++; //> 4.6
  //> 4.3
  const release = admit(running, listener, client);
  if (!release) {
    client.destroy();
    return;
  }
  //< 4.3
  let closed = false;
  // The routing of the moment: a reload changes listener.routing, not this client's.
  void serve(running, client, listener.routing, () => {
    if (closed) return;
    closed = true;
    client.destroy();
    release(); //> 4.3
    onFinished();
  });
}

const ignore = () => {};

//> 4.3
/**
 * Counts a client in: the open clients of the process and of its listener.
 * Returns how to count it out again, or undefined when it is refused.
 * First the connection limits, checked at accept, before any backend is
 * asked: the process's (each client costs two descriptors), the listener's,
 * and the client address's (nginx's limit_conn: one address cannot take
 * every slot). Over a limit the refusal is counted, and the owner closes the
 * client.
 */
function admit(
  running: RunningState,
  listener: Listener,
  client: net.Socket,
): (() => void) | undefined {
  const config = running.config;
  // The client's address costs a getpeername() system call: read here only
  // for a limit per address, else when something asks for it (ip-hash, the
  // log, a PROXY header).
  const address = config.maxConnectionsPerClient > 0 ? clientIp(client) : undefined;
  const fromAddress = address === undefined ? 0 : (running.openPerAddress.get(address) ?? 0);
  let over: [kind: string, limit: string] | undefined;
  if (running.clientSockets.size >= config.maxConnections) {
    over = ['processLimit', `maxConnections ${config.maxConnections}`];
  } else if (listener.open >= (listener.config.maxConnections ?? Number.POSITIVE_INFINITY)) {
    over = [
      'listenerLimit',
      `maxConnections ${listener.config.maxConnections} of ${listenerName(listener.config, listener.port)}`,
    ];
  } else if (config.maxConnectionsPerClient > 0 && fromAddress >= config.maxConnectionsPerClient) {
    over = ['clientLimit', `maxConnectionsPerClient ${config.maxConnectionsPerClient}`];
  }
  if (over) {
    const from = address ?? clientIp(client);
    running.events.count(over[0], `Refused ${printable(from)}: over ${over[1]}.`);
    return undefined;
  }
  running.clientSockets.add(client);
  listener.open++;
  if (address !== undefined) running.openPerAddress.set(address, fromAddress + 1);
  return () => {
    running.clientSockets.delete(client);
    listener.open--;
    if (address === undefined) return;
    const left = (running.openPerAddress.get(address) ?? 1) - 1;
    if (left === 0) running.openPerAddress.delete(address);
    else running.openPerAddress.set(address, left);
  };
}
//< 4.3

/**
 * Serves one admitted client: routes it, connects it, relays it or refuses it.
 * It calls `done`, its owner's close, as it returns (a refusal awaited first)
 * or, once the relay has the client, when the relay is over. Never rejects.
 */
async function serve(
  running: RunningState,
  client: net.Socket,
  routing: Routing,
  done: () => void,
): Promise<void> {
  let relaying = false;
  try {
    const route = await routeClient(client, routing, running.events);
    if (!route) return;
    const { pool } = route;
    let connection: Awaited<ReturnType<Pool['connect']>>;
    const failures: string[] = [];
    //> 4.2
    try {
      //< 4.2
      connection = await pool.connect(() => route.addresses.sourceAddress ?? '', failures);
      //> 4.2
    } catch (err) {
      if (!isLocalShortage(err)) throw err;
      running.events.count(
        'shortage',
        `The proxy is short of resources: connect failed with ${describe(err)} (not the backend's fault).`,
      );
      return await refuse(
        client,
        running.events,
        route.first,
        describeClient(route.addresses),
        `the proxy is short of resources (${describe(err)})`,
      );
    }
    //< 4.2
    if (!connection) {
      const tried = failures.length > 0 ? `: ${failures.join('; ')}` : '';
      const why = `no backend of pool ${pool.name} accepted${tried}`;
      return await refuse(
        client,
        running.events,
        route.first, //> 4.2
        describeClient(route.addresses),
        why,
      );
    }
    // The backend socket is this function's until the relay takes it, with the
    // client: whatever happens before, it closes it.
    const backend = connection.socket;
    try {
      if (client.destroyed) return;
      // The backend hears first who the client is (when its pool asks for it),
      // then whatever was read to route it, then the relay takes over.
      //> 4.5
      if (pool.config.proxyProtocol === 'v1') backend.write(encodeProxyV1(route.addresses));
      if (pool.config.proxyProtocol === 'v2')
        backend.write(encodeProxyV2(route.addresses, route.name));
      //< 4.5
      if (route.first.length > 0) backend.write(route.first);
      // A client that sent its request and then its FIN while it was being
      // routed: a paused socket with nothing left unread emits 'end' all the same,
      // and the relay below would wait for it in vain. Its FIN goes on now, after its bytes.
      if (client.readableEnded) backend.end();
      //> 4.6
      const { timings } = connection.backend;
      const connected = performance.now();
      // The relay's own 'data' listener comes next, in this same turn: no byte is missed.
      backend.once('data', () => observeFirstByte(timings, performance.now() - connected));
      //< 4.6
      client.off('error', ignore); // the relay's own listener takes over
      const options = {
        idleTimeoutMs: running.config.idleTimeoutMs,
        events: running.events,
        //> 4.2
        firstByte: {
          firstByteTimeoutMs: pool.config.firstByteTimeoutMs,
          sentBefore: route.first,
          onNoAnswer: (sent: Buffer) => noAnswer(running.events, client, route, connection, sent),
        },
        //< 4.2
      };
      // done itself, not a closure: nothing of serve() is kept for the connection's life.
      relay(client, backend, options, done);
      relaying = true;
    } finally {
      if (!relaying) backend.destroy();
    }
  } catch (err) {
    log(
      `Closed ${printable(clientIp(client))}:${client.remotePort} on an unexpected error: ${describe(err)}`,
    );
  } finally {
    if (!relaying) done();
  }
}

export function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}
//> 4.2

/**
 * The backend took the client's bytes and sent none back within the pool's
 * firstByteTimeoutMs: it is blamed as for a failed connect, and the client,
 * which has had no byte of an answer yet, gets a 504 if it spoke HTTP and a
 * clean close otherwise, as a refused client gets a 502 or a close.
 */
function noAnswer(
  events: EventCounts,
  client: net.Socket,
  route: Route,
  connection: Connection,
  sent: Buffer,
): void {
  const why = `no answer within ${route.pool.config.firstByteTimeoutMs} ms`;
  connection.backend.answerMissing(why);
  backendFailures.inc({ ...connection.backend.labels, kind: 'noAnswer' }); //> 4.6
  const http = looksLikeHttp(sent);
  events.count(
    'noAnswer',
    `Gave up on ${connection.backend.id} (pool ${route.pool.name}) for ${describeClient(route.addresses)} ` +
      `(${why}): ${http ? 'answered 504.' : 'closed.'}`,
  );
  void closeGently(client, http ? GATEWAY_TIMEOUT : undefined);
}
//< 4.2
