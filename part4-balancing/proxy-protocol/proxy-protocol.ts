/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): a header sent ahead of the
 * client's bytes to say who the client is, since the backend's own socket only
 * shows the proxy. We write it to backends that ask for it, and read it from
 * a proxy in front of us, as the specification describes
 * (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
 *
 * Version 1 is one line of text, at most 107 bytes with its CRLF:
 *
 *   PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n
 *   PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n
 *         family  source    destination  ports: source, destination
 *   PROXY UNKNOWN\r\n           addresses unknown: the connection's own stand
 *
 * Version 2 is binary, and can carry more (TLVs):
 *
 *   +------------------------------------------+---------+---------+----------+
 *   | signature                                | ver|cmd | fam|prot | length   |
 *   | 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A (12) | 1       | 1       | 2        |
 *   +------------------------------------------+---------+---------+----------+
 *   then `length` bytes:
 *   +----------------+----------------+----------+----------+---------------------------+
 *   | source address | dest. address  | src port | dst port | TLVs, each:               |
 *   | 4 or 16        | 4 or 16        | 2        | 2        | type 1 | length 2 | value |
 *   +----------------+----------------+----------+----------+---------------------------+
 *   ver|cmd    0x21 PROXY: the addresses are the client's
 *              0x20 LOCAL: the sender's own connection (a health check): no addresses
 *   fam|prot   0x11 TCP over IPv4 (12 address bytes), 0x21 TCP over IPv6 (36), 0x00 UNSPEC (0)
 *   TLV 0x02   AUTHORITY: the host name the client asked for (Host or SNI), UTF-8
 *
 * The specification's rule for a receiver: never guess whether a header is
 * there. A listener is configured to require one, and then anything else is an
 * error, decided on the first byte that matches neither signature. An
 * IPv4-mapped address (::ffff:1.2.3.4, as a dual-stack socket reports an IPv4
 * client) is sent as TCP4. The answer of the reader depends only on the bytes,
 * never on how TCP cut them into chunks.
 *
 * What it leaves out: checking a CRC32C TLV (kept, not verified), decoding the
 * SSL TLV's sub-fields, and addresses of other families: UDP and UNIX headers
 * are accepted without addresses, as the specification allows, so the
 * connection's own stand.
 */
import type { ConnectionAddresses } from '../ip.ts';
import { formatIPv4, formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from '../ip-bytes.ts';

/** Both ends of the client's connection, as a Node socket reports them. */
export interface Endpoint {
  address: string;
  port: number;
}

export interface Tlv {
  type: number;
  value: Buffer;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * The client, and where it connected to, as the proxy in front saw them.
   * Both undefined for v1 UNKNOWN, v2 LOCAL and families other than TCP:
   * then the connection's own addresses stand.
   */
  source?: Endpoint;
  destination?: Endpoint;
  /** Version 2's extensions, in order; always empty for version 1. */
  tlvs: Tlv[];
  /** The AUTHORITY TLV, decoded. */
  authority?: string;
}

export type ProxyHeaderResult =
  | { state: 'need-more' }
  | {
      state: 'done';
      header: ProxyHeader;
      /** The header's size: the client's own bytes start there. */
      headerLength: number;
      /** Every byte pushed so far, header included. */
      bytes: Buffer;
    }
  | { state: 'error'; error: 'not-proxy' | 'malformed' | 'too-long'; reason: string };

export interface ProxyHeaderOptions {
  /** The largest version 2 header accepted, its 16 fixed bytes included. Default 16 KiB. */
  maxV2Bytes?: number;
}

const V1_SIGNATURE = Buffer.from('PROXY');
const V1_MAX_BYTES = 107;
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V2_FIXED_BYTES = 16;
export const DEFAULT_MAX_V2_BYTES = 16 * 1024;
const LOCAL = 0x20;
const PROXY = 0x21;
const TCP4 = 0x11;
const TCP6 = 0x21;
const UNSPEC = 0x00;
/** The address bytes each valid family-and-protocol byte takes. */
const ADDRESS_BYTES = new Map([
  [UNSPEC, 0],
  [TCP4, 12],
  [0x12, 12], // UDP over IPv4
  [TCP6, 36],
  [0x22, 36], // UDP over IPv6
  [0x31, 216], // UNIX stream
  [0x32, 216], // UNIX datagram
]);
export const TLV_AUTHORITY = 0x02;
const CR = 0x0d;
const LF = 0x0a;
const NEED_MORE: ProxyHeaderResult = { state: 'need-more' };

// --- Sending: the header we write to a backend --------------------------------

/**
 * A version 1 line. Addresses that are missing (a socket already closed) or
 * not IP give "PROXY UNKNOWN".
 */
export function encodeProxyV1(addresses: ConnectionAddresses): Buffer {
  const ends = tcpEnds(addresses);
  if (!ends) return Buffer.from('PROXY UNKNOWN\r\n');
  const format = ends.family === 'TCP4' ? formatIPv4 : formatIPv6;
  return Buffer.from(
    `PROXY ${ends.family} ${format(ends.source)} ${format(ends.destination)} ` +
      `${ends.sourcePort} ${ends.destinationPort}\r\n`,
  );
}

/**
 * A version 2 header; with an AUTHORITY TLV when `authority` (the routed host
 * name) is given. 'local' makes the LOCAL header of a health check. Throws a
 * RangeError when the authority cannot fit (over 65 KB).
 */
export function encodeProxyV2(
  addresses: ConnectionAddresses | 'local',
  authority?: string,
): Buffer {
  if (addresses === 'local') return v2Header(LOCAL, UNSPEC, []);
  const parts: Uint8Array[] = [];
  const ends = tcpEnds(addresses);
  if (ends) {
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(ends.sourcePort, 0);
    ports.writeUInt16BE(ends.destinationPort, 2);
    parts.push(ends.source, ends.destination, ports);
  }
  if (authority !== undefined) {
    const value = Buffer.from(authority, 'utf8');
    if (value.length > 0xffff - 36 - 3)
      throw new RangeError('authority too long for a PROXY header');
    parts.push(Buffer.from([TLV_AUTHORITY, value.length >> 8, value.length & 0xff]), value);
  }
  const family = ends === undefined ? UNSPEC : ends.family === 'TCP4' ? TCP4 : TCP6;
  return v2Header(PROXY, family, parts);
}

function v2Header(command: number, family: number, parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const fixed = Buffer.alloc(4);
  fixed[0] = command;
  fixed[1] = family;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

interface TcpEnds {
  family: 'TCP4' | 'TCP6';
  source: Uint8Array;
  destination: Uint8Array;
  sourcePort: number;
  destinationPort: number;
}

/** Both ends as bytes, IPv4-mapped addresses as IPv4; undefined if any part is missing. */
function tcpEnds(addresses: ConnectionAddresses): TcpEnds | undefined {
  const { sourcePort, destinationPort } = addresses;
  let source = addressBytes(addresses.sourceAddress);
  let destination = addressBytes(addresses.destinationAddress);
  if (!source || !destination || !isPort(sourcePort) || !isPort(destinationPort)) return undefined;
  // One end IPv4 and the other IPv6 cannot happen on one TCP connection, but
  // it can still be said: both as IPv6, the IPv4 one mapped.
  if (source.length !== destination.length) {
    source = asIPv6(source);
    destination = asIPv6(destination);
  }
  const family = source.length === 4 ? 'TCP4' : 'TCP6';
  return { family, source, destination, sourcePort, destinationPort };
}

function addressBytes(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const bytes = parseIPv4(text) ?? parseIPv6(text);
  return bytes && isIPv4Mapped(bytes) ? bytes.subarray(12) : bytes;
}

function asIPv6(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16) return bytes;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(bytes, 12);
  return mapped;
}

function isPort(port: number | undefined): port is number {
  return Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535;
}

// --- Receiving: the header a proxy in front of us sends ------------------------

export class ProxyHeaderReader {
  private readonly maxV2Bytes: number;
  /** Everything pushed so far; at most maxV2Bytes while the answer is need-more. */
  private bytes: Buffer = Buffer.alloc(0);
  private result: ProxyHeaderResult = NEED_MORE;

  constructor(options: ProxyHeaderOptions = {}) {
    this.maxV2Bytes = options.maxV2Bytes ?? DEFAULT_MAX_V2_BYTES;
  }

  /** Adds the next chunk from the connection. Once the answer is done or an error, it stays so. */
  push(chunk: Buffer): ProxyHeaderResult {
    if (this.result.state !== 'need-more') return this.result;
    this.bytes = this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk]);
    this.result = this.read();
    if (this.result.state === 'error') this.bytes = Buffer.alloc(0);
    return this.result;
  }

  /** Which version: decided on the first byte that differs from one of the two signatures. */
  private read(): ProxyHeaderResult {
    if (startsLike(this.bytes, V2_SIGNATURE)) return this.readV2();
    if (startsLike(this.bytes, V1_SIGNATURE)) return this.readV1();
    return { state: 'error', error: 'not-proxy', reason: 'no PROXY protocol header' };
  }

  private readV1(): ProxyHeaderResult {
    const bytes = this.bytes;
    const lf = bytes.subarray(0, V1_MAX_BYTES).indexOf(LF);
    if (lf < 0) {
      if (bytes.length < V1_MAX_BYTES) return NEED_MORE;
      return { state: 'error', error: 'too-long', reason: `no CRLF in ${V1_MAX_BYTES} bytes` };
    }
    // "PROXY" came first, so the LF is at 5 or later.
    if (bytes[lf - 1] !== CR) return malformed('a version 1 line not ending in CRLF');
    const line = bytes.toString('latin1', 0, lf - 1);
    if (line.includes('\r')) return malformed('a bare CR in a version 1 line');
    const done = (header: ProxyHeader): ProxyHeaderResult => ({
      state: 'done',
      header,
      headerLength: lf + 1,
      bytes,
    });

    // UNKNOWN: "the receiver must ignore anything presented before the CRLF".
    if (line === 'PROXY UNKNOWN' || line.startsWith('PROXY UNKNOWN ')) {
      return done({ version: 1, tlvs: [] });
    }
    const fields = line.split(' ');
    if (fields.length !== 6 || fields[0] !== 'PROXY')
      return malformed('a malformed version 1 line');
    const [, family, sourceText, destinationText, sourcePortText, destinationPortText] = fields;
    const parse = family === 'TCP4' ? parseIPv4 : family === 'TCP6' ? parseIPv6 : undefined;
    if (!parse) return malformed(`unknown family ${JSON.stringify(family.slice(0, 16))}`);
    const source = parse(sourceText);
    const destination = parse(destinationText);
    const sourcePort = decimalPort(sourcePortText);
    const destinationPort = decimalPort(destinationPortText);
    if (!source || !destination) return malformed(`an address that is not ${family}`);
    if (sourcePort === undefined || destinationPort === undefined) return malformed('a bad port');
    const format = family === 'TCP4' ? formatIPv4 : formatIPv6;
    return done({
      version: 1,
      source: { address: format(source), port: sourcePort },
      destination: { address: format(destination), port: destinationPort },
      tlvs: [],
    });
  }

  private readV2(): ProxyHeaderResult {
    const bytes = this.bytes;
    if (bytes.length < V2_FIXED_BYTES) return NEED_MORE;
    const command = bytes[12];
    const family = bytes[13];
    const length = bytes.readUInt16BE(14);
    if (command >> 4 !== 2) return malformed(`version ${command >> 4}, not 2`);
    if (command !== LOCAL && command !== PROXY)
      return malformed(`unknown command ${command & 0xf}`);
    const headerLength = V2_FIXED_BYTES + length;
    if (headerLength > this.maxV2Bytes) {
      return { state: 'error', error: 'too-long', reason: `a header of ${headerLength} bytes` };
    }
    if (bytes.length < headerLength) return NEED_MORE;
    const done = (header: ProxyHeader): ProxyHeaderResult => ({
      state: 'done',
      header,
      headerLength,
      bytes,
    });

    // LOCAL: "discard the protocol block including the family which is ignored".
    if (command === LOCAL) return done({ version: 2, tlvs: [] });

    const addressLength = ADDRESS_BYTES.get(family);
    if (addressLength === undefined) {
      return malformed(`unknown family and protocol 0x${family.toString(16).padStart(2, '0')}`);
    }
    if (length < addressLength) return malformed('an address block shorter than its family');
    const header: ProxyHeader = { version: 2, tlvs: [] };
    const block = bytes.subarray(V2_FIXED_BYTES, headerLength);
    if (family === TCP4 || family === TCP6) {
      const size = family === TCP4 ? 4 : 16;
      const format = family === TCP4 ? formatIPv4 : formatIPv6;
      header.source = {
        address: format(block.subarray(0, size)),
        port: block.readUInt16BE(2 * size),
      };
      header.destination = {
        address: format(block.subarray(size, 2 * size)),
        port: block.readUInt16BE(2 * size + 2),
      };
    }
    const problem = readTlvs(block.subarray(addressLength), header);
    return problem === undefined ? done(header) : malformed(problem);
  }
}

/** One-shot form: the answer for these bytes, as if they had arrived in one chunk. */
export function readProxyHeader(bytes: Buffer, options?: ProxyHeaderOptions): ProxyHeaderResult {
  return new ProxyHeaderReader(options).push(bytes);
}

/** Fills header.tlvs (and authority) from what follows the addresses; a problem, or undefined. */
function readTlvs(bytes: Buffer, header: ProxyHeader): string | undefined {
  let position = 0;
  while (position < bytes.length) {
    if (position + 3 > bytes.length) return 'a TLV header cut short';
    const type = bytes[position];
    const length = bytes.readUInt16BE(position + 1);
    const end = position + 3 + length;
    if (end > bytes.length) return `TLV 0x${type.toString(16)} runs past the header`;
    const value = bytes.subarray(position + 3, end);
    header.tlvs.push({ type, value });
    if (type === TLV_AUTHORITY) {
      if (header.authority !== undefined) return 'two AUTHORITY TLVs';
      const authority = utf8(value);
      if (authority === undefined) return 'an AUTHORITY TLV that is not UTF-8';
      header.authority = authority;
    }
    position = end;
  }
  return undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decimal, 0 to 65535, no leading zero (it could be read as octal). */
function decimalPort(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** True while `bytes` agrees with `signature` as far as either goes. */
function startsLike(bytes: Buffer, signature: Buffer): boolean {
  const length = Math.min(bytes.length, signature.length);
  return bytes.subarray(0, length).equals(signature.subarray(0, length));
}

function malformed(reason: string): ProxyHeaderResult {
  return { state: 'error', error: 'malformed', reason };
}
