/**
 * The server name (SNI) in a TLS ClientHello, read as its bytes arrive, so a
 * TLS connection can be routed by name the way nginx's ssl_preread does it:
 * without terminating TLS. The proxy never decrypts, never answers and never
 * changes a byte; the backend holds the certificate and does the handshake.
 *
 * The ClientHello is the client's first message. It travels in records of
 * type 22 (handshake); a large one (post-quantum key shares, a long session
 * ticket, many ALPN names) is split across several records, and any record
 * can arrive split across TCP segments. So the reader reassembles twice:
 * segments into records, then record fragments into the message.
 *
 *   record    +------+---------+--------+--------------------------------+
 *             | 0x16 | 0x03 xx | length | fragment: 1 to 16384 bytes     |   ...records of type 22
 *             |  1   |    2    |   2    |                                |   until the message is whole
 *             +------+---------+--------+--------------------------------+
 *   the fragments end to end make the handshake message:
 *   message   +------+----------+--------------------------------------------------+
 *             | 0x01 | length 3 | ClientHello body                                 |
 *             +------+----------+--------------------------------------------------+
 *   body      version 2 | random 32 | session id: length 1, 0 to 32 bytes
 *             cipher suites: length 2, pairs | compression methods: length 1, 1 or more
 *             extensions: length 2, then each one: type 2 | length 2 | data
 *   extension 0, server_name (RFC 6066), its data:
 *             list length 2 | name type 1 (0 = host_name) | name length 2 | name, ASCII
 *
 * Every length is checked against its container, an extension type may occur
 * once, and the name must be a host name (letters, digits, "-", "_", dots; one
 * trailing dot is let through, as servers accept it). The whole, record headers
 * included, must fit in maxBytes (16 KiB by default, nginx's preread buffer),
 * and a record or message announced longer than that is refused when its
 * header arrives. The answer depends only on the bytes, never on how TCP cut
 * them into chunks.
 *
 * What it leaves out: SSLv2-style hellos (first byte 0x80, long gone), DTLS,
 * and Encrypted Client Hello: with ECH the name seen here is the public outer
 * one, and routing on it is what a proxy that does not terminate TLS can do.
 */
import { isHostName } from '../ip.ts';

export interface ClientHelloOptions {
  /** The most bytes to read for the hello, record headers included. Default 16 KiB. */
  maxBytes?: number;
}

export type ClientHelloResult =
  | { state: 'need-more' }
  | {
      state: 'done';
      /** The host_name as sent; undefined when the hello has no server_name. */
      sni: string | undefined;
      /** Where the record that completed the hello ends, counted from the first byte. */
      helloLength: number;
      /** Every byte pushed so far: forward them all, unchanged. */
      bytes: Buffer;
    }
  | { state: 'error'; error: 'not-tls' | 'malformed' | 'too-long'; reason: string };

export const DEFAULT_MAX_HELLO_BYTES = 16 * 1024;

const HANDSHAKE_RECORD = 22;
const CLIENT_HELLO = 1;
const RECORD_HEADER = 5;
const MAX_FRAGMENT = 16 * 1024;
const SERVER_NAME_EXTENSION = 0;
const HOST_NAME = 0;
const NEED_MORE: ClientHelloResult = { state: 'need-more' };

export class ClientHelloReader {
  private readonly maxBytes: number;
  /** Everything pushed so far; never more than maxBytes while the answer is need-more. */
  private bytes: Buffer = Buffer.alloc(0);
  /** Where the next record starts: everything before it has been read. */
  private recordStart = 0;
  /** The fragments of the records read so far, end to end. */
  private message: Buffer = Buffer.alloc(0);
  private result: ClientHelloResult = NEED_MORE;

  constructor(options: ClientHelloOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_HELLO_BYTES;
  }

  /** Adds the next chunk from the client. Once the answer is done or an error, it stays so. */
  push(chunk: Buffer): ClientHelloResult {
    if (this.result.state !== 'need-more') return this.result;
    this.bytes = this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk]);
    this.result = this.readRecords();
    if (this.result.state !== 'need-more') this.message = Buffer.alloc(0);
    if (this.result.state === 'error') this.bytes = Buffer.alloc(0);
    return this.result;
  }

  private readRecords(): ClientHelloResult {
    if (this.recordStart === 0) {
      const notTls = this.checkFirstBytes();
      if (notTls) return notTls;
    }
    for (;;) {
      const start = this.recordStart;
      if (start + RECORD_HEADER > this.maxBytes) {
        // Not before every byte under the limit is in: checkFirstBytes may have more to say.
        return this.bytes.length >= this.maxBytes ? tooLong(this.maxBytes) : NEED_MORE;
      }
      if (this.bytes.length < start + RECORD_HEADER) return NEED_MORE;
      const type = this.bytes[start];
      const length = this.bytes.readUInt16BE(start + 3);
      if (type !== HANDSHAKE_RECORD) {
        return malformed(`a record of type ${type} before the ClientHello ended`);
      }
      if (this.bytes[start + 1] !== 3) return malformed('a record of an unknown TLS version');
      if (length === 0 || length > MAX_FRAGMENT) return malformed(`a record of ${length} bytes`);
      const end = start + RECORD_HEADER + length;
      if (end > this.maxBytes) return tooLong(this.maxBytes);
      if (this.bytes.length < end) return NEED_MORE;

      const fragment = this.bytes.subarray(start + RECORD_HEADER, end);
      this.message = this.message.length === 0 ? fragment : Buffer.concat([this.message, fragment]);
      this.recordStart = end;
      const answer = this.readMessage();
      if (answer) return answer;
    }
  }

  /**
   * A TLS connection opens with a handshake record: 0x16, then a version 3.x
   * (x from 0, SSL 3, to 4; TLS 1.3 hellos say 3.1 here for old middleboxes).
   * Decided on the first byte that does not fit, before the record is whole.
   */
  private checkFirstBytes(): ClientHelloResult | undefined {
    // Only bytes within the limit count, so that the answer never depends on the chunking.
    const [type, major, minor] = this.bytes.subarray(0, this.maxBytes);
    if (type !== undefined && type !== HANDSHAKE_RECORD) {
      return notTls(`first byte 0x${type.toString(16).padStart(2, '0')}, not a TLS handshake`);
    }
    if ((major !== undefined && major !== 3) || (minor !== undefined && minor > 4)) {
      return notTls('not a TLS record version');
    }
    return undefined;
  }

  /** After each record: the hello if the message is whole, an error, or undefined to read on. */
  private readMessage(): ClientHelloResult | undefined {
    if (this.message[0] !== CLIENT_HELLO) {
      return malformed(`handshake message type ${this.message[0]}, not a ClientHello`);
    }
    if (this.message.length < 4) return undefined;
    const length = this.message.readUIntBE(1, 3);
    const missing = 4 + length - this.message.length;
    if (missing > 0) {
      // The rest takes at least one more record: if even that cannot fit, say so now.
      if (this.recordStart + RECORD_HEADER + missing > this.maxBytes) return tooLong(this.maxBytes);
      return undefined;
    }
    try {
      const sni = serverName(this.message.subarray(4, 4 + length));
      return { state: 'done', sni, helloLength: this.recordStart, bytes: this.bytes };
    } catch (err) {
      if (err instanceof Malformed) return malformed(err.message);
      throw err;
    }
  }
}

/** One-shot form: the answer for these bytes, as if they had arrived in one chunk. */
export function readClientHello(bytes: Buffer, options?: ClientHelloOptions): ClientHelloResult {
  return new ClientHelloReader(options).push(bytes);
}

/** The host_name of a ClientHello body, or undefined. Throws Malformed. */
function serverName(body: Buffer): string | undefined {
  const hello = new Cursor(body);
  if (hello.u8('the version') !== 3) throw new Malformed('a ClientHello of an unknown version');
  hello.u8('the version');
  hello.skip(32, 'the random');
  if (hello.vector(1, 'the session id').remaining > 32) {
    throw new Malformed('a session id over 32 bytes');
  }
  const suites = hello.vector(2, 'the cipher suites');
  if (suites.remaining === 0 || suites.remaining % 2 !== 0) {
    throw new Malformed('a malformed cipher suite list');
  }
  if (hello.vector(1, 'the compression methods').remaining === 0) {
    throw new Malformed('no compression method');
  }
  // A hello may end here: extensions came with TLS 1.2 (and SNI with them).
  if (hello.remaining === 0) return undefined;
  const extensions = hello.vector(2, 'the extensions');
  if (hello.remaining !== 0) throw new Malformed('bytes after the extensions');

  const seen = new Set<number>();
  let sni: string | undefined;
  while (extensions.remaining > 0) {
    const type = extensions.u16('an extension type');
    const data = extensions.vector(2, `extension ${type}`);
    if (seen.has(type)) throw new Malformed(`extension ${type} twice`);
    seen.add(type);
    if (type === SERVER_NAME_EXTENSION) sni = hostName(data);
  }
  return sni;
}

/** The host_name entry of a server_name extension, checked. Throws Malformed. */
function hostName(data: Cursor): string | undefined {
  const list = data.vector(2, 'the server name list');
  if (data.remaining !== 0) throw new Malformed('bytes after the server name list');
  if (list.remaining === 0) throw new Malformed('an empty server name list');
  const types = new Set<number>();
  let name: string | undefined;
  while (list.remaining > 0) {
    const type = list.u8('a server name type');
    // Every name type, known or future, is a 2-byte length and its bytes (RFC 6066 3).
    const value = list.vector(2, 'a server name');
    if (types.has(type)) throw new Malformed('two server names of the same type');
    types.add(type);
    if (type === HOST_NAME) name = value.rest().toString('latin1');
  }
  if (name !== undefined && !isHostName(name.endsWith('.') ? name.slice(0, -1) : name)) {
    throw new Malformed(`server name ${JSON.stringify(name.slice(0, 64))} is not a host name`);
  }
  return name;
}

/** A length that runs past its container, or a value the format forbids. */
class Malformed extends Error {}

/** Reads big-endian numbers and length-prefixed vectors from a slice of a buffer. */
class Cursor {
  private position: number;

  constructor(
    private readonly buffer: Buffer,
    start = 0,
    private readonly end = buffer.length,
  ) {
    this.position = start;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buffer[this.position++];
  }

  u16(what: string): number {
    this.need(2, what);
    const value = this.buffer.readUInt16BE(this.position);
    this.position += 2;
    return value;
  }

  skip(count: number, what: string): void {
    this.need(count, what);
    this.position += count;
  }

  /** A length of `lengthBytes` bytes, then that many bytes, returned as a cursor of their own. */
  vector(lengthBytes: 1 | 2, what: string): Cursor {
    const length = lengthBytes === 1 ? this.u8(what) : this.u16(what);
    this.need(length, what);
    const inner = new Cursor(this.buffer, this.position, this.position + length);
    this.position += length;
    return inner;
  }

  rest(): Buffer {
    const bytes = this.buffer.subarray(this.position, this.end);
    this.position = this.end;
    return bytes;
  }

  private need(count: number, what: string): void {
    if (this.position + count > this.end) throw new Malformed(`${what} runs past its end`);
  }
}

function notTls(reason: string): ClientHelloResult {
  return { state: 'error', error: 'not-tls', reason };
}

function malformed(reason: string): ClientHelloResult {
  return { state: 'error', error: 'malformed', reason };
}

function tooLong(maxBytes: number): ClientHelloResult {
  return { state: 'error', error: 'too-long', reason: `ClientHello over ${maxBytes} bytes` };
}
