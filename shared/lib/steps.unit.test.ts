/**
 * Part 4's steps (steps.ts): which chapter a file and a line belong to, every
 * mistake in the markers named by file and line, and the steps rendered from
 * the real part4-balancing/: the last one is the source without its markers,
 * an earlier one drops a later chapter's folder.
 */
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ROOT } from './programs.ts';
import {
  CHAPTERS,
  chapterOf,
  formatForReading,
  isTestFile,
  keepLines,
  LAST,
  PART,
  renderStep,
  stepDir,
  stepFiles,
  stepNumber,
  stepTests,
  TEST_CHAPTERS,
} from './steps.ts';

/** The text of `lines` (a file of the core unless named) as step n keeps it. */
const kept = (lines: string[], n: number, file = 'core.ts') =>
  keepLines(lines.join('\n'), n, file).text.split('\n');

t.test('nine chapters, steps 4.1 to 4.9, each with its folder and its chapter file', async (t) => {
  t.same(
    CHAPTERS.map((c) => c.step),
    ['4.1', '4.2', '4.3', '4.4', '4.5', '4.6', '4.7', '4.8', '4.9'],
  );
  t.equal(LAST, 9);
  for (const chapter of CHAPTERS) {
    t.equal(stepNumber(chapter.step), chapter.n, `${chapter.step} is step ${chapter.n}`);
    t.ok(
      statSync(path.join(ROOT, PART, chapter.folder)).isDirectory(),
      `${chapter.folder}/ exists`,
    );
    const text = readFileSync(path.join(ROOT, PART, chapter.file), 'utf8');
    t.equal(
      text.split('\n')[0],
      `# Part 4, chapter ${chapter.n}: ${chapter.title}`,
      `${chapter.file}'s title`,
    );
    // The chapter opens with its two commands, before its first section.
    const opening = text.slice(0, text.indexOf('\n## '));
    for (const command of [`npm run diff -- ${chapter.step}`, `npm run step -- ${chapter.step} `]) {
      t.ok(opening.includes(command), `${chapter.file} opens with \`${command.trim()}\``);
    }
  }
  for (const name of ['4.0', '4.10', '4', '5', '4.01', ''])
    t.equal(stepNumber(name), undefined, name);
});

t.test(
  'chapterOf: the top is the core, a folder its chapter, prose and tests no step',
  async (t) => {
    t.equal(chapterOf('proxy.ts'), 1, 'the core');
    t.equal(chapterOf('pools/strategies/round-robin.ts'), 1, "a subfolder of chapter 1's folder");
    t.equal(chapterOf('health/health.ts'), 2);
    t.equal(chapterOf('example.config.json'), 3, 'an example goes with its chapter');
    t.equal(chapterOf('vhosts.config.json'), 4);
    t.equal(chapterOf('proxy-protocol/proxy-protocol.ts'), 5);
    t.equal(chapterOf('status/status-view.js'), 6);
    t.equal(chapterOf('fleet/workers.ts'), 7);
    for (const file of [
      'README.md',
      'chapters/6-status.md',
      'status-page.png',
      'test/support.ts',
      'test/fuzz.ts',
      'exercise.test.ts',
      'exercise.solution.patch',
    ]) {
      t.equal(chapterOf(file), undefined, `${file}: in no step`);
    }
    t.throws(() => chapterOf('extras/x.ts'), {
      message: `${PART}/extras/x.ts: no chapter has the folder extras/ (see CHAPTERS in steps.ts)`,
    });
  },
);

t.test('isTestFile: tests, their helpers and the fuzzer, in any part', async (t) => {
  for (const file of [
    'test/support.ts',
    'proxy.test.ts',
    'exercise.test.ts',
    'exercise.solution.patch',
    'bench-support.ts',
    'fuzz-arbitraries.ts',
  ]) {
    t.ok(isTestFile(file), file);
  }
  for (const file of ['proxy.ts', 'pools/pool.ts', 'status/status-view.js', 'latest.ts']) {
    t.notOk(isTestFile(file), file);
  }
});

t.test("a trailing marker: the line is its chapter's, the marker never shows", async (t) => {
  const source = ['a();', 'b(); //> 4.3', 'c();'];
  t.same(kept(source, 2), ['a();', 'c();']);
  t.same(kept(source, 3), ['a();', 'b();', 'c();']);
  t.same(kept(source, 6), ['a();', 'b();', 'c();'], 'the last step has no marker either');
});

t.test("a block: its lines are its chapter's, the marker lines never show", async (t) => {
  const source = ['a();', '  //> 4.2', '  b();', '  c(); //> 4.4', '  //< 4.2', 'd();'];
  t.same(kept(source, 1), ['a();', 'd();']);
  t.same(kept(source, 2), ['a();', '  b();', 'd();']);
  t.same(kept(source, 4), ['a();', '  b();', '  c();', 'd();'], 'a later trailing marker inside');
});

t.test('a doc comment right above a dropped line goes with it; other comments stay', async (t) => {
  const source = [
    'interface Routing {',
    '  /** The listener. */',
    '  config: Config;',
    '  /**',
    '   * Fleet mode: the routes.',
    '   */',
    '  fleet?: Fleet; //> 4.6',
    '  // Says what follows.',
    '  hosts?: Hosts; //> 4.4',
    '}',
  ];
  t.same(kept(source, 3), [
    'interface Routing {',
    '  /** The listener. */',
    '  config: Config;',
    '  // Says what follows.',
    '}',
  ]);
  t.same(
    kept(source, 6),
    source.map((line) => line.replace(/ \/\/> 4\.\d$/, '')),
  );
  const apart = ['/** Not its comment. */', 'a();', 'b(); //> 4.2'];
  t.same(kept(apart, 1), ['/** Not its comment. */', 'a();'], 'only a comment directly above');
});

t.test('blocks nest: a line is the latest chapter of the blocks around it', async (t) => {
  const source = ['//> 4.3', 'a();', '//> 4.5', 'b();', '//< 4.5', 'c();', '//< 4.3', 'd();'];
  t.same(kept(source, 2), ['d();']);
  t.same(kept(source, 3), ['a();', 'c();', 'd();']);
  t.same(kept(source, 5), ['a();', 'b();', 'c();', 'd();']);
});

t.test("a file's own chapter counts too: a marker in it names a later one", async (t) => {
  const source = ['a();', 'b(); //> 4.4'];
  t.same(kept(source, 2, 'health/x.ts'), ['a();']);
  t.same(kept(source, 4, 'health/x.ts'), ['a();', 'b();']);
});

t.test('the line map: each kept line knows its line in the source', async (t) => {
  const source = ['a();', '//> 4.2', 'b();', '//< 4.2', 'c(); //> 4.3', 'd();'].join('\n');
  t.same(keepLines(source, 1, 'core.ts').sourceLines, [1, 6]);
  t.same(keepLines(source, 3, 'core.ts').sourceLines, [1, 3, 5, 6]);
});

/** The message keepLines throws for `lines` (of the core's `core.ts` unless named), if it throws. */
function mistake(lines: string[], file = 'core.ts'): string | undefined {
  try {
    keepLines(lines.join('\n'), LAST, file);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

t.test('every mistake in the markers: one line, FILE:LINE: what is wrong', async (t) => {
  /** What a mistake in the core's file `core.ts` says: its whole message. */
  const cases: [what: string, lines: string[], message: string][] = [
    [
      'a chapter that does not exist',
      ['a(); //> 4.10'],
      '1: there is no chapter 4.10 (part 4 has 4.1 to 4.9)',
    ],
    [
      'a block of no chapter',
      ['//> 4.0', '//< 4.0'],
      '1: there is no chapter 4.0 (part 4 has 4.1 to 4.9)',
    ],
    [
      '//< ending a line of code',
      ['//> 4.2', 'a(); //< 4.2'],
      '2: //< stands alone on its line: it closes a block',
    ],
    [
      'no space after //>',
      ['a(); //>4.2'],
      '1: a marker has one space after //> or //<, as in "//> 4.2"',
    ],
    ['no space before //>', ['a();//> 4.2'], '1: a marker ending a line has one space before it'],
    ['text after a block marker', ['//> 4.2 health'], '1: nothing may follow a marker on its line'],
    [
      'text after a trailing marker',
      ['a(); //> 4.2 here'],
      '1: nothing may follow a marker on its line',
    ],
    ['a block never closed', ['a();', '//> 4.2', 'b();'], '2: //> 4.2 is never closed'],
    ['a block closed twice', ['//> 4.2', '//< 4.2', '//< 4.2'], '3: //< 4.2 closes no block'],
    [
      'a block closed by another chapter',
      ['//> 4.2', 'a();', '//< 4.3'],
      '3: //< 4.3 closes a block, but the one open is //> 4.2 of line 1',
    ],
    [
      'an inner block of the same chapter',
      ['//> 4.4', '//> 4.4', '//< 4.4', '//< 4.4'],
      '2: //> 4.4 inside the block of 4.4 opened on line 1: a marker must name a later chapter, or it changes nothing',
    ],
    [
      'an inner block of an earlier chapter',
      ['//> 4.4', '//> 4.2', '//< 4.2', '//< 4.4'],
      '2: //> 4.2 inside the block of 4.4 opened on line 1: a marker must name a later chapter, or it changes nothing',
    ],
    [
      'a trailing marker inside a block, not later',
      ['//> 4.4', 'a(); //> 4.3', '//< 4.4'],
      '2: //> 4.3 inside the block of 4.4 opened on line 1: a marker must name a later chapter, or it changes nothing',
    ],
    [
      "a marker for the file's own chapter",
      ['a(); //> 4.1'],
      '1: //> 4.1 in a file of chapter 4.1: a marker must name a later chapter, or it changes nothing',
    ],
  ];
  for (const [what, lines, message] of cases) {
    t.equal(mistake(lines), `${PART}/core.ts:${message}`, what);
  }
  t.match(
    mistake(['a(); //> 4.2'], 'health/h.ts'),
    /^part4-balancing\/health\/h\.ts:1: \/\/> 4\.2 in a file of chapter 4\.2: /,
    "a folder's file: its path from the root, its folder's chapter",
  );
});

/** Every file of part4-balancing/ that a step can hold: not prose, not a picture, not a test. */
function codeOfPart4(): string[] {
  return readdirSync(path.join(ROOT, PART), { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(path.join(ROOT, PART, file)).isFile())
    .filter((file) => !/\.(md|png)$/.test(file) && !isTestFile(file))
    .sort();
}

t.test('the last step is part4-balancing/ without its markers', async (t) => {
  const files = stepFiles(LAST);
  t.same(
    files.map((f) => f.file),
    codeOfPart4(),
    'every file but the prose, its picture and the tests',
  );
  for (const { file, text } of files) {
    // The markers, found the simple way: lines that are one, and the ends of lines.
    const expected = readFileSync(path.join(ROOT, PART, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*\/\/[<>] 4\.\d$/.test(line))
      .map((line) => line.replace(/ \/\/> 4\.\d$/, ''))
      .join('\n');
    if (text !== expected) t.fail(`${file}: not the source without its markers`);
  }
  t.notOk(
    files.some((f) => f.text.includes('//>') || f.text.includes('//<')),
    'no marker is left',
  );
});

t.test("a step holds its chapters' folders and drops the later ones'", async (t) => {
  const step3 = stepFiles(3).map((f) => f.file);
  const folders = new Set(step3.filter((f) => f.includes('/')).map((f) => f.split('/')[0]));
  t.same([...folders].sort(), ['config', 'health', 'pools']);
  t.ok(step3.includes('example.config.json'), "chapter 3's example");
  t.notOk(step3.includes('vhosts.config.json'), "not chapter 4's");
  t.ok(step3.includes('proxy.ts'), 'the core');
  const proxy = stepFiles(1).find((f) => f.file === 'proxy.ts')?.text ?? '';
  t.notMatch(
    proxy,
    /process\.on\('SIGHUP'|import cluster|serveStatus\(/,
    "step 4.1's proxy.ts: no reload, no workers, no status",
  );
});

t.test(
  'renderStep: writes the step with its links, only what changed, and removes what no longer belongs',
  async (t) => {
    const into = mkdtempSync(path.join(os.tmpdir(), 'rsp-steps-'));
    t.teardown(() => rmSync(into, { recursive: true, force: true }));
    const files = renderStep(2, into);
    const code = path.join(stepDir(2, into), PART);
    t.equal(
      readFileSync(path.join(code, 'pools/pool.ts'), 'utf8'),
      files.find((f) => f.file === 'pools/pool.ts')?.text,
    );
    for (const name of ['shared', 'node_modules', 'package.json']) {
      t.equal(
        readlinkSync(path.join(stepDir(2, into), name)),
        `../../${name}`,
        `${name} links back to the root`,
      );
    }

    writeFileSync(path.join(code, 'pools', 'stale.ts'), '');
    writeFileSync(path.join(code, 'proxy.ts'), 'changed by hand');
    renderStep(2, into);
    t.notOk(
      readdirSync(path.join(code, 'pools')).includes('stale.ts'),
      'a file no longer in the step is removed',
    );
    t.equal(
      readFileSync(path.join(code, 'proxy.ts'), 'utf8'),
      files.find((f) => f.file === 'proxy.ts')?.text,
      'a changed file is written again',
    );
    const unchanged = statSync(path.join(code, 'relay.ts')).mtimeMs;
    renderStep(2, into);
    t.equal(
      statSync(path.join(code, 'relay.ts')).mtimeMs,
      unchanged,
      'an unchanged file is left alone',
    );
    t.same(readdirSync(into).sort(), ['4.2'], 'nothing left aside');
  },
);

t.test(
  'TEST_CHAPTERS: every file of part4-balancing/test/ has a chapter, and no other',
  async (t) => {
    const testDir = path.join(ROOT, PART, 'test');
    const files = readdirSync(testDir).filter((file) =>
      statSync(path.join(testDir, file)).isFile(),
    );
    t.same(Object.keys(TEST_CHAPTERS).sort(), files.sort(), 'the files of test/, each once');
    for (const [file, chapter] of Object.entries(TEST_CHAPTERS)) {
      if (chapter !== null && stepNumber(`4.${chapter}`) === undefined) {
        t.fail(`${file}: no chapter 4.${chapter}`);
      }
      // A file's helpers in test/ are in its step: their chapter is its own or earlier.
      const text = readFileSync(path.join(testDir, file), 'utf8');
      for (const [, helper] of text.matchAll(/from '\.\/([^']+)'/g)) {
        const own = chapter ?? Number.POSITIVE_INFINITY;
        if (!((TEST_CHAPTERS[helper] ?? Number.POSITIVE_INFINITY) <= own)) {
          t.fail(`${file} (4.${chapter}) imports ./${helper} (4.${TEST_CHAPTERS[helper]})`);
        }
      }
    }
    t.same(
      stepTests(1),
      ['log.unit.test.ts', 'pool.unit.test.ts', 'strategies.unit.test.ts'],
      "step 4.1's tests",
    );
    t.notOk(stepTests(LAST).includes('steps.test.ts'), 'steps.test.ts is in no step');
  },
);

t.test(
  'renderStep with tests: the test files of its chapters, which go when rendered without',
  async (t) => {
    const into = mkdtempSync(path.join(os.tmpdir(), 'rsp-steps-'));
    t.teardown(() => rmSync(into, { recursive: true, force: true }));
    const test = path.join(stepDir(2, into), PART, 'test');
    renderStep(2, into, { tests: true });
    const expected = Object.entries(TEST_CHAPTERS)
      .filter(([, chapter]) => chapter !== null && chapter <= 2)
      .map(([file]) => file);
    t.same(readdirSync(test).sort(), expected.sort());
    t.equal(
      readFileSync(path.join(test, 'support.ts'), 'utf8'),
      readFileSync(path.join(ROOT, PART, 'test', 'support.ts'), 'utf8'),
      'copied as they are',
    );
    renderStep(2, into);
    t.notOk(readdirSync(path.join(stepDir(2, into), PART)).includes('test'), 'no test/ without');
  },
);

t.test('formatForReading: a step reads as if written so, indentation and all', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'steps-format-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Chapter 1's connect as step 4.1 keeps it: the loop around it is chapter 2's.
  const file = path.join(dir, 'pool.ts');
  writeFileSync(file, 'function connect() {\n  const tried = 0;\n    return tried;\n}\n');
  formatForReading(dir);
  t.equal(
    readFileSync(file, 'utf8'),
    'function connect() {\n  const tried = 0;\n  return tried;\n}\n',
  );
});

t.test(
  "part 4's layout: imports between the core's files and the chapters' folders never go round",
  async (t) => {
    // A room is a chapter's folder, or a file of the core; an import from one room
    // to another is an edge. A circle would mean no order to read (or build) them in.
    const part = path.join(ROOT, PART);
    const roomOf = (file: string) => (file.includes('/') ? `${file.split('/')[0]}/` : file);
    const edges = new Map<string, Set<string>>();
    for (const file of readdirSync(part, { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|js)$/.test(file) || isTestFile(file)) continue;
      for (const [, target] of readFileSync(path.join(part, file), 'utf8').matchAll(
        /^import [^;]*?from '(\.[^']+)'/gm,
      )) {
        const to = roomOf(path.relative(part, path.join(part, path.dirname(file), target)));
        if (to !== roomOf(file))
          edges.set(roomOf(file), (edges.get(roomOf(file)) ?? new Set()).add(to));
      }
    }
    t.ok(edges.get('serve.ts')?.has('route.ts'), 'the imports were read');
    /** The first circle found from `room`, as the rooms on it, or undefined. */
    const done = new Set<string>();
    const circleFrom = (room: string, trail: string[]): string[] | undefined => {
      if (trail.includes(room)) return [...trail.slice(trail.indexOf(room)), room];
      if (done.has(room)) return undefined;
      for (const next of edges.get(room) ?? []) {
        const circle = circleFrom(next, [...trail, room]);
        if (circle) return circle;
      }
      done.add(room);
      return undefined;
    };
    for (const room of edges.keys()) {
      const circle = circleFrom(room, []);
      t.notOk(circle, circle ? `a circle: ${circle.join(' -> ')}` : `none from ${room}`);
      if (circle) break;
    }
  },
);
