/**
 * The mock backend: its body, its command line, and the same server served in
 * the test's own process. The tests run at once: the two that start a
 * program only wait for it.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import t from 'tap';
import { makeBody, parseBackendArgs } from './backend.ts';
import {
  httpGet,
  openSocket,
  readAll,
  requestHead,
  runProgram,
  serveBackend,
  startBackend,
} from './harness.ts';

t.jobs = 3;

t.test('makeBody: exact size, greeting first, numbered lines after', async (t) => {
  t.equal(makeBody('A').toString(), 'Hello from backend A\n');
  for (const size of [0, 5, 21, 22, 100, 65_536, 1_000_003]) {
    t.equal(makeBody('A', size).length, size, `size ${size}`);
  }
  const body = makeBody('A', 1000).toString();
  t.ok(body.startsWith('Hello from backend A\nA line 0000000000 ...'), 'starts with the greeting');
  t.not(makeBody('A', 1000).toString(), makeBody('B', 1000).toString(), 'the name is in the body');
});

t.test('makeBody: line N says N, as if each line were written one by one', async (t) => {
  // makeBody copies line 0 over the body and writes each number in; a long name
  // (a line over 64 bytes) takes the one-by-one path. Both must give this.
  const expected = (name: string, size: number) => {
    let text = `Hello from backend ${name}\n`;
    for (let line = 0; text.length < size; line++) {
      text += `${`${name} line ${String(line).padStart(10, '0')} `.padEnd(63, '.')}\n`;
    }
    return Buffer.from(text.slice(0, size));
  };
  for (const [name, size] of [
    ['A', 1_000_003],
    ['B', 64 * 12_345 + 7],
    ['a-name-long-enough-for-a-line-of-more-than-64-bytes', 100_001],
  ] as const) {
    t.ok(makeBody(name, size).equals(expected(name, size)), `${name}, ${size} bytes`);
  }
});

t.test('parseBackendArgs: defaults and bad values', async (t) => {
  t.same(parseBackendArgs([]), {
    port: 8888,
    delay: 0,
    size: undefined,
    name: 'backend',
    proxyProtocol: false,
    tls: false,
  });
  t.same(
    parseBackendArgs(['--port', '0', '--delay', '5', '--size', '10', '--name', 'x', '--tls']),
    {
      port: 0,
      delay: 5,
      size: 10,
      name: 'x',
      proxyProtocol: false,
      tls: true,
    },
  );
  t.throws(() => parseBackendArgs(['--tls', '--proxy-protocol']), /one or the other/);
  t.throws(() => parseBackendArgs(['--port', 'x']), /--port must be an integer/);
  t.throws(() => parseBackendArgs(['--delay=-1']), /--delay must be an integer/);
  t.equal(parseBackendArgs(['--keep-alive', '120000']).keepAliveMs, 120_000);
  t.throws(() => parseBackendArgs(['--keep-alive', '0']), /--keep-alive must be an integer/);
  t.throws(() => parseBackendArgs(['--what']), /Unknown option/);
});

t.test('backend CLI: serves its body, honours ?size and ?delay', async (t) => {
  const backend = await startBackend(t, { name: 'cli', size: 50 });
  const plain = await httpGet(backend.port);
  t.equal(plain.status, 200);
  t.ok(plain.body.equals(makeBody('cli', 50)), '--size sets the body size');
  t.equal(plain.headers['x-backend'], 'cli', 'x-backend names the backend');
  const began = performance.now();
  const sized = await httpGet(backend.port, '/?size=1234&delay=200');
  t.ok(performance.now() - began >= 200, 'the delay is honoured');
  t.equal(sized.body.length, 1234, 'the size query is honoured');

  // Started as a reader would start it: node itself (the pid we measure), and
  // none of what tap adds to the environment of the processes it runs.
  const cmdline = (await readFile(`/proc/${backend.pid}/cmdline`, 'utf8')).split('\0');
  t.equal(cmdline[0], process.execPath, 'the pid is node itself');
  t.same(cmdline.slice(1, 4), ['--import', 'tsx/esm', 'shared/test/backend.ts']);
  const environ = (await readFile(`/proc/${backend.pid}/environ`, 'utf8')).split('\0');
  const nodeOptions = environ.find((line) => line.startsWith('NODE_OPTIONS=')) ?? '';
  t.notMatch(nodeOptions, /@tapjs/, 'no tap module in NODE_OPTIONS');
});

t.test('backend CLI: bad options give one line and exit 2', async (t) => {
  const run = await runProgram('shared/test/backend.ts', ['--port', 'nope']);
  t.equal(run.code, 2);
  t.match(run.stderr, /^backend\.ts: --port must be an integer/);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});

t.test(
  'serveBackend: the same backend in this process; kill() acts as a killed process',
  async (t) => {
    const backend = await serveBackend(t, { name: 'inner' });
    const plain = await httpGet(backend.port);
    t.ok(plain.body.equals(makeBody('inner')), 'serves the same body as the CLI');
    // A client in the middle of a large answer, and nothing more read by it.
    const client = await openSocket(t, backend.port);
    client.write(requestHead(`/?size=${64 * 1024 * 1024}`));
    await once(client, 'readable');
    await backend.kill();
    const received = await readAll(client, 5_000);
    t.ok(received.data.length < 64 * 1024 * 1024, `the open answer was cut (${received.how})`);
    const refused = await new Promise<string>((resolve) => {
      const late = net.connect(backend.port, '127.0.0.1');
      late.once('connect', () => resolve('connected'));
      late.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    t.equal(refused, 'ECONNREFUSED', 'a new connection is refused');
  },
);
