/**
 * /metrics through the real command line, read by a real Prometheus: two
 * workers, two backends, a known number of requests; Prometheus scrapes the
 * status port every second, and its HTTP API must give back, per backend, the
 * requests the test saw each backend answer. And promtool, Prometheus' own
 * checker, finds nothing wrong with a scrape.
 *
 * Debian's `prometheus` package brings both programs (.ci/apt-packages).
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { freePort, httpGet, waitFor } from '../../shared/test/harness.ts';
import { onePool, startBackends, startBalancer, status, whoAnswered } from './support.ts';

const REQUESTS = 30;

const [A, B] = await startBackends(t, ['A', 'B']);

/** The /metrics text, and what promtool says of it. */
async function scrape(statusPort: number): Promise<string> {
  return (await httpGet(statusPort, '/metrics')).body.toString();
}

/** Starts Prometheus on loopback, scraping `target` every second, with its own data directory. */
async function startPrometheus(t: Test, target: number): Promise<number> {
  const dir = t.testdir();
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: rsp',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prometheus.stderr.on('data', (chunk) => {
    log += chunk;
  });
  t.teardown(() => {
    prometheus.kill('SIGKILL');
  });
  await waitFor(async () => (await ask(port, '/-/ready').catch(() => '')).includes('Ready'), {
    what: `Prometheus ready (its log: ${log.slice(-500)})`,
  });
  return port;
}

async function ask(port: number, pathname: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return response.text();
}

/** A PromQL query's result: each series' labels and its value. */
async function query(port: number, promql: string): Promise<Record<string, number>> {
  const answer = JSON.parse(await ask(port, `/api/v1/query?query=${encodeURIComponent(promql)}`));
  const values: Record<string, number> = {};
  for (const { metric, value } of answer.data.result) {
    values[Object.values(metric).join(' ')] = Number(value[1]);
  }
  return values;
}

t.test('a Prometheus scraping two workers counts the requests each backend answered', async (t) => {
  const { statusPort, proxy } = await startBalancer(
    t,
    onePool({ backends: [{ address: A.address }, { address: B.address }] }),
    ['--workers', '2'],
  );
  const port = statusPort as number;
  await waitFor(() => (proxy.output().match(/Listening on port/g) ?? []).length === 2, {
    what: 'both workers listening',
  });
  const sent: Record<string, number> = { [A.address]: 0, [B.address]: 0 };
  for (let i = 0; i < REQUESTS; i++) {
    sent[(await whoAnswered(proxy.port)) === 'A' ? A.address : B.address]++;
  }
  t.equal((await status(port)).totals.totalConnections, REQUESTS, 'the JSON agrees');

  const text = await scrape(port);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(check.status, 0, 'promtool check metrics passes');
  t.equal(`${check.stdout}${check.stderr}`.trim(), '', 'and finds nothing to say');
  t.match(
    text,
    /^rsp_clients_accepted_total\{listener="\*:\d+"\} 30$/m,
    'accepted: both workers added up',
  );
  t.match(
    text,
    /^rsp_backend_connect_seconds_count\{pool="web",backend="127\.0\.0\.1:\d+"\} \d+$/m,
  );
  t.match(text, /^process_cpu_seconds_total \d/m, "and the process's own figures");

  const prometheus = await startPrometheus(t, port);
  const perBackend = 'sum by (backend) (rsp_backend_connections_total{pool="web"})';
  const seen = await waitFor(
    async () => {
      const values = await query(prometheus, perBackend);
      return Object.keys(values).length === 2 ? values : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'Prometheus has scraped both backends' },
  );
  t.same(seen, sent, `Prometheus counts what each backend answered: ${JSON.stringify(sent)}`);
  const firstBytes = await query(prometheus, 'sum(rsp_backend_first_byte_seconds_count)');
  t.equal(Object.values(firstBytes)[0], REQUESTS, 'and a first byte timed for each');
});
