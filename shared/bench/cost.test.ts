/**
 * npm run bench:cost end to end, as small as it goes: pipe alone, keep-alive,
 * one round of one second, in this process; pipe and part 3 --together; then
 * its command line. The
 * figures are never asserted, only that they are there and make sense.
 */
import t from 'tap';
import { Cleanup } from '../lib/cleanup.ts';
import { runProgram } from '../lib/programs.ts';
import { callsTable, cpuTable, measureCost, parseCostArgs, savedName } from './cost.ts';

t.test('one round of pipe: CPU time per request, and its system calls', async (t) => {
  const cleanup = new Cleanup();
  t.teardown(() => cleanup.run());
  const options = parseCostArgs(['--targets', 'pipe', '--modes', 'keepalive', '--rounds', '1']);
  const report = await measureCost({ ...options, seconds: 1 }, cleanup, () => {});
  const [run] = report.cpu.keepalive?.pipe ?? [];
  t.ok(run.requests > 0, `${run.requests} requests answered`);
  t.ok(run.userUs + run.systemUs > 0, 'some CPU time per request');
  t.match(
    cpuTable(report),
    /^\| mode +\| per request +\| pipe +\|\n.*\n\| keepalive \| user, µs +\| \d+\.\d/,
  );
  const calls = report.calls.keepalive?.pipe;
  if (!calls) {
    t.match(report.skipped.join('\n'), /system calls/, 'no strace: it says so');
    return;
  }
  // One read and one write each way per request, give or take the loop's own calls.
  t.ok(calls.perRequest.read > 1.5 && calls.perRequest.write > 1.5, 'reads and writes counted');
  t.match(callsTable(report, 'keepalive'), /\| total +\| \d+\.\d\d \|$/);
});

t.test('--together: the targets of a round loaded at the same time', async (t) => {
  const cleanup = new Cleanup();
  t.teardown(() => cleanup.run());
  const options = parseCostArgs([
    '--targets',
    'pipe,part3',
    '--modes',
    'close',
    '--rounds',
    '1',
    '--together',
  ]);
  const report = await measureCost({ ...options, seconds: 1 }, cleanup, () => {});
  const [pipe] = report.cpu.close?.pipe ?? [];
  const [part3] = report.cpu.close?.part3 ?? [];
  t.ok(pipe.requests > 0 && part3.requests > 0, 'both answered');
  // In turn, part3's run would begin a second (the run's length) after pipe's.
  t.ok(Math.abs((pipe.began ?? 0) - (part3.began ?? 0)) < 500, 'their loads began together');
  t.same(report.calls, {}, 'no system calls counted');
  t.match(report.skipped.join('\n'), /--together: system calls not counted/);
});

t.test('the command line: names, defaults and mistakes', async (t) => {
  t.same(parseCostArgs([]), {
    targets: ['pipe', 'part3', 'part4', 'part4-built', 'nginx'],
    modes: ['keepalive', 'close'],
    rounds: 3,
    seconds: 5,
    connections: 50,
  });
  t.equal(parseCostArgs(['--save']).save, true);
  t.equal(savedName(parseCostArgs(['--together'])), 'cost-together');
  t.equal(
    savedName(parseCostArgs(['--together', '--targets', 'part3,part4', '--modes', 'close'])),
    'cost-together-part3-part4-close',
  );
  t.equal(savedName(parseCostArgs([])), 'cost');
  t.equal(
    savedName(parseCostArgs(['--modes', 'close'])),
    'cost-pipe-part3-part4-part4-built-nginx-close',
  );
  t.throws(() => parseCostArgs(['--targets', 'direct']), /unknown target "direct"/);
  t.throws(() => parseCostArgs(['--modes', 'pipelined']), /--mode must be keepalive or close/);
  const bad = await runProgram('shared/bench/cost.ts', ['--rounds', 'x'], 60_000);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^cost\.ts: --rounds must be an integer.*\nusage: cost\.ts/);
});
