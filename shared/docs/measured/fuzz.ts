/**
 * `npm run fuzz -- --save`: the lines the fuzzer printed, one per parser.
 *
 *   <!-- render: fuzz-lines fuzz -->   the run, then its lines in a code block
 */
import { type FuzzReport, formatLine } from '../../../part4-balancing/test/fuzz.ts';
import { describeRun, readResults } from '../results.ts';

export const FUZZ_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'fuzz-lines': ([name], from) => {
    const report = readResults<FuzzReport>(name);
    return [
      describeRun(report, from, name),
      '',
      '```',
      ...report.lines.map(formatLine),
      '```',
    ].join('\n');
  },
};
