/**
 * `npm run profile -- N --save`: the time by kind, and single figures of a
 * reading.
 *
 *   <!-- render: profile-kinds profile-part3-keepalive -->            the run, then the time by kind
 *   <!-- render: profile profile-part3-keepalive kind our-code -->    a kind's share of the samples, %
 *   <!-- render: profile profile-part3-keepalive kind-ms program -->  its time, ms
 *   <!-- render: profile profile-part4-close frame connect@ -->        a function's share, % (see frameMs)
 *   <!-- render: profile profile-part3-keepalive frame-ms writeBuffer -->   its self time, ms
 *   <!-- render: profile profile-part3-keepalive rps -->              the rate the load reached
 *   <!-- render: profile profile-part3-keepalive ms -->               the time profiled, ms
 *
 * A kind is named by its label in dashes, without what is in brackets:
 * `idle`, `native-bindings`, `garbage-collector`, `node-streams`, `program`,
 * `node-other`, `our-code`, `node-sockets`. `a+b` sums kinds, or functions.
 */
import type { ProfileReport } from '../../bench/profile.ts';
import { markdownTable } from '../../lib/table.ts';
import { describeRun, readResults } from '../results.ts';

/** A kind's label as a region names it: "Node streams" is node-streams. */
export const kindKey = (label: string) =>
  label
    .replace(/\s*\(.*\)/, '')
    .toLowerCase()
    .replace(/[^a-z]+/g, '-');

const share = (ms: number, report: ProfileReport) => ((ms / report.totalMs) * 100).toFixed(1);
const thousands = (value: number) => Math.round(value).toLocaleString('en-US');

/**
 * Self time of every function of that name, in ms; `NAME@WHERE` only those
 * whose place contains WHERE, `NAME@` only native ones (no place: `connect@`
 * is the binding, not a `connect` of ours). An error when the saved top has none.
 */
function frameMs(report: ProfileReport, spec: string, file: string): number {
  const [name, where] = spec.split('@');
  const frames = report.top.filter(
    (frame) =>
      frame.name === name &&
      (where === undefined || (where === '' ? frame.where === '' : frame.where.includes(where))),
  );
  if (frames.length === 0) {
    throw new Error(`${file} has no function ${spec} among its top ${report.top.length}`);
  }
  return frames.reduce((sum, frame) => sum + frame.selfMs, 0);
}

/** A kind's time, in ms, or an error naming the kinds there are. */
function kindMs(report: ProfileReport, key: string, file: string): number {
  const kind = report.kinds.find(([label]) => kindKey(label) === key);
  if (!kind) {
    const known = report.kinds.map(([label]) => kindKey(label)).join(', ');
    throw new Error(`${file} has no kind ${key} (it has ${known})`);
  }
  return kind[1];
}

/** The sum over `a+b+c` of one of the above. */
const summed =
  (each: (report: ProfileReport, one: string, file: string) => number) =>
  (report: ProfileReport, specs: string, file: string) =>
    specs.split('+').reduce((sum, one) => sum + each(report, one, file), 0);

const FIGURES: Record<string, (report: ProfileReport, arg: string, file: string) => string> = {
  rps: (report) => thousands(report.rps),
  ms: (report) => thousands(report.totalMs),
  kind: (report, keys, file) => share(summed(kindMs)(report, keys, file), report),
  'kind-ms': (report, keys, file) => thousands(summed(kindMs)(report, keys, file)),
  frame: (report, specs, file) => share(summed(frameMs)(report, specs, file), report),
  'frame-ms': (report, specs, file) => thousands(summed(frameMs)(report, specs, file)),
};

export const PROFILE_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'profile-kinds': ([name], from) => {
    const report = readResults<ProfileReport>(name);
    const rows = report.kinds.map(([label, ms]) => [label, thousands(ms), share(ms, report)]);
    return [describeRun(report, from, name), '', markdownTable(['by kind', 'ms', '%'], rows)].join(
      '\n',
    );
  },
  profile: ([name, field, arg]) => {
    const figure = FIGURES[field];
    if (!figure)
      throw new Error(`profile: no figure ${field} (${Object.keys(FIGURES).join(', ')})`);
    return figure(readResults<ProfileReport>(name), arg, name);
  },
};
