/**
 * The fault relay, each fault seen from the client in front: what passes, what
 * is held back, what is closed and how. The target is a small server in this
 * process that answers every chunk with as many bytes of an answer (a fixed
 * size given on connect), so each test is a few round trips on loopback.
 *
 * It starts no program: `npm test` runs it in units.ts's process. The faults
 * with a time in them run side by side, with times of about 100 ms.
 */
import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import { type FaultRelay, startFaultRelay } from './fault-relay.ts';
import { listenUntilTeardown, openSocket, readAll, waitFor } from './harness.ts';

/**
 * A target that answers the first chunk of each connection with `size` bytes
 * ('a', 'b', ... cycling), then ends. `connections` counts those it accepted,
 * `ended` how the last one ended ('open', 'end' or 'reset').
 */
async function target(t: Test, size: number) {
  let connections = 0;
  let ended: 'open' | 'end' | 'reset' = 'open';
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections++;
    ended = 'open';
    socket.on('error', () => {
      ended = 'reset';
    });
    socket.on('end', () => {
      ended = 'end';
    });
    socket.once('data', () => socket.end(answer(size)));
  });
  return {
    port: await listenUntilTeardown(t, server),
    connections: () => connections,
    ended: () => ended,
  };
}

function answer(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => 97 + (i % 26)));
}

/** A relay in front of a target answering `size` bytes, with `fault` set. */
async function setUp(t: Test, size: number, fault?: Parameters<FaultRelay['set']>[0]) {
  const server = await target(t, size);
  const relay = await startFaultRelay(t, server.port);
  if (fault) relay.set(fault);
  return { server, relay };
}

/** Opens a client (allowHalfOpen: readAll tells a reset from a FIN), sends one line, reads to the close. */
async function ask(t: Test, relay: FaultRelay, timeoutMs?: number) {
  const client = await openSocket(t, relay.port, { allowHalfOpen: true });
  const began = performance.now();
  const received = readAll(client, timeoutMs);
  client.write('hello\n');
  const result = await received;
  return { ...result, ms: performance.now() - began };
}

/** A client that has sent one line (its reset, when the relay closes on teardown, is expected). */
async function sayHello(t: Test, relay: FaultRelay): Promise<net.Socket> {
  const client = await openSocket(t, relay.port);
  client.on('error', () => {});
  client.write('hello\n');
  return client;
}

/** Resolves with whether `socket` stays open and quiet for `ms`. */
function staysQuiet(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (quiet: boolean) => {
      clearTimeout(timer);
      socket.off('data', noisy).off('close', noisy);
      resolve(quiet);
    };
    const noisy = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    socket.on('data', noisy).on('close', noisy);
  });
}

t.test('fault relay', async (t) => {
  t.jobs = 9;

  t.test('none: the answer passes whole and ends with a FIN', async (t) => {
    const { relay } = await setUp(t, 5000);
    const { data, how } = await ask(t, relay);
    t.same([data.length, data.equals(answer(5000)), how], [5000, true, 'end']);
  });

  t.test('cut: open connections close, new ones close at once', async (t) => {
    const { server, relay } = await setUp(t, 10);
    const open = await openSocket(t, relay.port);
    open.on('error', () => {});
    await waitFor(() => server.connections() === 1, { what: 'the first connection through' });
    const closed = once(open, 'close');
    relay.set('cut');
    await closed;
    t.pass('the open connection was closed');
    const { data } = await ask(t, relay);
    t.equal(data.length, 0, 'a new one gets nothing');
    t.equal(server.connections(), 1, 'and never reaches the target');
  });

  t.test('blackhole: accepted, never answered, never closed, never at the target', async (t) => {
    const { server, relay } = await setUp(t, 10, 'blackhole');
    const client = await sayHello(t, relay);
    t.ok(await staysQuiet(client, 150), 'no byte and no close in 150 ms');
    t.equal(relay.accepted, 1, 'the relay accepted it');
    t.equal(server.connections(), 0, 'the target never saw it');
  });

  t.test('silence: open connections go quiet both ways, nothing is closed', async (t) => {
    const { server, relay } = await setUp(t, 10, 'silence');
    const client = await sayHello(t, relay);
    t.ok(await staysQuiet(client, 150), 'no byte and no close in 150 ms');
    t.equal(server.connections(), 0, 'accepted meanwhile: never at the target');
  });

  t.test('latency: the round trip takes twice the delay, the answer arrives whole', async (t) => {
    const { relay } = await setUp(t, 5000, { kind: 'latency', ms: 60 });
    const { data, how, ms } = await ask(t, relay);
    t.same([data.equals(answer(5000)), how], [true, 'end'], 'whole, then a FIN');
    // libuv counts a timer from the loop's cached time, in whole milliseconds,
    // so each 60 ms delay can end up to 1 ms early by performance.now().
    t.ok(
      ms >= 2 * 60 - 2,
      `a round trip of ${ms.toFixed(1)} ms (2 x 60, 1 ms of timer rounding each)`,
    );
  });

  t.test('bandwidth: 20 KB at 100 KB/s take about 200 ms, and arrive whole', async (t) => {
    const { relay } = await setUp(t, 20_000, { kind: 'bandwidth', bytesPerSecond: 100_000 });
    const { data, how, ms } = await ask(t, relay);
    t.same([data.equals(answer(20_000)), how], [true, 'end'], 'whole, then a FIN');
    t.ok(ms >= 180, `${ms.toFixed(0)} ms (>= 180)`);
  });

  t.test('stall: afterBytes pass, then nothing either way, and nothing is closed', async (t) => {
    const { server, relay } = await setUp(t, 5000, { kind: 'stall', afterBytes: 1000 });
    const client = await sayHello(t, relay);
    let got = 0;
    client.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    await waitFor(() => got === 1000, { what: 'the first 1000 bytes' });
    t.ok(await staysQuiet(client, 150), 'then no byte and no close in 150 ms');
    t.equal(got, 1000, 'exactly afterBytes');
    t.equal(server.ended(), 'open', 'and the target side is not closed either');
  });

  t.test('reset: afterBytes pass, then both sides get a reset, not a FIN', async (t) => {
    const { server, relay } = await setUp(t, 5000, { kind: 'reset', afterBytes: 1000 });
    const { data, how } = await ask(t, relay);
    t.ok(data.length <= 1000, `the client got ${data.length} bytes (at most 1000)`);
    t.equal(how, 'reset', 'then a reset');
    await waitFor(() => server.ended() !== 'open', { what: 'the target side to end' });
    t.equal(server.ended(), 'reset', 'the target got a reset too');
  });

  t.test('slowClose: the FIN arrives ms late, after the whole answer', async (t) => {
    const { relay } = await setUp(t, 100, { kind: 'slowClose', ms: 150 });
    const { data, how, ms } = await ask(t, relay);
    t.same([data.length, how], [100, 'end'], 'the whole answer, then a FIN');
    t.ok(ms >= 150, `the FIN came ${ms.toFixed(0)} ms after the question (>= 150)`);
  });
});
