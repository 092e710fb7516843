// The dashboard's browser code as ES modules: every module the page loads (its <script type="module"> tags and
// their imports, followed) is served 200 with a JavaScript type, and nothing in src/static is left unreached.
import { readdirSync, readFileSync } from 'node:fs';
import { hashPassword } from '@moat/auth';
import { createLogger, createRegistry } from '@moat/observe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../src/server.ts';
import type { ConsoleServices } from '../src/services.ts';
import { login } from './console-login.ts';

const STATIC_DIR = new URL('../src/static/', import.meta.url);
let running: RunningConsole;

beforeAll(async () => {
  running = await startConsole({
    settings: { host: '127.0.0.1', port: 0, user: 'admin', passwordHash: await hashPassword('pw', { N: 1024 }), metricsUrls: [], secureCookie: false, pollMs: 2000 },
    services: {} as unknown as ConsoleServices,
    hostname: 'mx.example.org',
    logger: createLogger('static-test', { level: 'silent' }),
    registry: createRegistry(),
  });
});
afterAll(async () => {
  await running?.close();
});

/** A module's static imports: `import { a } from './x.js'` (the modules import nothing else). */
const importsOf = (js: string) => [...js.matchAll(/^import [^;]*? from '\.\/([a-z-]+\.js)';$/gm)].map((m) => m[1]!);

describe('the console pages as ES modules', () => {
  it('serves every module the dashboard loads, with a JavaScript type, and every static file is reached', async () => {
    const { page } = await login(running.url, 'admin', 'pw');
    const entries = [...page.matchAll(/<script type="module" src="\/static\/([a-z-]+\.js)"><\/script>/g)].map((m) => m[1]!);
    expect(entries).toEqual(['console.js', 'quarantine.js']);
    expect(page).not.toMatch(/<script(?! type="module" src=)/); // no classic or inline script (the CSP forbids inline)
    const styles = [...page.matchAll(/<link rel="stylesheet" href="\/static\/([a-z-]+\.css)">/g)].map((m) => m[1]!);
    const reached = new Set<string>(styles);
    for (const css of styles) {
      const res = await fetch(`${running.url}/static/${css}`);
      expect([css, res.status, res.headers.get('content-type')]).toEqual([css, 200, 'text/css; charset=utf-8']);
    }
    const todo = [...entries];
    while (todo.length) {
      const name = todo.shift()!;
      if (reached.has(name)) continue;
      reached.add(name);
      const res = await fetch(`${running.url}/static/${name}`);
      expect([name, res.status, res.headers.get('content-type')]).toEqual([name, 200, 'text/javascript; charset=utf-8']);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const js = await res.text();
      expect(js).toBe(readFileSync(new URL(name, STATIC_DIR), 'utf8'));
      todo.push(...importsOf(js));
    }
    expect([...reached].sort()).toEqual(readdirSync(STATIC_DIR).sort());
  });

  it('each module opens with its two comment lines and sets no HTML', () => {
    for (const name of readdirSync(STATIC_DIR).filter((n) => n.endsWith('.js'))) {
      const js = readFileSync(new URL(name, STATIC_DIR), 'utf8');
      const [first, second] = js.split('\n');
      expect([name, first?.startsWith('// '), second?.startsWith('// ')]).toEqual([name, true, true]);
      expect([name, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(js)]).toEqual([name, false]);
    }
  });

  it('an unknown static path is 404, not a file of the server', async () => {
    for (const path of ['/static/nothing.js', '/static/../http.ts', '/static/']) {
      expect([path, (await fetch(`${running.url}${path}`)).status]).toEqual([path, 404]);
    }
  });
});
