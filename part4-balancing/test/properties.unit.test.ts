/**
 * The fuzzer's properties (PARSER_PROPERTIES, fuzz-arbitraries.ts) on 1,000
 * cases per reader, in npm test; `npm run fuzz` runs 100,000.
 */
import t from 'tap';
import { PARSER_PROPERTIES } from './fuzz-arbitraries.ts';

// npm run fuzz runs the same properties 100,000 times each; here, enough to
// catch a regression in a second or so.
const RUNS = 1000;

for (const parser of PARSER_PROPERTIES) {
  t.test(
    `${parser.name}: never throws, chunking never changes the answer, valid inputs read right`,
    async (t) => {
      const result = parser.run(RUNS);
      t.notOk(result.failed, result.report ?? 'failed');
      t.equal(result.numRuns, RUNS);
    },
  );
}
