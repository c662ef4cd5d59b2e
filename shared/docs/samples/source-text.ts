/**
 * Words from the source: a string or template literal of a part's code, found
 * by how it begins, as a function of its holes.
 *
 *   words('part4-balancing/proxy.ts', 'Reloaded ')('web.json', 1, 1)
 *     the literal `Reloaded ${commandLine.file}: ${next.listeners.length} listener(s), ...`
 *     with its three holes filled: "Reloaded web.json: 1 listener(s), 1 pool(s)."
 *
 * For a line the code builds inline, in a function that needs a socket, a
 * signal or a running proxy: the sample cannot run that code, so it reads the
 * code's words instead, and a sample whose line changed in the code changes
 * with it. `start` is matched against the source as written, after the
 * opening quote, `${...}` and all; literals joined by `+` read as one. Every
 * literal that begins so must be the same literal (a message written twice is
 * fine), and there must be one.
 *
 * What it leaves out: the code around the literal. The values of its holes
 * are the sample's own, given in the order the holes come.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../lib/programs.ts';

/** A literal as read: its text between the holes, cooked, and each hole's expression. */
export interface Literal {
  raw: string;
  texts: string[];
  holes: string[];
}

/** The literal of `file` (relative to the root) that begins with `start`, as a function of its holes. */
export function words(file: string, start: string): (...values: unknown[]) => string {
  const literal = findLiteral(readFileSync(path.join(ROOT, file), 'utf8'), start, file);
  return (...values) => {
    if (values.length !== literal.holes.length) {
      throw new Error(
        `${file}: ${literal.raw} has ${literal.holes.length} hole(s) (${literal.holes.join(', ')}), given ${values.length}`,
      );
    }
    return literal.texts
      .map((text, i) => text + (i < values.length ? String(values[i]) : ''))
      .join('');
  };
}

/** The one literal of `source` that begins with `start`. */
export function findLiteral(source: string, start: string, file = 'the source'): Literal {
  const found = new Map<string, Literal>();
  for (let at = 0; at < source.length; at++) {
    if (!QUOTES.includes(source[at]) || !source.startsWith(start, at + 1)) continue;
    try {
      const literal = readJoined(source, at);
      found.set(literal.raw, literal);
    } catch {
      // An apostrophe in a comment, say: no literal starts here.
    }
  }
  if (found.size === 0) throw new Error(`${file}: no string begins with ${JSON.stringify(start)}`);
  if (found.size > 1) {
    throw new Error(
      `${file}: ${found.size} different strings begin with ${JSON.stringify(start)}: ${[...found.keys()].join(' | ')}`,
    );
  }
  return [...found.values()][0];
}

const QUOTES = ['`', "'", '"'];

/** The literal at `at`, and the ones joined to it by `+`. */
function readJoined(source: string, at: number): Literal {
  const joined: Literal = { raw: '', texts: [''], holes: [] };
  for (let next = at; ; ) {
    const { literal, end } = readLiteral(source, next);
    joined.raw += (joined.raw ? ' + ' : '') + literal.raw;
    joined.texts[joined.texts.length - 1] += literal.texts[0];
    joined.texts.push(...literal.texts.slice(1));
    joined.holes.push(...literal.holes);
    const plus = /^\s*\+\s*/.exec(source.slice(end, end + 200));
    if (!plus || !QUOTES.includes(source[end + plus[0].length])) return joined;
    next = end + plus[0].length;
  }
}

/** One literal: a quoted string, or a template with its holes. `end` is just past its closing quote. */
function readLiteral(source: string, start: number): { literal: Literal; end: number } {
  const quote = source[start];
  const texts = [''];
  const holes: string[] = [];
  let at = start + 1;
  while (at < source.length) {
    const c = source[at];
    if (c === quote) {
      return { literal: { raw: source.slice(start, at + 1), texts, holes }, end: at + 1 };
    }
    if (c === '\\') {
      const [text, length] = escapeAt(source, at);
      texts[texts.length - 1] += text;
      at += length;
    } else if (quote === '`' && source.startsWith('${', at)) {
      const end = endOfExpression(source, at + 2);
      holes.push(source.slice(at + 2, end).trim());
      texts.push('');
      at = end + 1;
    } else if (c === '\n' && quote !== '`') {
      break;
    } else {
      texts[texts.length - 1] += c;
      at++;
    }
  }
  throw new Error(`a string that never ends, from ${source.slice(start, start + 40)}`);
}

/** An escape sequence at `at` (its backslash): the text it stands for, and its length. */
function escapeAt(source: string, at: number): [string, number] {
  const c = source[at + 1];
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\n': '' };
  if (c in simple) return [simple[c], 2];
  const hex = /^x([0-9a-fA-F]{2})|^u\{([0-9a-fA-F]+)\}|^u([0-9a-fA-F]{4})/.exec(
    source.slice(at + 1, at + 12),
  );
  if (hex)
    return [
      String.fromCodePoint(Number.parseInt(hex[1] ?? hex[2] ?? hex[3], 16)),
      1 + hex[0].length,
    ];
  return [c, 2];
}

/** The index of the `}` that closes a hole whose expression starts at `at`. */
function endOfExpression(source: string, at: number): number {
  let depth = 0;
  while (at < source.length) {
    const c = source[at];
    if (QUOTES.includes(c)) {
      at = readLiteral(source, at).end;
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      if (depth === 0) return at;
      depth--;
    }
    at++;
  }
  throw new Error('a ${ that never closes');
}
