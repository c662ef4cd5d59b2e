/**
 * IP addresses as bytes and canonical text (../vhosts/ip-bytes.ts): IPv4, IPv6
 * in RFC 5952 form, IPv4-mapped addresses, and agreement with node:net on what
 * is one; the canonical form of host names (../ip.ts).
 */
import net from 'node:net';
import t from 'tap';
import { canonicalHost, isHostName } from '../ip.ts';
import { formatIPv4, formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from '../ip-bytes.ts';

t.test('IPv4: dotted decimal in, the same text out', async (t) => {
  for (const text of ['0.0.0.0', '127.0.0.1', '255.255.255.255', '192.0.2.10']) {
    const bytes = parseIPv4(text);
    t.ok(bytes, text);
    t.equal(formatIPv4(bytes as Uint8Array), text);
  }
  t.same(Array.from(parseIPv4('10.1.2.3') as Uint8Array), [10, 1, 2, 3]);
});

t.test('IPv4: leading zeros, short forms, out-of-range parts are refused', async (t) => {
  for (const text of [
    '010.1.1.1',
    '1.2.3',
    '127.1',
    '1.2.3.256',
    '1.2.3.4.5',
    '',
    '1..2.3',
    ' 1.2.3.4',
    '1.2.3.-1',
  ]) {
    t.equal(parseIPv4(text), undefined, JSON.stringify(text));
  }
});

t.test('IPv6: RFC 5952 text out, whatever the form in', async (t) => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['2001:0db8::0001', '2001:db8::1'],
    ['1::', '1::'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
  ];
  for (const [input, canonical] of cases) {
    const bytes = parseIPv6(input);
    t.ok(bytes, input);
    t.equal(formatIPv6(bytes as Uint8Array), canonical, input);
  }
});

t.test('IPv6: malformed text is refused', async (t) => {
  for (const text of [
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::1',
    ':1::2',
    'fe80::1%eth0',
    '::1.2.3',
    '1.2.3.4',
    '[::1]',
  ]) {
    t.equal(parseIPv6(text), undefined, JSON.stringify(text));
  }
});

t.test('IPv6: agrees with node:net on which strings are addresses', async (t) => {
  const samples = [
    '::',
    '1::',
    '::1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7::',
    '::ffff:10.0.0.1',
    '1:2::3:4',
    'abcd::ef01',
  ];
  for (const text of samples) t.equal(parseIPv6(text) !== undefined, net.isIPv6(text), text);
});

t.test('IPv4-mapped: ::ffff:a.b.c.d, and nothing else', async (t) => {
  t.ok(isIPv4Mapped(parseIPv6('::ffff:127.0.0.1') as Uint8Array));
  t.notOk(isIPv4Mapped(parseIPv6('::1') as Uint8Array));
  t.notOk(isIPv4Mapped(parseIPv6('1::ffff:127.0.0.1') as Uint8Array));
  t.notOk(isIPv4Mapped(parseIPv4('127.0.0.1') as Uint8Array));
});

t.test('canonicalHost and isHostName: label rules', async (t) => {
  t.equal(canonicalHost('A-B_c.Example'), 'a-b_c.example');
  t.ok(isHostName('a'.repeat(63)));
  t.notOk(isHostName('a'.repeat(64)), 'a label over 63');
  t.ok(isHostName(Array(4).fill('a'.repeat(62)).join('.')), '251 characters');
  t.notOk(isHostName(Array(5).fill('a'.repeat(50)).join('.')), '254 characters');
  t.notOk(isHostName('example.org.'), 'the trailing dot is for canonicalHost to remove');
  t.notOk(isHostName('exa mple.org'));
});
