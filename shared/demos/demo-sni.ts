/**
 * `npm run demo:sni`: what part 4's TLS listener reads, from a real client.
 * A node:tls client connects to a plain TCP server that records its first
 * flight and never answers; the demo walks that ClientHello field by field
 * down to the server_name extension, then shows what part 4's reader makes of
 * it, and what the PROXY protocol headers that part 4 sends to a backend look
 * like on the wire.
 *
 *   npm run demo:sni                          the hello for www.example.org
 *   npm run demo:sni -- --name shop.example.org
 *
 * What it leaves out: the server's side of the handshake (nobody answers), and
 * the extensions' contents other than the name (their types are listed).
 */
import { parseArgs } from 'node:util';
import {
  encodeProxyV1,
  encodeProxyV2,
} from '../../part4-balancing/proxy-protocol/proxy-protocol.ts';
import { readClientHello } from '../../part4-balancing/vhosts/client-hello.ts';
import { isMain, parseOrExit } from '../lib/cli.ts';
import { captureClientHello } from '../test/harness.ts';

const USAGE = 'usage: demo-sni.ts [--name HOST]';

/** Some extension types by name (IANA's TLS ExtensionType registry). */
const EXTENSIONS: Record<number, string> = {
  0: 'server_name',
  10: 'supported_groups',
  11: 'ec_point_formats',
  13: 'signature_algorithms',
  16: 'application_layer_protocol_negotiation',
  22: 'encrypt_then_mac',
  23: 'extended_master_secret',
  35: 'session_ticket',
  43: 'supported_versions',
  45: 'psk_key_exchange_modes',
  51: 'key_share',
};

/** `bytes` as hex, 16 to a line, at most `max` bytes, with an offset column. */
export function hexDump(bytes: Buffer, max = 64): string {
  const lines: string[] = [];
  for (let at = 0; at < Math.min(bytes.length, max); at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, max));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row]
      .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'))
      .join('');
    lines.push(`  ${at.toString(16).padStart(4, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  if (bytes.length > max) lines.push(`  ... ${bytes.length - max} more bytes`);
  return lines.join('\n');
}

/** The hello's layout, one line per field, as client-hello.ts's picture draws it. */
export function walkHello(record: Buffer): string[] {
  const out: string[] = [];
  const field = (at: number, length: number, what: string) =>
    out.push(`  ${String(at).padStart(4)} +${String(length).padEnd(4)} ${what}`);
  field(0, 1, `record type 0x${record[0].toString(16)} (22 = handshake)`);
  field(1, 2, `record version 0x${record.readUInt16BE(1).toString(16)}`);
  field(3, 2, `record length ${record.readUInt16BE(3)}`);
  field(5, 1, `handshake type ${record[5]} (1 = ClientHello)`);
  field(6, 3, `handshake length ${record.readUIntBE(6, 3)}`);
  field(
    9,
    2,
    `client version 0x${record.readUInt16BE(9).toString(16)} (TLS 1.3 says so in supported_versions)`,
  );
  field(11, 32, 'random');
  let at = 43;
  const sessionLength = record[at];
  field(at, 1 + sessionLength, `session id, ${sessionLength} bytes`);
  at += 1 + sessionLength;
  const suites = record.readUInt16BE(at);
  field(at, 2 + suites, `cipher suites, ${suites / 2} of them`);
  at += 2 + suites;
  field(at, 1 + record[at], `compression methods, ${record[at]}`);
  at += 1 + record[at];
  const end = at + 2 + record.readUInt16BE(at);
  field(at, 2, `extensions, ${record.readUInt16BE(at)} bytes`);
  for (at += 2; at + 4 <= end; at += 4 + record.readUInt16BE(at + 2)) {
    const type = record.readUInt16BE(at);
    const length = record.readUInt16BE(at + 2);
    let what = `  extension ${type} ${EXTENSIONS[type] ?? ''}, ${length} bytes`;
    if (type === 0) {
      const nameLength = record.readUInt16BE(at + 7);
      what += `: list ${record.readUInt16BE(at + 4)}, type ${record[at + 6]} (host_name), name ${nameLength}: "${record.toString('latin1', at + 9, at + 9 + nameLength)}"`;
    }
    field(at, 4 + length, what);
  }
  return out;
}

async function main(): Promise<void> {
  const { name } = parseOrExit('demo-sni.ts', USAGE, (argv) => {
    const { values } = parseArgs({
      args: argv,
      options: { name: { type: 'string', default: 'www.example.org' } },
    });
    return values;
  });
  const flight = await captureClientHello({ servername: name });
  console.log(`A node:tls client asking for ${name} sent ${flight.length} bytes first:\n`);
  console.log(hexDump(flight));
  console.log('\nField by field (offset, length, what):\n');
  console.log(walkHello(flight).join('\n'));
  const read = readClientHello(flight);
  console.log(
    `\nPart 4's reader (client-hello.ts): ${read.state === 'done' ? `SNI "${read.sni}", hello ${read.helloLength} bytes, forwarded unchanged` : JSON.stringify(read)}.`,
  );
  console.log(`\n${proxyHeaders(name)}`);
}

/** The client the PROXY headers speak for: 203.0.113.7:56324 (a documentation address), to port 443. */
const CLIENT = {
  sourceAddress: '203.0.113.7',
  sourcePort: 56324,
  destinationAddress: '192.0.2.1',
  destinationPort: 443,
};

/** What part 4 sends a backend first for a client routed by `name`, in v1 and in v2. */
export function proxyHeaders(name: string): string {
  return [
    'What part 4 sends a backend first, with "proxyProtocol": "v1":',
    '',
    `  ${JSON.stringify(encodeProxyV1(CLIENT).toString())}`,
    '',
    'and with "v2" (binary; the routed name in the AUTHORITY TLV, type 0x02):',
    '',
    hexDump(encodeProxyV2(CLIENT, name), 256),
  ].join('\n');
}

if (isMain(import.meta.url)) await main();
