/**
 * The configuration's fields as tables, from part 4's own tables of fields
 * (fields.ts says how a field is described): each field's name, what its check
 * takes, its default and what it is, and the chapter that brings it.
 *
 *   <!-- render: fields -->                                          every table, every field
 *   <!-- render: fields ROUTE_SOURCE pingIntervalMs,pingTimeoutMs -->  those fields of one table
 *
 * What a field takes is its check's own words: the check is asked about
 * `null`, which every check refuses, and its "expected ..." is the column. The
 * chapter of a field is the chapter of the line that defines it, as the steps
 * read the source (shared/lib/steps.ts): its folder, or its `//> 4.N` marker.
 * Which table a field is in, and in which order, is read from the source too,
 * and checked against the tables the code runs with.
 *
 * What it leaves out: what no single field can check (config/parse.ts says
 * it, and the chapter after the table).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { POOL, TOP } from '../../../part4-balancing/config/parse.ts';
import { LISTENER, maxConnectionsFor } from '../../../part4-balancing/config.ts';
import { type Fields, Place } from '../../../part4-balancing/fields.ts';
import { ROUTE_SOURCE } from '../../../part4-balancing/fleet/fields.ts';
import { HEALTH_CHECK } from '../../../part4-balancing/health/fields.ts';
import { BACKEND } from '../../../part4-balancing/pools/fields.ts';
import { ROOT } from '../../lib/programs.ts';
import { CHAPTERS, keepLines, LAST, PART } from '../../lib/steps.ts';

/** The six tables, one per kind of JSON object, in the order a file nests them. */
export const TABLES: { name: string; object: string; fields: Fields }[] = [
  { name: 'TOP', object: 'the file itself', fields: TOP },
  { name: 'LISTENER', object: 'each entry of `listen`', fields: LISTENER },
  { name: 'POOL', object: 'each entry of `pools`', fields: POOL },
  { name: 'BACKEND', object: "each entry of a pool's `backends`", fields: BACKEND },
  { name: 'HEALTH_CHECK', object: "a pool's `healthCheck`", fields: HEALTH_CHECK },
  {
    name: 'ROUTE_SOURCE',
    object: '`routeSource`, fleet mode (its `pool`: every `POOL` field but `backends`)',
    fields: ROUTE_SOURCE,
  },
];

/** Defaults computed where the proxy runs: shown by their rule, not by this machine's value. */
const COMPUTED_DEFAULTS = new Map<unknown, () => string>([
  [
    TOP.maxConnections,
    () =>
      `from the descriptor limit: ${maxConnectionsFor(1024)} at 1,024, ` +
      `${maxConnectionsFor(20_000).toLocaleString('en-US')} at 20,000`,
  ],
]);

/** Where a field is defined: the file (relative to the part) and line, and the table it is in. */
export interface Definition {
  file: string;
  line: number;
  chapter: number;
}

/**
 * Every table of fields in part 4's source, by its constant's name: its own
 * fields and the tables it spreads in, in order, resolved to where each field
 * is defined.
 */
export function fieldDefinitions(): Map<string, { file: string; fields: Map<string, Definition> }> {
  definitions ??= readDefinitions();
  return definitions;
}
let definitions: ReturnType<typeof readDefinitions> | undefined;

function readDefinitions(): Map<string, { file: string; fields: Map<string, Definition> }> {
  const tables = new Map<
    string,
    { file: string; entries: (Definition & { key?: string; spread?: string })[] }
  >();
  for (const file of sourceFiles()) {
    const source = readFileSync(path.join(ROOT, PART, file), 'utf8');
    const lines = source.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^(?:export )?const (\w+) = \{$/.exec(lines[i]);
      if (!open) continue;
      const end = lines.findIndex((line, j) => j > i && /^\}/.test(line));
      if (!/^\} satisfies Fields;/.test(lines[end] ?? '')) continue;
      const entries = [];
      for (let j = i + 1; j < end; j++) {
        const key = /^ {2}'?([\w-]+)'?: /.exec(lines[j]);
        const spread = /^ {2}\.\.\.(\w+),/.exec(lines[j]);
        if (key || spread) {
          entries.push({
            file,
            line: j + 1,
            chapter: chapterOfLine(source, file, j + 1),
            ...(key ? { key: key[1] } : { spread: spread?.[1] }),
          });
        }
      }
      tables.set(open[1], { file, entries });
    }
  }
  const resolve = (name: string, seen: string[] = []): Map<string, Definition> => {
    const table = tables.get(name);
    if (!table) throw new Error(`no table of fields named ${name} in ${PART}/`);
    if (seen.includes(name)) throw new Error(`${name} spreads itself in`);
    const fields = new Map<string, Definition>();
    for (const { key, spread, ...where } of table.entries) {
      if (key) fields.set(key, where);
      else for (const [k, d] of resolve(spread as string, [...seen, name])) fields.set(k, d);
    }
    return fields;
  };
  return new Map([...tables].map(([name, { file }]) => [name, { file, fields: resolve(name) }]));
}

/** The chapter whose step first has line `line` of `file`. */
function chapterOfLine(source: string, file: string, line: number): number {
  for (let n = 1; n <= LAST; n++) {
    if (keepLines(source, n, file).sourceLines.includes(line)) return n;
  }
  throw new Error(`${PART}/${file}:${line}: in no step`);
}

/** Part 4's code files, relative to the part, its tests left out. */
function sourceFiles(dir = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, PART, dir), { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'test') found.push(...sourceFiles(file));
    else if (entry.name.endsWith('.ts')) found.push(file);
  }
  return found;
}

/** What a field's check takes, in its own words: what it expects when given null. */
export function takes(field: Fields[string]): string {
  try {
    field.check(new Place('x', 'y'), null);
  } catch (err) {
    const said = /^x: y: expected (.*), got null$/.exec((err as Error).message);
    if (said) return said[1];
  }
  throw new Error(`a check that says nothing of what it expects: ${field.about}`);
}

/** A field's default as the table shows it: its JSON, or required, or nothing. */
function defaultOf(field: Fields[string]): string {
  const computed = COMPUTED_DEFAULTS.get(field);
  if (computed) return computed();
  if (field.required) return 'required';
  return field.default === undefined ? '' : `\`${JSON.stringify(field.default)}\``;
}

/** A cell of a Markdown table: no pipe or line break ends it early, no `<x>` is taken for HTML. */
const cell = (text: string) =>
  text.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One table of fields; with `chapters`, a column for the chapter and file of each, linked from `from`. */
function table(
  fields: Fields,
  keys: string[],
  definitions: Map<string, Definition>,
  from: string,
  chapters: boolean,
): string {
  const link = (file: string, text: string) =>
    `[${text}](${path.relative(path.dirname(from), path.join(PART, file))})`;
  const where = ({ chapter, file }: Definition) =>
    `${link(CHAPTERS[chapter - 1].file, String(chapter))}, ${link(file, `\`${file}\``)}`;
  const head = ['field', 'takes', 'default', ...(chapters ? ['chapter, file'] : []), 'what it is'];
  const rows = keys.map((key) => {
    const field = fields[key];
    const definition = definitions.get(key);
    if (!field || !definition) throw new Error(`no field ${key}`);
    return [
      `\`${key}\``,
      takes(field),
      defaultOf(field),
      ...(chapters ? [where(definition)] : []),
      field.about,
    ].map(cell);
  });
  return [head, head.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/** The definitions of a table, checked against the table the code runs with. */
function definitionsOf(
  name: string,
  fields: Fields,
): { file: string; fields: Map<string, Definition> } {
  const found = fieldDefinitions().get(name);
  if (!found) throw new Error(`no table ${name} in the source`);
  const inSource = [...found.fields.keys()].join(', ');
  const running = Object.keys(fields).join(', ');
  if (inSource !== running) {
    throw new Error(`${name}: the source reads as ${inSource}, the code runs with ${running}`);
  }
  return found;
}

export const FIELD_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  fields: ([name, only], from) => {
    if (name !== undefined) {
      const chosen = TABLES.find((t) => t.name === name);
      if (!chosen)
        throw new Error(`no table ${name} (tables: ${TABLES.map((t) => t.name).join(', ')})`);
      const { fields } = definitionsOf(name, chosen.fields);
      return table(
        chosen.fields,
        only ? only.split(',') : Object.keys(chosen.fields),
        fields,
        from,
        false,
      );
    }
    return TABLES.map((each) => {
      const { file, fields } = definitionsOf(each.name, each.fields);
      const source = path.relative(path.dirname(from), path.join(PART, file));
      return [
        `\`${each.name}\`, ${each.object}, in [\`${file}\`](${source}):`,
        '',
        table(each.fields, Object.keys(each.fields), fields, from, true),
      ].join('\n');
    }).join('\n\n');
  },
};
