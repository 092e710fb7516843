// Metrics reachable as docs/operations.md says: Debian's Prometheus, run with the scrape config the docs show
// (only the loopback ports swapped for the test profile's ephemeral ones), scrapes every moat service `up`, and
// every panel of compose/grafana/moat-dashboard.json evaluates against it with names that are really scraped.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { type PrometheusServer, startPrometheus } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOf, stack } from './stack.ts';

const ROOT = join(import.meta.dirname, '../../..');

/** The documented scrape config: the ```yaml block of docs/operations.md that opens with its comment line. */
function documentedScrapeConfig(): string {
  const docs = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  const block = /```yaml\n(# moat's services on the host's loopback[\s\S]*?)```/.exec(docs)?.[1];
  if (!block) throw new Error('docs/operations.md has no Prometheus scrape config block');
  return block;
}

/** The dashboard's PromQL, with Grafana's variables as Grafana fills them ("All" instances, a 1 m rate window). */
function dashboardQueries(): { title: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(join(ROOT, 'compose/grafana/moat-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[]; panels?: unknown[] }[];
  };
  return dash.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      title: p.title,
      expr: t.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s'),
    })),
  );
}

/** One policy request (a decision, so moat_decisions_total has a series for the instance variable's query). */
function policyRequest(port: number): Promise<string> {
  const req =
    'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.66\n' +
    'client_name=unknown\nhelo_name=mail.example.net\nsender=metrics@example.net\nrecipient=alice@moat.test\n\n';
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => s.destroy(new Error(`no policy answer; got ${JSON.stringify(got)}`)), 30_000);
    s.on('connect', () => s.write(req));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n\n')) {
        clearTimeout(t);
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

interface Target {
  health: string;
  lastError: string;
  labels: Record<string, string>;
  scrapeUrl: string;
}

describe('Prometheus with the documented scrape config', () => {
  let prom: PrometheusServer;
  let config = '';

  beforeAll(async () => {
    // documented host port -> the port the test profile published the same container port on
    const published: Record<string, number> = {
      '9465': await portOf('mx', 9465),
      '9466': await portOf('policyd', 9465),
      '9467': await portOf('console', 9465),
    };
    let swapped = 0;
    config = documentedScrapeConfig().replace(/"127\.0\.0\.1:(\d+)"/g, (all, port: string) => {
      if (!published[port]) return all;
      swapped++;
      return `"127.0.0.1:${published[port]}"`;
    });
    expect(swapped, 'the documented config names mx 9465, policyd 9466 and console 9467').toBe(3);
    await policyRequest(stack().policyPort);
    prom = await startPrometheus(config);
  });

  afterAll(async () => {
    await prom?.stop();
  });

  it('scrapes every moat service on loopback, each `up`', async () => {
    let targets: Target[] = [];
    // the first scrape of each target comes within one scrape_interval (15 s) of the start
    for (let i = 0; i < 90; i++) {
      targets = (await prom.api<{ activeTargets: Target[] }>('targets', { state: 'active' })).activeTargets;
      if (targets.length === 3 && targets.every((t) => t.health === 'up')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(targets.map((t) => ({ service: t.labels.service, health: t.health, error: t.lastError })).sort((a, b) => a.service!.localeCompare(b.service!))).toEqual([
      { service: 'console', health: 'up', error: '' },
      { service: 'mx', health: 'up', error: '' },
      { service: 'policyd', health: 'up', error: '' },
    ]);
    for (const t of targets) expect(t.scrapeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const up = await prom.query('up{job="moat"}');
    expect(up.map((s) => [s.metric.service, s.value[1]]).sort()).toEqual([
      ['console', '1'],
      ['mx', '1'],
      ['policyd', '1'],
    ]);
  });

  it("receives moat's metric families from each service", async () => {
    const families = async (service: string) => {
      const rows = await prom.api<{ metric: string }[]>('targets/metadata', { match_target: `{service="${service}"}` });
      return new Set(rows.map((r) => r.metric));
    };
    const mx = await families('mx');
    for (const f of ['moat_decisions_total', 'moat_mx_sessions_total', 'moat_dnslist_lookups_total', 'moat_greylist_decisions_total', 'moat_queue_messages', 'moat_journal_writes_total'])
      expect(mx.has(f), `mx: ${f}`).toBe(true);
    const policyd = await families('policyd');
    for (const f of ['moat_decisions_total', 'moat_policyd_replies_total', 'moat_policyd_connections', 'moat_greylist_store_up']) expect(policyd.has(f), `policyd: ${f}`).toBe(true);
    const consoleFamilies = await families('console');
    for (const f of ['moat_console_logins_total', 'moat_console_actions_total']) expect(consoleFamilies.has(f), `console: ${f}`).toBe(true);
    // samples, not only metadata: the policy request above made a decision in policyd
    const decided = await prom.query('sum by (service) (moat_decisions_total)');
    expect(decided.map((s) => s.metric.service)).toContain('policyd');
  });

  it('evaluates every Grafana panel without error, over metric names that are scraped', async () => {
    const metadata = await prom.api<Record<string, unknown>>('metadata');
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    const failed: string[] = [];
    const unknown = new Set<string>();
    for (const { title, expr } of queries) {
      await prom.query(expr).catch((e: Error) => failed.push(`${title}: ${e.message}`));
      for (const [name] of expr.matchAll(/moat_[a-z_]+/g)) {
        const family = name.replace(/_bucket$/, '');
        if (!(family in metadata)) unknown.add(name);
      }
    }
    expect(failed).toEqual([]);
    expect([...unknown]).toEqual([]);
    // the dashboard's instance variable: label_values(moat_decisions_total, instance)
    const instances = await prom.api<string[]>('label/instance/values', { 'match[]': 'moat_decisions_total' });
    expect(instances.length).toBeGreaterThan(0);
  });
});
