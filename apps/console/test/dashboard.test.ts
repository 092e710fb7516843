// The shipped Grafana dashboard names only metrics some package really exports (grep of `name: 'moat_...'`).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules') out.push(...(await sources(p)));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

describe('compose/grafana/moat-dashboard.json', () => {
  it('uses only exported metric names, histograms through their buckets', async () => {
    const exported = new Map<string, string>();
    for (const top of ['packages', 'apps']) {
      for (const pkg of await readdir(join(root, top))) {
        const src = join(root, top, pkg, 'src');
        for (const f of await sources(src).catch(() => [])) {
          const text = await readFile(f, 'utf8');
          for (const m of text.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '(moat_[a-z_]+)'/g)) exported.set(m[2]!, m[1]!);
          for (const m of text.matchAll(/name: '(moat_[a-z_]+)'/g)) if (!exported.has(m[1]!)) exported.set(m[1]!, '?');
        }
      }
    }
    const dash = JSON.parse(await readFile(join(root, 'compose/grafana/moat-dashboard.json'), 'utf8'));
    const exprs: string[] = dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(30);
    const unknown: string[] = [];
    for (const e of exprs) {
      for (const [name] of e.matchAll(/moat_[a-z_]+/g)) {
        const base = name.replace(/_bucket$/, '');
        if (!exported.has(base)) unknown.push(name);
        if (name.endsWith('_bucket') && exported.get(base) !== 'Histogram' && exported.get(base) !== '?') unknown.push(`${name} (not a histogram)`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
