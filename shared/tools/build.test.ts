/**
 * npm run build through its real command line, into a temporary folder
 * outside the repository, where no node_modules is above it: the built proxy
 * must carry its dependencies itself, and tsx is not there. Then the built
 * proxy through its own command line, under plain node. Each test needs a
 * piece of the build, and fails when the build leaves it out: the bundle and
 * prom-client (a relayed request), the entry working as a node:cluster worker
 * and status-view.js beside it (--workers 2 and the status page), thread.js
 * beside it (an .mjs router), the Redis client's chunk (fleet mode), and
 * thread.js refusing a TypeScript router without tsx in one line.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { whoAnswered } from '../../part4-balancing/test/support.ts';
import { runProgram, startProgram } from '../lib/programs.ts';
import {
  deadPort,
  listenerPorts,
  parseResponse,
  readAll,
  serveBackend,
  waitFor,
} from '../test/harness.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'rsp-build-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const built = await runProgram('shared/tools/build.ts', ['--out', dir], 60_000);
const PROXY = path.join(dir, 'part4-balancing', 'proxy.js');

const [A, B] = await Promise.all(
  ['A', 'B'].map(async (name) => `127.0.0.1:${(await serveBackend(t, { name })).port}`),
);

/** Lines a failed start printed that look like a stack trace. */
const stackLines = (text: string) => text.split('\n').filter((line) => /^\s+at /.test(line));

t.test('npm run build: part 4 into DIR/part4-balancing/, and how to run it', async (t) => {
  t.equal(built.code, 0, 'exits 0', { stderr: built.stderr });
  t.match(built.stdout, /^Built .*part4-balancing\/ \([\d.]+ MB of JavaScript\): .*proxy\.js/m);
  t.match(built.stdout, /thread\.js/, 'the router thread beside it');
  t.match(built.stdout, /status-view\.js/, 'the status view beside it');
  t.match(built.stdout, /^Run it: node \S+proxy\.js /m);
  const bad = await runProgram('shared/tools/build.ts', ['--out'], 60_000);
  t.equal(bad.code, 2, 'a bad argument: exit 2');
  t.match(
    bad.stderr,
    /^build\.ts: .*\nusage: build\.ts \[--out DIR\]\n$/,
    'one line and the usage',
  );
});

t.test('the built proxy relays a request under plain node, with no tsx loaded', async (t) => {
  const proxy = await startProgram(t, PROXY, ['0', A]);
  t.equal(await whoAnswered(proxy.port), 'A', 'the backend answered through it');
  const cmdline = (await readFile(`/proc/${proxy.pid}/cmdline`, 'utf8')).split('\0');
  t.same(cmdline.slice(1, 2), [PROXY], 'node runs the built file itself, without --import tsx');
});

t.test('--workers 2: both workers serve, and the primary serves the status page', async (t) => {
  const proxy = await startProgram(t, PROXY, ['0', A, '--workers', '2', '--status-port', '0']);
  const [port] = await listenerPorts(proxy, 2);
  t.match(proxy.output(), /Primary \d+: starting 2 workers/);
  for (let i = 0; i < 4; i++) t.equal(await whoAnswered(port), 'A');
  const statusPort = Number((await proxy.waitForOutput(/Status on port (\d+)/))[1]);
  // A browser's request: the page, with status-view.js inline.
  const socket = net.connect(statusPort, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n');
  const page = parseResponse((await readAll(socket)).data);
  t.equal(page.status, 200);
  t.match(page.body.toString(), /<h1>part4-balancing: status<\/h1>/, 'rendered on the server');
  t.match(page.body.toString(), /function live\(/, "status-view.js's source, for the browser");
  await waitFor(async () => (await runStatus(statusPort)).workers?.length === 2, {
    what: "both workers' figures in the status",
  });
  t.pass("the status has both workers' figures");
});

/** The status JSON, asked for as a program asks (no Accept). */
async function runStatus(port: number): Promise<{ workers?: unknown[] }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  return JSON.parse(parseResponse((await readAll(socket)).data).body.toString());
}

t.test('an .mjs router answers from its thread', async (t) => {
  const router = path.join(dir, 'to-b.mjs');
  await writeFile(router, `export default () => ({ backend: '${B}' });\n`);
  const proxy = await startProgram(t, PROXY, ['0', A, '--router', router]);
  t.equal(await whoAnswered(proxy.port), 'B', 'the router sent the client to B, not A');
});

t.test('fleet mode loads the Redis client, and starts while Redis is down', async (t) => {
  const nowhere = await deadPort();
  const redis = `redis://127.0.0.1:${nowhere}`;
  const proxy = await startProgram(t, PROXY, ['--redis', redis, '--http', '0']);
  const socket = net.connect(proxy.port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n');
  t.equal(parseResponse((await readAll(socket)).data).status, 404, 'no route yet: a 404');
});

t.test('a TypeScript router without tsx: one line, exit 1', async (t) => {
  const router = path.join(dir, 'router.ts');
  await writeFile(router, 'export default (): undefined => undefined;\n');
  const run = await runProgram(PROXY, ['0', A, '--router', router]);
  t.equal(run.code, 1);
  t.match(
    run.stderr,
    /^proxy\.ts: command line: --router: \S*router\.ts: a router in TypeScript needs tsx, .*install tsx\n$/,
    'one line that says what to do',
  );
});

t.test('a bad argument: one line, the usage, exit 2, no stack trace', async (t) => {
  const run = await runProgram(PROXY, ['--idle-timeout', 'soon', A]);
  t.equal(run.code, 2);
  t.match(run.stderr, /^proxy\.ts: .*idle.*\nusage: proxy\.ts /);
  t.same(stackLines(run.stderr), []);
});
