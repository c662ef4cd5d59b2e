/**
 * Where a JSON syntax error is, as a line and a column, for the one line that
 * reports it: `web.json: invalid JSON at line 3 column 7: Expected property
 * name or '}'`. Node 20's JSON.parse gives an offset for most errors but not
 * for all; jsonErrorOffset() finds it for the others.
 */

/** "invalid JSON at line L column C: why", from the text and JSON.parse's message. */
export function describeJsonError(text: string, message: string): string {
  const { line, column } = lineAndColumn(text, jsonErrorOffset(text, message));
  const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*$/s, '');
  return `invalid JSON at line ${line} column ${column}: ${reason}`;
}

/**
 * The offset of a JSON.parse error. Node 20 gives "at position N" for most
 * errors, but for an unexpected token it quotes the text instead. Then we look
 * for the shortest prefix of the text that already fails for a reason other
 * than running out of input: its last character is the culprit.
 */
function jsonErrorOffset(text: string, message: string): number {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  if (message.includes('Unexpected end of JSON input')) return text.length;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (brokenBeforeEnd(text.slice(0, middle))) high = middle;
    else low = middle + 1;
  }
  return high - 1;
}

function brokenBeforeEnd(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return false;
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    if (at) return Number(at[1]) < prefix.length;
    return !message.includes('Unexpected end of JSON input');
  }
}

/** 1-based line and column of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}
