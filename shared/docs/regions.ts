/**
 * Rendered regions of the Markdown: the parts of a chapter that are generated
 * from data or from code, never typed by hand.
 *
 * A region is an HTML comment that names what renders it, the rendered text,
 * and a closing comment (Markdown shows neither comment):
 *
 *   <!-- render: bench-table bench-keepalive rows=direct,part1 -->
 *   | target | req/s | ...
 *   <!-- /render -->
 *
 * or, inside a sentence, on one line:
 *
 *   part 3 made <!-- render: figure bench-close part3 rps -->2,752<!-- /render --> requests/s
 *
 * A block region (its comments on lines of their own) renders whole lines; an
 * inline region renders text without a line break, and never begins a line:
 * Markdown reads a line that begins with `<!--` as raw HTML, which would end
 * the paragraph there and show the rest of the line unformatted. The first word after
 * `render:` names a renderer (`docs/renderers.ts` lists them), the rest are its
 * arguments, split on spaces.
 *
 * What it leaves out: what the renderers do. This file finds regions and
 * replaces their text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// A renderer's name starts with a letter, so prose can write `<!-- render: ... -->` about regions.
const REGION = /<!-- render: ([a-z][^>]*?) -->([\s\S]*?)<!-- \/render -->/g;
const OPEN = /<!-- render: [a-z]/g;

export interface Region {
  /** The renderer's name and its arguments, as written. */
  name: string;
  args: string[];
  /** 1-based line of the opening comment. */
  line: number;
  /** The text between the comments, without the line breaks that frame a block. */
  text: string;
  /** Whether the comments stand on lines of their own. */
  block: boolean;
  /** Whether the opening comment is the first thing on its line. */
  startsLine: boolean;
}

/** The regions of one Markdown text, in order. Throws on an opening comment without its close. */
export function findRegions(markdown: string): Region[] {
  const regions: Region[] = [];
  for (const match of markdown.matchAll(REGION)) {
    const [name, ...args] = match[1].trim().split(/\s+/);
    const inner = match[2];
    const block = inner.startsWith('\n') && (inner.endsWith('\n') || inner === '\n');
    const before = markdown.slice(markdown.lastIndexOf('\n', match.index) + 1, match.index);
    regions.push({
      name,
      args,
      line: markdown.slice(0, match.index).split('\n').length,
      text: block ? inner.slice(1, -1) : inner,
      block,
      startsLine: before.trim() === '',
    });
  }
  const opened = [...markdown.matchAll(OPEN)].length;
  if (opened !== regions.length) {
    const closedAt = new Set(regions.map((region) => region.line));
    const lines = markdown.split('\n');
    const line = lines.findIndex((l, i) => /<!-- render: [a-z]/.test(l) && !closedAt.has(i + 1));
    throw new Error(`line ${line + 1}: a render comment without its <!-- /render -->`);
  }
  return regions;
}

/**
 * The Markdown with every region's text replaced by what `render` returns for
 * it. A block's text is whole lines (its trailing line break is the region's);
 * an inline region's text must not break a line.
 */
export function renderRegions(markdown: string, render: (region: Region) => string): string {
  const regions = findRegions(markdown);
  let i = 0;
  return markdown.replace(REGION, (_whole, spec: string) => {
    const region = regions[i++];
    const text = render(region);
    if (!region.block && text.includes('\n')) {
      throw new Error(
        `line ${region.line}: ${region.name} renders lines; give it lines of its own`,
      );
    }
    if (!region.block && region.startsLine) {
      throw new Error(
        `line ${region.line}: ${region.name} begins its line, where Markdown reads it as raw HTML; put a word before it`,
      );
    }
    return region.block
      ? `<!-- render: ${spec} -->\n${text}${text ? '\n' : ''}<!-- /render -->`
      : `<!-- render: ${spec} -->${text}<!-- /render -->`;
  });
}

/** Every Markdown file of the repository, relative to `root`, sorted: dot folders and node_modules left out. */
export function markdownFiles(root: string, dir = root): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...markdownFiles(root, file));
    else if (entry.name.endsWith('.md')) found.push(path.relative(root, file));
  }
  return found.sort();
}

/** A Markdown file's text. */
export const readMarkdown = (root: string, file: string) =>
  readFileSync(path.join(root, file), 'utf8');
