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
 * Every chapter (each Markdown file in a part folder: its README.md, and part
 * 4's sub-chapters) is read, whoever wrote it. A quote trimmed on purpose
 * (comments left out, lines elided) carries no marker, and the chapter says it
 * is trimmed.
 *
 * The chapters' exercises promise a ready test that fails until the exercise is
 * done: each is run here against the parts as they are, with the skip lifted
 * as `npm run exercise -- N` lifts it, and must fail (the first through the
 * script itself, the others straight from their file).
 *
 * What it leaves out: blocks that are not quotes (commands, output, C from the
 * blog series), and whether an exercise's test passes once it is done (that
 * needs the reader's code).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT, runProgram } from '../lib/programs.ts';
import { PART, withoutMarkers } from '../lib/steps.ts';
import { exerciseFile } from './exercise.ts';

const MARKER = /^<!--\s*verbatim:\s*(\S+)\s*-->\s*$/;
const FENCE = /^(`{3,}|~{3,})/;
/** What may stand in front of every quoted line in the file: indentation, or a comment leader. */
const PREFIX = /^[\s*/#]*$/;

interface Quote {
  /** The file named by the marker, relative to the chapter's part folder. */
  file: string;
  /** 1-based line of the marker in the chapter. */
  line: number;
  /** The block's lines, without the fences; undefined when no block follows the marker. */
  lines?: string[];
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
    if (end > 0) quote.lines = lines.slice(i + 2, end);
  }
  return quotes;
}

/** Whether `quoted` appears in `source` as consecutive lines, each behind the same prefix. */
function appearsIn(quoted: string[], source: string): boolean {
  const lines = source.split('\n');
  const first = quoted.findIndex((l) => l !== '');
  if (first < 0) return false;
  for (let at = first; at < lines.length; at++) {
    const line = lines[at];
    if (!line.endsWith(quoted[first])) continue;
    const prefix = line.slice(0, line.length - quoted[first].length);
    if (!PREFIX.test(prefix)) continue;
    const start = at - first;
    if (start < 0 || start + quoted.length > lines.length) continue;
    const matches = quoted.every((q, k) => {
      const l = lines[start + k];
      return q === '' ? l.trimEnd() === prefix.trimEnd() : l === prefix + q;
    });
    if (matches) return true;
  }
  return false;
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
    { file: 'proxy.ts', line: 4, lines: ['marked();', '', 'too();'] },
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
      t.ok(appearsIn(quote.lines, shown), where);
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
    t.not(run.code, 0, `exercise ${i + 1}: a non-zero exit`);
    t.match(run.stdout, why[i], `exercise ${i + 1}: fails for the right reason`);
    t.notMatch(run.stdout, /# SKIP/i, `exercise ${i + 1}: not skipped`);
  }
  t.equal(bad.code, 2, 'N out of range: exit 2');
  t.match(
    bad.stderr,
    /^exercise\.ts: N must be 1, 2, 3 or 4, got "5"\nusage:/,
    'one line and the usage',
  );
});
