/**
 * The chapters quote the code they explain; this test keeps the quotes true.
 *
 * A quote is marked by an HTML comment on the line right before its fenced code
 * block (Markdown renders nothing for it):
 *
 *   <!-- verbatim: proxy.ts -->
 *   ```ts
 *   ...
 *   ```
 *
 * It means: the block's lines appear, one after another, in that file of the
 * chapter's part folder (`proxy.ts`, `pools/strategies/round-robin.ts`), wherever the
 * chapter sits in it: part 4's sub-chapters, in part4-balancing/chapters/,
 * name files as its README.md does. Each line may carry the same prefix in the
 * file as all the others, as long as the prefix is indentation or a comment
 * leader (` * `, `// `), so a quote can leave out the indentation of the
 * function it comes from, or quote a diagram from a block comment. An empty
 * line of the quote matches a line that is only that prefix.
 *
 * A line `// ...` (a note may follow: `// ... (the rest of the function)`) is
 * an elision: it stands for one or more lines of the file left out, at any
 * indentation. A quote of code that stops part-way through (a bracket it opens
 * and never closes, a bracket it closes and never opened) must show it: an
 * elision after the line that opens it, or before the line that closes it.
 * Any other trimming (comments left out, a line changed) is no quote: it
 * carries `<!-- sketch -->` instead (see prose.unit.test.ts).
 *
 * A quote never shows commented-out code as if it ran. A quote is code when
 * its block is tagged as code (```ts, ```json, ...) or a line of it ends a
 * statement (`;`), and code matches only behind indentation, never behind a
 * comment leader: `foo();` does not match `// foo();`. A diagram or a
 * sentence quoted from a comment is text: an untagged block.
 *
 * Every chapter (each Markdown file in a part folder: its README.md, and part
 * 4's sub-chapters) is read, whoever wrote it.
 *
 * The chapters' exercises promise a ready test that fails until the exercise is
 * done: each is run here against the parts as they are, with the skip lifted
 * as `npm run exercise -- N` lifts it, and must fail (the first through the
 * script itself, the others straight from their file). A reader who has done
 * one sees it pass here, and the chapter's quotes of the code they changed no
 * longer match: those failures say so, name the files changed since the last
 * commit, and how to see the suite green (exercise.ts's STASH).
 *
 * What it leaves out: blocks that are not quotes (commands, output, C from the
 * blog series: prose.unit.test.ts sees that each is marked as what it is), and
 * whether an exercise's test passes once it is done
 * (exercise-solutions.test.ts applies a reference solution and checks that).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT, runProgram } from '../lib/programs.ts';
import { PART, withoutMarkers } from '../lib/steps.ts';
import { changedFiles, exerciseFile, STASH, yourChanges } from './exercise.ts';

const MARKER = /^<!--\s*verbatim:\s*(\S+)\s*-->\s*$/;
const FENCE = /^(`{3,}|~{3,})\s*(\S*)/;
/** What may stand in front of every quoted line in the file: indentation, or a comment leader. */
const PREFIX = /^[\s*/#]*$/;
/** A line of a quote that stands for one or more lines of the file left out. */
const ELISION = /^\s*\/\/ \.\.\.(?: .*)?$/;
/** The fence tags of code; any other block (untagged, `text`) is text. */
const CODE_TAGS = new Set(['ts', 'typescript', 'js', 'javascript', 'json', 'jsonc']);

interface Quote {
  /** The file named by the marker, relative to the chapter's part folder. */
  file: string;
  /** 1-based line of the marker in the chapter. */
  line: number;
  /** The block's lines, without the fences; undefined when no block follows the marker. */
  lines?: string[];
  /** Whether the block is tagged as code (```ts) rather than text (```). */
  tagged?: boolean;
}

/** The marked quotes of one chapter. */
function findQuotes(markdown: string): Quote[] {
  const lines = markdown.split('\n');
  const quotes: Quote[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = lines[i].match(MARKER);
    if (!marker) continue;
    const quote: Quote = { file: marker[1], line: i + 1 };
    quotes.push(quote);
    const fence = lines[i + 1]?.match(FENCE);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i + 1 && l.startsWith(fence[1]));
    if (end < 0) continue;
    quote.lines = lines.slice(i + 2, end);
    quote.tagged = CODE_TAGS.has(fence[2]);
  }
  return quotes;
}

/** Whether a quote is code: tagged as code, or a line of it ends a statement. */
function isCode(quoted: string[], tagged: boolean): boolean {
  return tagged || quoted.some((l) => !ELISION.test(l) && /;\s*$/.test(l));
}

/**
 * Whether `quoted` appears in `source`: its runs of lines between elisions
 * each as consecutive lines, in order, a line or more apart (and a line or
 * more from either end of the file where the quote begins or ends with an
 * elision), every line behind the same prefix. Code (see isCode) matches
 * behind indentation only, never behind a comment leader.
 */
function appearsIn(quoted: string[], source: string, code = false): boolean {
  const lines = source.split('\n');
  const runs: string[][] = [[]];
  for (const q of quoted) {
    if (!ELISION.test(q)) runs[runs.length - 1].push(q);
    else if (runs[runs.length - 1].length > 0 || runs.length === 1) runs.push([]);
  }
  const before = runs[0].length === 0;
  if (before) runs.shift();
  const after = runs.length > 1 && runs[runs.length - 1].length === 0;
  if (after) runs.pop();
  if (runs.length === 0) return false;
  const first = runs[0].findIndex((l) => l !== '');
  if (first < 0) return false;
  const runAt = (run: string[], start: number, prefix: string) =>
    start + run.length <= lines.length &&
    run.every((q, k) => {
      const l = lines[start + k];
      return q === '' ? l.trimEnd() === prefix.trimEnd() : l === prefix + q;
    });
  for (let at = first; at < lines.length; at++) {
    const line = lines[at];
    if (!line.endsWith(runs[0][first])) continue;
    const prefix = line.slice(0, line.length - runs[0][first].length);
    if (!PREFIX.test(prefix) || (code && prefix.trim() !== '')) continue;
    const start = at - first;
    if (start < (before ? 1 : 0) || !runAt(runs[0], start, prefix)) continue;
    // Each later run at the first place it fits: the earliest leaves the most room.
    let next = start + runs[0].length;
    const rest = runs.slice(1).every((run) => {
      let s = next + 1;
      while (s < lines.length && !runAt(run, s, prefix)) s++;
      next = s + run.length;
      return s < lines.length;
    });
    if (rest && (!after || next < lines.length)) return true;
  }
  return false;
}

/**
 * Where a quote of code stops or starts part-way through a bracket without
 * an elision to show it, as messages naming the quote's line (1-based): a
 * bracket opened and never closed needs an elision after the line that opens
 * it, one closed and never opened, an elision before the line that closes it.
 * Strings, comments and regular expressions are skipped.
 */
function missingElisions(quoted: string[]): string[] {
  const elisions = quoted.flatMap((l, i) => (ELISION.test(l) ? [i] : []));
  const open: number[] = [];
  const problems: string[] = [];
  /** What the scan is inside of, across lines: nothing, a block comment, a template string. */
  let inside: 'code' | 'comment' | 'template' = 'code';
  for (const [i, line] of quoted.entries()) {
    let c = 0;
    while (c < line.length) {
      if (inside === 'comment') {
        const close = line.indexOf('*/', c);
        if (close < 0) break;
        inside = 'code';
        c = close + 2;
        continue;
      }
      if (inside === 'template') {
        const close = line.slice(c).search(/(?<!\\)`/);
        if (close < 0) break;
        inside = 'code';
        c += close + 1;
        continue;
      }
      const ch = line[c];
      if (line.startsWith('//', c)) break;
      if (line.startsWith('/*', c)) {
        inside = 'comment';
        c += 2;
      } else if (ch === '`') {
        inside = 'template';
        c++;
      } else if (
        ch === "'" ||
        ch === '"' ||
        (ch === '/' && /(^|[(,=:[!&|?{};]|return)\s*$/.test(line.slice(0, c)))
      ) {
        // A string, or a regular expression where an expression may start: to its unescaped end.
        const end = line
          .slice(c + 1)
          .search(ch === '/' ? /(?<!\\)\/(?![^[]*\])/ : new RegExp(`(?<!\\\\)${ch}`));
        c = end < 0 ? line.length : c + 1 + end + 1;
      } else {
        if ('{(['.includes(ch)) open.push(i);
        else if ('})]'.includes(ch) && open.pop() === undefined && !elisions.some((e) => e < i)) {
          problems.push(
            `line ${i + 1} closes a bracket the quote never opened, with no // ... before it`,
          );
        }
        c++;
      }
    }
  }
  const last = open.at(-1);
  if (last !== undefined && !elisions.some((e) => e > last)) {
    problems.push(
      `line ${last + 1} opens a bracket the quote never closes, with no // ... after it`,
    );
  }
  return problems;
}

/** Every Markdown file below the part folders, as paths from the root (part4-balancing/chapters/6-status.md). */
const chapters = readdirSync(ROOT)
  .filter((name) => /^part\d/.test(name))
  .flatMap((dir) =>
    readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.md') && !file.split(path.sep).includes('node_modules'))
      .map((file) => path.join(dir, file)),
  )
  .filter((file) => readFileSync(path.join(ROOT, file)).length > 0)
  .sort();

/** The part folder a chapter belongs to: the first part of its path. */
const partOf = (chapter: string) => chapter.split(path.sep)[0];

t.test('the marker finder reads a marked block and ignores the rest', async (t) => {
  const chapter = [
    '```ts',
    'unmarked();',
    '```',
    '<!-- verbatim: proxy.ts -->',
    '```ts',
    'marked();',
    '',
    'too();',
    '```',
    '<!-- verbatim: other.ts -->',
    'no block here',
  ].join('\n');
  t.same(findQuotes(chapter), [
    { file: 'proxy.ts', line: 4, lines: ['marked();', '', 'too();'], tagged: true },
    { file: 'other.ts', line: 10 },
  ]);
});

t.test(
  'a quote matches with its indentation or comment leader, and not out of order',
  async (t) => {
    const source = [
      'function f() {',
      '  a();',
      '',
      '  b();',
      '}',
      '/**',
      ' *   x --> y',
      ' *',
      ' *   z',
      ' */',
    ].join('\n');
    t.ok(appearsIn(['a();', '', 'b();'], source), 'indented lines, an empty line between');
    t.ok(appearsIn(['  x --> y', '', '  z'], source), 'a diagram from a block comment');
    t.notOk(appearsIn(['b();', 'a();'], source), 'the wrong order');
    t.notOk(appearsIn(['a();', 'b();'], source), 'a line left out');
    t.notOk(appearsIn(['a(); // changed'], source), 'a changed line');
    t.notOk(appearsIn(['f() {'], source), 'a prefix that is code, not indentation');
    const marked = ['g(); //> 4.2', '  //> 4.3', '  h();', '  //< 4.3'].join('\n');
    t.ok(
      appearsIn(['g();', '  h();'], withoutMarkers(marked, 'proxy.ts')),
      "part 4's chapter markers are not part of a quote",
    );
  },
);

t.test('an elision stands for one or more lines left out, and for nothing else', async (t) => {
  const source = ['function f() {', '  a();', '  b();', '  c();', '}', 'g();'].join('\n');
  t.ok(appearsIn(['function f() {', '  a();', '  // ...', '}'], source), 'lines in between');
  t.ok(appearsIn(['function f() {', '  // ... (the rest)'], source), 'the rest, with a note');
  t.ok(appearsIn(['// ...', '  c();', '}'], source), 'the beginning');
  t.ok(appearsIn(['  a();', '  // ...', '  c();'], source), 'at the indentation of the code');
  t.notOk(appearsIn(['  a();', '  // ...', '  b();'], source), 'not for no line at all');
  t.notOk(appearsIn(['// ...', 'function f() {'], source), 'not before the first line');
  t.notOk(appearsIn(['g();', '// ...'], source), 'not after the last line');
  t.notOk(appearsIn(['  c();', '  // ...', '  a();'], source), 'not out of order');
  t.notOk(appearsIn(['function f() {', '  // ..', '}'], source), 'two dots are a changed line');
  t.notOk(appearsIn(['f({', '  ...(a ? b : c),', '});'], 'f({\n  x,\n});'), 'a spread is code');
});

t.test('a quote of code never matches commented-out code', async (t) => {
  const source = ['// foo();', '//   client --> proxy', '/**', ' * bar();', ' */', 'baz();'].join(
    '\n',
  );
  t.notOk(appearsIn(['foo();'], source, true), '`foo();` does not match `// foo();`');
  t.notOk(appearsIn(['bar();'], source, true), 'nor one in a block comment');
  t.ok(appearsIn(['baz();'], source, true), 'code matches code');
  t.ok(appearsIn(['// foo();'], source, true), 'a quote that shows the comment is honest');
  t.ok(appearsIn(['  client --> proxy'], source), 'text (a diagram) matches behind a leader');
  t.ok(isCode(['foo();'], false), 'a line ending a statement is code, tagged or not');
  t.ok(isCode(['client --> proxy'], true), 'a block tagged as code is code');
  t.notOk(isCode(['client --> proxy', '// ...'], false), 'an untagged diagram is text');
});

t.test('a quote of code that stops part-way says so with an elision', async (t) => {
  t.same(missingElisions(['function f() {', '  a();', '}']), [], 'a whole function');
  t.same(missingElisions(['  a();', '  b();']), [], 'lines from inside one');
  t.same(missingElisions(['function f() {', '  a();', '  // ...']), [], 'the rest elided');
  t.same(missingElisions(['// ...', '  a();', '}']), [], 'the beginning elided');
  t.same(missingElisions(['function f() {', '  a();']), [
    'line 1 opens a bracket the quote never closes, with no // ... after it',
  ]);
  t.same(missingElisions(['  a();', '}']), [
    'line 2 closes a bracket the quote never opened, with no // ... before it',
  ]);
  t.same(
    missingElisions(['f(() => {', '  // ...', '});', 'g({', '  a,']),
    ['line 4 opens a bracket the quote never closes, with no // ... after it'],
    'an elision earlier in the quote does not explain a later cut',
  );
  t.same(
    missingElisions([
      "const a = '{'; // (",
      '/* ) */ const b = `c }`;',
      'const re = /[(]/;',
      'const d = e / f;',
    ]),
    [],
    'brackets in strings, comments and regular expressions do not count',
  );
});

t.test('every marked quote in the chapters appears verbatim in its file', async (t) => {
  t.ok(chapters.length >= 4, `found the chapters: ${chapters.join(', ')}`);
  t.ok(
    chapters.some((chapter) => path.dirname(chapter) !== partOf(chapter)),
    'sub-chapters in a folder of a part are read too',
  );
  for (const chapter of chapters) {
    const dir = partOf(chapter);
    for (const quote of findQuotes(readFileSync(path.join(ROOT, chapter), 'utf8'))) {
      const where = `${chapter}:${quote.line} quotes ${quote.file}`;
      if (!quote.lines) {
        t.fail(`${where}, but no fenced code block follows the marker`);
        continue;
      }
      let source: string;
      try {
        source = readFileSync(path.join(ROOT, dir, quote.file), 'utf8');
      } catch {
        t.fail(`${where}, which does not exist in ${dir}/`);
        continue;
      }
      // Part 4's chapters show its code as the last step has it: no chapter markers.
      const shown = dir === PART ? withoutMarkers(source, quote.file) : source;
      const code = isCode(quote.lines, quote.tagged ?? false);
      if (appearsIn(quote.lines, shown, code)) t.pass(where);
      else {
        t.fail(where + yourChanges(path.join(dir, quote.file)));
      }
      if (code) {
        for (const problem of missingElisions(quote.lines)) t.fail(`${where}: ${problem}`);
      }
    }
  }
});

t.test('npm run exercise -- N: each ready test runs, and fails on the part as it is', async (t) => {
  // Why each must fail: the feature is missing, not the test broken.
  const why = [
    /not ok \d+ - two clients: /,
    /not ok \d+ - the largest "Buffering N bytes" was 0 /,
    /Unknown option '--max-connections'/,
    /not ok \d+ - part 4 did not start with "strategy": "random": .*pools\.web\.strategy: expected one of /,
  ];
  // All at once: much of a run is its test waiting out a deadline (part 2's
  // waits for a line that never comes), and waits overlap. The script itself
  // runs for exercise 1 (and for an N out of range); the other three run
  // their test file as the script would, with EXERCISE=N, without a tap
  // runner of their own each (a TypeScript process costs more to start than
  // these tests spend).
  const viaScript = (n: number) => runProgram('shared/tools/exercise.ts', [String(n)], 120_000);
  const direct = (n: number) => {
    const file = exerciseFile(n);
    if (!file) throw new Error(`part ${n} has no exercise.test.ts`);
    return runProgram(file, [], 120_000, { EXERCISE: String(n) });
  };
  const [bad, ...runs] = await Promise.all([
    viaScript(5),
    ...why.map((_, i) => (i === 0 ? viaScript(1) : direct(i + 1))),
  ]);
  t.match(
    runs[0].stdout,
    /^Running part1-oneshot\/exercise\.test\.ts/,
    'the script names the file',
  );
  for (const [i, run] of runs.entries()) {
    const n = i + 1;
    if (run.code === 0) {
      // Done in the working tree: one line that says so, rather than three that do not.
      const folder = path.dirname(exerciseFile(n) ?? '');
      const changed = changedFiles(folder).join(', ') || `${folder}/`;
      t.fail(
        `exercise ${n} is done (you changed ${changed}): this check that it still fails now fails, and so does any quote in the chapter of the lines you changed; ${STASH}`,
      );
      continue;
    }
    t.match(run.stdout, why[i], `exercise ${n}: fails for the right reason`);
    t.notMatch(run.stdout, /# SKIP/i, `exercise ${n}: not skipped`);
  }
  t.equal(bad.code, 2, 'N out of range: exit 2');
  t.match(
    bad.stderr,
    /^exercise\.ts: N must be 1, 2, 3 or 4, got "5"\nusage:/,
    'one line and the usage',
  );
});
