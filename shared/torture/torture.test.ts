/**
 * The quick half of `npm run torture`: every attack at small counts against
 * part 3 and part 4 (the slow reader is left to the behaviour matrix, which
 * measures memory under slow readers already). Each row must pass: the
 * attack's checks held, the part is alive, no stack trace, no descriptor
 * leaked.
 */
import t from 'tap';
import { Cleanup } from '../lib/cleanup.ts';
import { ATTACKS } from './attacks.ts';
import { formatRows, parseTortureArgs, torture } from './torture.ts';

t.test('every quick attack leaves part 3 and part 4 standing', async (t) => {
  const cleanup = new Cleanup();
  t.teardown(() => cleanup.run());
  const attacks = ATTACKS.map((attack) => attack.name).filter((name) => name !== 'slow reader');
  const rows = await torture({ ...parseTortureArgs(['--quick']), attacks }, cleanup);
  t.equal(rows.length, 4 + 7, 'four attacks on part 3, seven on part 4');
  for (const row of rows) t.ok(row.ok, `${row.attack}, ${row.part}: ${row.result}`);
  t.comment(formatRows(rows));
});

t.test('a bad command line is one line', async (t) => {
  t.throws(() => parseTortureArgs(['--part', 'part9']), {
    message: /--part must be part3 or part4/,
  });
  t.throws(() => parseTortureArgs(['--attack', 'nope']), { message: /--attack must be one of/ });
});
