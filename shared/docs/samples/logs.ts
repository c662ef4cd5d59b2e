/**
 * The lines the chapters show a program print, log lines and one-line errors,
 * each made by the code that makes it: part 4's health, its event counts, its
 * configuration checks, its fail(), with the clock stopped at the sample's time;
 * and where a line is built inline in code that needs a socket or a running
 * proxy, from that line's words in the source (source-text.ts), printed by
 * the part's own log().
 *
 *   <!-- render: log health -->             a block of log lines, by the sample's name (LOGS)
 *   in a sentence, <!-- render: message part3-idle --> one message as inline code (MESSAGES)
 *
 * The values a sample fills in (ports, pids, times, a client's port) are the
 * sample's own, chosen once; everything else is the code's.
 *
 * What it leaves out: lines whose values only a real run has (the fuzzer's
 * seeds and times, a demo's memory figures): those blocks say when they were
 * run.
 */

import * as part1 from '../../../part1-oneshot/proxy.ts';
import { fail } from '../../../part4-balancing/cli.ts';
import { configFromText } from '../../../part4-balancing/config/load.ts';
import {
  type Config,
  configFromAddresses,
  overrideFromText,
} from '../../../part4-balancing/config.ts';
import { describe, log } from '../../../part4-balancing/log.ts';
import { Backend } from '../../../part4-balancing/pools/pool.ts';
import { readProxyHeader } from '../../../part4-balancing/proxy-protocol/proxy-protocol.ts';
import { RunningState } from '../../../part4-balancing/state.ts';
import { hostKeyProblem } from '../../../part4-balancing/vhosts/hosts.ts';
import { readHttpHead } from '../../../part4-balancing/vhosts/http-head.ts';
import { capture, fenced, loggedAt } from './capture.ts';
import { backendsOf, exampleConfig, REFUSED } from './fixtures.ts';
import { ROUTER_LOGS } from './routers.ts';
import { words } from './source-text.ts';

const PROXY = 'part4-balancing/proxy.ts';
const PART1 = 'part1-oneshot/proxy.ts';

/** A line of part 4's log at `when`, "YYYY-MM-DD HH:MM:SS". */
const logged = (when: string, message: string) => loggedAt(when, () => log(message));

/** What the `fail()` of part 4's command line prints for `message` (exit code 1: no usage). */
function failed(message: string): string {
  const { stderr, exitCode } = capture(() => fail(message, 1));
  if (exitCode !== 1) throw new Error(`fail() exited ${exitCode}`);
  return stderr.join('\n');
}

/** The error a configuration file's `text` is refused with, read as `file`. */
export function refusedConfig(text: string, file = 'web.json'): string {
  try {
    configFromText(text, file);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${file} is accepted: ${text}`);
}

/** A small file of one pool, `web`, with `pool` merged into it, as JSON text. */
function webJson(pool: object = {}, listen: object = { port: 8000, pool: 'web' }): string {
  return JSON.stringify({
    listen: [listen],
    pools: { web: { backends: [{ address: '127.0.0.1:8881' }], ...pool } },
  });
}

const BAD_WEIGHT = webJson({ backends: [{ address: '127.0.0.1:8881', weight: 0 }] });

/** The first log lines of `npm run part4 -- --config FILE --status-port 8081`. */
function started(config: Config, when: string, pid: number): string[] {
  const { statusListen } = overrideFromText('--status-port', 'statusListen', '8081');
  const lines = config.listeners.flatMap((listener) => {
    const on = listener.host === undefined ? '' : words(PROXY, ' on ${')(listener.host);
    return logged(when, words(PROXY, 'Started.  ')(listener.port, on));
  });
  if (statusListen) {
    lines.push(
      ...logged(when, words(PROXY, 'Status on port ')(statusListen.port, statusListen.host)),
    );
  }
  return [...lines, ...processLine(config, when, pid)];
}

/** The line that names the pid to signal. */
function processLine(config: Config, when: string, pid: number): string[] {
  const reloads = words(PROXY, 'SIGHUP reloads ')(config.source);
  return logged(when, words(PROXY, 'Process ${process.pid}: ')(pid, reloads));
}

/** Log lines by sample name: each block a chapter shows. */
export const LOGS: Record<string, () => string[]> = {
  /** Part 1's startup line. */
  'part1-started': () =>
    loggedAt('2026-11-26 14:44:07', () => part1.log(words(PART1, 'Started.  ')(8000))),
  /** Part 1 in front of a backend that is not there. */
  'part1-no-backend': () =>
    loggedAt('2026-11-26 14:50:02', () =>
      part1.log(words(PART1, 'Could not connect to backend ')('127.0.0.1:8888', describe(REFUSED))),
    ),
  /** Part 4 started on the example configuration with its status endpoint (pid 9911). */
  'part4-started': () => started(exampleConfig(), '2026-11-27 08:32:43', 9911),
  /** The pid line alone. */
  'part4-process': () => processLine(exampleConfig(), '2026-11-27 08:32:43', 9911),
  /** Backend C failing its probe and passing again; a backend where nothing listens. */
  health: () => {
    const config = exampleConfig();
    const [, , c] = backendsOf(config, 'web');
    const where = { id: '127.0.0.1:8884', host: '127.0.0.1', port: 8884, weight: 1 };
    const nowhere = new Backend(where, config.pools.web);
    const lines = [
      ...loggedAt('2026-11-27 08:32:51', () => c.health.probed(describe(REFUSED))),
      ...loggedAt('2026-11-27 08:32:59', () => c.health.probed(undefined)),
      ...loggedAt('2026-11-27 08:33:25', () => nowhere.health.connectFailed(describe(REFUSED))),
    ];
    nowhere.health.stop();
    return lines;
  },
  /** Quick start in front of two ports where nothing listens, and one HTTP client. */
  'no-backend': () => {
    const config = configFromAddresses(8000, ['127.0.0.1:8899', '127.0.0.1:8898']);
    const when = '2026-11-27 08:38:03';
    const backends = backendsOf(config, 'default');
    const lines = backends.flatMap((b) =>
      loggedAt(when, () => b.health.connectFailed(describe(REFUSED))),
    );
    for (const b of backends) b.health.stop();
    const failures = backends.map((b) =>
      words('part4-balancing/pools/pool.ts', 'connect to backend ${')(b.id, describe(REFUSED)),
    );
    const tried = words('part4-balancing/serve.ts', ': ${failures.join')(failures.join('; '));
    const why = words('part4-balancing/serve.ts', 'no backend of pool ')('default', tried);
    const refused = words('part4-balancing/refuse.ts', 'Refused ${who} (${why}): answered')(
      '127.0.0.1:54622',
      why,
    );
    return [...lines, ...logged(when, refused)];
  },
  /** Every kind of mistake in a configuration file: one line each, from `proxy.ts --config`. */
  'config-errors': () =>
    [
      refusedConfig(BAD_WEIGHT),
      refusedConfig(webJson({ maxFail: 1 })),
      refusedConfig('{\n  "listen": [\n    { port: 8000, "pool": "web" }\n  ]\n}'),
      refusedConfig(
        webJson({}, { port: 8080, protocol: 'http', hosts: { 'Www.Example.org': 'web' } }),
      ),
      refusedConfig(webJson({ backends: [{ address: '127.0.0.1:8000' }] })),
      words('part4-balancing/config/load.ts', '${file}: cannot open: ')(
        'nope.json',
        'ENOENT: no such file or directory',
      ),
      words('part4-balancing/config/load.ts', '${file}: not a regular file')('/dev/zero'),
    ].map(failed),
  /** Three reloads of web.json: a broken file, a good one, a bad weight. */
  reloads: () => {
    const refused = words(PROXY, 'Reload refused, ');
    const good = configFromText(webJson(), 'web.json');
    const reloaded = words(PROXY, 'Reloaded ')(
      'web.json',
      good.listeners.length,
      Object.keys(good.pools).length,
    );
    return [
      ...logged('2026-11-27 08:33:28', refused(refusedConfig('{ "listen":  }'))),
      ...logged('2026-11-27 08:33:30', reloaded),
      ...logged('2026-11-27 08:33:31', refused(refusedConfig(BAD_WEIGHT))),
    ];
  },
  /** A graceful stop with one request in flight; then SIGINT twice. */
  stops: () => {
    const { shutdownTimeoutMs } = exampleConfig();
    const stopping = (signal: string) =>
      words(PROXY, 'Shutting down on ')(signal, 1, shutdownTimeoutMs);
    const stopped = words(PROXY, 'Stopped: ${how}.');
    return [
      ...logged('2026-11-27 08:33:05', stopping('SIGTERM')),
      ...logged('2026-11-27 08:33:08', stopped(words(PROXY, 'every connection has finished')())),
      ...logged('2026-11-27 08:33:34', stopping('SIGINT')),
      ...logged('2026-11-27 08:33:35', stopped(words(PROXY, '${signal} again: ')('SIGINT', 1))),
    ];
  },
  /** Three more bad request heads after the first, summed up ten seconds later. */
  summary: () => {
    const { events } = new RunningState();
    capture(() => {
      for (let i = 0; i < 4; i++) events.count('badHead', 'a bad head');
    });
    return loggedAt('2026-11-27 08:34:18', () => events.flush());
  },
  /** What an http listener logs for a name it does not serve and for a long request line. */
  answered: () => {
    const answered = words('part4-balancing/refuse.ts', 'Answered ${status}: ');
    const noRoute = words('part4-balancing/route.ts', 'No route for ')(
      'example.com',
      '127.0.0.1:50654',
    );
    const long = readHttpHead(Buffer.from(`GET /${'a'.repeat(9000)} HTTP/1.1\r\n`));
    if (long.state !== 'error') throw new Error('a 9 KB request line is accepted');
    const tooLong = words(
      'part4-balancing/route.ts',
      '${describeClient(addresses)}: ${read.reason}',
    )('127.0.0.1:50660', long.reason);
    return [
      ...logged('2026-11-27 08:33:52', answered(404, noRoute)),
      ...logged('2026-11-27 08:33:52', answered(long.status, tooLong)),
    ];
  },
  /** A plain HTTP request to a listener that requires a PROXY header. */
  'no-proxy-header': () => {
    const read = readProxyHeader(Buffer.from('GET / HTTP/1.1\r\nHost: localhost:8090\r\n\r\n'));
    if (read.state !== 'error') throw new Error('a GET is taken for a PROXY header');
    const closed = words(
      'part4-balancing/route.ts',
      'Closed ${describeClient(addresses)}: ${printable(why)}.',
    );
    return logged('2026-11-27 08:38:13', closed('127.0.0.1:49926', read.reason));
  },
  ...ROUTER_LOGS,
};

/** Messages in a sentence, by name: one line each, shown as inline code. */
export const MESSAGES: Record<string, () => string> = {
  'part1-cannot-listen': () =>
    words(
      PART1,
      'proxy.ts: ${message}',
    )(words(PART1, 'cannot listen on port ')(8000, 'EADDRINUSE')),
  'part2-no-backend': () =>
    words('part2-epoll-style/proxy.ts', 'Could not connect to backend ')(
      '127.0.0.1:8888',
      describe(REFUSED),
    ),
  'part3-idle': () => words('part3-backpressure/proxy.ts', 'Closing connection idle for ')(10000),
  'over-client-limit': () =>
    words('part4-balancing/serve.ts', 'Refused ${printable(from)}: over ')(
      '127.0.0.1',
      words('part4-balancing/serve.ts', 'maxConnectionsPerClient ${')(2),
    ),
  'started-on-address': () => words(PROXY, 'Started.  ')(8000, words(PROXY, ' on ${')('127.0.0.1')),
  'host-case': () =>
    refusedConfig(
      webJson({}, { port: 8080, protocol: 'http', hosts: { 'Www.Example.org': 'web' } }),
    ).replace(/^web\.json: /, ''),
  'wildcard-address': () => hostKeyProblem('*.10.0.0.1') ?? 'accepted',
};

export const LOG_RENDERERS: Record<string, (args: string[], from: string) => string> = {
  log: ([name]) => {
    const sample = LOGS[name];
    if (!sample)
      throw new Error(`no log sample ${name} (samples: ${Object.keys(LOGS).join(', ')})`);
    return fenced(sample().join('\n'));
  },
  message: ([name]) => {
    const sample = MESSAGES[name];
    if (!sample) {
      throw new Error(`no message ${name} (messages: ${Object.keys(MESSAGES).join(', ')})`);
    }
    return `\`${sample()}\``;
  },
};
