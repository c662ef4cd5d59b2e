/**
 * The sample renderers, each on its own, and the helpers they stand on: what
 * a part prints is captured in this process, a log line's time is the
 * sample's, a message's words are found in the source. Each test names what
 * its renderer must show, so a renderer that lost a line, a field or a
 * counter fails here even before a chapter's region would.
 */
import t from 'tap';
import * as part1 from '../../part1-oneshot/proxy.ts';
import * as part3 from '../../part3-backpressure/proxy.ts';
import { USAGE } from '../../part4-balancing/cli.ts';
import { POOL, TOP } from '../../part4-balancing/config/parse.ts';
import { LISTENER } from '../../part4-balancing/config.ts';
import { ROUTE_SOURCE } from '../../part4-balancing/fleet/fields.ts';
import { STRATEGY_NAMES } from '../../part4-balancing/pools/strategies/index.ts';
import { ANSWERS } from './samples/answers.ts';
import { atTime, capture, loggedAt } from './samples/capture.ts';
import { fieldDefinitions, TABLES, takes } from './samples/field-tables.ts';
import { LOGS, MESSAGES } from './samples/logs.ts';
import { findLiteral, words } from './samples/source-text.ts';
import { SAMPLE_RENDERERS as render } from './samples.ts';

const CHAPTER3 = 'part4-balancing/chapters/3-configuration-and-operations.md';

/** The lines of a fenced block, without its fences. */
function inside(block: string): string[] {
  const lines = block.split('\n');
  if (!lines[0].startsWith('```') || lines.at(-1) !== '```')
    throw new Error(`not fenced: ${block}`);
  return lines.slice(1, -1);
}

t.test('capture: what code prints, in order, and the exit it asks for', async (t) => {
  const run = capture(() => {
    console.log('out');
    console.error('err %d', 2);
    process.exit(3);
  });
  t.same(run, { lines: ['out', 'err 2'], stdout: ['out'], stderr: ['err 2'], exitCode: 3 });
  const twice = capture(() => {
    try {
      process.exit(0);
    } catch {
      console.error('printed after the exit');
      process.exit(2);
    }
  });
  t.same(twice.lines, [], 'nothing after the first exit');
  t.equal(twice.exitCode, 0, 'the first exit counts');
  t.equal(typeof process.exit, 'function');
  t.throws(() => capture(() => JSON.parse('{')), SyntaxError, 'other errors pass through');
});

t.test('atTime: the clock stopped at a local time, in every time zone', async (t) => {
  const real = Date;
  t.equal(
    atTime('2026-11-27 08:32:43', () => [new Date().getHours(), new Date().getMinutes()].join(':')),
    '8:32',
  );
  t.equal(
    atTime('2026-11-27 08:32:43', () => Date.now()),
    new Date(2026, 10, 27, 8, 32, 43).getTime(),
  );
  t.equal(Date, real, 'Date is put back');
  t.same(
    loggedAt('2026-01-02 03:04:05', () => part1.log('hi')),
    ['[2026-01-02 03:04:05] hi'],
  );
  t.throws(() => atTime('yesterday', () => 0), /expected "YYYY-MM-DD HH:MM:SS"/);
});

t.test('words: a literal of the source, found by its beginning, its holes filled', async (t) => {
  const source = [
    'log(`Reloaded ${file}: ${n} pool(s).`);',
    "fail('nothing ' + `here: ${why}` + '.');",
    'log(`twice ${a}`); log(`twice ${a}`);',
    'log(`twin ${a}`); log(`twin ${b}!`);',
    'x(`a ${f({ b: `c${d}` })} \\n\\x41`);',
  ].join('\n');
  const reloaded = findLiteral(source, 'Reloaded ');
  t.same(reloaded.holes, ['file', 'n']);
  t.same(reloaded.texts, ['Reloaded ', ': ', ' pool(s).']);
  t.same(findLiteral(source, 'nothing ').texts, ['nothing here: ', '.'], 'joined by +');
  t.same(findLiteral(source, 'twice ').holes, ['a'], 'the same literal twice is one');
  t.throws(() => findLiteral(source, 'twin '), /2 different strings begin with "twin "/);
  t.throws(() => findLiteral(source, 'absent'), /no string begins with "absent"/);
  t.same(findLiteral(source, 'a ${f').texts, ['a ', ' \nA'], 'nested braces, escapes cooked');
  const reload = words('part4-balancing/proxy.ts', 'Reloaded ');
  t.equal(reload('web.json', 1, 2), 'Reloaded web.json: 1 listener(s), 2 pool(s).');
  t.throws(() => reload('web.json'), /has 3 hole\(s\).*given 1/);
});

t.test('usage: each part as --help prints it', async (t) => {
  t.same(inside(render.usage(['part3'], 'x.md')), [part3.USAGE]);
  t.same(inside(render.usage(['part4'], 'x.md')), USAGE.split('\n'));
  t.match(render.usage(['part4'], 'x.md'), /--workers N\|auto/);
  t.throws(
    () => render.usage(['part9'], 'x.md'),
    /no part part9 \(parts: part1, part2, part3, part4\)/,
  );
});

t.test('terminal: a mistake on the command line, with the lines npm prints first', async (t) => {
  t.same(inside(render.terminal(['part1', 'abc'], 'x.md')), [
    '$ npm run part1 -- abc',
    '',
    '> rsp-ts@0.1.0 part1',
    '> tsx part1-oneshot/proxy.ts abc',
    '',
    'proxy.ts: listen-port must be an integer from 0 to 65535, got "abc"',
    part1.USAGE,
  ]);
  t.throws(() => render.terminal(['part1', '9000'], 'x.md'), /would start the proxy/);
});

t.test('error-line: the one line a mistake prints first', async (t) => {
  t.same(inside(render['error-line'](['part4', '--idle-timeout', '5s'], 'x.md')), [
    'proxy.ts: command line: --idle-timeout: expected an integer from 0 to 86400000, got "5s"',
  ]);
  t.same(inside(render['error-line'](['part3', '--idle-timeout', '-1'], 'x.md')).length, 1);
});

t.test('fields: every field of every table, what it takes, its default and chapter', async (t) => {
  const all = render.fields([], CHAPTER3);
  for (const { fields } of TABLES) {
    for (const key of Object.keys(fields)) t.match(all, `| \`${key}\` |`, `${key} has its row`);
  }
  t.match(
    all,
    '| `routeSource` | an object |  | [7](7-the-fleet.md), [`fleet/fields.ts`](../fleet/fields.ts) |',
  );
  t.match(all, /\| `workers` \| an integer from 1 to 64 \| `1` \| \[7\]\(7-the-fleet\.md\), /);
  t.match(all, /\| `listen` \| a list of at least one \| required \| \[3\]/, 'required');
  t.match(all, /`maxConnections` .* from the descriptor limit: 480 at 1,024, 9,968 at 20,000/);
  t.match(all, /`LISTENER`, each entry of `listen`, in \[`config\.ts`\]\(\.\.\/config\.ts\):/);
  t.notMatch(all, /<keyPrefix>/, 'angle brackets escaped: Markdown would take them for HTML');
  const some = render.fields(['ROUTE_SOURCE', 'pingIntervalMs,pingTimeoutMs'], 'x.md');
  t.same(
    some.split('\n').map((line) => line.split(' | ')[0]),
    ['| field', '| ---', '| `pingIntervalMs`', '| `pingTimeoutMs`'],
    'only the fields asked for, no chapter column',
  );
  // From the table, not typed here: chapter 1's exercise adds a strategy.
  t.equal(takes(POOL.strategy), `one of ${STRATEGY_NAMES.join(', ')}`);
  t.equal(takes(ROUTE_SOURCE.pingTimeoutMs), 'an integer from 100 to 86400000');
  const top = fieldDefinitions().get('TOP')?.fields;
  t.same([...(top?.keys() ?? [])], Object.keys(TOP), 'the source reads as the code runs');
  t.equal(top?.get('verbose')?.chapter, 1);
  t.equal(top?.get('statusListen')?.chapter, 6);
  t.equal(fieldDefinitions().get('LISTENER')?.fields.get('trustedProxies')?.chapter, 5);
  t.equal(Object.keys(LISTENER).length, 14);
  t.throws(() => render.fields(['NOPE'], 'x.md'), /no table NOPE/);
});

t.test('status-json: snapshot() of the example, with every field it always sends', async (t) => {
  const json = JSON.parse(inside(render['status-json'](['example'], 'x.md')).join('\n'));
  t.equal(json.pid, 4151);
  t.equal(json.uptimeMs, 7234);
  t.equal(json.startedAt, '2026-12-04T17:50:39.011Z');
  t.equal(json.limits.maxConnections, 9968);
  const backends = json.pools.web.backends;
  t.same(
    backends.map((b: { totalConnections: number }) => b.totalConnections),
    [12, 8, 2],
    '6, 4, 2 then 6, 4: the weights, then C left out',
  );
  t.equal(backends[2].down, 'health check failed: ECONNREFUSED');
  t.same(backends[2].probes, { passed: 1, failed: 3 });
  t.equal(json.totals.totalConnections, 22);
  t.equal(json.events.badProxy, 0);
});

t.test('status-paths: the paths the status endpoint answers, inline', async (t) => {
  t.equal(render['status-paths']([], 'x.md'), '`/`, `/status.json` and `/metrics`');
});

t.test('log: each sample is lines of the log, at the sample time', async (t) => {
  for (const name of Object.keys(LOGS)) {
    const lines = inside(render.log([name], 'x.md'));
    t.ok(lines.length > 0, `${name}: some lines`);
    // Those two are the one line a mistake stops the proxy with, not log lines.
    if (name !== 'config-errors' && name !== 'router-start') {
      t.ok(
        lines.every((line) => /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \S/.test(line)),
        name,
      );
    }
  }
  t.same(
    inside(render.log(['health'], 'x.md')).map((line) => line.slice(0, 21)),
    ['[2026-11-27 08:32:51]', '[2026-11-27 08:32:59]', '[2026-11-27 08:33:25]'],
  );
  t.match(
    render.log(['config-errors'], 'x.md'),
    /^proxy\.ts: web\.json: pools\.web\.maxFail: unknown key/m,
  );
  t.match(
    render.log(['summary'], 'x.md'),
    /\] 3 HTTP clients answered 400, 408, 414 or 431 in the last 10 s\./,
  );
  t.throws(() => render.log(['nope'], 'x.md'), /no log sample nope \(samples: part1-started/);
});

t.test('message: one line, as inline code', async (t) => {
  for (const name of Object.keys(MESSAGES)) {
    t.match(render.message([name], 'x.md'), /^`[^`\n]+`$/, name);
  }
  t.equal(render.message(['part3-idle'], 'x.md'), '`Closing connection idle for 10000 ms.`');
  t.throws(() => render.message(['nope'], 'x.md'), /no message nope/);
});

t.test('answer: what a client gets back, from the code that decides it', async (t) => {
  t.same(inside(render.answer(['bad-gateway'], 'x.md')).slice(0, 2), [
    'HTTP/1.1 502 Bad Gateway',
    'Content-Type: text/plain',
  ]);
  t.same(inside(render.answer(['twelve-requests'], 'x.md')), [
    '      6 Hello from backend A',
    '      4 Hello from backend B',
    '      2 Hello from backend C',
  ]);
  t.same(inside(render.answer(['bad-heads'], 'x.md')), [
    'HTTP/1.1 414 URI Too Long',
    'HTTP/1.1 400 Bad Request',
    'HTTP/1.1 431 Request Header Fields Too Large',
    'HTTP/1.1 400 Bad Request',
    'HTTP/1.1 408 Request Timeout',
  ]);
  t.match(
    render.answer(['told-by-proxy-v1'], 'x.md'),
    /Client address: 127\.0\.0\.1:50642 \(PROXY v1\)/,
  );
  t.match(
    render.answer(['proxy-headers'], 'x.md'),
    /"PROXY TCP4 203\.0\.113\.7 192\.0\.2\.1 56324 443\\r\\n"/,
  );
  t.ok(Object.keys(ANSWERS).length >= 8);
  t.throws(() => render.answer(['nope'], 'x.md'), /no answer sample nope/);
});
