/**
 * The status page. In a real browser (Debian's Chromium, driven by
 * puppeteer-core): the page of a balancer started through its command line
 * updates live, a killed backend's row turns down, names that look like tags
 * show as text, and with JavaScript off the server-rendered table is there.
 * Without a browser: which clients get the page and which the JSON, 404, 405,
 * HEAD, the escaping and the policy header; and the view on its own.
 *
 * Chromium is required, not optional: without /usr/bin/chromium the browser
 * tests fail with a line that says so (.ci/run installs it). To keep the
 * screenshot (in .tap/fixtures/), run
 * `npx tap --save-fixture part4-balancing/test/status-page.test.ts`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import t, { type Test } from 'tap';
import { parseResponse, readAll, waitFor } from '../../shared/test/harness.ts';
import type { RedisLink } from '../fleet/redis-link.ts';
import { view } from '../status/status-view.js';
import {
  listenerPorts,
  type Named,
  sequence,
  startBackends,
  startBalancer,
  status,
} from './support.ts';

const CHROMIUM = '/usr/bin/chromium';
/**
 * Health check paths health/fields.ts takes as they are (any printable characters
 * but a space), though they are markup: the page shows each pool's.
 */
const HOSTILE = '/<script>alert(1)</script>';
const BOLD = '/<b>x</b>';

/**
 * Pool `web` over two backends, pool `live` over three with a health check
 * (the live test kills one), and two pools named in markup that are only
 * ever shown.
 */
function configFor(web: Named[], live: Named[]) {
  const addresses = (backends: Named[]) => backends.map((b) => ({ address: b.address }));
  return {
    listen: [
      { port: 0, pool: 'web' },
      { port: 0, pool: 'live' },
    ],
    statusPort: 0,
    pools: {
      web: { backends: addresses(web) },
      live: { backends: addresses(live), healthCheck: { intervalMs: 200, timeoutMs: 1000 } },
      // No listener: only their probes go out, to a port where nothing listens.
      names: { backends: [{ address: '127.0.0.1:1' }], healthCheck: { path: HOSTILE } },
      bold: { backends: [{ address: '127.0.0.1:1' }], healthCheck: { path: BOLD } },
    },
  };
}

/** One request on a fresh connection, with the method and Accept header we choose. */
async function ask(port: number, method: string, pathname: string, accept?: string) {
  const socket = net.connect(port, '127.0.0.1');
  const acceptLine = accept === undefined ? '' : `Accept: ${accept}\r\n`;
  socket.write(
    `${method} ${pathname} HTTP/1.1\r\nHost: x\r\n${acceptLine}Connection: close\r\n\r\n`,
  );
  return parseResponse((await readAll(socket)).data);
}

// One balancer for every test: the live test has a pool and a port of its own.
const [backends, liveBackends] = await Promise.all([
  startBackends(t, ['A', 'B']),
  startBackends(t, ['A', 'B', 'C']),
]);
const balancer = await startBalancer(t, configFor(backends, liveBackends));
const statusPort = balancer.statusPort as number;
const [, LIVE] = await listenerPorts(balancer.proxy, 2);

const CHROME_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,' +
  'image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';

t.test(
  'browsers get the page at /, programs the JSON (and everyone at /status.json)',
  async (t) => {
    const port = statusPort;
    const cases: [who: string, accept: string | undefined, html: boolean][] = [
      ["Chromium's Accept", CHROME_ACCEPT, true],
      ["Firefox's Accept", 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
      ['text/* alone', 'text/*', true],
      ["curl's */*", '*/*', false],
      ['no Accept at all', undefined, false],
      ['application/json', 'application/json', false],
      ["HTTPie's JSON first", 'application/json, */*;q=0.5', false],
      ['HTML ranked lower', 'text/html;q=0.5, application/json', false],
      ['a tie between the two', 'application/json, text/html', false],
    ];
    for (const [who, accept, html] of cases) {
      const response = await ask(port, 'GET', '/', accept);
      t.equal(response.status, 200, `${who}: 200`);
      t.match(
        response.headers['content-type'],
        html ? /^text\/html; charset=utf-8$/ : /^application\/json$/,
        `${who}: ${html ? 'the page' : 'the JSON'}`,
      );
      t.equal(response.headers.vary, 'accept', `${who}: Vary: Accept`);
    }
    const json = await ask(port, 'GET', '/status.json', CHROME_ACCEPT);
    t.match(
      json.headers['content-type'],
      /^application\/json$/,
      '/status.json: JSON, even for a browser',
    );
    t.ok(JSON.parse(json.body.toString()).pools.web, 'and it is the status');
    const query = await ask(port, 'GET', '/?refresh=1', CHROME_ACCEPT);
    t.match(query.headers['content-type'], /^text\/html/, 'a query string changes nothing');
  },
);

t.test('404 elsewhere, 405 for other methods, HEAD for the page and the JSON', async (t) => {
  const port = statusPort;
  t.equal((await ask(port, 'GET', '/status', CHROME_ACCEPT)).status, 404, '/status: 404');
  t.equal((await ask(port, 'GET', '/status.json/x')).status, 404, '/status.json/x: 404');
  for (const [method, where] of [
    ['POST', '/'],
    ['PUT', '/status.json'],
    ['DELETE', '/'],
  ]) {
    const response = await ask(port, method, where, CHROME_ACCEPT);
    t.equal(response.status, 405, `${method} ${where}: 405`);
    t.equal(response.headers.allow, 'GET, HEAD', 'with Allow');
  }
  for (const [what, where, accept, type] of [
    ['the page', '/', CHROME_ACCEPT, /^text\/html/],
    ['the JSON', '/status.json', undefined, /^application\/json/],
  ] as const) {
    const head = await ask(port, 'HEAD', where, accept);
    t.equal(head.status, 200, `HEAD ${what}: 200`);
    t.match(head.headers['content-type'], type, `HEAD ${what}: its type`);
    t.ok(Number(head.headers['content-length']) > 0, `HEAD ${what}: its length`);
    t.equal(head.body.length, 0, `HEAD ${what}: no body`);
  }
});

t.test('the server escapes names, and its policy allows exactly its own script', async (t) => {
  const response = await ask(statusPort, 'GET', '/', CHROME_ACCEPT);
  const body = response.body.toString();
  t.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the script tag, escaped');
  t.ok(body.includes('&lt;b&gt;x&lt;/b&gt;'), 'the bold tag, escaped');
  t.equal(body.match(/<script/g)?.length, 1, 'one script element: the page its own');
  t.notOk(body.includes('<b>'), 'no bold element');

  const script = /<script type="module">([\s\S]*)<\/script>/.exec(body)?.[1] ?? '';
  const hash = createHash('sha256').update(script).digest('base64');
  const policy = response.headers['content-security-policy'] ?? '';
  t.match(policy, `script-src 'sha256-${hash}'`, 'the policy names the inline script by its hash');
  t.match(policy, "default-src 'none'", 'and allows nothing else by default');
  t.match(policy, "connect-src 'self'", 'but polling the status port');
});

t.test('the view: every state, routes and workers when present, all escaped', async (t) => {
  const backend = {
    weight: 1,
    health: 'down' as const,
    activeConnections: 0,
    totalConnections: 3,
    failures: 1,
    bytesSent: 300,
    bytesReceived: 3000,
  };
  const status: Parameters<typeof view>[0] = {
    config: '<i>cfg</i>.json',
    pid: 4321,
    startedAt: '2026-11-27T08:00:00.000Z',
    uptimeMs: 7_384_000,
    listeners: [
      {
        host: '::1',
        port: 8000,
        protocol: 'tcp',
        pool: 'web',
        open: 2,
        accepted: 12,
        maxConnections: 10,
      },
    ],
    limits: { maxConnections: 100, maxConnectionsPerClient: 0, open: 2 },
    pools: {
      web: {
        strategy: 'round-robin',
        healthCheck: 'GET /',
        backends: [
          {
            ...backend,
            id: 'a:1',
            health: 'up',
            timings: {
              connect: [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
              firstByte: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
              connectSumMs: 4.2,
              firstByteSumMs: 30_000,
            },
          },
          { ...backend, id: 'b:1', down: 'x', retryInMs: 4210 },
          { ...backend, id: 'c:1', down: 'x', probeFailure: '<u>HTTP 503</u>' },
        ],
      },
    },
    totals: { activeConnections: 0, totalConnections: 9, failures: 3, noBackend: 0 },
    events: { reset: 2 },
    timingBoundsMs: [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
  };
  const plain = view(status, { note: 'now' });
  t.match(
    plain,
    /data-backend="a:1"[\s\S]*?<td class="n">≤ 1 \/ ≤ 5<\/td>\s*<td class="n">&gt; 5000 \/ &gt; 5000<\/td>/,
    'connect and first byte: p50 and p99, as the bound of their count',
  );
  t.match(
    plain,
    /data-backend="b:1"[\s\S]*?<td class="n">-<\/td>\s*<td class="n">-<\/td>/,
    'none counted: -',
  );
  t.match(plain, /data-backend="a:1" data-state="up"/, 'up');
  t.match(plain, /data-state="passive-down">[\s\S]*?tried again in 4\.2 s/, 'passive: the wait');
  t.match(
    plain,
    /health check failed \(&lt;u&gt;HTTP 503&lt;\/u&gt;\)/,
    'probe: the reason, escaped',
  );
  t.match(plain, '2 h 3 min', 'the uptime');
  t.match(plain, '[::1]:8000', 'an IPv6 listener in brackets');
  t.match(plain, '&lt;i&gt;cfg&lt;/i&gt;.json', 'the configuration path, escaped');
  t.notMatch(plain, /Routes|Workers/, 'no routes or workers section before the JSON has them');

  const later = view(
    {
      ...status,
      routes: [{ host: '<img src=x onerror=alert(1)>', pool: 'web', source: 'redis' }],
      workers: [{ pid: 11, activeConnections: 1, totalConnections: 5, routes: 2 }],
    },
    { note: 'now' },
  );
  t.match(later, /<h2>Routes<\/h2>[\s\S]*&lt;img src=x onerror=alert\(1\)&gt;<\/td><td>web<\/td>/);
  t.match(
    later,
    '<li>pid 11, activeConnections 1, totalConnections 5, routes 2</li>',
    'the workers',
  );
  t.notMatch(later, /<img|<u>|<i>/, 'no markup from the data');
  const fleet = (redis: RedisLink) => view({ ...status, routes: [], redis }, { note: 'now' });
  t.match(
    fleet({ connected: true, state: 'up' }),
    'Redis: connected, routes live',
    'fleet mode: Redis connected',
  );
  t.match(
    fleet({ connected: false, state: 'down' }),
    'Redis: not connected, serving the last routes it gave',
  );
  t.match(
    fleet({ connected: false, state: 'silent', silentForMs: 6400 }),
    'Redis: silent for 6 s (no answer to PING), serving the last routes it gave',
    'a silent link says for how long',
  );
  t.match(
    fleet({ connected: true, state: 'up', primary: '127.0.0.1:6380' }),
    'Redis: connected, routes live; the primary is 127.0.0.1:6380, as Sentinel names it',
    'through Sentinel: which primary the fleet follows',
  );
});

// --- In Chromium --------------------------------------------------------------------

let launched: Promise<Browser> | undefined;
t.teardown(() =>
  launched?.then(
    (browser) => browser.close(),
    () => {},
  ),
);

/**
 * A new tab, closed on teardown, in a Chromium launched on first use with a
 * fresh profile in this file's test directory (created by startBalancer above:
 * t.testdir() again would empty it), and closed at the end.
 */
async function newPage(test: Test): Promise<Page> {
  launched ??= launch(path.join(t.testdirName, 'chromium'));
  const page = await (await launched).newPage();
  test.teardown(() => page.close());
  return page;
}

function launch(profile: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no ${CHROMIUM}: install Debian's chromium (.ci/run does) to test the page`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Without the background-networking flags Chromium calls home at start,
    // which a machine without internet answers with refused connections.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
}

interface Row {
  backend: string;
  state: string;
  says: string;
  total: number;
  /** The sparkline's points, "x,y x,y ..." (empty before two polls). */
  points: string;
}

/** The rows of a pool's table, as the browser shows them. */
function rowsOf(page: Page, pool: string): Promise<Row[]> {
  return page.$$eval(`section[data-pool="${pool}"] tr[data-backend]`, (rows) =>
    rows.map((row) => ({
      backend: row.querySelector('.id')?.textContent ?? '',
      state: row.getAttribute('data-state') ?? '',
      says: row.querySelector('.state')?.textContent ?? '',
      total: Number(row.querySelector('.total')?.textContent),
      points: row.querySelector('polyline')?.getAttribute('points') ?? '',
    })),
  );
}

/** The strategy and health check line of each pool named, as text. */
function healthCheckLines(page: Page, pools: string[]): Promise<string[]> {
  return Promise.all(
    pools.map((pool) =>
      page.$eval(`section[data-pool="${pool}"] p.muted`, (line) => line.textContent ?? ''),
    ),
  );
}

/** Polls the page's rows of `pool` until `accept` says yes; returns those rows. */
async function rowsWhen(
  page: Page,
  pool: string,
  accept: (rows: Row[]) => boolean,
  what: string,
): Promise<Row[]> {
  let rows: Row[] = [];
  await waitFor(
    async () => {
      rows = await rowsOf(page, pool);
      return accept(rows);
    },
    { what },
  );
  return rows;
}

const noteOf = (page: Page) => page.$eval('.note', (note) => note.textContent ?? '');

t.test(
  'in Chromium: live counts and rates, a killed backend turns down, names stay text',
  async (t) => {
    const began = performance.now();
    const backends = liveBackends;
    const [, B] = backends;
    const page = await newPage(t);
    const trouble: string[] = [];
    page.on('dialog', (dialog) => {
      trouble.push(`a dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (err) => trouble.push(`a script error: ${(err as Error).message}`));
    await page.setViewport({ width: 1000, height: 700 });
    const response = await page.goto(`http://127.0.0.1:${statusPort}/`);
    t.match(response?.headers()['content-type'], /^text\/html/, 'the browser gets the page');
    await waitFor(async () => (await noteOf(page)).startsWith('Live'), { what: 'the script' });

    const names = await sequence(LIVE, 9);
    const nameOf = new Map(backends.map((b) => [b.address, b.name]));
    const answered = (address: string) => names.filter((n) => n === nameOf.get(address)).length;
    const counted = await rowsWhen(
      page,
      'live',
      (rows) => rows.every((row) => row.total === answered(row.backend)),
      'the page to show the new totals',
    );
    t.same(
      counted.map((row) => [row.backend, row.state, row.total]),
      backends.map((b) => [b.address, 'up', answered(b.address)]),
      `live totals: ${names.join('')}`,
    );
    // The sparkline: some point above the baseline (y = 19) once the requests are in a rate.
    const risen = (row: Row) => row.points.split(' ').some((p) => Number(p.split(',')[1]) < 19);
    await rowsWhen(page, 'live', (rows) => rows.some(risen), 'a sparkline to rise');
    t.pass('a sparkline shows the requests per second');

    await B.program.kill();
    const afterKill = await rowsWhen(
      page,
      'live',
      (rows) => rows.find((row) => row.backend === B.address)?.state === 'probe-down',
      "B's row to turn down",
    );
    const b = afterKill.find((row) => row.backend === B.address);
    t.match(b?.says, /^down: health check failed \(ECONNREFUSED\)$/, `B says: ${b?.says}`);
    t.same(
      afterKill.filter((row) => row !== b).map((row) => row.state),
      ['up', 'up'],
      'A and C stay up',
    );

    t.same(
      await healthCheckLines(page, ['names', 'bold']),
      [`round-robin; health check: GET ${HOSTILE}`, `round-robin; health check: GET ${BOLD}`],
      'names that look like tags show as text',
    );
    t.equal(await page.$$eval('script', (scripts) => scripts.length), 1, 'no script was added');
    t.equal(await page.$('main b'), null, 'no bold element either');
    t.same(trouble, [], 'no dialog, no script error');

    const screenshot = path.join(t.testdir(), 'status-page.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    t.same(
      [...readFileSync(screenshot).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''),
      'PNG',
      `a screenshot: ${screenshot}`,
    );
    t.comment(`the browser test took ${Math.round(performance.now() - began)} ms`);
  },
);

t.test('in Chromium with JavaScript off: the server-rendered table is the page', async (t) => {
  await sequence(balancer.proxy.port, 4);
  const expected = await status(statusPort);
  const page = await newPage(t);
  await page.setJavaScriptEnabled(false);
  await page.goto(`http://127.0.0.1:${statusPort}/`);
  t.match(await noteOf(page), /^A snapshot taken at/, 'it says it is a snapshot');
  const rows = await rowsOf(page, 'web');
  t.same(
    rows.map((row) => [row.backend, row.state, row.total]),
    expected.pools.web.backends.map((b) => [b.id, 'up', b.totalConnections]),
    'every backend, its state and its total, as the JSON says',
  );
  t.same(
    await healthCheckLines(page, ['names', 'bold']),
    [`round-robin; health check: GET ${HOSTILE}`, `round-robin; health check: GET ${BOLD}`],
    'names as text here too',
  );
  await sequence(balancer.proxy.port, 2);
  await page.reload();
  const sum = (list: Row[]) => list.reduce((n, row) => n + row.total, 0);
  t.equal(sum(await rowsOf(page, 'web')), sum(rows) + 2, 'a reload shows the new totals');
});
