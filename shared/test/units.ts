/**
 * The test files that start no program of their own, named `*.unit.test.ts`,
 * run by `npm test` in this one process rather than in one process each.
 *
 * tap runs every test file in a Node process of its own, and such a process,
 * loading tap and our TypeScript through tsx, costs about 1.5 s of CPU before
 * its first test: more than any of these files spends on its tests. So
 * package.json's tap "exclude" leaves out every `*.unit.test.ts`, its
 * "include" names this file, and this file finds them all and imports them,
 * each registering its tests in turn. The name is the whole rule: a new file
 * named so runs here, and nowhere else. Each still runs alone
 * (`npx tap part4-balancing/test/ip.unit.test.ts`), and
 * `npx tap part4-balancing/*.test.ts` runs each once.
 *
 * A test file that starts a program (a proxy, a backend process, a tool)
 * keeps the plain `.test.ts`: tap runs those side by side, while they wait.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ROOT } from './harness.ts';

/** The glob in package.json's tap "exclude", and the name ending it stands for. */
const UNIT_GLOB = '**/*.unit.test.ts';
const UNIT_SUFFIX = '.unit.test.ts';

/** Every `*.unit.test.ts` under `dir`, relative to ROOT, sorted; dot folders and node_modules left out. */
async function findUnitTests(dir = ROOT): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findUnitTests(file)));
    else if (entry.name.endsWith(UNIT_SUFFIX)) found.push(path.relative(ROOT, file));
  }
  return found.sort();
}

export const UNIT_TESTS = await findUnitTests();

const imported: string[] = [];
for (const file of UNIT_TESTS) {
  await import(pathToFileURL(path.join(ROOT, file)).href);
  imported.push(file);
}

t.test('npm test runs every *.unit.test.ts here, once, and nowhere else', async (t) => {
  t.ok(UNIT_TESTS.length > 0, 'some unit tests are found');
  t.same(imported, UNIT_TESTS, 'each file found is imported');
  t.equal(new Set(imported).size, imported.length, 'none is imported twice');
  const tap = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).tap;
  t.ok(tap.include.includes('shared/test/units.ts'), 'this file is in "include"');
  const excluded = tap.exclude.filter((pattern: string) => !pattern.includes('exercise.test'));
  t.same(excluded, [UNIT_GLOB], '"exclude" holds their glob, and nothing else');
});
