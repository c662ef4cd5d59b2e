/**
 * The head of the first HTTP/1.x request on a connection, read as its bytes
 * arrive, for one purpose: to learn which host the client wants before a
 * backend is chosen. Nothing is changed: the caller forwards every byte it
 * received (the head and whatever followed it) and the backend parses the
 * request again, for real.
 *
 *   GET /index.html HTTP/1.1\r\n       request line: at most 8 KiB with its CRLF, or 414
 *   Host: www.example.org\r\n          header lines
 *   Accept: *\/*\r\n
 *   \r\n                               end of the head: the whole head at most 16 KiB, or 431
 *   ...a body, the next request...     not looked at
 *   ^                                  ^
 *   offset 0                           headLength
 *
 * Each line is read once, when its LF arrives; a limit is enforced as soon as
 * enough bytes have arrived to break it, without waiting for the line to end.
 * The answer depends only on the bytes, never on how TCP cut them into chunks.
 *
 * Strict, because the proxy routes on what it reads and the backend acts on
 * what it reads, and the two must not differ (a request smuggled to the wrong
 * host): lines end in CRLF and nothing else, no CR elsewhere, no NUL or other
 * control characters, no obs-fold (a header continued on the next line), one
 * Host, well formed, and a Host on every HTTP/1.1 request (RFC 9112 3.2). A
 * request target in absolute form (`GET http://host/ HTTP/1.1`) names the host
 * itself, and RFC 9112 says it wins over the Host header. Any of that wrong is
 * a 400. Empty lines before the request line are skipped, as RFC 9112 2.2
 * recommends.
 *
 * What it leaves out: every request after the first (a keep-alive connection
 * stays with the backend its first request chose, as it did in the Go proxy),
 * bodies and their framing (Content-Length, chunked: the backend's business),
 * and HTTP/2 (its connection preface is not HTTP/1.x: 400).
 */

export interface HttpHeadOptions {
  /** The request line, CRLF included. Default 8 KiB. */
  maxRequestLineBytes?: number;
  /** The whole head, from the first byte to the empty line's LF. Default 16 KiB. */
  maxHeadBytes?: number;
}

export type HttpHeadResult =
  | { state: 'need-more' }
  | {
      state: 'done';
      /** The Host as sent (spaces around it trimmed); the target's authority in absolute form. */
      host: string | undefined;
      method: string;
      target: string;
      version: string;
      /** Where the head ends (after its empty line), counted from the first byte. */
      headLength: number;
      /** Every byte pushed so far, the head and what followed it: forward them all. */
      bytes: Buffer;
    }
  | { state: 'error'; status: 400 | 414 | 431; reason: string };

export const DEFAULT_MAX_REQUEST_LINE_BYTES = 8 * 1024;
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;
// RFC 9110 5.6.2: a method and a header name are tokens.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
// Visible ASCII, and obs-text (bytes 0x80-0xff, read as latin1) that some clients send unencoded.
const REQUEST_LINE = new RegExp(`^(${TOKEN}) ([\\x21-\\x7e\\x80-\\xff]+) HTTP/(1\\.[0-9])$`);
const HEADER_LINE = new RegExp(`^(${TOKEN}):([\\t\\x20-\\x7e\\x80-\\xff]*)$`);
// RFC 9112 3.2: Host = uri-host [ ":" port ], from RFC 3986 without userinfo.
const HOST_VALUE = /^(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::[0-9]*)?$/;
// RFC 9112 3.2.2: absolute-form, scheme "://" authority.
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

interface RequestLine {
  method: string;
  target: string;
  /** "1.0", "1.1". */
  version: string;
  /** The host part of an absolute-form target. */
  authority?: string;
}

export class HttpHeadReader {
  private readonly maxRequestLineBytes: number;
  private readonly maxHeadBytes: number;
  /** Everything pushed so far; never more than maxHeadBytes while the answer is need-more. */
  private bytes: Buffer = Buffer.alloc(0);
  /** Where the line being read starts, and how far we have looked for its LF. */
  private lineStart = 0;
  private scanned = 0;
  private requestLine?: RequestLine;
  private host?: string;
  private result: HttpHeadResult = { state: 'need-more' };

  constructor(options: HttpHeadOptions = {}) {
    this.maxRequestLineBytes = options.maxRequestLineBytes ?? DEFAULT_MAX_REQUEST_LINE_BYTES;
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
  }

  /** Adds the next chunk from the client. Once the answer is done or an error, it stays so. */
  push(chunk: Buffer): HttpHeadResult {
    if (this.result.state !== 'need-more') return this.result;
    this.bytes = this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk]);
    this.result = this.readLines();
    if (this.result.state === 'error') this.bytes = Buffer.alloc(0);
    return this.result;
  }

  /** Reads every complete line there is, until the head ends, a line is wrong, or bytes run out. */
  private readLines(): HttpHeadResult {
    for (;;) {
      const end = this.nextLineEnd();
      if (typeof end !== 'number') return end;
      const start = this.lineStart;
      this.lineStart = end + 1;
      this.scanned = end + 1;
      // end is the LF; the line must end in CRLF, and hold no other CR.
      if (end === start || this.bytes[end - 1] !== CR)
        return badRequest('a line ends in a bare LF');
      const line = this.bytes.toString('latin1', start, end - 1);
      if (line.includes('\r')) return badRequest('a bare CR');

      if (this.requestLine === undefined) {
        if (line === '') continue; // an empty line before the request line
        const problem = this.readRequestLine(line);
        if (problem !== undefined) return badRequest(problem);
      } else if (line === '') {
        return this.endOfHead(this.requestLine, end + 1);
      } else {
        const problem = this.readHeaderLine(line);
        if (problem !== undefined) return badRequest(problem);
      }
    }
  }

  /**
   * The offset of the LF ending the current line, or the answer when there is
   * none yet: need-more, or an error once the limit the line is under has been
   * reached without one.
   */
  private nextLineEnd(): number | HttpHeadResult {
    const lineLimit =
      this.requestLine === undefined
        ? this.lineStart + this.maxRequestLineBytes
        : Number.POSITIVE_INFINITY;
    const limit = Math.min(lineLimit, this.maxHeadBytes);
    const searchEnd = Math.min(this.bytes.length, limit);
    const found = this.bytes.subarray(this.scanned, searchEnd).indexOf(LF);
    if (found >= 0) return this.scanned + found;
    this.scanned = Math.max(this.scanned, searchEnd);
    if (this.bytes.length < limit) return { state: 'need-more' };
    return limit === lineLimit
      ? {
          state: 'error',
          status: 414,
          reason: `request line over ${this.maxRequestLineBytes} bytes`,
        }
      : { state: 'error', status: 431, reason: `head over ${this.maxHeadBytes} bytes` };
  }

  private readRequestLine(line: string): string | undefined {
    const match = REQUEST_LINE.exec(line);
    if (!match) return 'a malformed request line';
    const [, method, target, version] = match;
    this.requestLine = { method, target, version };
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute) {
      const authority = absolute[1];
      if (!HOST_VALUE.test(authority)) return 'a malformed authority in the request target';
      this.requestLine.authority = authority;
    }
    return undefined;
  }

  private readHeaderLine(line: string): string | undefined {
    if (line[0] === ' ' || line[0] === '\t')
      return 'a header line starting with whitespace (obs-fold)';
    const match = HEADER_LINE.exec(line);
    if (!match) return 'a malformed header line';
    const name = match[1];
    if (name.toLowerCase() !== 'host') return undefined;
    const value = trimSpaces(match[2]);
    if (this.host !== undefined) return 'two Host headers';
    if (!HOST_VALUE.test(value)) return 'a malformed Host header';
    this.host = value;
    return undefined;
  }

  private endOfHead(requestLine: RequestLine, headLength: number): HttpHeadResult {
    const { method, target, version, authority } = requestLine;
    // HTTP/1.0 predates Host: without one, the default pool serves it.
    if (this.host === undefined && version !== '1.0') return badRequest('no Host header');
    const host = authority ?? this.host;
    return { state: 'done', host, method, target, version, headLength, bytes: this.bytes };
  }
}

/** One-shot form: the answer for these bytes, as if they had arrived in one chunk. */
export function readHttpHead(bytes: Buffer, options?: HttpHeadOptions): HttpHeadResult {
  return new HttpHeadReader(options).push(bytes);
}

/**
 * Removes the optional spaces and tabs around a header value. By hand: a regex
 * like /[ \t]+$/ takes quadratic time on a long run of spaces followed by a
 * letter, and String.trim() would also remove a latin1 no-break space.
 */
export function trimSpaces(value: string): string {
  const space = (c: string) => c === ' ' || c === '\t';
  let start = 0;
  let end = value.length;
  while (start < end && space(value[start])) start++;
  while (end > start && space(value[end - 1])) end--;
  return value.slice(start, end);
}

function badRequest(reason: string): HttpHeadResult {
  return { state: 'error', status: 400, reason };
}
