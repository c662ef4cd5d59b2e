/**
 * The PROXY protocol (../proxy-protocol/proxy-protocol.ts) on its own: what we encode,
 * read by proxy-protocol-js, an independent implementation; what we decode,
 * from proxy-protocol-js and from version 2 headers built byte by byte with
 * messages.ts (not with our encoder); malformed and oversized headers.
 */
import net from 'node:net';
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  UnspecProxyAddress,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import t from 'tap';
import type { ConnectionAddresses } from '../ip.ts';
import { parseIPv6 } from '../ip-bytes.ts';
import {
  encodeProxyV1,
  encodeProxyV2,
  ProxyHeaderReader,
  type ProxyHeaderResult,
  readProxyHeader,
} from '../proxy-protocol/proxy-protocol.ts';
import { SocketAddresses } from '../route.ts';
import { proxyV2, tlv, V2_SIGNATURE } from './messages.ts';

const IPV4: ConnectionAddresses = {
  sourceAddress: '203.0.113.7',
  sourcePort: 56324,
  destinationAddress: '192.0.2.1',
  destinationPort: 443,
};
const MAPPED: ConnectionAddresses = {
  ...IPV4,
  sourceAddress: '::ffff:203.0.113.7',
  destinationAddress: '::ffff:192.0.2.1',
};
const IPV6: ConnectionAddresses = {
  sourceAddress: '2001:db8::7',
  sourcePort: 1,
  destinationAddress: '2001:DB8:0:0:0:0:0:1',
  destinationPort: 65535,
};

function byteByByte(bytes: Buffer): ProxyHeaderResult {
  const reader = new ProxyHeaderReader();
  let answer: ProxyHeaderResult = { state: 'need-more' };
  for (let i = 0; i < bytes.length && answer.state === 'need-more'; i++) {
    answer = reader.push(bytes.subarray(i, i + 1));
  }
  return answer;
}

t.test('encode v1: proxy-protocol-js reads our lines', async (t) => {
  const line = encodeProxyV1(IPV4).toString();
  t.equal(line, 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n');
  t.match(V1ProxyProtocol.parse(line), {
    inetProtocol: INETProtocol.TCP4,
    source: { ipAddress: '203.0.113.7', port: 56324 },
    destination: { ipAddress: '192.0.2.1', port: 443 },
  });
  t.match(V1ProxyProtocol.parse(encodeProxyV1(IPV6).toString()), {
    inetProtocol: INETProtocol.TCP6,
    source: { ipAddress: '2001:db8::7', port: 1 },
    destination: { ipAddress: '2001:db8::1', port: 65535 },
  });
});

t.test('encode: an IPv4-mapped address (::ffff:a.b.c.d) is sent as TCP4', async (t) => {
  t.equal(encodeProxyV1(MAPPED).toString(), 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n');
  t.same(encodeProxyV2(MAPPED), encodeProxyV2(IPV4));
  t.equal(encodeProxyV2(MAPPED)[13], 0x11, 'family byte: TCP over IPv4');
});

t.test('encode: missing or non-IP addresses give UNKNOWN / UNSPEC', async (t) => {
  t.equal(encodeProxyV1({}).toString(), 'PROXY UNKNOWN\r\n');
  t.equal(encodeProxyV1({ ...IPV4, sourceAddress: 'localhost' }).toString(), 'PROXY UNKNOWN\r\n');
  t.equal(encodeProxyV1({ ...IPV4, sourcePort: 70000 }).toString(), 'PROXY UNKNOWN\r\n');
  const header = encodeProxyV2({ ...IPV4, destinationAddress: undefined });
  t.same(header, proxyV2(0x21, 0x00, Buffer.alloc(0)));
});

t.test('encode: one IPv4 end and one IPv6 end are both sent as IPv6', async (t) => {
  const line = encodeProxyV1({ ...IPV6, sourceAddress: '10.0.0.1' }).toString();
  t.equal(line, 'PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 1 65535\r\n');
});

t.test('encode v2: proxy-protocol-js reads our headers, addresses and TLV', async (t) => {
  const header = encodeProxyV2(IPV4, 'www.example.org');
  const parsed = V2ProxyProtocol.parse(header);
  t.equal(parsed.command, Command.PROXY);
  t.equal(parsed.transportProtocol, TransportProtocol.STREAM);
  const address = parsed.proxyAddress as IPv4ProxyAddress;
  t.same(address.sourceAddress.address, [203, 0, 113, 7]);
  t.same(address.destinationAddress.address, [192, 0, 2, 1]);
  t.equal(address.sourcePort, 56324);
  t.equal(address.destinationPort, 443);
  // proxy-protocol-js hands back what follows the addresses: our AUTHORITY TLV.
  t.same(
    Buffer.from(parsed.data ?? []),
    Buffer.concat([Buffer.from([0x02, 0, 15]), Buffer.from('www.example.org')]),
  );
  t.equal(header.readUInt16BE(14), 12 + 3 + 15, 'the length covers addresses and TLV');

  const parsed6 = V2ProxyProtocol.parse(encodeProxyV2(IPV6));
  const address6 = parsed6.proxyAddress as IPv6ProxyAddress;
  t.same(address6.sourceAddress.address, Array.from(parseIPv6('2001:db8::7') as Uint8Array));
  t.equal(address6.destinationPort, 65535);
  t.same(Buffer.from(parsed6.data ?? []), Buffer.alloc(0), 'no authority, no TLV');
});

t.test('encode v2 LOCAL: for health checks, no addresses', async (t) => {
  const header = encodeProxyV2('local');
  t.equal(V2ProxyProtocol.parse(header).command, Command.LOCAL);
  t.same(header, proxyV2(0x20, 0x00, Buffer.alloc(0)));
});

t.test('decode: headers built by proxy-protocol-js', async (t) => {
  const v1 = new V1ProxyProtocol(
    INETProtocol.TCP4,
    new Peer('10.1.2.3', 1234),
    new Peer('10.9.8.7', 80),
    'GET /',
  ).build();
  t.match(readProxyHeader(Buffer.from(v1)), {
    state: 'done',
    header: {
      version: 1,
      source: { address: '10.1.2.3', port: 1234 },
      destination: { address: '10.9.8.7', port: 80 },
    },
    headerLength: v1.length - 'GET /'.length,
  });
  const v1six = new V1ProxyProtocol(
    INETProtocol.TCP6,
    new Peer('::1', 1),
    new Peer('fe80::1', 2),
  ).build();
  t.match(readProxyHeader(Buffer.from(v1six)), {
    header: { source: { address: '::1' }, destination: { address: 'fe80::1' } },
  });

  const v2four = new V2ProxyProtocol(
    Command.PROXY,
    TransportProtocol.STREAM,
    new IPv4ProxyAddress(
      IPv4Address.createFrom([127, 0, 0, 1]),
      12345,
      IPv4Address.createFrom([192, 0, 2, 1]),
      54321,
    ),
  ).build();
  t.match(readProxyHeader(Buffer.from(v2four)), {
    state: 'done',
    header: {
      version: 2,
      source: { address: '127.0.0.1', port: 12345 },
      destination: { address: '192.0.2.1', port: 54321 },
    },
    headerLength: 28,
  });
  const v2six = new V2ProxyProtocol(
    Command.PROXY,
    TransportProtocol.STREAM,
    new IPv6ProxyAddress(
      IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]),
      1,
      IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
      2,
    ),
  ).build();
  t.match(readProxyHeader(Buffer.from(v2six)), {
    header: {
      source: { address: '2001:db8::7', port: 1 },
      destination: { address: '::1', port: 2 },
    },
  });
  const local = new V2ProxyProtocol(
    Command.LOCAL,
    TransportProtocol.UNSPEC,
    new UnspecProxyAddress(),
  ).build();
  t.match(readProxyHeader(Buffer.from(local)), {
    state: 'done',
    header: { version: 2, source: undefined },
  });
  const udp = new V2ProxyProtocol(
    Command.PROXY,
    TransportProtocol.DGRAM,
    new IPv4ProxyAddress(
      IPv4Address.createFrom([1, 2, 3, 4]),
      1,
      IPv4Address.createFrom([5, 6, 7, 8]),
      2,
    ),
  ).build();
  t.match(
    readProxyHeader(Buffer.from(udp)),
    { state: 'done', header: { source: undefined } },
    'UDP: no addresses',
  );
});

t.test('decode: what we encode, back', async (t) => {
  t.match(readProxyHeader(encodeProxyV2(IPV6, 'api.example.org')), {
    state: 'done',
    header: {
      version: 2,
      source: { address: '2001:db8::7', port: 1 },
      destination: { address: '2001:db8::1', port: 65535 },
      authority: 'api.example.org',
      tlvs: [{ type: 2 }],
    },
  });
  t.match(readProxyHeader(encodeProxyV1(IPV6)), {
    header: { destination: { address: '2001:db8::1' } },
  });
});

t.test('decode: the client bytes after the header are left where they are', async (t) => {
  const header = encodeProxyV2(IPV4);
  const bytes = Buffer.concat([header, Buffer.from('\x16\x03\x01 and the rest')]);
  const answer = byteByByte(bytes);
  t.match(answer, { state: 'done', headerLength: header.length });
  t.equal(
    answer.state === 'done' && answer.bytes.length,
    header.length,
    'byte by byte: stops at the end',
  );
  const whole = readProxyHeader(bytes);
  t.ok(
    whole.state === 'done' &&
      whole.bytes.subarray(whole.headerLength).toString('latin1') === '\x16\x03\x01 and the rest',
  );
});

t.test('decode v1 UNKNOWN: no addresses, whatever follows UNKNOWN on the line', async (t) => {
  t.match(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), {
    state: 'done',
    header: { version: 1, source: undefined },
  });
  t.match(readProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n')), {
    state: 'done',
    headerLength: 43,
  });
});

t.test(
  'decode: anything but a PROXY header is refused, on the first byte that differs',
  async (t) => {
    t.match(new ProxyHeaderReader().push(Buffer.from('G')), { state: 'error', error: 'not-proxy' });
    t.match(readProxyHeader(Buffer.from('\x16\x03\x01')), { error: 'not-proxy' });
    const reader = new ProxyHeaderReader();
    t.equal(reader.push(Buffer.from('PROX')).state, 'need-more');
    t.match(reader.push(Buffer.from('Z')), { error: 'not-proxy' });
    t.match(readProxyHeader(V2_SIGNATURE.subarray(0, 11)), { state: 'need-more' });
    t.match(readProxyHeader(Buffer.concat([V2_SIGNATURE.subarray(0, 11), Buffer.from('X')])), {
      error: 'not-proxy',
    });
  },
);

t.test('decode v1: 107 bytes at most, CRLF included', async (t) => {
  const longest = `PROXY UNKNOWN ${'f'.repeat(107 - 'PROXY UNKNOWN \r\n'.length)}\r\n`;
  t.equal(longest.length, 107);
  t.match(readProxyHeader(Buffer.from(longest)), { state: 'done', headerLength: 107 });
  const reader = new ProxyHeaderReader();
  t.equal(reader.push(Buffer.from(longest.slice(0, 106))).state, 'need-more');
  t.match(reader.push(Buffer.from('f')), { state: 'error', error: 'too-long' }, '107 bytes, no LF');
});

t.test('decode v1: malformed lines', async (t) => {
  const cases: [string, string][] = [
    ['bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'],
    ['bare CR inside', 'PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n'],
    ['bare CR after UNKNOWN', 'PROXY UNKNOWN a\rb\r\n'],
    ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
    ['lower case family', 'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['unknown family', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['an IPv6 address in TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n'],
    ['an IPv4 address in TCP6', 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n'],
    ['a leading zero in an address', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'],
    ['a port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'],
    ['a leading zero in a port', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'],
    ['a missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['UNKNOWN glued to more', 'PROXY UNKNOWNX\r\n'],
    ['no space after PROXY', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
  ];
  for (const [name, line] of cases) {
    t.match(
      readProxyHeader(Buffer.from(line, 'latin1')),
      { state: 'error', error: 'malformed' },
      name,
    );
  }
});

t.test('decode v2: malformed headers', async (t) => {
  const ipv4Block = Buffer.alloc(12);
  const cases: [string, Buffer, RegExp][] = [
    ['version 1', proxyV2(0x11, 0x11, ipv4Block), /version 1/],
    ['command 2', proxyV2(0x22, 0x11, ipv4Block), /unknown command/],
    ['family 4', proxyV2(0x21, 0x41, ipv4Block), /unknown family/],
    ['protocol 3', proxyV2(0x21, 0x13, ipv4Block), /unknown family/],
    ['an address block too short', proxyV2(0x21, 0x21, ipv4Block), /shorter than its family/],
    [
      'a TLV header cut short',
      proxyV2(0x21, 0x11, Buffer.concat([ipv4Block, Buffer.from([1, 0])])),
      /cut short/,
    ],
    [
      'a TLV past the end',
      proxyV2(0x21, 0x11, Buffer.concat([ipv4Block, Buffer.from([1, 0, 5, 1])])),
      /runs past/,
    ],
    [
      'two AUTHORITY TLVs',
      proxyV2(
        0x21,
        0x11,
        Buffer.concat([ipv4Block, tlv(2, Buffer.from('a')), tlv(2, Buffer.from('b'))]),
      ),
      /two AUTHORITY/,
    ],
    [
      'an AUTHORITY not UTF-8',
      proxyV2(0x21, 0x11, Buffer.concat([ipv4Block, tlv(2, Buffer.from([0xff]))])),
      /not UTF-8/,
    ],
  ];
  for (const [name, header, reason] of cases) {
    t.match(readProxyHeader(header), { state: 'error', error: 'malformed', reason }, name);
    t.match(byteByByte(header), { state: 'error', error: 'malformed' }, `${name}, byte by byte`);
  }
});

t.test(
  'decode v2: LOCAL ignores the family and the block, as the specification says',
  async (t) => {
    t.match(readProxyHeader(proxyV2(0x20, 0x77, Buffer.from('anything'))), {
      state: 'done',
      header: { version: 2, source: undefined, tlvs: [] },
      headerLength: 24,
    });
  },
);

t.test('decode v2: other TLVs are kept in order, unknown ones included', async (t) => {
  const block = Buffer.concat([
    Buffer.from([10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]),
    Buffer.from([0x04, 0, 2, 0, 0]), // NOOP
    Buffer.from([0xe0, 0, 1, 42]), // custom
  ]);
  t.match(readProxyHeader(proxyV2(0x21, 0x11, block)), {
    header: {
      tlvs: [
        { type: 4, value: Buffer.from([0, 0]) },
        { type: 0xe0, value: Buffer.from([42]) },
      ],
    },
  });
});

t.test('decode v2: a header over maxV2Bytes is refused when its length arrives', async (t) => {
  const header = proxyV2(0x21, 0x11, Buffer.alloc(300));
  const reader = new ProxyHeaderReader({ maxV2Bytes: 200 });
  t.match(reader.push(header.subarray(0, 16)), { state: 'error', error: 'too-long' });
  t.match(readProxyHeader(header, { maxV2Bytes: 316 }), { state: 'done' });
});

t.test('SocketAddresses of a real socket, through a dual-stack listener: TCP4', async (t) => {
  const server = net.createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false)).listen(0, '::', () => resolve(true));
  });
  if (!listening) return t.plan(0, 'no IPv6 on this host');
  t.teardown(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  const socket = await accepted;
  t.teardown(() => socket.destroy());
  t.equal(socket.remoteAddress, '::ffff:127.0.0.1', 'Node reports the IPv4 client as mapped');
  t.equal(
    encodeProxyV1(new SocketAddresses(socket)).toString(),
    `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localPort} ${port}\r\n`,
  );
});
