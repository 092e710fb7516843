// `moat reload`: every service of the stack or cluster re-reads its config (POST /-/reload on each one's
// metrics listener) and this prints each one's outcome. Talks only to the targets named; sends no config.
import { loadConfigOrFail, guard } from './context.ts';
import { parseArgs, safe, table, UsageError } from './args.ts';
import type { Command } from './types.ts';

const USAGE = `[--config FILE] [--targets NAME=URL,...] [--json]
      every service re-reads its config: new sessions get it, open ones finish on the old one; a config that
      fails validation is refused and the old one stays (exit 1). Targets: --targets, else MOAT_RELOAD_TARGETS
      (the stack sets it), else this host's metrics.listen`;

/** The environment variable the stack sets in the mx container: every service's metrics listener. */
export const TARGETS_ENV = 'MOAT_RELOAD_TARGETS';

export interface Target {
  name: string;
  url: string;
}

interface Report {
  service?: string;
  outcome: string;
  generation?: number;
  error?: string;
  needsRestart?: string[];
  draining?: number;
}

/** `mx=http://host:9465,policyd=http://...` (a bare URL is named by its host). */
export function parseTargets(text: string): Target[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const eq = item.indexOf('=');
      const [name, raw] = eq > 0 && !item.slice(0, eq).includes('/') ? [item.slice(0, eq), item.slice(eq + 1)] : [undefined, item];
      let url: URL;
      try {
        url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
      } catch {
        throw new UsageError(`--targets: ${JSON.stringify(item)} is not NAME=URL`);
      }
      if (url.protocol !== 'http:') throw new UsageError(`--targets: ${JSON.stringify(item)}: only http:// metrics listeners`);
      return { name: name ?? url.host, url: new URL('/-/reload', url).toString() };
    });
}

/** POST /-/reload at one target: its reports (policyd with workers answers one per worker), or why it could not. */
export async function reloadTarget(t: Target, timeoutMs = 60_000): Promise<Array<Report & { target: string }>> {
  try {
    const r = await fetch(t.url, { method: 'POST', headers: { 'x-moat-reload': '1' }, signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (r.status === 404) return [{ target: t.name, outcome: 'unreachable', error: `${t.url}: 404 (a moat older than reload, or not a moat service)` }];
    if (!body || typeof body !== 'object') return [{ target: t.name, outcome: 'unreachable', error: `${t.url}: HTTP ${r.status} ${text.slice(0, 200)}` }];
    return (Array.isArray(body) ? body : [body]).map((b: Report) => ({ ...b, target: t.name }));
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return [{ target: t.name, outcome: 'unreachable', error: `${t.url}: ${err.cause?.code ?? err.name}: ${err.cause ? String(err.cause) : err.message}` }];
  }
}

export function reloadTable(reports: ReadonlyArray<Report & { target: string }>): string {
  const rows = [['target', 'service', 'outcome', 'generation', 'needs restart', 'draining']];
  for (const r of reports) {
    rows.push([
      safe(r.target),
      safe(r.service ?? '-'),
      r.outcome,
      r.generation === undefined ? '-' : String(r.generation),
      safe(r.needsRestart?.join(' ') || '-'),
      String(r.draining ?? '-'),
    ]);
  }
  const errors = reports.filter((r) => r.error).map((r) => `\n${safe(r.target)}${r.service ? ` (${safe(r.service)})` : ''}: ${r.outcome}:\n  ${r.error!.split('\n').join('\n  ')}`);
  return `${table(rows)}\n${errors.join('\n')}${errors.length ? '\n' : ''}`;
}

export const reloadCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('reload', USAGE, io, async () => {
      const a = parseArgs(args, { values: ['config', 'targets'], flags: ['json'] });
      if (a.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(a.positionals[0])}`);
      let text = a.values.targets ?? process.env[TARGETS_ENV];
      if (!text) {
        const config = loadConfigOrFail(a.values.config);
        if (!config.metrics.enabled) throw new UsageError('metrics are off in this config (metrics.enabled: false) and no --targets given: nothing to reach');
        text = `self=${config.metrics.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')}`;
      }
      const targets = parseTargets(text);
      if (targets.length === 0) throw new UsageError('no targets');
      const reports = (await Promise.all(targets.map((t) => reloadTarget(t)))).flat();
      io.out.write(a.flags.has('json') ? `${JSON.stringify(reports, null, 2)}\n` : reloadTable(reports));
      return reports.every((r) => r.outcome === 'applied') ? 0 : 1;
    });
  },
};
