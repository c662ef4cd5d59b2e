/**
 * The test files that start no program of their own, run by `npm test` in this
 * one process rather than in one process each.
 *
 * tap runs every test file in a Node process of its own, and such a process,
 * loading tap and our TypeScript through tsx, costs about 1.5 s of CPU before
 * its first test: more than any of these files spends on its tests. So
 * package.json's tap "exclude" leaves them out of the usual list, its
 * "include" names this file, and this file imports them, each registering its
 * tests in turn. Each still runs alone (`npx tap part4-balancing/ip.test.ts`),
 * and `npx tap part4-balancing/*.test.ts` runs each once.
 *
 * A test file that starts a program (a proxy, a backend process, a tool)
 * stays out: tap runs those side by side, while they wait.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ROOT } from './harness.ts';

export const UNIT_TESTS = [
  'part4-balancing/client-hello.test.ts',
  'part4-balancing/config.test.ts',
  'part4-balancing/hosts.test.ts',
  'part4-balancing/http-head.test.ts',
  'part4-balancing/ip.test.ts',
  'part4-balancing/log.test.ts',
  'part4-balancing/properties.test.ts',
  'part4-balancing/proxy-protocol.test.ts',
  'part4-balancing/strategies.test.ts',
  'shared/bench/bench-stats.test.ts',
  'shared/test/fault-relay.test.ts',
];

for (const file of UNIT_TESTS) await import(pathToFileURL(path.join(ROOT, file)).href);

t.test('package.json: npm test runs these files here, and only here', async (t) => {
  const tap = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).tap;
  t.ok(tap.include.includes('shared/test/units.ts'), 'this file is in "include"');
  const excluded = tap.exclude.filter((pattern: string) => !pattern.includes('exercise.test'));
  t.same(excluded, UNIT_TESTS, '"exclude" names these files, and no other');
});
