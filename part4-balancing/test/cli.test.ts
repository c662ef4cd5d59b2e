/**
 * The command line: quick start, configuration errors (one line, exit 1),
 * several listeners, and the options that override the file.
 *
 * Two balancers, started together: the quick start, and one from a file with
 * two listeners and the options that override it. The command lines that
 * fail run a test's worth at a time.
 */
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  httpGet,
  openSocket,
  readAll,
  runProgram,
  startPart,
  waitFor,
} from '../../shared/test/harness.ts';
import { PART, sequence, startBackends, startBalancer, writeConfig } from './support.ts';

const PROXY = `${PART}/proxy.ts`;
const [A, B] = await startBackends(t, ['A', 'B']);
const [quickStart, fromFile] = await Promise.all([
  startPart(t, PART, ['0', A.address, B.address]),
  // The file has no status port and a one-minute idle timeout.
  startBalancer(
    t,
    {
      listen: [
        { port: 0, pool: 'a' },
        { port: 0, pool: 'b' },
      ],
      idleTimeoutMs: 60_000,
      pools: {
        a: { backends: [{ address: A.address }] },
        b: { backends: [{ address: B.address }] },
      },
    },
    ['--status-port', '0', '--idle-timeout', '300'],
  ),
]);

t.test('quick start: round robin over the backends on the command line', async (t) => {
  t.same(await sequence(quickStart.port, 4), ['A', 'B', 'A', 'B']);
});

t.test('configuration errors: exit 1 with one line naming the problem', async (t) => {
  const weightZero = {
    listen: [{ port: 0, pool: 'web' }],
    pools: { web: { backends: [{ address: A.address, weight: 0 }] } },
  };
  const cases = [
    {
      what: 'a missing file',
      file: 'missing.json',
      expected: /missing\.json: cannot open: ENOENT/,
    },
    {
      what: 'invalid JSON',
      file: 'broken.json',
      content: '{\n  "listen": [\n    { "port": 0, }\n',
      expected: /broken\.json: invalid JSON at line 3 column 18/,
    },
    {
      what: 'a bad field',
      file: 'bad-field.json',
      content: JSON.stringify(weightZero),
      expected:
        /bad-field\.json: pools\.web\.backends\[0\]\.weight: expected an integer from 1 to 1000, got 0/,
    },
  ];
  const runs = await Promise.all(
    cases.map(({ file, content }) =>
      runProgram(PROXY, [
        '--config',
        content === undefined
          ? path.join(tmpdir(), 'no-such-dir', file)
          : writeConfig(t, content, file),
      ]),
    ),
  );
  for (const [i, { what, expected }] of cases.entries()) {
    const run = runs[i];
    t.equal(run.code, 1, `${what}: exit code 1`);
    t.match(run.stderr, expected, `${what}: ${run.stderr.trim()}`);
    t.equal(run.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.equal(run.stdout, '', `${what}: nothing on stdout`);
  }
});

t.test('a port already in use: exit 1, one line', async (t) => {
  const run = await runProgram(PROXY, [String(A.program.port), B.address]);
  t.equal(run.code, 1);
  t.match(run.stderr, new RegExp(`cannot listen on port ${A.program.port}: EADDRINUSE`));
  t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
});

t.test(
  'a status address already in use: exit 1, one line, an IPv6 address in brackets',
  async (t) => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '::1', resolve));
    t.teardown(() => taken.close());
    const { port } = taken.address() as net.AddressInfo;
    const config = writeConfig(
      t,
      {
        listen: [{ port: 0, pool: 'web' }],
        statusListen: `[::1]:${port}`,
        pools: { web: { backends: [{ address: B.address }] } },
      },
      'status-taken.json',
    );
    const run = await runProgram(PROXY, ['--config', config]);
    t.equal(run.code, 1);
    t.match(run.stderr, `cannot serve the status on [::1]:${port}: EADDRINUSE`);
    t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
  },
);

t.test('several listeners: one startup line each, each with its own pool', async (t) => {
  const { proxy } = fromFile;
  const startup = /^\[[\d-]+ [\d:]+\] Started\. {2}Listening on port (\d+)\.$/gm;
  await waitFor(() => [...proxy.output().matchAll(startup)].length === 2, {
    what: 'two startup lines',
  });
  const ports = [...proxy.output().matchAll(startup)].map((match) => Number(match[1]));
  t.equal(ports.length, 2, 'two startup lines');
  t.same(await sequence(ports[0], 2), ['A', 'A'], 'the first port serves pool a');
  t.same(await sequence(ports[1], 2), ['B', 'B'], 'the second port serves pool b');
});

t.test('bad options: exit 2 with one line and the usage', async (t) => {
  const cases = [
    ['--idle-timeout', 'soon', '0', A.address],
    ['--status-port', '70000', '0', A.address],
    ['--config', 'x.json', '0', A.address],
  ];
  const runs = await Promise.all(cases.map((args) => runProgram(PROXY, args)));
  for (const [i, args] of cases.entries()) {
    const run = runs[i];
    t.equal(run.code, 2, `${args.join(' ')}: exit 2`);
    t.match(
      run.stderr,
      /^proxy\.ts: .+\nusage: /,
      `${args.join(' ')}: ${run.stderr.split('\n')[0]}`,
    );
  }
});

t.test('--status-port and --idle-timeout win over the file', async (t) => {
  const { proxy, statusPort } = fromFile;
  t.ok(statusPort, `the status endpoint listens on port ${statusPort}`);
  const report = await httpGet(statusPort as number);
  t.equal(report.status, 200, 'and answers');
  const silent = await openSocket(t, proxy.port);
  const began = performance.now();
  await readAll(silent, 10_000);
  const waited = performance.now() - began;
  t.ok(waited < 5_000, `a silent client was closed after ${waited.toFixed(0)} ms, not a minute`);
});
