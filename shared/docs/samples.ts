/**
 * Samples from the code: what a chapter shows of the program's own words
 * (usage text, field tables, status JSON, log lines, error messages, answers),
 * rendered from the code that prints them, in this process: no program is
 * started and no socket opened. A sample that the code no longer prints fails
 * `npm run docs -- --check`, and `npm run docs` writes what it prints now.
 *
 *   <!-- render: usage part3 -->                     a part's usage (samples/cli.ts)
 *   <!-- render: terminal part1 abc -->              a mistake on the command line, in a terminal
 *   <!-- render: error-line part4 --idle-timeout 5s -->   the one line a mistake prints
 *   <!-- render: fields -->                          every field of the configuration (samples/field-tables.ts)
 *   <!-- render: fields ROUTE_SOURCE pingIntervalMs,pingTimeoutMs -->   some fields of one table
 *   <!-- render: status-json example -->             the status JSON (samples/status.ts)
 *   <!-- render: log health -->                      log lines, by name (samples/logs.ts)
 *   <!-- render: message part3-idle -->              one message, inline
 *   <!-- render: answer bad-gateway -->              what a client gets back, by name (samples/answers.ts)
 *
 * How a sample gets the code's words, best first: it calls the code that
 * builds them (a part's reading of its command line, part 4's checks, its
 * health, its snapshot()); where that code needs a socket or a running proxy,
 * it takes the words from the source (samples/source-text.ts) and fills in its
 * own values. A log line's time is the sample's: the clock is stopped for it
 * (samples/capture.ts). A block renders as a fenced block, whose opening
 * comment is then the block's marker.
 *
 * What it leaves out: measured figures (results.ts), and output only a real
 * run has (a ClientHello's random bytes, a demo's memory curve).
 */
import { ANSWER_RENDERERS } from './samples/answers.ts';
import { CLI_RENDERERS } from './samples/cli.ts';
import { FIELD_RENDERERS } from './samples/field-tables.ts';
import { LOG_RENDERERS } from './samples/logs.ts';
import { STATUS_RENDERERS } from './samples/status.ts';

/** The renderers of this file, by name: each takes the region's arguments and the Markdown file's path. */
export const SAMPLE_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  ...CLI_RENDERERS,
  ...FIELD_RENDERERS,
  ...STATUS_RENDERERS,
  ...LOG_RENDERERS,
  ...ANSWER_RENDERERS,
};
