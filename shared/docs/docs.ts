/**
 * npm run docs: renders every marked region of the Markdown from its source,
 * the results files for measured figures and the code for samples (usage
 * text, field tables, status JSON, log lines). `npm run docs -- --check`
 * changes nothing and lists every region that differs from what it would
 * render; `npm test` runs the same check.
 *
 *   npm run docs              rewrite the regions that changed
 *   npm run docs -- --check   exit 1 when one differs, naming each
 *
 * regions.ts says how a region is written; results.ts (the benchmark),
 * measured.ts (the other measuring commands) and samples.ts say what each
 * renderer takes.
 *
 * What it leaves out: measuring. A figure changes when its results file does
 * (`npm run bench -- --save` and the like); then this renders it everywhere.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitWith, isMain } from '../lib/cli.ts';
import { ROOT } from '../lib/programs.ts';
import { MEASURED_RENDERERS } from './measured.ts';
import { markdownFiles, type Region, readMarkdown, renderRegions } from './regions.ts';
import { RESULT_RENDERERS } from './results.ts';
import { SAMPLE_RENDERERS } from './samples.ts';

const SCRIPT = 'docs.ts';
const USAGE = 'usage: docs.ts [--check]';

export const RENDERERS: Record<string, (args: string[], from: string) => string> = {
  ...RESULT_RENDERERS,
  ...MEASURED_RENDERERS,
  ...SAMPLE_RENDERERS,
};

export interface Rendered {
  /** The Markdown file, relative to the root. */
  file: string;
  before: string;
  after: string;
  /** One line per region that could not render: FILE:LINE: renderer: why. */
  errors: string[];
}

/** One Markdown file with its regions rendered; a region that fails keeps its text and adds an error. */
export function renderFile(file: string, text = readMarkdown(ROOT, file)): Rendered {
  const errors: string[] = [];
  const render = (region: Region) => {
    const renderer = RENDERERS[region.name];
    try {
      if (!renderer)
        throw new Error(`no such renderer (known: ${Object.keys(RENDERERS).join(', ')})`);
      return renderer(region.args, file);
    } catch (err) {
      errors.push(`${file}:${region.line}: ${region.name}: ${(err as Error).message}`);
      return region.text;
    }
  };
  try {
    return { file, before: text, after: renderRegions(text, render), errors };
  } catch (err) {
    return { file, before: text, after: text, errors: [`${file}: ${(err as Error).message}`] };
  }
}

/** Every Markdown file of the repository, rendered. */
export const renderAll = (): Rendered[] => markdownFiles(ROOT).map((file) => renderFile(file));

/** The 1-based lines where two texts first differ, for a message: "line 12". */
export function firstDifference(before: string, after: string): number {
  const a = before.split('\n');
  const b = after.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i + 1;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.length > 1 || (args[0] && args[0] !== '--check')) {
    exitWith(SCRIPT, `unknown argument ${JSON.stringify(args.join(' '))}`, 2, USAGE);
  }
  const check = args[0] === '--check';
  const all = renderAll();
  const errors = all.flatMap((each) => each.errors);
  const changed = all.filter((each) => each.after !== each.before);
  for (const error of errors) console.error(error);
  for (const each of changed) {
    if (check) {
      console.error(
        `${each.file}:${firstDifference(each.before, each.after)}: differs from what it renders (npm run docs rewrites it)`,
      );
    } else {
      writeFileSync(path.join(ROOT, each.file), each.after);
      console.log(`Rendered ${each.file}.`);
    }
  }
  const regions = all.length;
  if (!check && changed.length === 0 && errors.length === 0)
    console.log(`All ${regions} Markdown files are up to date.`);
  if (errors.length > 0 || (check && changed.length > 0)) process.exitCode = 1;
}

if (isMain(import.meta.url)) main();
