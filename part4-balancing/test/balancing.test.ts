/**
 * Balancing: each strategy, seen from outside. Three named backends answer
 * "Hello from backend A/B/C", so a client can tell who served it.
 *
 * One balancer serves every test: a pool per strategy, each behind a port of
 * its own, so each test starts from a fresh pool and the tests run side by
 * side.
 */

import t from 'tap';
import { deadPort, httpGet, openSocket, readAll } from '../../shared/test/harness.ts';
import {
  listenerPorts,
  sequence,
  slowRequest,
  startBackends,
  startBalancer,
  statusWhen,
  whoAnswered,
} from './support.ts';

const [A, B, C] = await startBackends(t, ['A', 'B', 'C']);
const three = (weights = [1, 1, 1]) =>
  [A, B, C].map((backend, i) => ({ address: backend.address, weight: weights[i] }));
const dead = [];
for (let i = 0; i < 3; i++) dead.push(`127.0.0.1:${await deadPort()}`);

// A pool per test, behind the port of the same index.
const POOLS = {
  weighted: { strategy: 'round-robin', backends: three([5, 1, 1]) },
  'least-connections': { strategy: 'least-connections', backends: three() },
  'two-random-choices': { strategy: 'two-random-choices', backends: three() },
  'ip-hash': { strategy: 'ip-hash', backends: three() },
  dead: { backends: dead.map((address) => ({ address })) },
};
const poolNames = Object.keys(POOLS);
const balancer = await startBalancer(t, {
  listen: poolNames.map((pool) => ({ port: 0, pool })),
  statusPort: 0,
  pools: POOLS,
});
const ports = Object.fromEntries(
  (await listenerPorts(balancer.proxy, poolNames.length)).map((port, i) => [poolNames[i], port]),
);
const statusPort = balancer.statusPort as number;

t.jobs = poolNames.length;

t.test("round-robin: weights 5:1:1 give nginx's smooth sequence A A B A C A A", async (t) => {
  t.same((await sequence(ports.weighted, 14)).join(''), 'AABACAA'.repeat(2));
});

// A request held open on one backend makes it the busy one; a strategy that
// looks at load must send everyone else elsewhere. Round robin would not.
for (const strategy of ['least-connections', 'two-random-choices']) {
  t.test(`${strategy}: a backend busy with a slow request gets no new client`, async (t) => {
    const port = ports[strategy];
    // Only the slow request open in this pool: the previous quick one's backend
    // socket closes a moment after its client has seen the end of the answer.
    const onlyTheSlowOne = () =>
      statusWhen(
        statusPort,
        (r) =>
          r.listeners.find((l) => l.port === port)?.open === 1 &&
          r.pools[strategy].backends.reduce((n, b) => n + b.activeConnections, 0) === 1,
        `only the slow request open in pool ${strategy}`,
      );
    // Far longer than the test: it is still open at the end, and closed on teardown.
    void slowRequest(t, port, 60_000);
    const report = await onlyTheSlowOne();
    const busy = report.pools[strategy].backends.find((b) => b.activeConnections === 1)?.id;
    const busyName = [A, B, C].find((backend) => backend.address === busy)?.name;
    const names: string[] = [];
    for (let i = 0; i < 20; i++) {
      await onlyTheSlowOne();
      names.push(await whoAnswered(port));
    }
    t.notOk(names.includes(busyName as string), `${busyName} (busy) got none of ${names.join('')}`);
    if (strategy === 'two-random-choices') {
      t.equal(new Set(names).size, 2, 'the two idle backends share the clients at random');
    }
    const after = await onlyTheSlowOne();
    t.equal(
      after.pools[strategy].backends.find((b) => b.id === busy)?.activeConnections,
      1,
      `${busyName} was busy with the slow request all along`,
    );
  });
}

t.test(
  'ip-hash: a client address keeps its backend; addresses spread over all three',
  async (t) => {
    const seen = new Set<string>();
    const moved: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const ip = `127.0.0.${i}`;
      const first = await whoAnswered(ports['ip-hash'], '/', ip);
      const again = await whoAnswered(ports['ip-hash'], '/', ip);
      if (again !== first) moved.push(`${ip}: ${first} then ${again}`);
      seen.add(first);
    }
    t.same(moved, [], 'each of 30 client addresses got the same backend twice');
    t.same(seen, new Set(['A', 'B', 'C']), 'the 30 addresses reach all three backends');
  },
);

t.test('every backend down', async (t) => {
  t.test('an HTTP client gets 502 Bad Gateway', async (t) => {
    const response = await httpGet(ports.dead);
    t.equal(response.status, 502);
    t.equal(response.headers.connection, 'close');
    t.match(response.body.toString(), /backend/i, 'a short body says why');
  });

  t.test('any other client gets a clean close', async (t) => {
    const client = await openSocket(t, ports.dead);
    // The start of a TLS ClientHello: not something a 502 would mean anything to.
    client.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]));
    const received = await readAll(client);
    t.equal(received.how, 'end', 'closed with a FIN, not a reset');
    t.equal(received.data.length, 0, 'and not a byte of HTTP');
  });
});
