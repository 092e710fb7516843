// The override table names every environment variable moat reads: a variable read anywhere in the apps' or
// packages' sources (outside tests and the test kit) and missing from ENV_OVERRIDES / PROCESS_ENV fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ENV_OVERRIDES, PROCESS_ENV } from './env.ts';

const root = new URL('../../../', import.meta.url).pathname;

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') sources(p, out);
    } else if (/\.(ts|mjs)$/.test(e.name) && !/\.test\.ts$|\.d\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

it('every MOAT_* variable the sources read is in the one override table', () => {
  const known = new Set<string>([...ENV_OVERRIDES.flatMap((o) => (o.secret ? [o.env, `${o.env}_FILE`] : [o.env])), ...PROCESS_ENV.map((p) => p.env)]);
  const dirs = ['apps', 'packages'].flatMap((top) =>
    readdirSync(join(root, top))
      .filter((name) => !['testkit', 'e2e', 'e2e-cluster', 'e2e-postfix'].includes(name))
      .map((name) => join(root, top, name, 'src')),
  );
  const read = new Map<string, string>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = sources(dir);
    } catch {
      continue;
    }
    for (const file of files) {
      const code = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
        .join('\n');
      // a property read (env.MOAT_X) or a name in a string ('MOAT_X', a template's `MOAT_X`)
      for (const m of code.matchAll(/(?:env\.|['"`])(MOAT_[A-Z0-9_]*[A-Z0-9])\b/g)) read.set(m[1]!, file.slice(root.length));
    }
  }
  expect(read.size).toBeGreaterThan(10);
  const unlisted = [...read].filter(([name]) => !known.has(name)).map(([name, file]) => `${name} (${file})`);
  expect(unlisted, 'read but not in ENV_OVERRIDES or PROCESS_ENV').toEqual([]);
});
