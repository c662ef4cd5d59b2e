/**
 * npm run profile: a short run writes a profile and a flame graph and reads
 * them back as tables; the reading itself on a made-up profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runProgram } from '../lib/programs.ts';
import { flameGraph, parseProfileArgs, read, savedName } from './profile.ts';

t.test('npm run profile -- 3: a flame graph, a profile, and the top frames', async (t) => {
  const out = t.testdir({});
  // The bad command line runs meanwhile: it only waits for its program to exit.
  const [run, bad] = await Promise.all([
    runProgram('shared/bench/profile.ts', ['3', '--seconds', '1', '--out', out], 60_000),
    runProgram('shared/bench/profile.ts', ['5'], 60_000),
  ]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^by kind\s+ms\s+%$/m);
  t.match(run.stdout, /^top functions by self time/m);
  const svg = path.join(out, 'part3-backpressure.svg');
  t.ok(existsSync(path.join(out, 'part3-backpressure.cpuprofile')), 'the .cpuprofile');
  t.match(readFileSync(svg, 'utf8'), /^<svg [^>]*>[\s\S]*<rect /, 'the flame graph');
  t.equal(bad.code, 2, 'N out of range: exit 2');
});

t.test('read: self time by function and by kind; the flame graph nests callees', async (t) => {
  const profile = {
    startTime: 0,
    endTime: 4000, // 4 ms, in microseconds
    samples: [1, 2, 3, 3],
    nodes: [
      {
        id: 1,
        callFrame: { functionName: '(root)', url: '', lineNumber: 0 },
        hitCount: 1,
        children: [2],
      },
      {
        id: 2,
        callFrame: { functionName: 'relay', url: 'file:///x/relay.ts', lineNumber: 9 },
        hitCount: 1,
        children: [3],
      },
      {
        id: 3,
        callFrame: { functionName: '(garbage collector)', url: '', lineNumber: 0 },
        hitCount: 2,
      },
    ],
  };
  const reading = read(profile);
  t.equal(reading.totalMs, 4);
  t.same(reading.top[0], { name: '(garbage collector)', where: '', selfMs: 2 });
  t.same(Object.fromEntries(reading.kinds)['our code'], 1);
  const svg = flameGraph(profile, 100);
  t.match(svg, /<title>relay 75\.0%<\/title><rect x="0\.0" y="\d+" width="75\.0"/);
  t.throws(() => parseProfileArgs([]), /one part number/);
});

t.test(
  'parseProfileArgs: keep-alive load by default, --mode close for a connection per request',
  async (t) => {
    t.equal(parseProfileArgs(['3']).mode, 'keepalive');
    t.equal(parseProfileArgs(['4', '--mode', 'close']).mode, 'close');
    t.throws(
      () => parseProfileArgs(['4', '--mode', 'pipelined']),
      /--mode must be keepalive or close/,
    );
  },
);

t.test('--save: the reading is named after its part and mode', async (t) => {
  t.equal(parseProfileArgs(['3', '--save']).save, true);
  t.equal(parseProfileArgs(['3']).save, undefined);
  t.equal(savedName(parseProfileArgs(['3'])), 'profile-part3-keepalive');
  t.equal(savedName(parseProfileArgs(['4', '--mode', 'close'])), 'profile-part4-close');
});
