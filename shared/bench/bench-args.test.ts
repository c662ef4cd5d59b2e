import t from 'tap';
import { runProgram } from '../test/harness.ts';
import { parseBenchArgs } from './bench.ts';
import { parseSoakArgs } from './soak.ts';

t.test('parseBenchArgs: defaults', async (t) => {
  t.same(parseBenchArgs([]), {
    connections: 100,
    duration: 5,
    rounds: 3,
    targets: ['direct', 'part1', 'part2', 'part3', 'part4', 'nginx', 'haproxy'],
    mode: 'keepalive',
    backend: 'mock',
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
  ]);
  t.same(options, {
    connections: 10,
    duration: 2,
    rounds: 5,
    targets: ['direct', 'part3', 'nginx'],
    mode: 'close',
    backend: 'nginx',
    json: 'out.json',
  });
  t.same(
    parseBenchArgs(['--targets', 'part2,direct']).targets,
    ['direct', 'part2'],
    'direct is the baseline: always there, always first',
  );
});

t.test('parseBenchArgs: bad values name the option', async (t) => {
  t.throws(() => parseBenchArgs(['--mode', 'fast']), /--mode must be keepalive or close/);
  t.throws(() => parseBenchArgs(['--backend', 'apache']), /--backend must be mock or nginx/);
  t.throws(() => parseBenchArgs(['--targets', 'part2,squid']), /unknown target "squid"/);
  t.throws(() => parseBenchArgs(['--connections', '0']), /--connections must be an integer/);
  t.throws(() => parseBenchArgs(['--duration', '1.5']), /--duration must be an integer/);
  t.throws(() => parseBenchArgs(['--rounds=-1']), /--rounds must be an integer/);
  t.throws(() => parseBenchArgs(['--json=']), /--json needs a file name/);
  t.throws(() => parseBenchArgs(['--fast']), /Unknown option/);
  t.throws(() => parseBenchArgs(['part1']), /positional/);
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

t.test('bench and soak CLIs: a bad option is one line, the usage, exit 2', async (t) => {
  for (const [script, args] of [
    ['shared/bench/bench.ts', ['--mode', 'fast']],
    ['shared/bench/soak.ts', ['--requests', 'x']],
  ] as const) {
    const { code, stdout, stderr } = await runProgram(script, [...args]);
    t.equal(code, 2, `${script} exits 2`);
    t.equal(stdout, '', 'nothing on stdout');
    t.match(stderr, /^(bench|soak)\.ts: .+\nusage: /, 'one line, then the usage');
    t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  }
});
