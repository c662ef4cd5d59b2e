/**
 * The ready test of the first exercise of chapter 1 (pools and strategies): a
 * `random` strategy, picking any candidate with the same chance. The balancer
 * is started on a configuration file that says `"strategy": "random"`, in front
 * of three named backends, and sixty requests must reach all three, in an
 * order no rotation would give.
 *
 * `npm test` leaves it out; `npm run exercise -- 4` runs it. It fails until the
 * exercise is done in pools/strategies/. What it leaves out: the other exercises,
 * and the strategy's fairness beyond "every backend gets some".
 */
import t from 'tap';
import { sequence, startBackends, startBalancer } from './test/support.ts';

const skip = process.env.EXERCISE === '4' ? false : 'an exercise: npm run exercise -- 4';
const REQUESTS = 60;

t.test(
  '"strategy": "random": every backend gets clients, in no fixed order',
  { skip },
  async (t) => {
    const backends = await startBackends(t, ['A', 'B', 'C']);
    const config = {
      listen: [{ port: 0, pool: 'web' }],
      pools: {
        web: { strategy: 'random', backends: backends.map(({ address }) => ({ address })) },
      },
    };
    // A strategy the configuration does not know is a mistake in the file: the
    // proxy exits with one line naming the field, and never listens.
    const started = await startBalancer(t, config).catch((err: Error) => err);
    if (started instanceof Error) {
      const why = started.message.split('\n').find((line) => line.startsWith('proxy.ts:'));
      t.fail(`part 4 did not start with "strategy": "random": ${why ?? started.message}`);
      return;
    }

    const names = await sequence(started.proxy.port, REQUESTS);
    const count = (name: string) => names.filter((n) => n === name).length;
    // With a fair coin of three sides, a backend left out of 60 picks happens
    // about once in ten billion runs.
    for (const name of ['A', 'B', 'C']) {
      t.ok(count(name) > 0, `${name} answered ${count(name)} of ${REQUESTS}`);
    }
    // Round robin repeats a cycle of three; random picks do not.
    const rotates = names.every((name, i) => i < 3 || name === names[i - 3]);
    t.notOk(rotates, `not a rotation: ${names.join('')}`);
  },
);
