import { readFileSync } from 'node:fs';
import t from 'tap';
import { runProgram } from '../lib/programs.ts';
import { HOLD_CONNECTIONS, parseBenchArgs, savedName } from './bench.ts';
import { haproxyConfig, nginxBackendConfig, nginxStreamConfig } from './bench-targets.ts';
import { parseHttpProxyArgs } from './http-proxy.ts';
import { parsePipeArgs } from './pipe-proxy.ts';
import { parseRouterCostArgs } from './router-cost.ts';
import { parseSoakArgs, savedName as soakName } from './soak.ts';
import { parseStartArgs } from './start.ts';

t.test('parseBenchArgs: defaults', async (t) => {
  t.same(parseBenchArgs([]), {
    connections: 100,
    duration: 5,
    rounds: 3,
    targets: [
      'direct',
      'pipe',
      'part1',
      'part2',
      'part3',
      'part4',
      'part4-built',
      'part4-http',
      'part4-router',
      'http-proxy',
      'nginx',
      'haproxy',
      'part4-w2',
      'nginx-w2',
      'direct-tls',
      'part4-tcp-tls',
      'part4-tls',
    ],
    mode: 'keepalive',
    backend: 'mock',
    rate: undefined,
    json: undefined,
  });
});

t.test('parseBenchArgs: every option', async (t) => {
  const options = parseBenchArgs([
    '--connections=10',
    '--duration',
    '2',
    '--rounds',
    '5',
    '--mode',
    'close',
    '--backend',
    'nginx',
    '--json',
    'out.json',
    '--targets',
    'nginx, part3',
    '--rate=2000',
  ]);
  t.same(options, {
    connections: 10,
    duration: 2,
    rounds: 5,
    targets: ['direct', 'part3', 'nginx'],
    mode: 'close',
    backend: 'nginx',
    rate: 2000,
    json: 'out.json',
  });
  t.same(
    parseBenchArgs(['--targets', 'part2,direct']).targets,
    ['direct', 'part2'],
    'direct is the baseline: always there, always first',
  );
});

t.test('parseBenchArgs: --targets picks rows, and brings the baseline each needs', async (t) => {
  t.same(
    parseBenchArgs(['--targets', 'part4-tls,part4-http,pipe']).targets,
    ['direct', 'pipe', 'part4-http', 'direct-tls', 'part4-tls'],
    'a TLS row brings direct-tls; table order, whatever the order asked',
  );
  t.same(parseBenchArgs(['--targets', 'part4-tcp-tls']).targets, [
    'direct',
    'direct-tls',
    'part4-tcp-tls',
  ]);
  t.same(parseBenchArgs(['--targets', 'direct-tls']).targets, ['direct', 'direct-tls']);
  t.same(
    parseBenchArgs(['--targets', 'http-proxy-noagent']).targets,
    ['direct', 'http-proxy-noagent'],
    'a variant that runs only when named',
  );
  t.same(
    parseBenchArgs(['--targets', 'pipe,part3']).targets,
    ['direct', 'pipe', 'part3'],
    'no TLS row, no direct-tls',
  );
});

t.test('parseBenchArgs: bad values name the option', async (t) => {
  t.throws(() => parseBenchArgs(['--mode', 'fast']), /--mode must be keepalive, close or hold/);
  t.throws(() => parseBenchArgs(['--backend', 'apache']), /--backend must be mock or nginx/);
  t.throws(() => parseBenchArgs(['--targets', 'part2,squid']), /unknown target "squid"/);
  t.throws(() => parseBenchArgs(['--connections', '0']), /--connections must be an integer/);
  t.throws(() => parseBenchArgs(['--duration', '1.5']), /--duration must be an integer/);
  t.throws(() => parseBenchArgs(['--rounds=-1']), /--rounds must be an integer/);
  t.throws(() => parseBenchArgs(['--json=']), /--json needs a file name/);
  t.throws(() => parseBenchArgs(['--json', 'a.json', '--save']), /--json and --save: choose one/);
  t.throws(() => parseBenchArgs(['--rate', '0']), /--rate must be an integer from 1/);
  t.throws(() => parseBenchArgs(['--rate', '2k']), /--rate must be an integer/);
  t.throws(() => parseBenchArgs(['--rate']), /argument missing/);
  t.throws(() => parseBenchArgs(['--targets', 'part4-https']), /unknown target "part4-https"/);
  t.throws(() => parseBenchArgs(['--fast']), /Unknown option/);
  t.throws(() => parseBenchArgs(['part1']), /positional/);
});

t.test('parseBenchArgs --mode hold: 4,000 connections, every proxy but the TLS rows', async (t) => {
  const options = parseBenchArgs(['--mode', 'hold']);
  t.equal(options.mode, 'hold');
  t.equal(options.connections, HOLD_CONNECTIONS);
  t.equal(HOLD_CONNECTIONS, 4000);
  const everyRow = parseBenchArgs([]).targets;
  const noProxyOrTls = ['direct', 'direct-tls', 'part4-tcp-tls', 'part4-tls'];
  t.same(
    options.targets,
    everyRow.filter((name) => !noProxyOrTls.includes(name)),
    'no direct (no proxy to weigh), no baseline brought along, no TLS row unless named',
  );
  t.same(parseBenchArgs(['--mode', 'hold', '--targets', 'part4-tls,part3']).targets, [
    'part3',
    'part4-tls',
  ]);
  t.equal(parseBenchArgs(['--mode', 'hold', '--connections', '50']).connections, 50);
});

t.test('parseBenchArgs --mode hold: options that make no sense there are refused', async (t) => {
  t.throws(() => parseBenchArgs(['--mode', 'hold', '--rate', '100']), /--rate: the hold mode/);
  t.throws(
    () => parseBenchArgs(['--mode', 'hold', '--duration', '5']),
    /--duration: the hold mode/,
  );
  t.throws(() => parseBenchArgs(['--mode', 'hold', '--connections', '0']), /--connections must be/);
  const limit = Number(
    /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1],
  );
  const over = Math.min(Math.floor(limit / 2), 100_000);
  t.throws(
    () => parseBenchArgs(['--mode', 'hold', '--connections', String(over)]),
    new RegExp(
      `--connections ${over}: a proxy holding them needs \\d+ descriptors, the limit is ${limit}`,
    ),
    'two descriptors per held connection, beyond the limit',
    { skip: 2 * over + 64 <= limit ? `a limit of ${limit} descriptors holds 100,000` : false },
  );
});

t.test('parseSoakArgs: defaults and bad values', async (t) => {
  t.same(parseSoakArgs([]), { part: 'part3', requests: 1_000_000, connections: 100 });
  t.same(parseSoakArgs(['--part', 'part2', '--requests', '5000', '--connections', '50']), {
    part: 'part2',
    requests: 5000,
    connections: 50,
  });
  t.throws(() => parseSoakArgs(['--part', 'part9']), /--part must be one of part1, part2/);
  t.throws(() => parseSoakArgs(['--requests', 'many']), /--requests must be an integer/);
  t.throws(
    () => parseSoakArgs(['--requests', '10', '--connections', '100']),
    /--requests must be at least --connections/,
  );
});

t.test('parseHttpProxyArgs: the command line of pipe-proxy, and an agent', async (t) => {
  t.same(parseHttpProxyArgs([]), {
    port: 8000,
    backendHost: '127.0.0.1',
    backendPort: 8888,
    agent: 'keepalive',
  });
  t.same(parseHttpProxyArgs(['--agent', 'none', '0', 'localhost', '9000']), {
    port: 0,
    backendHost: 'localhost',
    backendPort: 9000,
    agent: 'none',
  });
  t.throws(() => parseHttpProxyArgs(['--agent', 'pool']), /--agent must be none or keepalive/);
  t.throws(() => parseHttpProxyArgs(['0', 'a', '1', 'b']), /at most three arguments/);
});

t.test('parsePipeArgs: the command line of parts 1 to 3', async (t) => {
  t.same(parsePipeArgs([]), { port: 8000, backendHost: '127.0.0.1', backendPort: 8888 });
  t.same(parsePipeArgs(['0', 'localhost', '9000']), {
    port: 0,
    backendHost: 'localhost',
    backendPort: 9000,
  });
  t.throws(() => parsePipeArgs(['http']), /listen-port must be an integer/);
  t.throws(() => parsePipeArgs(['0', '127.0.0.1', '0']), /backend-port must be an integer from 1/);
  t.throws(() => parsePipeArgs(['0', 'a', '1', 'b']), /at most three arguments/);
});

t.test(
  'bench, soak, pipe, http-proxy and start CLIs: a bad option is one line, the usage, exit 2',
  async (t) => {
    const cases = [
      ['shared/bench/bench.ts', ['--mode', 'fast']],
      ['shared/bench/soak.ts', ['--requests', 'x']],
      ['shared/bench/pipe-proxy.ts', ['0', '127.0.0.1', '70000']],
      ['shared/bench/start.ts', ['--rounds', 'all']],
      ['shared/bench/http-proxy.ts', ['--agent', 'forever']],
      ['shared/bench/bench.ts', ['--mode', 'hold', '--rate', '10']],
    ] as const;
    // At once: each only waits for its program to exit (a long deadline, as they start together).
    const runs = await Promise.all(
      cases.map(([script, args]) => runProgram(script, [...args], 60_000)),
    );
    for (const [i, { code, stdout, stderr }] of runs.entries()) {
      const [script] = cases[i];
      t.equal(code, 2, `${script} exits 2`);
      t.equal(stdout, '', 'nothing on stdout');
      t.match(
        stderr,
        /^(bench|soak|pipe-proxy|start|http-proxy)\.ts: .+\nusage: /,
        'one line, then the usage',
      );
      t.notMatch(stderr, /\n\s+at /, 'no stack trace');
    }
  },
);

t.test('--save: the run is named after its mode, rate and backend', async (t) => {
  t.equal(parseBenchArgs(['--save']).save, true);
  t.equal(parseBenchArgs([]).save, undefined);
  t.equal(savedName(parseBenchArgs([])), 'bench-keepalive');
  t.equal(savedName(parseBenchArgs(['--mode', 'close', '--rate', '200'])), 'bench-close-rate-200');
  t.equal(savedName(parseBenchArgs(['--backend', 'nginx'])), 'bench-keepalive-nginx-backend');
  t.equal(savedName(parseBenchArgs(['--mode', 'hold'])), 'bench-hold');
  t.equal(savedName(parseBenchArgs(['--mode', 'hold', '--heap'])), 'bench-hold-heap');
  t.throws(() => parseBenchArgs(['--heap']), /--heap: only the hold mode reads the heap/);
  t.equal(
    savedName(parseBenchArgs(['--mode', 'close', '--save', '--label', 'http-proxy'])),
    'bench-close-http-proxy',
    'a label keeps a run of a few rows from replacing the full one',
  );
  t.throws(() => parseBenchArgs(['--label', 'x']), /--label names a saved run: add --save/);
  t.throws(() => parseBenchArgs(['--save', '--label', 'Big Run']), /--label must be lower-case/);
});

t.test('bench:soak --save: the run is named after its part and count', async (t) => {
  t.equal(parseSoakArgs(['--save']).save, true);
  t.equal(soakName(parseSoakArgs([])), 'soak-part3');
  t.equal(soakName(parseSoakArgs(['--requests', '100000'])), 'soak-part3-100000');
  t.equal(soakName(parseSoakArgs(['--part', 'part2', '--connections', '50'])), 'soak-part2-c50');
});

t.test('bench:router: its options, and a mistake in one line', async (t) => {
  t.same(parseRouterCostArgs([]), { calls: 20_000, reloads: 1000, rounds: 3, duration: 5 });
  t.same(parseRouterCostArgs(['--reloads', '100', '--save']), {
    calls: 20_000,
    reloads: 100,
    rounds: 3,
    duration: 5,
    save: true,
  });
  t.throws(() => parseRouterCostArgs(['--reloads', '5']), /--reloads must be an integer from 10/);
  t.throws(() => parseRouterCostArgs(['--save', '--json', 'x.json']), /choose one/);
});

t.test('bench:start: its options, and a mistake in one line', async (t) => {
  t.same(parseStartArgs([]), { rounds: 3, settleMs: 1000 });
  t.same(parseStartArgs(['--rounds', '5', '--settle', '0', '--save']), {
    rounds: 5,
    settleMs: 0,
    save: true,
  });
  t.throws(() => parseStartArgs(['--rounds', '0']), /--rounds must be an integer from 1/);
  t.throws(() => parseStartArgs(['--settle', 'soon']), /--settle must be an integer/);
  t.throws(() => parseStartArgs(['part4']), /positional/);
});

t.test('nginx and HAProxy configs: room for the connections the hold mode asks for', async (t) => {
  const connections = (config: string) => Number(/worker_connections (\d+);/.exec(config)?.[1]);
  t.equal(connections(nginxStreamConfig('/d', '', 1, 2)), 4096, 'at least 4096');
  t.equal(connections(nginxStreamConfig('/d', '', 1, 2, 1, 6000)), 12_064, 'two per client held');
  t.equal(connections(nginxBackendConfig('/d', 1, 6000)), 12_064, 'nginx as the backend too');
  t.match(haproxyConfig(1, 2), /maxconn 4096\n/);
  t.match(haproxyConfig(1, 2, 6000), /maxconn 6064\n/);
});
