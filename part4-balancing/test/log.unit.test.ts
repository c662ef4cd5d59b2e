/**
 * The log's counted events: the first of a kind is logged at once, the rest
 * are summed into one line; --verbose logs each. And outside strings are
 * escaped before they reach a line.
 */
import t from 'tap';
import { EventCounts, printable } from '../log.ts';

/** Runs `body` with console.log captured; returns the lines it printed. */
function captured(body: () => void): string[] {
  const lines: string[] = [];
  const original = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    body();
  } finally {
    console.log = original;
  }
  return lines;
}

t.test('1,203 resets: the first logged, the rest in one summary line', async (t) => {
  const events = new EventCounts({ reset: 'connections ended by a reset' });
  const lines = captured(() => {
    for (let i = 0; i < 1204; i++) events.count('reset', 'Connection ended early: ECONNRESET');
    events.flush();
  });
  t.equal(lines.length, 2, 'two lines for 1,204 events');
  t.match(lines[0], /Connection ended early: ECONNRESET$/);
  t.match(lines[1], /\] 1,203 connections ended by a reset in the last 10 s\.$/);
  t.equal(events.total.reset, 1204, 'the total, for the status');
});

t.test('verbose: every event has its line', async (t) => {
  const events = new EventCounts({ reset: 'connections ended by a reset' });
  events.verbose = true;
  const lines = captured(() => {
    for (let i = 0; i < 5; i++) events.count('reset', 'Connection ended early');
    events.flush();
  });
  t.equal(lines.length, 5);
});

t.test('printable: no input can forge a line or drive a terminal', async (t) => {
  t.equal(printable('www.example.org'), 'www.example.org');
  t.equal(printable('a\nb\r\x1b[2J\\'), 'a\\x0ab\\x0d\\x1b[2J\\\\');
  t.equal(printable('caf\u00e9\u202e'), 'caf\\xe9\\u{202e}');
  t.equal(printable('x'.repeat(300)).length, 203, 'cut short');
});
