// Debian's Prometheus on a free loopback port, with a scrape config the caller gives (the one the docs show).
// Talks to 127.0.0.1 only: it scrapes the targets of that config, and its HTTP API is read by the test.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnDaemon, tmpDir, type Daemon } from './process.ts';

/** One series of an instant query. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** GET /api/v1/PATH; throws unless Prometheus says `status: success` (its error named). */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query (`/api/v1/query`): the result vector, or a thrown error naming the expression. */
  query(expr: string): Promise<PromSample[]>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `prometheus` with `config` (prometheus.yml text) and waits until it is ready (scrapes start then). */
export async function startPrometheus(config: string): Promise<PrometheusServer> {
  const dir = await tmpDir('prometheus');
  const file = join(dir.path, 'prometheus.yml');
  await writeFile(file, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const d: Daemon = spawnDaemon('prometheus', [
    `--config.file=${file}`,
    `--storage.tsdb.path=${join(dir.path, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const stop = async () => {
    await d.stop();
    await dir.remove();
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (d.process.exitCode !== null || Date.now() > deadline) {
      const out = d.output();
      await stop();
      throw new Error(`prometheus did not start (is Debian's prometheus installed? scripts/deps.mjs):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  }
  return {
    url,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: PromSample[] }>('query', { query: expr });
      return data.result;
    },
    output: () => d.output(),
    stop,
  };
}
