/**
 * Part 4's steps: part4-balancing/ as it stands at the end of each of its nine
 * chapters, generated from the one source tree (as Crafting Interpreters
 * builds every chapter's code from its one source), never committed.
 *
 * Which chapter a file belongs to is where it lives:
 *
 *   proxy.ts, serve.ts, route.ts ...   the core, at the top: chapter 1
 *   pools/  health/  config/           chapters 1, 2, 3   (one folder a chapter:
 *   vhosts/ proxy-protocol/ status/    chapters 4, 5, 6    CHAPTERS, below)
 *   fleet/  router/  sentinel/         chapters 7, 8, 9
 *
 * and where a later chapter adds lines to an earlier chapter's file, markers
 * in the source say which lines:
 *
 *   import { answer } from './refuse.ts'; //> 4.4     this line is chapter 4's
 *   //> 4.3                                            these lines, up to the
 *   process.on('SIGHUP', () => void reload(commandLine));   closing marker,
 *   //< 4.3                                            are chapter 3's
 *
 * A line belongs to the latest chapter among its file's, the blocks it is in
 * and its own trailing marker; step 4.N keeps the lines of chapters 1 to N.
 * Blocks nest, and every marker names a later chapter than the block (or the
 * file) around it: anything else would change nothing, so it is a mistake.
 * Markers never show in a step, the last one included. Anything else that
 * looks like a marker (`//>4.2`, `//< 4.2` ending a line of code, text after
 * one, `//> 4.7`) is an error naming the file and line.
 *
 * Step 4.N is written to .steps/4.N/part4-balancing/, next to links to the
 * repository's shared/, node_modules/ and package.json, so that it runs and
 * type-checks as the real folder does: `npm run step`, `npm run
 * typecheck:steps` and `npm run diff -- 4.N` are built on this file.
 *
 * What it leaves out: the tests (a step is the code of a chapter), unless
 * asked for: `npm run test:steps` renders each step with the test files of
 * its chapter and the earlier ones (TEST_CHAPTERS, below) and runs them on
 * it. And the prose (the chapters, README.md and the picture it shows).
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './programs.ts';

/** The part whose chapters are steps, and where its steps are written. */
export const PART = 'part4-balancing';
export const STEPS_DIR = path.join(ROOT, '.steps');

export interface Chapter {
  /** Its number in part 4, and the number of the step that ends it. */
  n: number;
  /** The step's name, on the command line and on disk: '4.1' to '4.9'. */
  step: string;
  /** The folder of part4-balancing/ that the chapter adds. */
  folder: string;
  /** The files at the top of part4-balancing/ that the chapter adds besides the core's. */
  files: string[];
  /** The chapter itself, relative to part4-balancing/. */
  file: string;
  /** Its title, as its heading gives it. */
  title: string;
}

export const CHAPTERS: readonly Chapter[] = [
  {
    n: 1,
    step: '4.1',
    folder: 'pools',
    files: [],
    file: 'chapters/1-pools-and-strategies.md',
    title: 'pools and strategies',
  },
  {
    n: 2,
    step: '4.2',
    folder: 'health',
    files: [],
    file: 'chapters/2-health-and-retry.md',
    title: 'health and retry',
  },
  {
    n: 3,
    step: '4.3',
    folder: 'config',
    files: ['example.config.json'],
    file: 'chapters/3-configuration-and-operations.md',
    title: 'configuration, reload and graceful stop',
  },
  {
    n: 4,
    step: '4.4',
    folder: 'vhosts',
    files: ['vhosts.config.json', 'ip-bytes.ts'],
    file: 'chapters/4-virtual-hosts.md',
    title: 'virtual hosts',
  },
  {
    n: 5,
    step: '4.5',
    folder: 'proxy-protocol',
    files: ['proxy.config.json'],
    file: 'chapters/5-the-proxy-protocol.md',
    title: 'the PROXY protocol',
  },
  {
    n: 6,
    step: '4.6',
    folder: 'status',
    files: ['meters.ts'],
    file: 'chapters/6-status.md',
    title: 'the status endpoint',
  },
  {
    n: 7,
    step: '4.7',
    folder: 'fleet',
    files: [],
    file: 'chapters/7-the-fleet.md',
    title: 'the fleet',
  },
  {
    n: 8,
    step: '4.8',
    folder: 'router',
    files: ['router.config.json'],
    file: 'chapters/8-routing-in-code.md',
    title: 'routing in code',
  },
  {
    n: 9,
    step: '4.9',
    folder: 'sentinel',
    files: [],
    file: 'chapters/9-sentinel.md',
    title: 'sentinel',
  },
];

/** The last step: part4-balancing/ whole, its markers left out. */
export const LAST = CHAPTERS.length;

/** The number of the step named `name` ('4.3' -> 3), or undefined when there is none. */
export function stepNumber(name: string): number | undefined {
  return CHAPTERS.find((chapter) => chapter.step === name)?.n;
}

/** Where step n is written: .steps/4.N (its code in part4-balancing/ below). */
export function stepDir(n: number, into = STEPS_DIR): string {
  return path.join(into, `4.${n}`);
}

/**
 * Tests and what only tests use: a test/ folder, `*.test.ts` (each part's
 * exercise.test.ts too, and the solution its test is checked against,
 * exercise.solution.patch), helpers named `*-support.ts`, and the fuzzer's
 * files. `file` is relative to a part's folder.
 */
export function isTestFile(file: string): boolean {
  return (
    file.split('/')[0] === 'test' ||
    /(\.test|-support|^fuzz.*)\.ts$|^exercise\.solution\.patch$/.test(path.basename(file))
  );
}

/**
 * The chapter of each file of part4-balancing/test/: the first step whose code
 * it tests whole, so that step 4.N, rendered with its tests, runs the files of
 * chapters 1 to N. Decided by what a file imports (`../health/` is chapter 2's,
 * `../status/` 6's ...) and by what it asks of the command line and the
 * configuration (`--config` is 3's; `statusPort`, which nearly every
 * integration test sets through support.ts's onePool, is 6's), then checked by
 * running each file on its step. A file that needs a later chapter for a few
 * of its tests is that chapter's.
 *
 * The helpers (support.ts, messages.ts, the fuzzer's files) have the first
 * step they load in, so that they are in every step whose tests use them.
 * null: never copied (steps.test.ts tests every step from the source).
 */
export const TEST_CHAPTERS: Readonly<Record<string, number | null>> = {
  // helpers
  'support.ts': 1,
  'reference-router.ts': 1,
  'messages.ts': 4,
  'fuzz-arbitraries.ts': 5,
  'fuzz.ts': 5,
  // unit tests
  'strategies.unit.test.ts': 1,
  'pool.unit.test.ts': 1,
  'admission.unit.test.ts': 3,
  'log.unit.test.ts': 1,
  'config.unit.test.ts': 8,
  'hosts.unit.test.ts': 4,
  'http-head.unit.test.ts': 4,
  'client-hello.unit.test.ts': 4,
  'ip.unit.test.ts': 4,
  'proxy-protocol.unit.test.ts': 5,
  'properties.unit.test.ts': 5,
  'route-table.unit.test.ts': 7,
  // tests that start the proxy
  'matrix.test.ts': 2,
  'cli.test.ts': 6,
  'relay.test.ts': 3,
  'balancing.test.ts': 6,
  'health.test.ts': 6,
  'faults.test.ts': 6,
  'ops.test.ts': 6,
  'hardening.test.ts': 6,
  'vhosts.test.ts': 6,
  'fuzz.test.ts': 5,
  'status.test.ts': 6,
  'status-page.test.ts': 7,
  'early-close.test.ts': 7,
  'chaos.test.ts': 7,
  'fleet.test.ts': 7,
  'redis-routes.test.ts': 7,
  'workers.test.ts': 7,
  'metrics.test.ts': 7,
  'router.test.ts': 8,
  'sentinel.test.ts': 9,
  'steps.test.ts': null,
};

/** The test files step n runs, relative to part4-balancing/test/: chapters 1 to n's, helpers out. */
export function stepTests(n: number): string[] {
  return Object.entries(TEST_CHAPTERS)
    .filter(([file, chapter]) => chapter !== null && chapter <= n && file.endsWith('.test.ts'))
    .map(([file]) => file)
    .sort();
}

/**
 * The chapter that adds `file` (relative to part4-balancing/): its folder's,
 * the one whose example it is, or 1 for the rest of the top. Undefined for
 * what no step holds: the prose (`*.md`, chapters/), its pictures, the tests.
 * A folder that no chapter claims is an error, so that a new one cannot
 * slip into step 4.1 unnoticed.
 */
export function chapterOf(file: string): number | undefined {
  if (/\.(md|png)$/.test(file) || isTestFile(file)) return undefined;
  const [top, ...below] = file.split('/');
  if (below.length === 0) return CHAPTERS.find((c) => c.files.includes(file))?.n ?? 1;
  const chapter = CHAPTERS.find((c) => c.folder === top);
  if (!chapter) {
    throw new Error(
      `${PART}/${file}: no chapter has the folder ${top}/ (see CHAPTERS in steps.ts)`,
    );
  }
  return chapter.n;
}

/** `//> 4.N` or `//< 4.N` alone on its line (indented or not): a block opens or closes. */
const BLOCK = /^\s*\/\/([<>]) 4\.(\d+)$/;
/** A line of code, then a space and `//> 4.N`: that line is chapter N's. */
const TRAILING = /^(.*\S) \/\/> 4\.(\d+)$/;
/** What every marker starts with: whatever of it the two above do not take is a mistake. */
const MARKER_LIKE = /\/\/[<>]/;

/** A file as step n shows it. */
export interface Kept {
  text: string;
  /** For each line of `text`, the line of the source it comes from (1-based). */
  sourceLines: number[];
}

/**
 * The lines of `source` (the file `file`, relative to part4-balancing/) that
 * step n keeps, without their markers. A mistake in the markers throws an
 * Error whose message is one line: `part4-balancing/FILE:LINE: what is wrong`.
 * A file no step holds (a test) is read as the core's.
 */
export function keepLines(source: string, n: number, file: string): Kept {
  const ownChapter = chapterOf(file) ?? 1;
  /** The blocks the current line is in, the innermost last. */
  const open: { chapter: number; line: number }[] = [];
  const lines: string[] = [];
  const sourceLines: number[] = [];

  for (const [index, line] of source.split('\n').entries()) {
    const at = index + 1;
    const fail = (what: string): never => {
      throw new Error(`${PART}/${file}:${at}: ${what}`);
    };
    const around = open.at(-1);
    const aroundChapter = around?.chapter ?? ownChapter;
    /** The chapter a marker names, checked to exist and to come after what is around it. */
    const named = (digits: string): number => {
      const chapter = stepNumber(`4.${digits}`);
      if (chapter === undefined) {
        return fail(`there is no chapter 4.${digits} (part 4 has 4.1 to 4.${LAST})`);
      }
      if (chapter <= aroundChapter) {
        const where = around
          ? `inside the block of 4.${around.chapter} opened on line ${around.line}`
          : `in a file of chapter 4.${ownChapter}`;
        fail(
          `//> 4.${chapter} ${where}: a marker must name a later chapter, or it changes nothing`,
        );
      }
      return chapter;
    };

    const block = line.match(BLOCK);
    if (block?.[1] === '>') {
      open.push({ chapter: named(block[2]), line: at });
      continue;
    }
    if (block?.[1] === '<') {
      if (!around) fail(`//< 4.${block[2]} closes no block`);
      else if (`${around.chapter}` !== block[2]) {
        fail(
          `//< 4.${block[2]} closes a block, but the one open is //> 4.${around.chapter} of line ${around.line}`,
        );
      }
      open.pop();
      continue;
    }
    const trailing = line.match(TRAILING);
    const code = trailing ? trailing[1] : line;
    if (MARKER_LIKE.test(code)) fail(whatIsWrong(line));
    const chapter = trailing ? named(trailing[2]) : aroundChapter;
    if (chapter <= n) {
      lines.push(code);
      sourceLines.push(at);
    } else if (trailing) {
      dropDocComment(lines, sourceLines, at);
    }
  }
  const unclosed = open.at(-1);
  if (unclosed) {
    throw new Error(`${PART}/${file}:${unclosed.line}: //> 4.${unclosed.chapter} is never closed`);
  }
  return { text: lines.join('\n'), sourceLines };
}

/**
 * A doc comment (`/** ... *\/`) directly above a line that a step drops
 * documents that line: it goes too. `/** Fleet mode: ... *\/` above
 * `fleet?: FleetRoutes; //> 4.7` needs no marker of its own.
 */
function dropDocComment(lines: string[], sourceLines: number[], at: number): void {
  const last = lines.length - 1;
  if (last < 0 || sourceLines[last] !== at - 1 || !/^\s*(\/\*\*.*)?\*\/$/.test(lines[last])) {
    return;
  }
  let start = last;
  while (start >= 0 && sourceLines[start] === at - 1 - (last - start)) {
    if (/^\s*\/\*\*/.test(lines[start])) {
      lines.splice(start);
      sourceLines.splice(start);
      return;
    }
    start--;
  }
}

/** What is wrong with a line that looks like it holds a marker, but holds none we know. */
function whatIsWrong(line: string): string {
  if (/\S.*\/\/< /.test(line)) return '//< stands alone on its line: it closes a block';
  if (/\/\/[<>](?! )/.test(line)) return 'a marker has one space after //> or //<, as in "//> 4.2"';
  if (/\S\/\/>/.test(line)) return 'a marker ending a line has one space before it';
  if (/\/\/[<>] 4\.\d+./.test(line)) return 'nothing may follow a marker on its line';
  return 'not a marker: "//> 4.N" or "//< 4.N" alone on a line, or " //> 4.N" ending one';
}

/** Part 4's source as the last step shows it, and its chapters quote it: markers left out. */
export function withoutMarkers(source: string, file: string): string {
  return keepLines(source, LAST, file).text;
}

/** One file of a step: its path relative to part4-balancing/, and its text in that step. */
export interface StepFile extends Kept {
  file: string;
}

/** What a step is rendered with besides its code. */
export interface StepOptions {
  /** The files of test/ whose chapter (TEST_CHAPTERS) is the step's or earlier. */
  tests?: boolean;
}

/** The chapter of a file no step holds: a test/ file's, when the tests are asked for. */
function testChapter(file: string, { tests = false }: StepOptions): number {
  const [top, name, ...below] = file.split('/');
  if (!tests || top !== 'test' || below.length > 0) return Number.POSITIVE_INFINITY;
  return TEST_CHAPTERS[name] ?? Number.POSITIVE_INFINITY;
}

/**
 * The files of step n and their text, sorted by path: every file of
 * part4-balancing/ whose chapter is n or earlier (and, with `tests`, the test
 * files of those chapters). All of them are text (code, tests, and the
 * example configurations); a marker mistake anywhere throws.
 */
export function stepFiles(n: number, options: StepOptions = {}): StepFile[] {
  const source = path.join(ROOT, PART);
  return readdirSync(source, { recursive: true, encoding: 'utf8' })
    .filter(
      (file) => !file.split('/').some((part) => part.startsWith('.') || part === 'node_modules'),
    )
    .filter((file) => statSync(path.join(source, file)).isFile())
    .filter((file) => (chapterOf(file) ?? testChapter(file, options)) <= n)
    .sort()
    .map((file) => ({
      file,
      ...keepLines(readFileSync(path.join(source, file), 'utf8'), n, file),
    }));
}

/** What a step links back to in the repository, so that it runs where part4-balancing/ does. */
const LINKED = ['shared', 'node_modules', 'package.json'];

/**
 * Writes step n to `<into>/4.N/part4-balancing/` (into: .steps/ unless a test
 * says otherwise) and returns its files; with `tests`, its test files too, in
 * test/ (rendered without, a step's test/ goes). A file is written only when its text
 * changed, so that tsc's incremental build sees what did not; a file that no
 * longer belongs is removed. A marker mistake throws before anything is written.
 */
export function renderStep(n: number, into = STEPS_DIR, options: StepOptions = {}): StepFile[] {
  const files = stepFiles(n, options);
  const dir = stepDir(n, into);
  const code = path.join(dir, PART);
  for (const { file, text } of files) writeIfChanged(path.join(code, file), text, into);
  removeAllBut(code, new Set(files.map((f) => f.file)));
  for (const name of LINKED) linkBack(path.join(dir, name), path.join('..', '..', name));
  return files;
}

let written = 0;
/**
 * Writes `text` to `file` unless it holds that already. The text is written
 * aside in `into`, then renamed over the file: a step that runs from this
 * folder, or is rendered at the same time elsewhere, never reads half a file.
 */
function writeIfChanged(file: string, text: string, into: string): void {
  try {
    if (readFileSync(file, 'utf8') === text) return;
  } catch {
    // Not written yet.
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const aside = path.join(into, `.writing-${process.pid}-${++written}`);
  writeFileSync(aside, text);
  renameSync(aside, file);
}

/** Removes every file below `dir` whose path is not in `keep`, then the folders left empty. */
function removeAllBut(dir: string, keep: Set<string>): void {
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  const folders = found.filter((entry) => statSync(path.join(dir, entry)).isDirectory());
  for (const file of found) {
    if (!keep.has(file) && !folders.includes(file)) rmSync(path.join(dir, file));
  }
  // Deepest first, so that a folder whose folders were all removed goes too.
  for (const folder of folders.sort().reverse()) {
    if (readdirSync(path.join(dir, folder)).length === 0) rmdirSync(path.join(dir, folder));
  }
}

/** Makes `link` a symbolic link to `target`, unless it is one already. */
function linkBack(link: string, target: string): void {
  try {
    if (readlinkSync(link) === target) return;
  } catch {
    // Not there yet (or not a link).
  }
  rmSync(link, { force: true });
  try {
    symlinkSync(target, link);
  } catch (err) {
    // Another render of the same step made it in between.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Formats the code below `folder` (a step copied somewhere to be read) as the
 * repository's biome.json formats the source. A step's lines are the source's,
 * but a line whose block a later chapter opens keeps that block's indentation
 * (chapter 2's retry loop around chapter 1's one connect), and a call that lost
 * an argument may fit on one line: formatted, the step reads as if written so.
 * Only for reading: a rendered step that runs keeps the source's line numbers.
 */
export function formatForReading(folder: string): void {
  const own = JSON.parse(readFileSync(path.join(ROOT, 'biome.json'), 'utf8'));
  const config = {
    formatter: own.formatter,
    javascript: own.javascript,
    files: { includes: ['**'] },
    linter: { enabled: false },
    assist: { enabled: false },
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsp-format-'));
  try {
    writeFileSync(path.join(dir, 'biome.json'), JSON.stringify(config));
    const biome = path.join(ROOT, 'node_modules', '.bin', 'biome');
    const run = spawnSync(biome, ['format', '--write', `--config-path=${dir}`, folder], {
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`biome could not format ${folder}: ${run.stderr.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
