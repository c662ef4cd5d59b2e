/**
 * Clients that end early, on every kind of listener: connect and close, a
 * byte, half a request line, half a head, half a ClientHello, half a PROXY
 * header (v1 and v2), each then a FIN and each then a reset; and a whole
 * request then a FIN before the backend has answered (a half-close, which
 * must still get its answer). Afterwards the proxy must hold no socket on any
 * listener port (none in CLOSE-WAIT, ESTABLISHED or FIN-WAIT, read from /proc)
 * and have as many descriptors open as before.
 *
 * Two processes: one balancer with six listeners (tcp, http and tls, each with
 * and without acceptProxyProtocol), and one fleet proxy (--redis, with its
 * http and https listeners) on a redis-server of its own. Every pool is one
 * backend that answers only after the client's FIN.
 */
import t from 'tap';
import {
  EARLY_ENDS,
  endEarly,
  finAnswer,
  finBackend,
  kindName,
  LISTENER_KINDS,
  type ListenerKind,
  requestThenFin,
  wholeRequest,
} from '../../shared/test/early-close.ts';
import { type HeldSocket, heldSockets, openFds, waitFor } from '../../shared/test/harness.ts';
import { redisClient, startRedis } from '../../shared/test/redis.ts';
import { listenerPorts, startBalancer, startFleet } from './support.ts';

// Behind every listener, tls ones too: the proxy never terminates TLS, so a
// ClientHello reaches this backend as bytes like any others.
const backend = await finBackend(t);
const TRUSTED = { acceptProxyProtocol: true, trustedProxies: ['127.0.0.1/32'] };

interface Target {
  name: string;
  kind: ListenerKind;
  pid: number;
  port: number;
}

/** One balancer with a listener of each kind, in the order of LISTENER_KINDS. */
async function configured(): Promise<Target[]> {
  const { proxy } = await startBalancer(t, {
    listen: LISTENER_KINDS.map((kind) => ({
      port: 0,
      protocol: kind.protocol,
      pool: 'fin',
      ...(kind.proxy ? TRUSTED : {}),
    })),
    pools: { fin: { backends: [{ address: backend.address }] } },
  });
  const ports = await listenerPorts(proxy, LISTENER_KINDS.length);
  return LISTENER_KINDS.map((kind, i) => ({
    name: kindName(kind),
    kind,
    pid: proxy.pid,
    port: ports[i],
  }));
}

/** A fleet proxy whose default routes, in Redis, lead to the same backend. */
async function fleet(): Promise<Target[]> {
  const redis = await startRedis(t);
  const db = await redisClient(t, redis);
  await db.sAdd('hostnames:httpDefault:backends', backend.address);
  await db.sAdd('hostnames:httpsDefault:backends', backend.address);
  const { proxy, http, https } = await startFleet(t, redis.url);
  const targets: Target[] = [
    { name: 'fleet http', kind: { protocol: 'http', proxy: false }, pid: proxy.pid, port: http },
    { name: 'fleet https', kind: { protocol: 'tls', proxy: false }, pid: proxy.pid, port: https },
  ];
  await proxy.waitForOutput(/Routes from Redis at .*: 2 loaded/);
  return targets;
}

const targets = (await Promise.all([configured(), fleet()])).flat();
/** Time enough, on a loaded machine, for the last pair to close (the backend answers SLOW_MS after a FIN). */
const SETTLE_MS = 5000;

/** The connections a target's process still holds on the target's port. */
async function held(target: Target): Promise<HeldSocket[]> {
  return (await heldSockets(target.pid)).filter((socket) => socket.localPort === target.port);
}

/** "3 CLOSE-WAIT, 1 ESTABLISHED" */
function byState(sockets: HeldSocket[]): string {
  const counts = new Map<string, number>();
  for (const { state } of sockets) counts.set(state, (counts.get(state) ?? 0) + 1);
  return [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
}

for (const target of targets) {
  t.test(
    `${target.name}: every client that ends early is closed, and nothing stays open`,
    async (t) => {
      const fdsBefore = await openFds(target.pid);
      const clients = await Promise.all(
        EARLY_ENDS.map((shape) => endEarly(target.port, shape, target.kind)),
      );
      t.teardown(() => {
        for (const client of clients) client.destroy();
      });
      const answer = await requestThenFin(target.port, target.kind).catch((err: Error) => ({
        data: Buffer.from(err.message),
        how: 'no close',
      }));
      const sent = (await wholeRequest(target.kind)).length;
      t.match(
        answer.data.toString('latin1'),
        finAnswer(sent),
        'a whole request then a FIN: the FIN reaches the backend after the request, and its answer comes back',
      );
      t.equal(answer.how, 'end', 'then the connection closes cleanly');

      const count = EARLY_ENDS.length + 1;
      let left: HeldSocket[] = [];
      await waitFor(
        async () => {
          left = await held(target);
          return left.length === 0;
        },
        { timeoutMs: SETTLE_MS, what: 'no socket held' },
      ).catch(() => {});
      t.equal(
        left.length,
        0,
        `${target.name}: ${left.length} of ${count} clients still held${left.length ? ` (${byState(left)})` : ''}`,
      );
      let fds = 0;
      await waitFor(
        async () => {
          fds = await openFds(target.pid);
          return fds <= fdsBefore;
        },
        { timeoutMs: SETTLE_MS, what: 'descriptors back' },
      ).catch(() => {});
      t.ok(fds <= fdsBefore, `open descriptors: ${fdsBefore} before, ${fds} after`);
    },
  );
}
