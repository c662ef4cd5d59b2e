/**
 * The first bytes of a connection, built byte by byte for the tests of part
 * 4's readers: an HTTP request head, a TLS ClientHello and the records that
 * carry it, a PROXY protocol version 2 header and what a reader must decode
 * from it. Plain functions, no randomness: the fuzzer (fuzz-arbitraries.ts)
 * feeds them random parts, and the unit and integration tests fixed ones.
 *
 * Nothing here is imported from the readers under test, so that a message
 * built here checks them rather than agreeing with them by construction; only
 * the text of an address is ip-bytes.ts's, tested on its own (ip.unit.test.ts).
 * (A version 1 line needs no builder: the tests write it out.)
 */
import { formatIPv4, formatIPv6 } from '../ip-bytes.ts';

function u16(value: number): Buffer {
  return Buffer.from([value >> 8, value & 0xff]);
}

/** A 2-byte length, then the bytes. */
function vector16(bytes: Uint8Array): Buffer {
  return Buffer.concat([u16(bytes.length), bytes]);
}

// --- HTTP request heads ----------------------------------------------------------

export interface HttpHeadParts {
  method: string;
  /** The request target as sent: "/path", or "http://host/path". */
  target: string;
  /** "1.0" or "1.1". */
  version: string;
  /** The header lines in order, as sent, without their CRLF ("Host: a", "Host:\ta "). */
  lines?: string[];
  /** Empty lines before the request line (a server skips at least one, RFC 9112 2.2). */
  emptyLinesBefore?: number;
}

/** A request head up to and including its empty line, as text (each char one byte, latin1). */
export function httpHead(parts: HttpHeadParts): string {
  const lines = (parts.lines ?? []).map((line) => `${line}\r\n`).join('');
  return `${'\r\n'.repeat(parts.emptyLinesBefore ?? 0)}${parts.method} ${parts.target} HTTP/${parts.version}\r\n${lines}\r\n`;
}

// --- TLS ClientHellos ----------------------------------------------------------

export interface ClientHelloParts {
  /** A host_name entry in a server_name extension, when given. */
  sni?: string;
  sessionId?: Uint8Array;
  cipherSuites?: number[];
  /** Other extensions, in order; the server_name one goes at index sniAt. */
  extensions?: { type: number; data: Uint8Array }[];
  sniAt?: number;
  /** No extensions block at all (a pre-TLS 1.2 hello); only when there are none. */
  withoutExtensions?: boolean;
}

/** A ClientHello handshake message (type, 3-byte length, body), as in the picture in client-hello.ts. */
export function clientHello(parts: ClientHelloParts): Buffer {
  const sessionId = parts.sessionId ?? new Uint8Array(32);
  const suites = parts.cipherSuites ?? [0x1301, 0x1302, 0xc02f];
  const extensions = [...(parts.extensions ?? [])];
  if (parts.sni !== undefined) {
    const at = (parts.sniAt ?? 0) % (extensions.length + 1);
    extensions.splice(at, 0, { type: 0, data: serverNameData([[0, Buffer.from(parts.sni)]]) });
  }
  const body = [
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7), // random
    Buffer.from([sessionId.length]),
    sessionId,
    u16(suites.length * 2),
    ...suites.map(u16),
    Buffer.from([1, 0]), // one compression method: null
  ];
  if (!(parts.withoutExtensions && extensions.length === 0)) {
    const blocks = extensions.map((e) => Buffer.concat([u16(e.type), u16(e.data.length), e.data]));
    body.push(vector16(Buffer.concat(blocks)));
  }
  const message = Buffer.concat(body);
  return Buffer.concat([
    Buffer.from([1, message.length >> 16, (message.length >> 8) & 0xff, message.length & 0xff]),
    message,
  ]);
}

/** A server_name extension's data: a list of (name type, name). */
export function serverNameData(names: [number, Buffer][]): Buffer {
  return vector16(
    Buffer.concat(
      names.map(([type, name]) => Buffer.concat([Buffer.from([type]), vector16(name)])),
    ),
  );
}

/**
 * A handshake message cut into records of type 22: fragment sizes taken in
 * turn from `fragmentSizes` (one record for all when empty; a record is never empty).
 */
export function tlsRecords(
  message: Buffer,
  fragmentSizes: number[] = [],
  version = 0x0301,
): Buffer {
  const records: Buffer[] = [];
  for (let start = 0, i = 0; start < message.length; i++) {
    const size =
      fragmentSizes.length === 0 ? message.length : fragmentSizes[i % fragmentSizes.length] || 1;
    const fragment = message.subarray(start, start + size);
    records.push(Buffer.from([22, version >> 8, version & 0xff]), u16(fragment.length), fragment);
    start += fragment.length;
  }
  return Buffer.concat(records);
}

// --- PROXY protocol version 2 ----------------------------------------------------
//
// The signature, the address block sizes and the reading of the addresses
// back are a second copy, on purpose, of what ../proxy-protocol/proxy-protocol.ts
// holds, written from the specification
// (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt, section 2.2).
// Importing them from there would make the fuzzer's expected answers agree
// with the reader by construction: keep them here. (Only the text form of an
// address comes from ../ip.ts, which ip.unit.test.ts and the fuzzer's hosts
// property check against Node's own reading.)

/** The 12 bytes every version 2 header starts with. */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/**
 * The address block's size for each valid family-and-protocol byte: UNSPEC,
 * then STREAM and DGRAM over INET (two addresses of 4 bytes, two ports),
 * INET6 (16-byte addresses) and UNIX (two paths of 108 bytes).
 */
export const V2_ADDRESS_BYTES: Record<number, number> = {
  0: 0,
  17: 12,
  18: 12,
  33: 36,
  34: 36,
  49: 216,
  50: 216,
};

/**
 * A version 2 header: signature, version-and-command (0x21 PROXY, 0x20
 * LOCAL), family-and-protocol, 2-byte length, then `body` (the address block
 * and TLVs). `length` may lie, to build broken headers.
 */
export function proxyV2(
  command: number,
  family: number,
  body: Buffer,
  length = body.length,
): Buffer {
  return Buffer.concat([V2_SIGNATURE, Buffer.from([command, family]), u16(length), body]);
}

/** One TLV: its type, a 2-byte length, the value. */
export function tlv(type: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([type]), vector16(value)]);
}

/** An address as text, and a port: one end of a connection, as a reader gives it. */
export interface End {
  address: string;
  port: number;
}

/**
 * The two ends a PROXY header's address block names, as a reader must give
 * them back: for TCP over IPv4 (0x11) or IPv6 (0x21), source and destination
 * address then source and destination port; for any other family, none.
 */
export function v2Ends(
  family: number,
  block: Buffer,
): { source: End; destination: End } | undefined {
  if (family !== 0x11 && family !== 0x21) return undefined;
  const length = family === 0x11 ? 4 : 16;
  const format = length === 4 ? formatIPv4 : formatIPv6;
  return {
    source: { address: format(block.subarray(0, length)), port: block.readUInt16BE(2 * length) },
    destination: {
      address: format(block.subarray(length, 2 * length)),
      port: block.readUInt16BE(2 * length + 2),
    },
  };
}
