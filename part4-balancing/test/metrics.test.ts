/**
 * /metrics through the real command line, read by a real Prometheus: two
 * workers, two backends, a known number of requests; Prometheus scrapes the
 * status port every second, and its HTTP API must give back, per backend, the
 * requests the test saw each backend answer. And promtool, Prometheus' own
 * checker, finds nothing wrong with a scrape.
 *
 * Debian's `prometheus` package brings both programs (.ci/apt-packages);
 * shared/test/prometheus.ts starts Prometheus.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { httpGet, waitFor } from '../../shared/test/harness.ts';
import { startPrometheus } from '../../shared/test/prometheus.ts';
import { onePool, startBackends, startBalancer, status, whoAnswered } from './support.ts';

const REQUESTS = 30;

const [A, B] = await startBackends(t, ['A', 'B']);

/** The /metrics text, and what promtool says of it. */
async function scrape(statusPort: number): Promise<string> {
  return (await httpGet(statusPort, '/metrics')).body.toString();
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
      const values = await prometheus.query(perBackend);
      return Object.keys(values).length === 2 ? values : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: 'Prometheus has scraped both backends' },
  );
  t.same(seen, sent, `Prometheus counts what each backend answered: ${JSON.stringify(sent)}`);
  const firstBytes = await prometheus.query('sum(rsp_backend_first_byte_seconds_count)');
  t.equal(Object.values(firstBytes)[0], REQUESTS, 'and a first byte timed for each');
});
