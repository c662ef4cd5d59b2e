/**
 * The strategies (../pools/strategies/) on their own: round robin and its
 * weights, least connections, two random choices, IP hash, and that each pool
 * gets a state of its own.
 */
import t from 'tap';
import { createStrategy, type Peer, STRATEGY_NAMES } from '../pools/strategies/index.ts';
import { createIpHash } from '../pools/strategies/ip-hash.ts';
import { createLeastConnections } from '../pools/strategies/least-connections.ts';
import { createRoundRobin } from '../pools/strategies/round-robin.ts';
import { createTwoRandomChoices } from '../pools/strategies/two-random-choices.ts';

function peer(id: string, weight = 1, activeConnections = 0): Peer {
  return { id, weight, activeConnections };
}

/** Picks `count` times and returns the ids, joined by spaces. */
function sequence(pick: () => Peer | undefined, count: number): string {
  return Array.from({ length: count }, () => pick()?.id).join(' ');
}

function tally(ids: Iterable<string | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[String(id)] = (counts[String(id)] ?? 0) + 1;
  return counts;
}

/** 10,000 client addresses that differ only in their last bits, the hard case for a hash. */
const CLIENT_IPS = Array.from(
  { length: 10_000 },
  (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
);

t.test(
  'round-robin: weights 5:1:1 give nginx sequence a a b a c a a, cycle after cycle',
  async (t) => {
    const peers = [peer('a', 5), peer('b', 1), peer('c', 1)];
    const strategy = createRoundRobin();
    for (let cycle = 1; cycle <= 3; cycle++) {
      t.equal(
        sequence(() => strategy.pick(peers, ''), 7),
        'a a b a c a a',
        `cycle ${cycle}`,
      );
    }
  },
);

t.test('round-robin: equal weights take turns in config order', async (t) => {
  const strategy = createRoundRobin();
  const peers = [peer('a'), peer('b'), peer('c')];
  t.equal(
    sequence(() => strategy.pick(peers, ''), 6),
    'a b c a b c',
  );
});

t.test('round-robin: weights hold exactly over many picks', async (t) => {
  const strategy = createRoundRobin();
  const peers = [peer('a', 3), peer('b', 2), peer('c', 1)];
  const counts = tally(Array.from({ length: 6000 }, () => strategy.pick(peers, '')?.id));
  t.same(counts, { a: 3000, b: 2000, c: 1000 });
});

t.test('round-robin: a backend left out of the candidates builds up no credit', async (t) => {
  const strategy = createRoundRobin();
  const a = peer('a');
  const b = peer('b');
  // b is away for 10 picks; when it is back it takes turns, it does not get 10 in a row.
  t.equal(
    sequence(() => strategy.pick([a], ''), 10),
    'a a a a a a a a a a',
  );
  t.equal(
    sequence(() => strategy.pick([a, b], ''), 4),
    'a b a b',
  );
});

t.test('least-connections: picks the idle backend', async (t) => {
  const strategy = createLeastConnections();
  const peers = [peer('a', 1, 3), peer('b', 1, 0), peer('c', 1, 2)];
  t.equal(
    sequence(() => strategy.pick(peers, ''), 5),
    'b b b b b',
  );
});

t.test('least-connections: compares connections per unit of weight', async (t) => {
  const strategy = createLeastConnections();
  // a: 2 per weight; b: 5/3 per weight, the lighter one although it has more connections.
  t.equal(strategy.pick([peer('a', 1, 2), peer('b', 3, 5)], '')?.id, 'b');
  t.equal(strategy.pick([peer('a', 1, 1), peer('b', 3, 5)], '')?.id, 'a');
});

t.test(
  'least-connections: ties are shared by weighted round robin, not given to the first',
  async (t) => {
    const strategy = createLeastConnections();
    const idle = [peer('a', 2), peer('b'), peer('c')];
    const counts = tally(Array.from({ length: 400 }, () => strategy.pick(idle, '')?.id));
    t.same(counts, { a: 200, b: 100, c: 100 });
    // Only the tied least loaded take part: c is busy and never picked.
    const busyC = [peer('a'), peer('b'), peer('c', 1, 1)];
    t.equal(
      sequence(() => strategy.pick(busyC, ''), 4),
      'a b a b',
    );
  },
);

t.test('two-random-choices: never picks the busiest of the two it draws', async (t) => {
  const strategy = createTwoRandomChoices();
  const pair = [peer('idle', 1, 0), peer('busy', 1, 3)];
  t.equal(tally(Array.from({ length: 200 }, () => strategy.pick(pair, '')?.id)).idle, 200);
  // With more backends the busiest one can never win, and the others all get picked.
  const peers = [peer('a', 1, 1), peer('b', 1, 2), peer('c', 1, 9), peer('d', 1, 0)];
  const counts = tally(Array.from({ length: 2000 }, () => strategy.pick(peers, '')?.id));
  t.equal(counts.c, undefined, 'the busiest backend is never picked');
  t.ok(
    counts.a > 0 && counts.b > 0 && counts.d > 0,
    `others all picked: ${JSON.stringify(counts)}`,
  );
  t.ok(counts.d > counts.a && counts.a > counts.b, 'less loaded backends win more often');
});

t.test('two-random-choices: draws two distinct candidates from the random source', async (t) => {
  const peers = [peer('a', 1, 5), peer('b', 1, 5), peer('c', 1, 0)];
  // First draw 0.0 -> a; second draw 0.0 over the other two -> b (skipping a). Equal load: a.
  const draws = (...values: number[]) => {
    const queue = [...values];
    return () => queue.shift() ?? 0;
  };
  t.equal(createTwoRandomChoices(draws(0, 0)).pick(peers, '')?.id, 'a');
  // Both draws at the top of the range: c, then b (the last of the other two): c is idle.
  t.equal(createTwoRandomChoices(draws(0.99, 0.99)).pick(peers, '')?.id, 'c');
  // Draws 0.5 and 0.5: b, then the second of (a, c) -> c, which is idle.
  t.equal(createTwoRandomChoices(draws(0.5, 0.5)).pick(peers, '')?.id, 'c');
  // Weight counts: a has 5 connections but weight 10, lighter than b's 5 at weight 1.
  const weighted = [peer('a', 10, 5), peer('b', 1, 5)];
  t.equal(createTwoRandomChoices(draws(0.9, 0)).pick(weighted, '')?.id, 'a');
  t.equal(createTwoRandomChoices(draws(0, 0)).pick([peer('only')], '')?.id, 'only');
});

t.test('ip-hash: the same IP gets the same backend, in every instance', async (t) => {
  const peers = [peer('127.0.0.1:8881'), peer('127.0.0.1:8882'), peer('127.0.0.1:8883')];
  const first = createIpHash();
  const second = createIpHash();
  for (const ip of CLIENT_IPS.slice(0, 500)) {
    const chosen = first.pick(peers, ip)?.id;
    if (first.pick(peers, ip)?.id !== chosen || second.pick(peers, ip)?.id !== chosen) {
      t.fail(`${ip} moved between picks`);
    }
  }
  const counts = tally(CLIENT_IPS.map((ip) => first.pick(peers, ip)?.id));
  for (const [id, count] of Object.entries(counts)) {
    t.ok(Math.abs(count - 10_000 / 3) < 400, `${id} gets about a third: ${count}`);
  }
});

t.test(
  'ip-hash: adding a 4th backend moves about 1/4 of clients, all to the new one',
  async (t) => {
    const strategy = createIpHash();
    const three = [peer('127.0.0.1:8881'), peer('127.0.0.1:8882'), peer('127.0.0.1:8883')];
    const four = [...three, peer('127.0.0.1:8884')];
    let moved = 0;
    for (const ip of CLIENT_IPS) {
      const before = strategy.pick(three, ip)?.id;
      const after = strategy.pick(four, ip)?.id;
      if (before !== after) {
        moved++;
        if (after !== '127.0.0.1:8884') t.fail(`${ip} moved from ${before} to ${after}`);
      }
    }
    const share = moved / CLIENT_IPS.length;
    t.ok(share > 0.5 / 4 && share < 1.5 / 4, `moved share ${share.toFixed(3)} is about 1/4`);
  },
);

t.test(
  'ip-hash: with its backend left out, a client gets its next choice, others stay',
  async (t) => {
    const strategy = createIpHash();
    const peers = [peer('a:1'), peer('b:1'), peer('c:1')];
    const without = (id: string) => peers.filter((p) => p.id !== id);
    let checked = 0;
    for (const ip of CLIENT_IPS.slice(0, 1000)) {
      const first = strategy.pick(peers, ip)?.id as string;
      const retry = strategy.pick(without(first), ip)?.id;
      if (retry === undefined || retry === first) t.fail(`${ip}: no next choice`);
      // Leaving out some other backend does not move this client.
      for (const other of peers) {
        if (other.id !== first && strategy.pick(without(other.id), ip)?.id !== first) {
          t.fail(`${ip} moved when ${other.id} was left out`);
        }
      }
      checked++;
    }
    t.equal(checked, 1000);
  },
);

t.test('ip-hash: weights set each backend share', async (t) => {
  const strategy = createIpHash();
  const peers = [peer('a:1', 3), peer('b:1', 1)];
  const counts = tally(CLIENT_IPS.map((ip) => strategy.pick(peers, ip)?.id));
  const share = counts['a:1'] / CLIENT_IPS.length;
  t.ok(Math.abs(share - 0.75) < 0.03, `weight 3 of 4 gets ${share.toFixed(3)}`);
});

for (const name of STRATEGY_NAMES) {
  t.test(`${name}: undefined for no candidates, otherwise one of the candidates`, async (t) => {
    const strategy = createStrategy(name);
    t.equal(strategy.pick([], '10.0.0.1'), undefined);
    const all = [peer('a', 2, 1), peer('b', 1, 0), peer('c', 3, 4), peer('d', 1, 2)];
    for (let i = 0; i < 500; i++) {
      const candidates = all.filter((_, index) => (i >> index) & 1);
      const picked = strategy.pick(candidates, `10.0.${i & 255}.${i >> 8}`);
      if (candidates.length === 0 ? picked !== undefined : !candidates.includes(picked as Peer)) {
        t.fail(`picked ${picked?.id} from [${candidates.map((p) => p.id)}]`);
      }
    }
    t.equal(strategy.pick([all[2]], '10.0.0.1'), all[2], 'a single candidate is picked');
  });
}

t.test('createStrategy: every pool gets its own state', async (t) => {
  const peers = [peer('a'), peer('b')];
  const one = createStrategy('round-robin');
  const two = createStrategy('round-robin');
  t.equal(one.pick(peers, '')?.id, 'a');
  t.equal(two.pick(peers, '')?.id, 'a', 'a second pool starts from the beginning');
  t.equal(one.pick(peers, '')?.id, 'b');
});
