/**
 * The benchmark end to end: one round of one second against direct, pipe,
 * part 1 and part 4 routing by Host, through the real command line, and a look
 * at the JSON it writes; the part4-built row started on its own; the hold
 * mode with 300 connections through pipe. Speed is never asserted, nor memory
 * beyond being of the right order, only that every figure is there and makes
 * sense, so the tests run two at once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runProgram } from '../lib/programs.ts';
import { httpGet, serveBackend } from '../test/harness.ts';
import {
  type BenchReport,
  formatReport,
  parseBenchArgs,
  type Reporter,
  runBench,
} from './bench.ts';
import { PART4_BUILT } from './bench-targets.ts';

t.jobs = 2;

t.test(
  'npm run bench: one round, direct, pipe, part1 and part4-http, table on stdout, figures in --json',
  async (t) => {
    const dir = t.testdir();
    const json = path.join(dir, 'bench.json');
    const args = [
      '--rounds',
      '1',
      '--duration',
      '1',
      '--connections',
      '20',
      '--targets',
      'part4-http,part1,pipe',
    ];
    const { code, stdout, stderr } = await runProgram(
      'shared/bench/bench.ts',
      [...args, '--json', json],
      60_000,
    );
    t.equal(code, 0, 'exits 0', { stderr });
    t.match(stderr, /round 1\/1 {2}direct .* req\/s/, 'progress names the round and the target');
    t.match(stderr, /round 1\/1 {2}part1 /);
    t.match(stderr, /round 1\/1 {2}pipe /);
    t.match(stderr, /round 1\/1 {2}part4-http /);
    t.match(stdout, /\| target +\| +req\/s \|/, 'the table');
    t.match(stdout, /\| part1 \* +\|/, 'part1 is starred...');
    t.match(stdout, /part1: serial by design/, '...because it is serial by design');
    t.match(
      stdout,
      /Best of our parts: part4-http/,
      'the reading at the end: a part serving one client at a time is never the best',
    );
    t.match(stdout, /For comparison: pipe /, 'pipe is the floor it is read against');

    const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;
    t.same(report.options.targets, ['direct', 'pipe', 'part1', 'part4-http']);
    t.ok(
      report.machine.cpus >= 1 && report.machine.node.startsWith('v'),
      'the machine is recorded',
    );
    t.ok(!Number.isNaN(Date.parse(report.date)), 'the date is recorded');
    t.same(
      report.summaries.map((summary) => [summary.name, summary.kind]),
      [
        ['direct', 'direct'],
        ['pipe', 'floor'],
        ['part1', 'part'],
        ['part4-http', 'part'],
      ],
    );
    const [direct, pipe, part1, part4Http] = report.summaries;
    for (const summary of report.summaries) {
      t.ok(summary.rps > 0, `${summary.name}: requests per second`);
      t.ok(summary.latency.mean > 0, `${summary.name}: a mean latency`);
      t.ok(summary.latency.p50 <= summary.latency.p99, `${summary.name}: p50 <= p99`);
      t.equal(summary.non2xx, 0, `${summary.name}: every answer was a 2xx`);
      t.equal(report.runs[summary.name].length, 1, `${summary.name}: one run per round`);
    }
    t.equal(direct.addedMs, 0);
    t.equal(direct.shareOfDirect, 1);
    t.equal(direct.peakRssKiB, undefined, 'direct has no proxy to weigh');
    t.equal(
      part1.addedMs,
      part1.latency.mean - direct.latency.mean,
      'added = part1 mean - direct mean',
    );
    t.equal(part1.shareOfDirect, part1.rps / direct.rps);
    t.ok((part1.peakRssKiB ?? 0) > 10 * 1024, 'a Node process weighs more than 10 MiB');
    t.equal(part1.serial, true);
    t.ok(part1.clientsServed < part1.connections, 'serial: the other clients waited their turn');
    t.ok((pipe.peakRssKiB ?? 0) > 0, 'pipe is a process of its own, weighed like a part');
    t.equal(pipe.clientsServed, pipe.connections, 'pipe serves every client');
    // part4-http's host table has no default pool: a Host it did not route would be a 404.
    t.equal(part4Http.errors, 0, 'part4-http: no errors');
    t.equal(part4Http.clientsServed, part4Http.connections, 'part4-http: every client answered');
    t.equal(part4Http.over, 'part4', 'part4-http reads against part4');
  },
);

t.test(
  'npm run bench -- --mode hold --heap: pipe holds 300 connections, KiB per connection and its heap; part1 skipped',
  async (t) => {
    const json = path.join(t.testdir(), 'hold.json');
    const args = ['--mode', 'hold', '--heap', '--connections', '300', '--rounds', '1'];
    const { code, stdout, stderr } = await runProgram(
      'shared/bench/bench.ts',
      [...args, '--targets', 'pipe,part1', '--json', json],
      60_000,
    );
    t.equal(code, 0, 'exits 0', { stderr });
    t.match(
      stdout,
      /part1: skipped, serial by design: it serves one connection at a time, so it cannot hold 300 at once/,
      'part1 is skipped, with why',
    );
    t.match(
      stderr,
      /round 1\/1 {2}pipe .* KiB per connection \(.* of it JS heap\), 300 held/,
      'progress per round',
    );
    t.match(
      stdout,
      /\| target +\| KiB per connection \| of it JS heap \| RSS before \| +RSS held \|/,
      'the table',
    );
    t.match(stdout, /For comparison: pipe \d+\.\d/, 'the reading');

    const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;
    t.same(report.summaries, [], 'no load-mode rows');
    t.same(report.skipped, [
      'part1: skipped, serial by design: it serves one connection at a time, so it cannot hold 300 at once',
    ]);
    const [pipe] = report.hold?.summaries ?? [];
    t.equal(pipe?.name, 'pipe');
    t.equal(pipe.held, 300, 'every connection held while the memory was read');
    t.equal(pipe.errors, 0);
    t.ok(pipe.heldKiB > pipe.beforeKiB, `memory grew: ${pipe.beforeKiB} -> ${pipe.heldKiB} KiB`);
    // Two sockets, their stream states and buffers: kilobytes each, neither bytes nor megabytes.
    t.ok(
      pipe.perConnectionKiB > 1 && pipe.perConnectionKiB < 200,
      `a sensible figure per connection: ${pipe.perConnectionKiB.toFixed(1)} KiB`,
    );
    const [run] = report.hold?.runs.pipe ?? [];
    t.equal(
      run.perConnectionKiB,
      (run.heldKiB - run.beforeKiB) / run.held,
      '(held - before) / held',
    );
    // Read in pipe's process by heap-probe.js, after full collections: the
    // JavaScript objects of two sockets, a few KiB.
    const heap = pipe.heapPerConnectionKiB ?? 0;
    t.ok(heap > 0.5 && heap < 50, `its heap per connection: ${heap.toFixed(1)} KiB`);
    t.ok((run.heapHeldKiB ?? 0) > (run.heapBeforeKiB ?? 0), 'the heap grew with the clients');
  },
);

t.test('--rate: every target at the same fixed rate, latency added in the table', async (t) => {
  const quiet: Reporter = { progress: () => {}, line: () => {} };
  const report = await runBench(
    { ...parseBenchArgs(['--targets', 'direct', '--rounds', '1', '--duration', '1']), rate: 50 },
    quiet,
  );
  const [direct] = report.summaries;
  t.equal(report.runs.direct[0].requests, 50, 'rate x duration requests, all answered');
  t.equal(direct.errors, 0);
  const text = formatReport(report);
  t.match(text, /keepalive mode at 50 requests\/s, evenly spaced, over at most 100 connections/);
  t.match(text, /\| added mean \| added p99 \|/, 'the fixed-rate columns');
  t.notMatch(text, /of direct|served/, 'not the saturation ones');
});

t.test(
  'part4-built: part 4 built afresh, run by node alone, in front of the backend',
  async (t) => {
    const backend = await serveBackend(t, { name: 'A' });
    const running = await PART4_BUILT.start(t, backend.port);
    const response = await httpGet(running.port);
    t.match(response.body.toString(), /^Hello from backend A/, 'it relays');
    const cmdline = (await readFile(`/proc/${running.pid}/cmdline`, 'utf8')).split('\0');
    t.match(cmdline[1], /\/part4-balancing\/proxy\.js$/, 'node runs the build, without tsx');
    t.equal(PART4_BUILT.over, 'part4', 'read against part4, the same code under tsx');
  },
);
