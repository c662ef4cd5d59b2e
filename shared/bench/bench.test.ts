/**
 * The benchmark end to end: one round of one second against direct and part 1,
 * through the real command line, and a look at the JSON it writes. Speed is never
 * asserted, only that every figure is there and makes sense.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { runProgram } from '../test/harness.ts';
import type { BenchReport } from './bench.ts';

t.test(
  'npm run bench: one round, direct and part1, table on stdout, figures in --json',
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
      'direct,part1',
    ];
    const { code, stdout, stderr } = await runProgram(
      'shared/bench/bench.ts',
      [...args, '--json', json],
      60_000,
    );
    t.equal(code, 0, 'exits 0', { stderr });
    t.match(stderr, /round 1\/1 {2}direct .* req\/s/, 'progress names the round and the target');
    t.match(stderr, /round 1\/1 {2}part1 /);
    t.match(stdout, /\| target +\| +req\/s \|/, 'the table');
    t.match(stdout, /\| part1 \* \|/, 'part1 is starred...');
    t.match(stdout, /part1: serial by design/, '...because it is serial by design');
    t.match(stdout, /Best of our parts: part1/, 'the reading at the end');

    const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;
    t.same(report.options.targets, ['direct', 'part1']);
    t.ok(
      report.machine.cpus >= 1 && report.machine.node.startsWith('v'),
      'the machine is recorded',
    );
    t.ok(!Number.isNaN(Date.parse(report.date)), 'the date is recorded');
    t.same(
      report.summaries.map((summary) => [summary.name, summary.kind]),
      [
        ['direct', 'direct'],
        ['part1', 'part'],
      ],
    );
    const [direct, part1] = report.summaries;
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
  },
);
