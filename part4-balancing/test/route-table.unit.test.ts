/**
 * The route table on its own, as plain data: keys read into routes, lookups,
 * a key's change and a full read's replacement, with no Redis at all (the
 * replies SMEMBERS would give are written here). redis-routes.test.ts runs
 * the same table behind a real redis-server.
 */
import t from 'tap';
import { type KeyRead, RouteKeys, RouteTable } from '../fleet/route-table.ts';

/** Runs `body` with console.log captured; returns the lines it printed. */
function captured<T>(body: () => T): { lines: string[]; result: T } {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    return { lines, result: body() };
  } finally {
    console.log = original;
  }
}

/** The read of `hostnames:<host>:backends`, as SMEMBERS would reply with `members` ([]: gone). */
function read(keys: RouteKeys, host: string, members: string[] | Error): KeyRead {
  const key = `hostnames:${host}:backends`;
  const route = keys.routeOf(key);
  if (route === undefined) throw new Error(`${key} names no route`);
  return keys.read(key, route, members);
}

/** A table of these keys (host: members). */
function tableOf(routes: Record<string, string[]>): RouteTable {
  const keys = new RouteKeys();
  const table = new RouteTable();
  for (const [host, members] of Object.entries(routes)) table.put(read(keys, host, members));
  return table;
}

const ids = (table: RouteTable, host: string, protocol: 'http' | 'tls' = 'http') =>
  table.lookup(host, protocol)?.backends.map((backend) => backend.id);

t.test(
  'keys: the route each names, in the host table form; one line for a key that names none',
  async (t) => {
    const keys = new RouteKeys();
    t.equal(keys.pattern, 'hostnames:*:backends');
    t.equal(keys.routeOf('hostnames:Shop.Example.NET.:backends'), 'shop.example.net');
    t.equal(keys.routeOf('hostnames:*.Example.org:backends'), '*.example.org');
    t.equal(keys.routeOf('hostnames:0:0::1:backends'), '::1');
    t.equal(keys.routeOf('hostnames:httpDefault:backends'), 'httpDefault');
    t.equal(keys.routeOf('hostnames:httpsDefault:backends'), 'httpsDefault');
    const { lines, result } = captured(() => [
      keys.routeOf('hostnames:not a name:backends'),
      keys.routeOf('hostnames:not a name:backends'),
      keys.routeOf('hostnames:*.10.0.0.1:backends'),
    ]);
    t.same(result, [undefined, undefined, undefined]);
    t.equal(lines.length, 2, 'once per key');
    t.match(lines[0], /\] Redis key hostnames:not a name:backends: not a host name, skipped\.$/);
    t.equal(
      new RouteKeys('a*b?[c]\\:').pattern,
      'a\\*b\\?\\[c\\]\\\\:*:backends',
      'a prefix taken literally',
    );
  },
);

t.test(
  'members: each valid one read canonically; a bad one logged once, however often it is read',
  async (t) => {
    const keys = new RouteKeys();
    const { lines, result } = captured(() => [
      read(keys, 'www.example.org', [
        '10.0.0.1',
        'Backend.Internal:81',
        '[::FFFF:10.0.0.4]:8080',
        '2001:DB8:0:0::1',
        'bad member\n',
        '10.0.0.2:0',
      ]),
      read(keys, 'www.example.org', ['10.0.0.1', 'bad member\n', '10.0.0.2:0']),
    ]);
    t.same(
      result[0].members?.map((member) => member.text),
      ['10.0.0.1', 'backend.internal:81', '[::ffff:10.0.0.4]:8080', '[2001:db8::1]'],
    );
    t.same(lines.length, 2, 'one line per bad member, not per read');
    t.match(
      lines[0],
      'skipped member "bad member\\x0a" (expected host, host:port, [v6] or [v6]:port).',
    );
    t.match(lines[1], 'skipped member "10.0.0.2:0"');

    const gone = captured(() => [
      read(keys, 'www.example.org', []),
      read(keys, 'www.example.org', ['bad member\n']),
    ]);
    t.equal(gone.result[0].members, undefined, 'an empty reply: the key is gone');
    t.equal(gone.lines.length, 1, 'and what was logged of it is forgotten');

    const refused = captured(() => [
      read(keys, 'a-string.example.org', new Error('WRONGTYPE')),
      read(keys, 'a-string.example.org', new Error('WRONGTYPE')),
    ]);
    t.equal(refused.result[0].members, undefined, 'a refusal: no members');
    t.match(refused.lines, [
      /Redis key hostnames:a-string\.example\.org:backends: WRONGTYPE, skipped\.$/,
    ]);
  },
);

t.test(
  'lookup: exact, the longest wildcard, the default; ports 80 and 443 for a bare member',
  async (t) => {
    const table = tableOf({
      'www.example.org': ['10.0.0.1', '10.0.0.2:8080'],
      '*.example.org': ['10.0.0.3'],
      '*.b.example.org': ['10.0.0.4'],
      '*.0.0.1': ['10.0.0.5'],
      httpDefault: ['10.0.0.9'],
      httpsDefault: ['10.0.0.10:8443'],
    });
    t.equal(table.size, 6);
    t.same(ids(table, 'www.example.org'), ['10.0.0.1:80', '10.0.0.2:8080']);
    t.same(ids(table, 'WWW.Example.ORG.', 'tls'), ['10.0.0.1:443', '10.0.0.2:8080']);
    t.equal(table.lookup('x.y.b.example.org', 'http')?.route, '*.b.example.org');
    t.equal(table.lookup('example.org', 'http')?.route, 'httpDefault');
    t.equal(table.lookup('10.0.0.1', 'http')?.route, 'httpDefault', 'an address: no wildcard');
    t.same(ids(table, 'nowhere.test', 'tls'), ['10.0.0.10:8443']);
    t.equal(
      tableOf({}).lookup('www.example.org', 'http'),
      undefined,
      'no route, not even a default',
    );
  },
);

t.test(
  'put: two keys spelling one name make one route; a lookup keeps its object until it changes',
  async (t) => {
    const keys = new RouteKeys();
    const table = new RouteTable();
    t.ok(table.put(read(keys, 'Example.org', ['10.0.0.1'])), 'a new route');
    const before = table.lookup('example.org', 'http');
    t.notOk(
      table.put(read(keys, 'example.org.', ['10.0.0.1'])),
      'the same member again: no change',
    );
    t.equal(table.lookup('example.org', 'http'), before, 'the same object');
    t.ok(table.put(read(keys, 'example.org.', ['10.0.0.2'])), 'a member of the other key');
    t.same(ids(table, 'example.org'), ['10.0.0.1:80', '10.0.0.2:80'], 'the members of both keys');
    t.not(table.lookup('example.org', 'http'), before, 'a new object');
    t.ok(table.put(read(keys, 'Example.org', [])), 'one key gone');
    t.same(ids(table, 'example.org'), ['10.0.0.2:80'], 'the other stays');
    t.ok(table.put(read(keys, 'example.org.', [])));
    t.equal(table.size, 0, 'both gone: the route goes');
  },
);

t.test('update: a key changed by a notification, in one line', async (t) => {
  const keys = new RouteKeys();
  const table = new RouteTable();
  const { lines, result } = captured(() => [
    table.update(read(keys, 'live.example.org', ['10.0.1.1', '10.0.1.2'])),
    table.update(read(keys, 'live.example.org', ['10.0.1.2', '10.0.1.1'])),
    table.update(read(keys, 'live.example.org', [])),
  ]);
  t.same(result, [true, false, true]);
  t.equal(lines.length, 2, 'nothing for a read that changed nothing');
  t.match(lines[0], /\] Route live\.example\.org from Redis: 2 backend\(s\)\.$/);
  t.match(lines[1], /\] Route live\.example\.org removed from Redis\.$/);
});

t.test('replaceWith: a full read replaces the routes, and names those that changed', async (t) => {
  const table = tableOf({
    'kept.example.org': ['10.0.2.1'],
    'changed.example.org': ['10.0.2.2'],
    'gone.example.org': ['10.0.2.3'],
  });
  const kept = table.lookup('kept.example.org', 'tls');
  const fresh = tableOf({
    'kept.example.org': ['10.0.2.1'],
    'changed.example.org': ['10.0.2.2', '10.0.2.4'],
    'new.example.org': ['10.0.2.5'],
  });
  t.same(table.replaceWith(fresh).sort(), [
    'changed.example.org',
    'gone.example.org',
    'new.example.org',
  ]);
  t.equal(table.lookup('kept.example.org', 'tls'), kept, 'an unchanged route keeps its object');
  t.equal(ids(table, 'gone.example.org'), undefined);
  t.same(ids(table, 'changed.example.org'), ['10.0.2.2:80', '10.0.2.4:80']);
  t.same(table.snapshot(), [
    { host: 'changed.example.org', backends: ['10.0.2.2', '10.0.2.4'], source: 'redis' },
    { host: 'kept.example.org', backends: ['10.0.2.1'], source: 'redis' },
    { host: 'new.example.org', backends: ['10.0.2.5'], source: 'redis' },
  ]);
  t.ok(table.put(read(new RouteKeys(), 'kept.example.org', [])), 'and puts go on after it');
  t.equal(table.size, 2);
});
