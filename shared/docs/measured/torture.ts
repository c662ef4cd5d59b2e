/**
 * `npm run torture -- --quick --save`: the torture's table, and a count from
 * one of its rows.
 *
 *   <!-- render: torture-table torture-quick -->                              the run, then its table
 *   <!-- render: torture-count torture-quick resets part3-backpressure tcp logLines -->   one row's count
 */
import { formatRows, type Row, type TortureReport } from '../../torture/torture.ts';
import { describeRun, readResults } from '../results.ts';

/** An attack's name as a region writes it: spaces as dashes ("early-close"). */
const dashed = (attack: string) => attack.replaceAll(' ', '-');

/** The row of an attack on a part's listener, or an error naming the rows there are. */
function findRow(
  report: TortureReport,
  name: string,
  attack: string,
  part: string,
  listener: string,
): Row {
  const found = report.rows.find(
    (row) => dashed(row.attack) === attack && row.part === part && row.listener === listener,
  );
  if (!found) {
    const known = report.rows.map((row) => `${dashed(row.attack)}/${row.part}/${row.listener}`);
    throw new Error(
      `${name} has no row ${attack}/${part}/${listener} (it has ${known.join(', ')})`,
    );
  }
  return found;
}

export const TORTURE_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  'torture-table': ([name], from) => {
    const report = readResults<TortureReport>(name);
    return [describeRun(report, from, name), '', formatRows(report.rows)].join('\n');
  },
  'torture-count': ([name, attack, part, listener, field]) => {
    const row = findRow(readResults<TortureReport>(name), name, attack, part, listener);
    const value = row.figures?.[field];
    if (value === undefined) {
      throw new Error(
        `${row.attack}: no count ${field} (it has ${Object.keys(row.figures ?? {}).join(', ') || 'none'})`,
      );
    }
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  },
};
