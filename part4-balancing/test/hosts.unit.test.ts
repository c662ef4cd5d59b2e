/**
 * The host table (../vhosts/hosts.ts) on its own: exact names, the longest
 * wildcard, the default pool, addresses; the Host header's name; which keys a
 * table refuses. (The fuzzer checks it against reference-router.ts.)
 */
import t from 'tap';
import { HostTable, hostFromHeader, hostKeyProblem } from '../vhosts/hosts.ts';

const table = new HostTable(
  {
    'www.example.org': 'www',
    '*.example.org': 'apps',
    '*.dev.example.org': 'dev',
    '10.0.0.1': 'by-address',
    '::1': 'loopback',
  },
  'other',
);

t.test('route: an exact name wins over a wildcard that also matches', async (t) => {
  t.equal(table.route('www.example.org'), 'www');
});

t.test('route: a wildcard matches names under it, at any depth', async (t) => {
  t.equal(table.route('api.example.org'), 'apps');
  t.equal(table.route('a.b.example.org'), 'apps');
});

t.test('route: the longest matching wildcard wins', async (t) => {
  t.equal(table.route('x.dev.example.org'), 'dev');
  t.equal(table.route('y.x.dev.example.org'), 'dev');
  t.equal(table.route('dev.example.org'), 'apps', 'dev.example.org itself is under *.example.org');
});

t.test('route: *.example.org does not match example.org itself (nginx rule)', async (t) => {
  t.equal(table.route('example.org'), 'other');
});

t.test('route: case and a trailing dot do not matter', async (t) => {
  t.equal(table.route('WWW.Example.ORG'), 'www');
  t.equal(table.route('www.example.org.'), 'www');
  t.equal(table.route('API.EXAMPLE.ORG.'), 'apps');
});

t.test('route: no name, or an unknown one, goes to the default pool', async (t) => {
  t.equal(table.route(undefined), 'other');
  t.equal(table.route('example.com'), 'other');
  t.equal(table.route(''), 'other');
  t.equal(table.route('not a name'), 'other');
});

t.test('route: without a default pool, an unmatched name has no pool', async (t) => {
  const strict = new HostTable({ 'a.example': 'a' });
  t.equal(strict.route('b.example'), undefined);
  t.equal(strict.route(undefined), undefined);
  t.equal(strict.route('a.example'), 'a');
});

t.test('route: addresses match exactly, never a wildcard', async (t) => {
  t.equal(table.route('10.0.0.1'), 'by-address');
  t.equal(table.route('0:0::1'), 'loopback');
  const wild = new HostTable({ '*.0.0.1': 'odd' }, 'other');
  t.equal(wild.route('10.0.0.1'), 'other');
});

t.test('hostFromHeader: the port goes, case and trailing dot are normalised', async (t) => {
  t.equal(hostFromHeader('www.example.org'), 'www.example.org');
  t.equal(hostFromHeader('Example.ORG.:8080'), 'example.org');
  t.equal(hostFromHeader('example.org:'), 'example.org', 'an empty port is allowed by RFC 3986');
  t.equal(hostFromHeader('10.0.0.1:80'), '10.0.0.1');
});

t.test('hostFromHeader: IPv6 literals lose their brackets and take canonical form', async (t) => {
  t.equal(hostFromHeader('[::1]:8080'), '::1');
  t.equal(hostFromHeader('[0:0::1]'), '::1');
  t.equal(hostFromHeader('[2001:DB8::1]:443'), '2001:db8::1');
});

t.test('hostFromHeader: no host in the value gives undefined', async (t) => {
  for (const value of [
    '',
    ':80',
    'example.org:80:81',
    'example.org:http',
    '[::1',
    '::1',
    '[1.2.3.4]',
    '[::g]',
    'a b',
    'exa%6dple.org',
    'a..b',
    '.',
  ]) {
    t.equal(hostFromHeader(value), undefined, JSON.stringify(value));
  }
});

t.test('hostKeyProblem: good keys pass', async (t) => {
  for (const key of [
    'example.org',
    '*.example.org',
    '*.org',
    'localhost',
    '10.0.0.1',
    '::1',
    '2001:db8::1',
  ]) {
    t.equal(hostKeyProblem(key), undefined, key);
  }
});

t.test('hostKeyProblem: each bad key gets a reason', async (t) => {
  const problems: [string, RegExp][] = [
    ['', /empty/],
    ['*', /"\*" may only start/],
    ['www.*.org', /"\*" may only start/],
    ['*example.org', /"\*" may only start/],
    ['*.*.org', /"\*" may only start/],
    ['Example.org', /write it as "example.org"/],
    ['example.org.', /write it as "example.org"/],
    ['*.Example.org', /write it as "\*.example.org"/],
    ['0:0::1', /write it as "::1"/],
    ['[::1]', /without brackets/],
    ['example.org:8080', /without a port/],
    ['exa mple.org', /expected a host name/],
    ['a..b', /expected a host name/],
    ['*.::1', /expected a host name|wildcard/],
    // An address has no names under it: such a wildcard could only ever match by accident.
    ['*.10.0.0.1', /a wildcard needs a host name/],
  ];
  for (const [key, reason] of problems) t.match(hostKeyProblem(key), reason, JSON.stringify(key));
});

t.test('a table refuses a bad key when built', async (t) => {
  t.throws(() => new HostTable({ 'Bad.Example': 'a' }), /host "Bad.Example": write it as/);
});
