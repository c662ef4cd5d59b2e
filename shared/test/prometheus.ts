/**
 * A real Prometheus for the tests and the demos: on a free loopback port,
 * with a data directory of its own, scraping one target every second; and a
 * PromQL query through its HTTP API. It is killed, and its directory removed,
 * on teardown.
 *
 * Debian's `prometheus` package brings it (.ci/apt-packages). What it leaves
 * out: more than one target, alerting rules, remote storage.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Teardown } from '../lib/cleanup.ts';
import { freePort, waitFor } from './harness.ts';

export interface Prometheus {
  port: number;
  pid: number;
  /** A PromQL query's result now: each series' label values, joined by spaces, and its value. */
  query(promql: string): Promise<Record<string, number>>;
}

/** Starts Prometheus scraping `127.0.0.1:target`'s /metrics every second; resolves once it is ready. */
export async function startPrometheus(t: Teardown, target: number): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
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
  let failure: Error | undefined;
  prometheus.once('error', (err: NodeJS.ErrnoException) => {
    failure =
      err.code === 'ENOENT'
        ? new Error('prometheus not found (Debian package prometheus; .ci/run installs it)')
        : err;
  });
  t.teardown(async () => {
    if (prometheus.exitCode === null && prometheus.signalCode === null && !failure) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(
    async () => {
      if (failure) throw failure;
      return (await ask(port, '/-/ready').catch(() => '')).includes('Ready');
    },
    { what: 'Prometheus ready' },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; its log ends:\n${log.slice(-500)}`);
  });
  return {
    port,
    pid: prometheus.pid as number,
    query: async (promql) => {
      const answer = JSON.parse(
        await ask(port, `/api/v1/query?query=${encodeURIComponent(promql)}`),
      );
      const values: Record<string, number> = {};
      for (const { metric, value } of answer.data.result) {
        values[Object.values(metric).join(' ')] = Number(value[1]);
      }
      return values;
    },
  };
}

async function ask(port: number, pathname: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return response.text();
}
