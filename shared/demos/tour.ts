/**
 * The guided tour, `npm start`: about a minute that shows what this repository
 * is. It starts the mock backend, puts every part of the tutorial in front of
 * it in turn (with the ten-line pipe proxy, part 4 routing by Host, and nginx
 * and HAProxy when they are installed), gives each the same short benchmark as
 * a direct connection, and prints the table with what each row teaches and
 * where to read next.
 *
 * What it leaves out: precision, and the TLS rows. Two rounds of three seconds
 * are enough to see the shape of the result; `npm run bench` takes longer,
 * measures better, and has the TLS rows.
 */
import { type BenchOptions, formatReport, runBench } from '../bench/bench.ts';
import { PART4_BUILT, TARGETS, TWO_WORKERS } from '../bench/bench-targets.ts';
import { exitWith } from '../lib/cli.ts';

/**
 * Every row but the TLS ones, which need a baseline of their own and add a
 * minute, the two-worker ones, part4-built (part4 again without tsx), and
 * those run only when named.
 */
export const TOUR: BenchOptions = {
  connections: 100,
  duration: 3,
  rounds: 2,
  targets: TARGETS.filter(
    (target) =>
      !target.tls &&
      !target.onlyWhenAsked &&
      !TWO_WORKERS.includes(target) &&
      target !== PART4_BUILT,
  ).map((target) => target.name),
  mode: 'keepalive',
  backend: 'mock',
};

const INTRO = `rsp-ts, the guided tour (about a minute)

A reverse proxy sits between clients and a backend and copies bytes both ways.
This repository builds one in four stages; each stage is a runnable folder
with its chapter (README.md) beside the code. The tour starts the mock backend
(shared/test/backend.ts), starts each part in front of it, and sends the same load
to each: ${TOUR.connections} clients asking as fast as they can, ${TOUR.rounds} rounds of ${TOUR.duration} s per row,
rows taking turns. "direct" talks to the backend without a proxy: every other
row is compared with it.
`;

const NEXT = `Read next:
  part1-oneshot/README.md     the first chapter, beside its code (npm run part1)
  npm run diff -- 2           what changed from one part to the next
  npm test                    which behaviours each part passes, and which it fails on purpose
  npm run bench               this benchmark, longer (3 rounds of 5 s); add -- --mode close
                              for a new connection per request, as the blog series measured`;

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

async function main(): Promise<void> {
  console.log(INTRO);
  const report = await runBench(TOUR);
  console.log(formatReport(report));

  console.log('\nWhat each row teaches:');
  const width = Math.max(...report.summaries.map((summary) => summary.name.length));
  for (const summary of report.summaries) {
    const target = TARGETS.find((each) => each.name === summary.name);
    if (!target) continue;
    const where = target.readme ? ` Read ${target.readme}.` : '';
    const text = wrap(`${target.lesson}${where}`, 96 - width);
    console.log(`  ${summary.name.padEnd(width)}  ${text.join(`\n  ${' '.repeat(width)}  `)}`);
  }
  for (const line of report.skipped) console.log(`  ${line}`);
  console.log(`\n${NEXT}`);
}

main().catch((err) => exitWith('tour.ts', err, 1));
