import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStatic, STATIC } from './http.ts';

const root = mkdtempSync(join(tmpdir(), 'moat-console-static-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('loadStatic', () => {
  it('serves plain .js/.css files only: no dotfile, no directory named *.js, and odd names read from the right file', () => {
    writeFileSync(join(root, 'app.js'), 'export {};\n');
    writeFileSync(join(root, 'site.css'), 'body{}\n');
    writeFileSync(join(root, '.secret.js'), 'hidden');
    writeFileSync(join(root, '.x.css'), 'hidden');
    writeFileSync(join(root, 'notes.txt'), 'no');
    mkdirSync(join(root, 'vendor.js'));
    for (const odd of ['a#b.js', 'q?x.js', 'p%41.js']) writeFileSync(join(root, odd), odd);
    const table = loadStatic(root);
    expect([...table.keys()].sort()).toEqual(['/static/a%23b.js', '/static/app.js', '/static/p%2541.js', '/static/q%3Fx.js', '/static/site.css']);
    expect(table.get('/static/app.js')).toEqual({ type: 'text/javascript; charset=utf-8', body: Buffer.from('export {};\n') });
    expect(table.get('/static/site.css')?.type).toBe('text/css; charset=utf-8');
    expect(table.get('/static/a%23b.js')?.body.toString()).toBe('a#b.js');
    expect(table.get('/static/q%3Fx.js')?.body.toString()).toBe('q?x.js');
    expect(table.get('/static/p%2541.js')?.body.toString()).toBe('p%41.js');
  });
  it('the console\'s own static/ is all reachable names', () => {
    expect(STATIC.get('/static/console.js')?.type).toBe('text/javascript; charset=utf-8');
    expect([...STATIC.keys()].every((k) => /^\/static\/[a-z-]+\.(js|css)$/.test(k))).toBe(true);
  });
});
