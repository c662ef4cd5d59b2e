/**
 * The ClientHello reader (../vhosts/client-hello.ts) on its own: real node:tls
 * hellos whole, byte by byte and re-split into records; hellos built with
 * messages.ts to be malformed, too long, or odd but valid; the SNI it gives.
 */
import t from 'tap';
import { captureClientHello } from '../../shared/test/harness.ts';
import {
  ClientHelloReader,
  type ClientHelloResult,
  readClientHello,
} from '../vhosts/client-hello.ts';
import { clientHello, serverNameData, tlsRecords } from './messages.ts';

/** The answer for `bytes` pushed one byte at a time, and how many answers came before it. */
function byteByByte(bytes: Buffer): { last: ClientHelloResult; pushes: number } {
  const reader = new ClientHelloReader();
  for (let i = 0; i < bytes.length; i++) {
    const answer = reader.push(bytes.subarray(i, i + 1));
    if (answer.state !== 'need-more') return { last: answer, pushes: i + 1 };
  }
  return { last: { state: 'need-more' }, pushes: bytes.length };
}

/** The records' fragments end to end: the handshake message, to cut again. */
function messageOf(records: Buffer): Buffer {
  const fragments: Buffer[] = [];
  for (let at = 0; at < records.length; ) {
    const length = records.readUInt16BE(at + 3);
    fragments.push(records.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return Buffer.concat(fragments);
}

const ALPN_MANY = Array.from({ length: 300 }, (_, i) => `protocol-${i}`);

t.test('a real node:tls ClientHello', async (t) => {
  const hello = await captureClientHello({ servername: 'x.example.org' });
  t.equal(hello.length, 5 + hello.readUInt16BE(3), 'captured one whole record');

  t.test('whole: the SNI, and where the hello ends', async (t) => {
    t.match(readClientHello(hello), {
      state: 'done',
      sni: 'x.example.org',
      helloLength: hello.length,
    });
  });

  t.test('one byte at a time: need-more until the last byte', async (t) => {
    const { last, pushes } = byteByByte(hello);
    t.equal(pushes, hello.length);
    t.match(last, { state: 'done', sni: 'x.example.org' });
  });

  t.test('re-split into many small TLS records: the same SNI', async (t) => {
    const message = messageOf(hello);
    for (const sizes of [[1], [2], [3], [7], [100, 1, 50], [message.length - 1]]) {
      const records = tlsRecords(message, sizes);
      t.ok(records.length > hello.length, `sizes ${sizes}: more records`);
      t.match(
        readClientHello(records),
        { state: 'done', sni: 'x.example.org', helloLength: records.length },
        `sizes ${sizes}`,
      );
      t.match(
        byteByByte(records).last,
        { state: 'done', sni: 'x.example.org' },
        `sizes ${sizes}, byte by byte`,
      );
    }
  });

  t.test('the bytes handed back are the bytes received, unchanged', async (t) => {
    const withMore = Buffer.concat([hello, Buffer.from([23, 3, 3, 0, 1, 0])]); // early data after it
    const reader = new ClientHelloReader();
    const first = reader.push(withMore.subarray(0, 10));
    t.equal(first.state, 'need-more');
    const answer = reader.push(withMore.subarray(10));
    t.ok(answer.state === 'done' && answer.bytes.equals(withMore));
  });
});

t.test('a real ClientHello over 2 KiB (300 ALPN protocols), in one or many records', async (t) => {
  const hello = await captureClientHello({
    servername: 'big.example.org',
    ALPNProtocols: ALPN_MANY,
  });
  t.ok(hello.length > 2048, `${hello.length} bytes`);
  t.match(readClientHello(hello), { state: 'done', sni: 'big.example.org' });
  t.match(byteByByte(hello).last, { state: 'done', sni: 'big.example.org' });
  // Split as a post-quantum hello would be: over several records and segments.
  const records = tlsRecords(messageOf(hello), [1000]);
  t.match(readClientHello(records), { state: 'done', sni: 'big.example.org' });
  const reader = new ClientHelloReader();
  let answer: ClientHelloResult = { state: 'need-more' };
  for (let at = 0; at < records.length && answer.state === 'need-more'; at += 1460) {
    answer = reader.push(records.subarray(at, at + 1460)); // TCP segments
  }
  t.match(answer, { state: 'done', sni: 'big.example.org', helloLength: records.length });
});

t.test('real ClientHellos without SNI: done, sni undefined', async (t) => {
  const toAnAddress = await captureClientHello({}); // Node sends no SNI for an IP address
  t.match(readClientHello(toAnAddress), { state: 'done', sni: undefined });
  const disabled = await captureClientHello({ servername: '' });
  t.match(readClientHello(disabled), { state: 'done', sni: undefined });
});

t.test('not TLS: decided on the first byte that does not fit', async (t) => {
  const reader = new ClientHelloReader();
  t.match(reader.push(Buffer.from('G')), { state: 'error', error: 'not-tls' }, 'one byte of "GET"');
  t.match(readClientHello(Buffer.from([0x16, 0x02])), { error: 'not-tls' }, 'major version 2');
  t.match(
    readClientHello(Buffer.from([0x16, 0x03, 0x05])),
    { error: 'not-tls' },
    'minor version 5',
  );
  t.match(readClientHello(Buffer.from([0x80, 0x2e, 0x01])), { error: 'not-tls' }, 'an SSLv2 hello');
  t.equal(readClientHello(Buffer.from([0x16, 0x03, 0x01])).state, 'need-more');
});

t.test('malformed hellos', async (t) => {
  const good = clientHello({ sni: 'a.example' });
  // Handshake header 4, version 2, random 32, session id 1, suites 2 + 6, compression 2,
  // extensions length 2, then extension 21: type 2, and its length at 53-54.
  const extensionLengthPlusOne = clientHello({
    sessionId: new Uint8Array(0),
    extensions: [{ type: 21, data: Buffer.alloc(4) }],
  });
  extensionLengthPlusOne[54]++;
  const cases: [string, Buffer, RegExp][] = [
    [
      'an alert record in the middle',
      Buffer.concat([tlsRecords(good.subarray(0, 10)), Buffer.from([21, 3, 3, 0, 2, 2, 40])]),
      /record of type 21/,
    ],
    ['a ServerHello', tlsRecords(Buffer.from([2, 0, 0, 1, 0])), /not a ClientHello/],
    ['an empty record', Buffer.from([22, 3, 1, 0, 0]), /record of 0 bytes/],
    ['a record over 16 KiB', Buffer.from([22, 3, 1, 0x40, 0x01]), /record of 16385 bytes/],
    [
      'an extension longer than what is left of the hello',
      tlsRecords(extensionLengthPlusOne),
      /extension 21 runs past its end/,
    ],
    [
      'two server_name extensions',
      tlsRecords(
        clientHello({
          sni: 'a.example',
          extensions: [{ type: 0, data: serverNameData([[0, Buffer.from('b.example')]]) }],
        }),
      ),
      /extension 0 twice/,
    ],
    [
      'an empty server name list',
      tlsRecords(clientHello({ extensions: [{ type: 0, data: Buffer.from([0, 0]) }] })),
      /empty server name list/,
    ],
    [
      'two host names',
      tlsRecords(
        clientHello({
          extensions: [
            {
              type: 0,
              data: serverNameData([
                [0, Buffer.from('a.example')],
                [0, Buffer.from('b.example')],
              ]),
            },
          ],
        }),
      ),
      /two server names/,
    ],
    ['a name with a space', tlsRecords(clientHello({ sni: 'a b.example' })), /not a host name/],
    ['a name with a NUL', tlsRecords(clientHello({ sni: 'a.example\0.evil' })), /not a host name/],
    ['an empty name', tlsRecords(clientHello({ sni: '' })), /not a host name/],
    [
      'a label over 63',
      tlsRecords(clientHello({ sni: `${'a'.repeat(64)}.example` })),
      /not a host name/,
    ],
    ['no cipher suite', tlsRecords(clientHello({ cipherSuites: [] })), /cipher suite/],
    [
      'a session id over 32',
      tlsRecords(clientHello({ sessionId: new Uint8Array(33) })),
      /session id over 32/,
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    t.match(readClientHello(bytes), { state: 'error', error: 'malformed', reason }, name);
    t.match(
      byteByByte(bytes).last,
      { state: 'error', error: 'malformed' },
      `${name}, byte by byte`,
    );
  }
});

t.test('server names: a trailing dot and an unknown name type are let through', async (t) => {
  t.match(readClientHello(tlsRecords(clientHello({ sni: 'a.example.' }))), {
    state: 'done',
    sni: 'a.example.',
  });
  const withFutureType = clientHello({
    extensions: [
      {
        type: 0,
        data: serverNameData([
          [7, Buffer.from('opaque')],
          [0, Buffer.from('a.example')],
        ]),
      },
    ],
  });
  t.match(readClientHello(tlsRecords(withFutureType)), { state: 'done', sni: 'a.example' });
});

t.test('a hello without extensions (pre-TLS 1.2 style) has no SNI', async (t) => {
  const bare = clientHello({ withoutExtensions: true });
  t.match(readClientHello(tlsRecords(bare)), { state: 'done', sni: undefined });
});

t.test('too long: over maxBytes, refused as soon as a header announces it', async (t) => {
  const hello = tlsRecords(
    clientHello({ sni: 'a.example', extensions: [{ type: 21, data: Buffer.alloc(20_000) }] }),
    [16384],
  );
  const reader = new ClientHelloReader();
  t.match(
    reader.push(hello.subarray(0, 9)),
    { state: 'error', error: 'too-long' },
    'the message header says 20 KB',
  );

  const small = tlsRecords(clientHello({ sni: 'a.example' }));
  t.match(
    readClientHello(small, { maxBytes: small.length }),
    { state: 'done' },
    'exactly maxBytes',
  );
  const tight = new ClientHelloReader({ maxBytes: small.length - 1 });
  t.match(
    tight.push(small.subarray(0, 5)),
    { error: 'too-long' },
    'the record header says too long',
  );
});

t.test('once done or failed, the reader keeps its answer', async (t) => {
  const reader = new ClientHelloReader();
  const answer = reader.push(tlsRecords(clientHello({ sni: 'a.example' })));
  t.equal(reader.push(Buffer.from('more')), answer);
});
