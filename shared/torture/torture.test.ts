/**
 * The quick half of `npm run torture`: every attack at small counts against
 * part 3 and part 4 (the slow reader is left to the behaviour matrix, which
 * measures memory under slow readers already), on part 4 against the kinds of
 * listener each attack's quick run names, and the early close against every
 * kind. Each row must pass: the attack's checks held, the part is alive, no
 * stack trace, no descriptor leaked.
 */
import t from 'tap';
import { Cleanup } from '../lib/cleanup.ts';
import { kindName, LISTENER_KINDS } from '../test/early-close.ts';
import { ATTACKS } from './attacks.ts';
import { formatRows, parseTortureArgs, savedName, torture } from './torture.ts';

t.test('every quick attack leaves part 3 and part 4 standing', async (t) => {
  const cleanup = new Cleanup();
  t.teardown(() => cleanup.run());
  const attacks = ATTACKS.map((attack) => attack.name).filter((name) => name !== 'slow reader');
  const rows = await torture({ ...parseTortureArgs(['--quick']), attacks }, cleanup);
  t.equal(rows.length, 5 + 18, 'five attacks on part 3, eighteen attacks and listeners on part 4');
  const earlyClose = rows.filter(
    (row) => row.attack === 'early close' && row.part.startsWith('part4'),
  );
  t.same(
    earlyClose.map((row) => row.listener),
    LISTENER_KINDS.map(kindName),
    'the early close reaches every kind of listener of part 4',
  );
  for (const row of rows)
    t.ok(row.ok, `${row.attack}, ${row.part}, ${row.listener}: ${row.result}`);
  t.comment(formatRows(rows));
});

t.test('a bad command line is one line', async (t) => {
  t.throws(() => parseTortureArgs(['--part', 'part9']), {
    message: /--part must be part3, part4 or fleet/,
  });
  t.throws(() => parseTortureArgs(['--attack', 'nope']), { message: /--attack must be one of/ });
  t.throws(() => parseTortureArgs(['--save', '--part', 'part3']), {
    message: /--save keeps a whole run/,
  });
});

t.test('--save: the whole run, named after its scale', async (t) => {
  t.equal(parseTortureArgs(['--quick', '--save']).save, true);
  t.equal(parseTortureArgs(['--quick']).save, undefined);
  t.equal(savedName(parseTortureArgs(['--quick'])), 'torture-quick');
  t.equal(savedName(parseTortureArgs([])), 'torture');
});
