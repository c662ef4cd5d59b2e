/**
 * The prose stays true to the code: every fenced block in the Markdown says
 * what it is, and every name the prose gives in backticks is one the code
 * has. Every Markdown file is read: README.md, each part's chapters, and
 * shared/'s READMEs and notes.
 *
 * Blocks. An HTML comment on the line right before the fence (Markdown shows
 * nothing for it) says what a block is:
 *
 *   <!-- verbatim: FILE -->   a quote of FILE, which chapters.test.ts checks
 *                             line by line (a line `// ...` elides lines)
 *   <!-- sketch -->           written for the page, not in the repository: an
 *                             illustration or a diagram, C from the blog
 *                             series, Go from the Go proxy, code the reader
 *                             would write, a quote changed beyond elisions
 *   <!-- output -->           what a program prints: output, a log, an
 *                             answer, a terminal session
 *
 * A block of commands (```sh, ```bash, ```shell) needs no marker, its tag says
 * what it is; its `npm` and `npx` commands are looked up as below. A block
 * between `<!-- render: NAME -->` and `<!-- /render -->` is written by `npm
 * run docs` and needs none either. Any other block fails without one, and so
 * does a comment before a fence that is no marker, and a marker with no block.
 *
 * Names. Each code span of the prose that reads as a name is looked up in the
 * code (the .ts, .js and .json files, comments left out, and this file's
 * tests, which name what the code lacks) of the Markdown file's home: its part and shared/ for a part's chapters, the
 * whole repository for the others. A name may also be another part's when
 * its paragraph names that part ("part 3's `connectToBackend()`"):
 *
 *   `closeTogether()`, `backends[].id`    each identifier is in the code, or is
 *   `Pool.connect()`, `slow-readers`      Node's (read from Node: its modules,
 *                                         their classes, globals, errno codes)
 *   `allowHalfOpen: true`, `"strategy"`   the key is a key in the code
 *   `shared/test/matrix.ts`, `fields.ts`  the path exists, from the Markdown
 *                                         file's folder, its part or the root;
 *                                         a bare file name anywhere in the home;
 *                                         N, NAME and <x> stand for anything
 *   `--idle-timeout 5s`                   the part's program, or a tool in
 *                                         shared/, parses it (a key of its
 *                                         options, or an argument compared with
 *                                         it), or the part's exercise test passes it
 *   `npm run diff -- 4.N --tests`         the script is in package.json, and the
 *                                         program it runs parses the options
 *   `npx tap part*\/matrix.test.ts`       the files exist
 *
 * A span with words in it (a log line, a message, a status line) is no name,
 * and a span in the text of a link to a URL names what the link points to.
 * Names that are neither ours nor Node's are in NOT_OURS below, each group
 * with its reason. Links to files of the repository must lead somewhere too.
 *
 * What it leaves out: whether a name means what the prose says of it, a
 * link's #anchor, and what is in a sketch or an output.
 */
import childProcess from 'node:child_process';
import cluster from 'node:cluster';
import dns from 'node:dns';
import events from 'node:events';
import fs, { type Dirent, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { builtinModules } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import stream from 'node:stream';
import timers from 'node:timers';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import util from 'node:util';
import workerThreads from 'node:worker_threads';
import t from 'tap';
import { ROOT } from '../lib/programs.ts';

/** Names the prose may give that are neither in our code nor Node's, by why. */
const NOT_OURS: { why: string; names: string[] }[] = [
  {
    why: 'C: the calls, constants and types of the blog series and of Linux, and what strace shows',
    names: [
      ...['accept', 'epoll_create1', 'setsockopt', 'getsockopt', 'getpeername', 'getsockname'],
      ...['sendfile', 'splice', 'TCP_CORK', 'SO_REUSEPORT', 'sendmsg', 'recvmsg'],
      ...[
        'recvfrom',
        'ioctl',
        'mmap',
        'futex',
        'inet_pton',
        'errno',
        'NULL',
        'FIONBIO',
        'data.ptr',
      ],
      ...['EPOLLIN', 'EPOLLOUT', 'EPOLLERR', 'EPOLLHUP', 'SO_LINGER', 'TCP_NODELAY'],
      ...[
        'TCP_KEEPIDLE',
        'TCP_KEEPINTVL',
        'TCP_KEEPCNT',
        'RLIMIT_NOFILE',
        'AF_INET6',
        'SOCK_STREAM',
      ],
    ],
  },
  {
    why: "the kernel's TCP as ss, sysctl and /proc show it",
    names: ['TIME_WAIT', 'Recv-Q', 'tcp_retries2', 'TcpExtListenOverflows', 'net.core.somaxconn'],
  },
  {
    why: "nginx's directives and source, and HAProxy's, that part 4 is compared with",
    names: [
      ...['proxy_buffer_size', 'proxy_connect_timeout', 'proxy_next_upstream', 'proxy_timeout'],
      ...['fail_timeout', 'max_fails', 'least_conn', 'limit_conn', 'ssl_preread'],
      ...['ngx_stream_proxy_module', 'ngx_http_upstream_rr.c', 'accept-proxy'],
    ],
  },
  {
    why: "OpenResty's Lua directives, which chapter 8's routers stand in for",
    names: ['balancer_by_lua'],
  },
  {
    why: "Node's internals and libuv's, as a profile or a trace names them",
    names: [
      ...['onStreamRead', 'createWriteWrap', 'readableAddChunkPushByteMode', 'maybeReadMore'],
      ...['writeOrBuffer', 'writeBuffer', 'onread', 'uv_read_stop', 'uv_try_write'],
    ],
  },
  {
    why: 'HTTP: headers and media types',
    names: ['Content-Length', 'Connection', 'X-Forwarded-For', 'text/html', 'application/json'],
  },
  {
    why: "Redis's INFO, node-redis's options",
    names: ['role:master', 'connectTimeout'],
  },
  {
    why: "node-http-proxy's options, which part 4's chapter on virtual hosts weighs its design against",
    names: ['xfwd', 'preserveHeaderKeyCase'],
  },
  {
    why: "other programs' options: curl's, and git diff's (npm run diff passes them on)",
    names: ['--resolve', '--stat', '--shortstat'],
  },
  {
    why: 'what an exercise asks the reader to write',
    names: [
      ...['pools/strategies/random.ts', 'createRandom', '--shutdown-timeout'],
      'rsp_backend_connections_total',
    ],
  },
  {
    why: 'TLS: the protocol names a client offers in ALPN',
    names: ['h2', 'http/1.1'],
  },
  {
    why: 'files the reader writes, in an example',
    names: ['web.json', 'my.json'],
  },
  {
    why: 'a value, not a name: the picks balancing.test.ts expects',
    names: ['AABACAAAABACAA'],
  },
];

/** What stands for "any" in a name: N, NAME, PID, `<part>`, `...`. */
const PLACEHOLDER = /^(?:[A-Z]+|<\w+>|\.\.\.)$/;
/** Commands a span may start with; only `npm`, `npx`, and the files given to any are looked up. */
const COMMANDS = new Set(
  ['npm', 'npx', 'node', 'tsx', 'tsc', 'git', 'curl', 'ss', 'strace', 'nc', 'sudo', 'jq'].concat([
    'kill',
    'prlimit',
    'bash',
    'for',
    'redis-server',
    'openssl',
    'ab',
    'wc',
  ]),
);
const SHELL_TAGS = new Set(['sh', 'bash', 'shell']);
const BLOCK_MARKER = /^<!--\s*(verbatim:\s*\S+|sketch|output)\s*-->$/;
const RENDER_OPEN = /^<!--\s*render:\s*\S[^>]*-->$/;
const RENDER_CLOSE = /^<!--\s*\/render\s*-->$/;
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)/;

// The repository: its files (and folders, ending in /), what .gitignore leaves out skipped.

/** .gitignore's patterns, as tests on a name: what is generated (`.steps/`) or installed. */
const IGNORED = readFileSync(path.join(ROOT, '.gitignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim().replace(/\/$/, ''))
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((pattern) => globToRegExp(pattern));

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${body}$`);
}

function walk(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true }) as Dirent[]) {
    if (entry.name === '.git' || IGNORED.some((re) => re.test(entry.name))) continue;
    const file = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(`${file}/`, ...walk(file));
    else found.push(file);
  }
  return found;
}

/** This file: its tests name what the code does not have, so they are not read as code. */
const SELF = path.relative(ROOT, fileURLToPath(import.meta.url));
const FILES = walk('').sort();
const FILE_SET = new Set(FILES);
/** FILES without the / that ends a folder's name. */
const PATHS = FILES.map((file) => file.replace(/\/$/, ''));
const MARKDOWN = FILES.filter((file) => file.endsWith('.md'));
const PARTS = FILES.filter((file) => /^part\d[^/]*\/$/.test(file)).map((dir) => dir.slice(0, -1));
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const SCRIPTS: Record<string, string> = PACKAGE.scripts;

/** The part a Markdown file belongs to, or undefined for the root's and shared/'s. */
const partOf = (file: string) => PARTS.find((part) => file.startsWith(`${part}/`));

// Code: its text with the comments blanked out, so that a name only a comment gives is not found.

/** `source` with every comment replaced by spaces; strings and regular expressions kept. */
function withoutComments(source: string): string {
  const kept: string[] = [];
  let from = 0;
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
      const end = source[i + 1] === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2) + 2;
      const stop = end <= 1 ? source.length : end;
      kept.push(source.slice(from, i), source.slice(i, stop).replace(/[^\n]/g, ' '));
      from = i = stop;
    } else if (ch === "'" || ch === '"' || ch === '`' || (ch === '/' && startsRegExp(source, i))) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && (source[j] !== ch || inClass)) {
        if (source[j] === '\\') j++;
        else if (ch === '/' && source[j] === '[') inClass = true;
        else if (ch === '/' && source[j] === ']') inClass = false;
        else if (ch !== '`' && source[j] === '\n') break;
        j++;
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  kept.push(source.slice(from));
  return kept.join('');
}

/** Whether the `/` at `i` starts a regular expression rather than a division. */
function startsRegExp(source: string, i: number): boolean {
  return /(?:^|[(,=:[!&|?{};]|\breturn|\btypeof)\s*$/.test(source.slice(Math.max(0, i - 20), i));
}

const isTest = (file: string) => file.endsWith('.test.ts');
const isCode = (file: string) => /\.(?:ts|js|mjs|json)$/.test(file) && !file.endsWith('-lock.json');

const textCache = new Map<string, string>();
/** A file's code: its text, comments left out. */
function textOf(file: string): string {
  let text = textCache.get(file);
  if (text === undefined) {
    text = readFileSync(path.join(ROOT, file), 'utf8');
    // This file's tests name what the code lacks, to see it found missing.
    if (file === SELF) text = text.slice(0, text.indexOf('\n// The tests.'));
    if (!file.endsWith('.json')) text = withoutComments(text);
    textCache.set(file, text);
  }
  return text;
}

/** The code of one folder (a part, shared/, or the root's own files), and the names in it. */
interface Code {
  text: string;
  /** Identifiers, and dashed names (`slow-readers`); computed when first asked for. */
  names?: Set<string>;
}

const codeCache = new Map<string, Code>();
/** The code of the files below `folder` ('' for the root's own), tests left out unless `tests`. */
function codeIn(folder: string, tests: boolean): Code {
  const key = `${folder} ${tests}`;
  let code = codeCache.get(key);
  if (!code) {
    const files = FILES.filter(
      (file) =>
        isCode(file) &&
        (tests || !isTest(file)) &&
        (folder === '' ? !file.includes('/') : file.startsWith(`${folder}/`)),
    );
    code = { text: files.map(textOf).join('\n') };
    codeCache.set(key, code);
  }
  return code;
}

/** The names in `code`. */
function namesIn(code: Code): Set<string> {
  if (!code.names) {
    code.names = new Set(code.text.match(/[A-Za-z_$][\w$]*(?:-[\w$]+)*/g));
    for (const name of code.text.match(/[A-Za-z_$][\w$]*/g) ?? []) code.names.add(name);
  }
  return code.names;
}

/** Where a Markdown file's names are looked up: its part and shared/, or everything. */
const homeOf = (markdown: string) => {
  const part = partOf(markdown);
  return part ? ['', part, 'shared'] : ['', ...PARTS, 'shared'];
};

/** The program a script runs (`npm run step -- 4.N ARGS` passes ARGS on to part 4's). */
const programOf = (script: string) =>
  script === 'step'
    ? 'part4-balancing/proxy.ts'
    : SCRIPTS[script]?.match(/\b(?:tsx|node)\s+(\S+\.ts)/)?.[1];

/** Programs and every file of ours they import (below `within`): what parses their options. */
function programsCode(key: string, programs: string[], within = ''): Code {
  let code = codeCache.get(key);
  if (code) return code;
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !FILE_SET.has(file) || !file.startsWith(within)) return;
    seen.add(file);
    for (const [, spec] of textOf(file).matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      visit(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    }
  };
  for (const program of programs) visit(program);
  code = { text: [...seen].map(textOf).join('\n') };
  codeCache.set(key, code);
  return code;
}

/**
 * The tools a reader runs from shared/ (the benchmark, the diff, ...), as npm
 * scripts run them; not the parts they import, which parse their own options.
 */
const toolsCode = () =>
  programsCode(
    'tools',
    Object.keys(SCRIPTS)
      .map(programOf)
      .filter((program): program is string => program?.startsWith('shared/') === true),
    'shared/',
  );

// Node's and JavaScript's own names, read from Node.

function nodeNames(): Set<string> {
  const names = new Set<string>([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const addAll = (value: unknown, depth: number) => {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
    for (let o: object | null = value as object; o && o !== Object.prototype; ) {
      for (const name of Object.getOwnPropertyNames(o)) {
        names.add(name);
        const descriptor = Object.getOwnPropertyDescriptor(o, name);
        const inner = descriptor?.value;
        if (depth > 0 && typeof inner === 'function' && /^[A-Z]/.test(name)) {
          addAll(inner, depth - 1);
          addAll(inner.prototype, depth - 1);
        }
      }
      o = Object.getPrototypeOf(o);
    }
  };
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    names.add(name);
    addAll((globalThis as Record<string, unknown>)[name], 1);
  }
  const modules = [net, tls, http, stream, events, fs, childProcess, util, os, cluster, timers];
  for (const module of [...modules, dns, workerThreads, readline]) addAll(module, 2);
  addAll(process, 1);
  // Instance fields, which no prototype holds (a server's maxConnections, a socket's bytesRead).
  addAll(new net.Socket(), 0);
  addAll(net.createServer(), 0);
  for (const name of Object.keys(os.constants.errno)) names.add(name);
  for (const name of Object.keys(os.constants.signals)) names.add(name);
  for (const word of JS_WORDS) names.add(word);
  return names;
}

const JS_WORDS = (
  'await break case catch class const continue default delete do else export extends false ' +
  'finally for function if import in instanceof let new null of return static super switch ' +
  'this throw true try typeof undefined var void while yield async satisfies type interface as'
).split(' ');

// The Markdown: its blocks, its code spans and its links.

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's tag (`ts`, `sh`), or '' for none. */
  tag: string;
  /** The HTML comment on the line before, if any. */
  comment?: string;
  /** Whether it stands in a `<!-- render: NAME -->` region. */
  rendered: boolean;
  /** Its lines, without the fences. */
  lines: string[];
}

interface Prose {
  blocks: Block[];
  /**
   * The code spans outside the blocks, whitespace collapsed, with the
   * paragraph of each, and whether it is in the text of a link to a URL (it
   * then names something outside the repository, where the link points).
   */
  spans: { line: number; text: string; paragraph: string; external: boolean }[];
  /** The targets of the links outside the blocks that are not URLs or anchors. */
  links: { line: number; target: string }[];
  /** Markers in the wrong place: with no block after them, a region never closed. */
  problems: string[];
}

const COMMENT_LINE = /^\s*(<!--.*-->)\s*$/;

function readProse(markdown: string): Prose {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const problems: string[] = [];
  /** The prose alone: each line of a block emptied, so that spans keep their line. */
  const prose: string[] = [];
  let fence: { chars: string; block: Block } | undefined;
  let region: number | undefined;
  for (const [i, line] of lines.entries()) {
    if (fence) {
      const close = line.match(/^\s*(`{3,}|~{3,})\s*$/);
      if (close && close[1][0] === fence.chars[0] && close[1].length >= fence.chars.length) {
        fence = undefined;
      } else fence.block.lines.push(line);
      prose.push('');
      continue;
    }
    const open = line.match(FENCE);
    if (open) {
      const comment = lines[i - 1]?.match(COMMENT_LINE)?.[1];
      const rendered = region !== undefined;
      const block: Block = { line: i + 1, tag: open[3], comment, rendered, lines: [] };
      blocks.push(block);
      fence = { chars: open[2], block };
      prose.push('');
      continue;
    }
    const comment = line.match(COMMENT_LINE)?.[1];
    if (comment && RENDER_OPEN.test(comment)) {
      if (region !== undefined) problems.push(`line ${i + 1}: a render region inside another`);
      region = i + 1;
    } else if (comment && RENDER_CLOSE.test(comment)) {
      if (region === undefined) problems.push(`line ${i + 1}: ${comment} closes no region`);
      region = undefined;
    } else if (comment && BLOCK_MARKER.test(comment) && !lines[i + 1]?.match(FENCE)) {
      problems.push(`line ${i + 1}: ${comment} has no fenced block on the line after it`);
    }
    prose.push(line);
  }
  if (region !== undefined) problems.push(`line ${region}: a render region never closed`);
  // HTML comments say nothing to the reader: out, keeping the lines.
  const text = prose.join('\n').replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, ' '));
  const starts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index + 1)];
  const lineAt = (index: number) => countUpTo(starts, index);
  const paragraphs = [...text.matchAll(/(?:[^\n]|\n(?!\s*\n))+/g)];
  const paragraphStarts = paragraphs.map((p) => p.index);
  const paragraphAt = (index: number) =>
    paragraphs[countUpTo(paragraphStarts, index) - 1]?.[0] ?? '';
  const definitions = [...text.matchAll(/^ {0,3}\[([^\]]+)\]:\s*(\S+)/gm)];
  const refs = new Map(definitions.map((m) => [m[1].toLowerCase(), m[2]]));
  const toUrls = [
    ...text.matchAll(/\[((?:[^[\]]|\[[^\]]*\])*)\](?:\(([^)\s]+)[^)]*\)|\[([^\]]*)\])/g),
  ]
    .filter((m) => /^[a-z]+:/.test(m[2] ?? refs.get((m[3] || m[1]).toLowerCase()) ?? ''))
    .map((m) => [m.index, m.index + m[0].length]);
  const spans = [...text.matchAll(/(?<!`)(`+)(?!`)((?:(?!\n\s*\n)[\s\S])+?)(?<!`)\1(?!`)/g)].map(
    (m) => ({
      line: lineAt(m.index),
      text: m[2].replace(/\s+/g, ' ').trim(),
      paragraph: paragraphAt(m.index).trim(),
      external: toUrls.some(([start, end]) => start < m.index && m.index < end),
    }),
  );
  const links = [
    ...[...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => ({ m, target: m[1] })),
    ...definitions.map((m) => ({ m, target: m[2] })),
  ]
    .filter(({ target }) => !/^(?:[a-z]+:|#)/.test(target))
    .map(({ m, target }) => ({ line: lineAt(m.index), target: target.replace(/#.*$/, '') }));
  return { blocks, spans, links, problems };
}

/** How many of `sorted` (ascending) are at most `value`. */
function countUpTo(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** What is wrong with a block's marking, or undefined when it says what it is. */
function blockProblem(block: Block): string | undefined {
  if (block.rendered || (block.comment !== undefined && BLOCK_MARKER.test(block.comment))) {
    return undefined;
  }
  if (block.comment !== undefined && !RENDER_CLOSE.test(block.comment)) {
    return `${block.comment} is no marker (verbatim: FILE, sketch, output)`;
  }
  if (SHELL_TAGS.has(block.tag)) return undefined;
  const what = block.tag === '' ? 'an untagged block' : `a \`\`\`${block.tag} block`;
  return `${what} with no marker: <!-- verbatim: FILE -->, <!-- sketch --> or <!-- output -->`;
}

// Names: what a code span in the prose names, and whether the code has it.

const NODE = nodeNames();
const NOT_OURS_SET = new Set(NOT_OURS.flatMap((group) => group.names));

/** Where a span sits: its Markdown file, and the parts its paragraph names ("part 3's"). */
interface Context {
  markdown: string;
  parts: string[];
}

/** The parts a paragraph names, by number ("Part 3's", "part 4") or by a link into one. */
function partsNamed(paragraph: string): string[] {
  const numbers = [...paragraph.matchAll(/\bpart\s?(\d)\b|\.\.\/part(\d)/gi)].map(
    (m) => m[1] ?? m[2],
  );
  return PARTS.filter((part) => numbers.includes(part.slice(4, 5)));
}

/** Whether the code has `name`: its home's, a part its paragraph names, or Node's. */
function known(name: string, at: Context): boolean {
  if (NODE.has(name) || NOT_OURS_SET.has(name)) return true;
  return foldersOf(at).some((folder) => namesIn(codeIn(folder, true)).has(name));
}

/** The folders whose code a span may name: its home's, and the parts its paragraph names. */
const foldersOf = (at: Context) => [...new Set([...homeOf(at.markdown), ...at.parts])];

/** Whether the code has the string `text`. */
const hasString = (text: string, at: Context) =>
  foldersOf(at).some((folder) => codeIn(folder, true).text.includes(text));

const parsed = new WeakMap<Code, Map<string, boolean>>();
/**
 * Whether `code` parses the option `--name`: has it as a key (parseArgs's
 * options, a table of them), or compares an argument with it. A string
 * `'--name'` alone is an argument passed, not one parsed.
 */
function parses(code: Code, name: string): boolean {
  const known = parsed.get(code) ?? new Map<string, boolean>();
  parsed.set(code, known);
  let found = known.get(name);
  if (found === undefined) {
    const n = escapeRegExp(name);
    const asKey = `(?<![\\w$-])['"]?${n}['"]?\\s*:`;
    const compared = `(?:includes\\(|===\\s*|case\\s+)['"\`]--${n}['"\`]`;
    found = new RegExp(`${asKey}|${compared}`).test(code.text);
    known.set(name, found);
  }
  return found;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The repository's paths `name` stands for, seen from a Markdown file: from
 * its folder, its part or the root; a bare file name anywhere in its home;
 * `N`, `NAME`, `<part>` and `...` as wildcards. A path .gitignore names
 * (`.steps/4.N/`) is generated, and taken as there.
 */
function resolve(name: string, at: Context): string[] {
  const trimmed = name.replace(/\/$/, '');
  const here = [path.posix.dirname(at.markdown), partOf(at.markdown) ?? '.', '.', ...at.parts];
  const bases = [...new Set(here)];
  const tries = bases.map((base) => path.posix.normalize(path.posix.join(base, trimmed)));
  const found = tries.filter((p) => FILE_SET.has(p) || FILE_SET.has(`${p}/`));
  if (found.length > 0) return found;
  if (tries.some((p) => IGNORED.some((re) => re.test(p.split('/')[0])))) return tries;
  const glob = trimmed.replace(/<\w+>|\.\.\.|\b[A-Z]+\b/g, '*');
  if (trimmed.includes('/')) {
    if (!glob.includes('*')) return [];
    const patterns = bases.map((base) => globToRegExp(path.posix.join(base, glob)));
    return PATHS.filter((file) => patterns.some((re) => re.test(file)));
  }
  const pattern = globToRegExp(glob);
  const folders = foldersOf(at);
  return PATHS.filter(
    (file) =>
      pattern.test(path.posix.basename(file)) &&
      folders.some((folder) => folder === '' || file.startsWith(`${folder}/`)),
  );
}

const PATH = /^(?:\.{1,2}\/)?[\w<*.][\w.*<>-]*(?:\/[\w.*<>-]+)*\/?$/;
const looksLikePath = (text: string) =>
  PATH.test(text) &&
  /[A-Za-z]/.test(text) &&
  (text.includes('/') || /\.(?:ts|js|mjs|json|md|png)$/.test(text));

/** What is wrong with the name in a code span, or undefined when the code has it (or it is no name). */
function lookUp(text: string, at: Context): string | undefined {
  if (NOT_OURS_SET.has(text) || NOT_OURS_SET.has(text.replace(/\(.*\)$/, ''))) return undefined;
  const words = text.split(' ');
  if (COMMANDS.has(words[0])) return lookUpCommand(words, at);
  if (words[0] in SCRIPTS && words[1] === '--') return lookUpCommand(['npm', 'run', ...words], at);
  if (/^--?[A-Za-z]/.test(text) || words[0] === '--') return lookUpOptions(words, at);
  if (looksLikePath(text)) {
    return resolve(text, at).length > 0 ? undefined : `${text}: no such file`;
  }
  if (/^(['"])[\w.:/-]+\1$/.test(text)) {
    return hasString(text.slice(1, -1), at) ? undefined : `${text}: no such string in the code`;
  }
  if (/^[A-Za-z_$][\w$]*(?:-[\w$]+)+$/.test(text)) {
    return known(text, at) ? undefined : `${text}: not in the code`;
  }
  const keys = keysOf(text);
  if (keys.length > 0) {
    const missing = keys.filter((key) => !NOT_OURS_SET.has(key) && !hasKey(key, at));
    return missing.length === 0 ? undefined : `${text}: no key ${missing.join(', ')} in the code`;
  }
  // C (`closure->fd`): TypeScript has no ->.
  if (!isCodeLike(text) || text.includes('->')) return undefined;
  const code = text.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, "''");
  const tokens = code.match(/(?<![\w$]|\d\.)[A-Za-z_$][\w$]*/g) ?? [];
  const unknown = tokens.filter(
    (token) => !known(token, at) && !(tokens.length > 1 && PLACEHOLDER.test(token)),
  );
  return unknown.length === 0 ? undefined : `${text}: ${unknown.join(', ')} not in the code`;
}

/** The keys of a span that reads as an object's fields (`"strategy": "random"`, `weight: 1`). */
function keysOf(text: string): string[] {
  const key =
    /(?:"([A-Za-z_$][\w$]*)"|'([A-Za-z_$][\w$]*)'|(?<![\w$.'"])([A-Za-z_$][\w$]*))\s*:\s/g;
  if (!/^\{?\s*["']?[A-Za-z_$][\w$]*["']?\s*:\s/.test(text)) return [];
  return [...text.matchAll(key)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Whether the code has `key` as a key: `key:`, `"key":`, `key?:`. */
const hasKey = (key: string, at: Context) => {
  const re = new RegExp(`(?<![\\w$])["']?${escapeRegExp(key)}["']?\\??\\s*:`);
  return foldersOf(at).some((folder) => re.test(codeIn(folder, true).text));
};

/** Whether a span reads as code: one token (a call's arguments aside), or a statement. */
function isCodeLike(text: string): boolean {
  const bare = text.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, "''");
  // A message: a name, then words (`listen[0].hosts: write it as ...`).
  if (/: [a-z]+ [a-z]+ [a-z]+/.test(bare)) return false;
  const unbracketed = bare.replace(/\([^()]*\)|\[[^\]]*\]|\{[^}]*\}|<[^>]*>/g, '()');
  if (/^[A-Za-z_$]\S*$/.test(unbracketed)) return true;
  const statement =
    /^(?:(?:if|for|await|return|const|let|import|new|while)\b|[\w$.]+(?:\(|<|\[|\s*=[^=]))/;
  return statement.test(bare);
}

/** What is wrong with a command: its npm script, the options its program parses, its files. */
function lookUpCommand(words: string[], at: Context): string | undefined {
  const text = words.join(' ');
  const [command, sub, ...rest] = words;
  let args = rest;
  if (command === 'npm') {
    if (sub === undefined || sub === 'install' || sub === 'ci') return undefined;
    const script = sub === 'run' ? rest[0] : sub;
    if (script === undefined || PLACEHOLDER.test(script)) return undefined;
    if (!(script in SCRIPTS)) return `${text}: no script "${script}" in package.json`;
    const dash = words.indexOf('--');
    if (dash < 0) return undefined;
    args = words.slice(dash + 1);
    const options = programOf(script) && lookUpOptions(args, at, script);
    if (options) return options;
  } else if (command === 'npx' && sub !== 'tap') {
    return undefined;
  } else if (command !== 'npx') {
    args = [sub, ...rest];
  }
  const missing = args.filter(
    (arg, i) =>
      arg !== undefined &&
      looksLikePath(arg) &&
      !/^--import$/.test(args[i - 1] ?? '') &&
      !PLACEHOLDER.test(arg) &&
      !NOT_OURS_SET.has(arg) &&
      resolve(arg, at).length === 0,
  );
  return missing.length === 0 ? undefined : `${text}: no such file ${missing.join(', ')}`;
}

/**
 * What is wrong with the options among `words`: those that the script's
 * program does not parse, or, with no script named, neither the code of the
 * Markdown file's part (or of a part its paragraph names) nor a tool of shared/.
 */
function lookUpOptions(words: string[], at: Context, script?: string): string | undefined {
  const part = partOf(at.markdown);
  const exercise =
    part && FILE_SET.has(`${part}/exercise.test.ts`) ? `${part}/exercise.test.ts` : '';
  const parsers = script
    ? [programsCode(`npm run ${script}`, [programOf(script) ?? ''])]
    : [
        ...foldersOf(at)
          .filter((folder) => folder !== 'shared')
          .map((folder) => codeIn(folder, false)),
        toolsCode(),
      ];
  const unparsed = words
    .filter((word) => /^--[A-Za-z]/.test(word))
    .map((word) => word.slice(2).replace(/=.*$/, ''))
    .filter(
      (name) =>
        !NOT_OURS_SET.has(`--${name}`) &&
        !parsers.some((code) => parses(code, name)) &&
        // An option an exercise asks for: its ready test passes it.
        !(!script && exercise && textOf(exercise).includes(`'--${name}'`)),
    );
  if (unparsed.length === 0) return undefined;
  const by = script
    ? `npm run ${script}`
    : `the programs of ${foldersOf(at).filter(Boolean).join(', ')}`;
  return `${words.join(' ')}: ${unparsed.map((name) => `--${name}`).join(', ')} not parsed by ${by}`;
}

/** The commands on the lines of a shell block: each `npm ...` and `npx ...` of a line. */
function commandsIn(lines: string[]): string[][] {
  return lines.flatMap((line) =>
    line
      .replace(/^\s*\$\s+/, '')
      .replace(/(^|\s)#.*$/, '')
      .split(/&&|\|\||[;|&]/)
      .map((command) => command.trim().split(/\s+/))
      .filter((words) => words[0] === 'npm' || words[0] === 'npx'),
  );
}

// The tests.

t.test('a block is accounted for by its marker, its tag, or a render region', async (t) => {
  const problems = (markdown: string) => {
    const prose = readProse(markdown);
    return [
      ...prose.problems,
      ...prose.blocks.flatMap((b) => {
        const problem = blockProblem(b);
        return problem ? [`${b.line}: ${problem}`] : [];
      }),
    ];
  };
  const block = (tag: string, ...before: string[]) => [...before, `\`\`\`${tag}`, 'x();', '```'];
  t.same(problems(block('ts', '<!-- verbatim: proxy.ts -->').join('\n')), [], 'a quote');
  t.same(problems(block('ts', '<!-- sketch -->').join('\n')), [], 'a sketch');
  t.same(problems(block('', '<!-- output -->').join('\n')), [], 'an output');
  t.same(problems(block('sh').join('\n')), [], 'commands');
  t.same(
    problems(
      ['1. a step:', '', ...block('ts', '   <!-- sketch -->').map((l) => `   ${l.trim()}`)].join(
        '\n',
      ),
    ),
    [],
    'a marked block in a list item, indented',
  );
  t.same(
    problems(['<!-- render: usage part4 -->', ...block('ts'), '<!-- /render -->'].join('\n')),
    [],
    'a block npm run docs renders',
  );
  t.same(problems(block('ts').join('\n')), [
    '1: a ```ts block with no marker: <!-- verbatim: FILE -->, <!-- sketch --> or <!-- output -->',
  ]);
  t.same(problems(block('').join('\n')), [
    '1: an untagged block with no marker: <!-- verbatim: FILE -->, <!-- sketch --> or <!-- output -->',
  ]);
  t.same(problems(block('ts', '<!-- skecth -->').join('\n')), [
    '2: <!-- skecth --> is no marker (verbatim: FILE, sketch, output)',
  ]);
  t.same(problems(['<!-- output -->', '', ...block('')].join('\n')), [
    'line 1: <!-- output --> has no fenced block on the line after it',
    '3: an untagged block with no marker: <!-- verbatim: FILE -->, <!-- sketch --> or <!-- output -->',
  ]);
  t.same(problems(['<!-- render: status -->', 'text'].join('\n')), [
    'line 1: a render region never closed',
  ]);
  t.same(
    readProse(['```', '`not a span`', '```', 'a `span`', '<!-- `nor this` -->'].join('\n')).spans,
    [{ line: 4, text: 'span', paragraph: 'a `span`', external: false }],
    'code spans are read from the prose alone',
  );
  const link =
    '[`least_conn`](https://nginx.org/en/docs/stream/ngx_stream_upstream_module.html#least_conn)';
  t.same(
    readProse(`${link} and [\`pool.ts\`](pools/pool.ts)`).spans.map((s) => [s.text, s.external]),
    [
      ['least_conn', true],
      ['pool.ts', false],
    ],
    "a span in a link to a URL names the link's page, not ours; one in a link to a file is ours",
  );
});

t.test('the names check finds what the code does not have', async (t) => {
  const part2 = { markdown: 'part2-epoll-style/README.md', parts: [] };
  const part3 = { markdown: 'part3-backpressure/README.md', parts: [] };
  const found = (text: string, at: Context = part2) => lookUp(text, at) === undefined;
  t.ok(found('closeTogether()'), 'a function of the part');
  t.notOk(found('closeTogther()'), 'a misspelt one');
  t.ok(found('EXPECTED'), "a constant of shared/'s");
  t.notOk(found("slowReader: 'bounded'"), 'a key the code does not have (a variable is not a key)');
  t.ok(found('allowHalfOpen: true'), 'a key it has');
  t.ok(
    found('shared/test/matrix.ts') && found('../shared/test/matrix.ts'),
    'a path, from the root or the file',
  );
  t.notOk(found('shared/test/matrx.ts'), 'a path that does not exist');
  t.ok(found('.steps/4.N/') && found('part*/matrix.test.ts'), 'generated, and a glob');
  t.ok(found('--idle-timeout 5s', part3), 'an option the part parses');
  t.notOk(found('--idle-timeout', part2), 'one that only a later part parses');
  t.ok(
    found('--idle-timeout', { ...part2, parts: ['part3-backpressure'] }),
    'unless the paragraph names it',
  );
  t.ok(found('npm run diff -- 3 --tests'), 'a script and its option');
  t.notOk(found('npm run dif'), 'a script package.json does not have');
  t.notOk(found('npm run diff -- 3 --test'), 'an option the script does not parse');
  t.ok(found('socket.pause()') && found('net.createServer') && found('ECONNRESET'), "Node's");
  t.ok(found('epoll_wait') && found('TIME_WAIT'), 'not ours, on purpose');
  t.ok(found('Buffering N bytes'), 'words are no name');
  t.ok(found('proxy.ts: listen-port must be an integer'), 'nor is a message');
  t.same(
    commandsIn([
      'npm run part4 -- --config x.json   # a comment',
      '$ npm test && npx tap a.test.ts | cat',
    ]),
    [
      ['npm', 'run', 'part4', '--', '--config', 'x.json'],
      ['npm', 'test'],
      ['npx', 'tap', 'a.test.ts'],
    ],
  );
  t.equal(
    withoutComments("a(); // b()\n/* c() */ d('// e', /\\/* f/);"),
    "a();       \n          d('// e', /\\/* f/);",
    'comments go, strings and regular expressions stay',
  );
});

const all = MARKDOWN.map((file) => ({
  file,
  prose: readProse(readFileSync(path.join(ROOT, file), 'utf8')),
}));

t.test('every fenced block in the Markdown says what it is', async (t) => {
  for (const { file, prose } of all) {
    for (const problem of prose.problems) t.fail(`${file}:${problem.replace(/^line /, '')}`);
    for (const block of prose.blocks) {
      const problem = blockProblem(block);
      if (problem) t.fail(`${file}:${block.line}: ${problem}`);
    }
  }
});

t.test('every name the prose gives in backticks is one the code has', async (t) => {
  for (const { file, prose } of all) {
    for (const span of prose.spans.filter((s) => !s.external)) {
      const problem = lookUp(span.text, { markdown: file, parts: partsNamed(span.paragraph) });
      if (problem) t.fail(`${file}:${span.line}: ${problem}`);
    }
    for (const block of prose.blocks.filter((b) => SHELL_TAGS.has(b.tag))) {
      for (const command of commandsIn(block.lines)) {
        const problem = lookUpCommand(command, { markdown: file, parts: [] });
        if (problem) t.fail(`${file}:${block.line}: ${problem}`);
      }
    }
    for (const link of prose.links) {
      if (link.target !== '' && resolve(link.target, { markdown: file, parts: [] }).length === 0) {
        t.fail(`${file}:${link.line}: a link to ${link.target}, which does not exist`);
      }
    }
  }
});
