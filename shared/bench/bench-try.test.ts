/**
 * --try NAME=FILE: a proxy of the reader's measured beside the parts, in the
 * same run. Parsing on its own, then one short run with two tried proxies, one
 * taking the command line of parts 1 to 3 and one part 4's. And the order in
 * which a round visits the rows, which --try rows join.
 */
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../lib/programs.ts';
import { inTurn, parseBenchArgs, type Reporter, runBench } from './bench.ts';

const PIPE = path.join(ROOT, 'shared/bench/pipe-proxy.ts');

t.test('parseBenchArgs: --try adds a row after the others, its file made absolute', async (t) => {
  const options = parseBenchArgs([
    '--targets',
    'pipe',
    '--try',
    'mine=shared/bench/pipe-proxy.ts',
    '--try',
    `other.v2=${PIPE}`,
  ]);
  t.same(options.targets, ['direct', 'pipe', 'mine', 'other.v2']);
  t.same(options.tries, [
    { name: 'mine', file: PIPE },
    { name: 'other.v2', file: PIPE },
  ]);
  t.equal(parseBenchArgs([]).tries, undefined, 'no --try, no tries');
});

t.test('parseBenchArgs: a bad --try names the option', async (t) => {
  t.throws(() => parseBenchArgs(['--try', 'mine']), /--try wants NAME=FILE, got "mine"/);
  t.throws(() => parseBenchArgs(['--try', `part3=${PIPE}`]), /"part3" is already a target's name/);
  t.throws(() => parseBenchArgs(['--try', 'mine=no/such/proxy.ts']), /--try: no file .*proxy\.ts/);
});

/**
 * A proxy in a folder named like part 4's: it takes `port host:port`, as part
 * 4's quick start does, and refuses anything else.
 */
const PART4_STYLE = `import net from 'node:net';
const [port, target, extra] = process.argv.slice(2);
const match = /^([\\d.]+):(\\d+)$/.exec(target ?? '');
if (!match || extra !== undefined) {
  console.error('want: port host:port');
  process.exit(2);
}
const server = net.createServer((client) => {
  const backend = net.connect(Number(match[2]), match[1]);
  client.pipe(backend).pipe(client);
  client.on('error', () => backend.destroy());
  backend.on('error', () => client.destroy());
});
server.listen(Number(port), () => console.log('Listening on port ' + server.address().port + '.'));
`;

t.test(
  '--try: tried proxies run beside the parts, each with the command line its folder says',
  async (t) => {
    const dir = t.testdir({ 'part4-mine': { 'proxy.ts': PART4_STYLE } });
    const quiet: Reporter = { progress: () => {}, line: () => {} };
    const report = await runBench(
      parseBenchArgs([
        '--targets',
        'direct',
        '--rounds',
        '1',
        '--duration',
        '1',
        '--connections',
        '10',
        '--try',
        `three=${PIPE}`,
        '--try',
        `four=${path.join(dir, 'part4-mine/proxy.ts')}`,
      ]),
      quiet,
    );
    t.same(report.skipped, [], 'both started');
    t.same(
      report.summaries.map((summary) => [summary.name, summary.kind]),
      [
        ['direct', 'direct'],
        ['three', 'tried'],
        ['four', 'tried'],
      ],
    );
    for (const summary of report.summaries) {
      t.ok(summary.rps > 0 && summary.errors === 0, `${summary.name}: answered, no errors`);
    }
  },
);

t.test('inTurn: each round starts one target further on', async (t) => {
  t.same(inTurn(['direct', 'pipe', 'part3'], 0), ['direct', 'pipe', 'part3']);
  t.same(inTurn(['direct', 'pipe', 'part3'], 1), ['pipe', 'part3', 'direct']);
  t.same(inTurn(['direct', 'pipe', 'part3'], 4), ['pipe', 'part3', 'direct'], 'and round again');
  t.same(inTurn([], 3), []);
});
