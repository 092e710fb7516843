import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, createRegistry } from '@moat/observe';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createTableAccessMap } from './access-map.ts';
import { createTables } from './tables.ts';
import { TableError } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-tables-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger('maps-test', { level: 'info', destination }) };
}

const handles = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;

describe('createTables', () => {
  it('fixed-string tables built from a list can list their keys (folded); pattern and static tables cannot', () => {
    writeFileSync(join(dir, 'transport'), 'Example.ORG smtp:[relay]:25\nuser@x.example error:5.1.1 gone\n');
    writeFileSync(join(dir, 'patterns'), '/^x/ OK\n');
    const tables = createTables({ baseDir: dir });
    for (const type of ['texthash', 'hash', 'lmdb', 'btree']) expect([...(tables.open(`${type}:transport`).keys?.() ?? ['none'])], type).toEqual(['example.org', 'user@x.example']);
    expect([...(tables.open('inline:{ A=b, { c = d e } }').keys?.() ?? [])]).toEqual(['a', 'c']);
    for (const spec of ['regexp:patterns', 'pcre:patterns', 'cidr:/dev/null', 'static:error:5.1.1']) expect(typeof tables.open(spec).keys, spec).toBe('undefined');
  });
  it('a compiled table is read in one source format: reopening it in the other throws, texthash ignores the format', () => {
    writeFileSync(join(dir, 'aliases'), 'postmaster: alice\n');
    const tables = createTables({ baseDir: dir });
    const t = tables.open('hash:aliases', { source: 'postalias' });
    expect(t.lookup('postmaster')).toBe('alice');
    expect(tables.open('hash:aliases', { source: 'postalias' })).toBe(t);
    expect(() => tables.open('hash:aliases')).toThrow(/already open in postalias source format and cannot be read in postmap format/);
    writeFileSync(join(dir, 'plain'), 'k v\n');
    const p = tables.open('hash:plain');
    expect(() => tables.open('hash:plain', { source: 'postalias' })).toThrow(TableError);
    expect(tables.open('texthash:plain', { source: 'postalias' })).toBe(tables.open('texthash:plain'));
    expect(p.lookup('k')).toBe('v');
  });
  it('the listed keys follow a reload', () => {
    writeFileSync(join(dir, 'relist'), 'a x\n');
    const tables = createTables({ baseDir: dir });
    const t = tables.open('texthash:relist');
    writeFileSync(join(dir, 'relist'), 'a x\nb y\n');
    tables.reload();
    expect([...(t.keys?.() ?? [])]).toEqual(['a', 'b']);
  });
  it('opens each spec once, relative paths against baseDir, and names what it cannot open', () => {
    writeFileSync(join(dir, 'a.map'), 'k v\n');
    const tables = createTables({ baseDir: dir });
    const t = tables.open('texthash:a.map');
    expect(tables.open(' texthash:a.map ')).toBe(t);
    expect(tables.get('texthash:a.map')).toBe(t);
    expect(t).toMatchObject({ spec: 'texthash:a.map', type: 'texthash', pattern: false, file: join(dir, 'a.map'), entries: 1 });
    expect(tables.open('cidr:/dev/null').pattern).toBe(true);
    expect(tables.open('inline:{ a=b }').lookup('A')).toBe('b');
    expect(() => tables.open('mysql:/etc/x.cf')).toThrow(TableError);
    expect(() => tables.open('nocolon')).toThrow(/expected type:name/);
    try {
      tables.open('hash:nope');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'TABLE_UNAVAILABLE', file: join(dir, 'nope') });
      expect((e as Error).message).toMatch(/postmap compiles, not nope\.db/);
    }
    expect(() => tables.open('regexp:a.map')).toThrow(/a\.map:1: not a rule/);
    tables.close();
  });

  it('reload(): an edit gives the new answer; a broken edit keeps the old one, logged with file:line (no contents) and counted', () => {
    const file = join(dir, 'access');
    writeFileSync(file, '192.0.2.0/24 REJECT first\n');
    const registry = createRegistry();
    const { lines, logger } = capture();
    const tables = createTables({ baseDir: dir, logger, registry });
    const t = tables.open('cidr:access');
    expect(t.lookup('192.0.2.1')).toBe('REJECT first');

    expect(t.generation).toBe(0);
    writeFileSync(file, '192.0.2.0/24 OK\n198.51.100.0/24 REJECT second\n');
    expect(tables.reload().map((r) => r.result)).toEqual(['reloaded']);
    expect(t.lookup('192.0.2.1')).toBe('OK');
    expect(t.entries).toBe(2);
    // the generation counts served snapshots: a reload that swaps the table, not one that finds it unchanged
    expect(t.generation).toBe(1);
    expect(tables.reload().map((r) => r.result)).toEqual(['unchanged']);
    expect(t.generation).toBe(1);

    writeFileSync(file, '192.0.2.0/24 OK\n198.51.100.1/24 SECRET-CONTENT\n');
    const [r] = tables.reload();
    expect(r).toMatchObject({ result: 'error', error: { code: 'TABLE_SYNTAX', line: 2 } });
    expect(t.lookup('198.51.100.7')).toBe('REJECT second');
    const err = lines.find((l) => l.event === 'map-reload' && l.level === 50);
    expect(err).toMatchObject({ table: 'cidr:access', file, line: 2, code: 'TABLE_SYNTAX' });
    expect(JSON.stringify(lines)).not.toMatch(/SECRET-CONTENT|198\.51\.100\.1\//);

    // putting the last good text back reloads it (and clears the stale gauge)
    writeFileSync(file, '192.0.2.0/24 OK\n198.51.100.0/24 REJECT second\n');
    expect(tables.reload().map((x) => x.result)).toEqual(['reloaded']);
    return Promise.all([registry.getSingleMetricAsString('moat_maps_reloads_total'), registry.getSingleMetricAsString('moat_maps_stale'), registry.getSingleMetricAsString('moat_maps_entries')]).then(
      ([reloads, stale, entries]) => {
        expect(reloads).toContain('moat_maps_reloads_total{table="cidr:access",result="ok"} 2');
        expect(reloads).toContain('moat_maps_reloads_total{table="cidr:access",result="error"} 1');
        expect(stale).toContain('moat_maps_stale{table="cidr:access"} 0');
        expect(entries).toContain('moat_maps_entries{table="cidr:access"} 2');
        tables.close();
      },
    );
  });

  it('a check refuses a right-hand side at open and at reload', () => {
    const file = join(dir, 'checked');
    writeFileSync(file, 'a OK\n');
    const tables = createTables({ baseDir: dir });
    const check = (v: string) => (v === 'OK' ? undefined : 'not OK');
    const t = tables.open('texthash:checked', { check });
    writeFileSync(file, 'a OK\nb HOLD\n');
    expect(tables.reload()[0]?.error?.message).toBe(`${file}:2: not OK`);
    expect(t.lookup('b')).toBeUndefined();
    tables.close();
  });

  it('watches: an editor replacing the file by rename is picked up; close() leaves no handles', async () => {
    const before = { fs: handles('FSEventWrap'), timers: handles('Timeout') };
    const file = join(dir, 'watched');
    writeFileSync(file, 'key one\n');
    const tables = createTables({ baseDir: dir, watch: true, settleMs: 10, pollMs: 50 });
    const t = tables.open('hash:watched');
    expect(t.lookup('key')).toBe('one');
    writeFileSync(`${file}.swp`, 'key two\n');
    renameSync(`${file}.swp`, file);
    await vi.waitFor(() => expect(t.lookup('key')).toBe('two'), { timeout: 5000, interval: 20 });
    writeFileSync(file, 'key three\n'); // in place
    await vi.waitFor(() => expect(t.lookup('key')).toBe('three'), { timeout: 5000, interval: 20 });
    writeFileSync(file, 'key\n'); // broken: keeps three
    await new Promise((r) => setTimeout(r, 200));
    expect(t.lookup('key')).toBe('three');
    tables.close();
    expect(handles('FSEventWrap')).toBe(before.fs);
    expect(handles('Timeout')).toBeLessThanOrEqual(before.timers);
    writeFileSync(file, 'key four\n');
    await new Promise((r) => setTimeout(r, 150));
    // closed: neither the watch nor the poll reloads any more (watchers are unref'd, so the resource
    // count above cannot see them: this is the check that they are gone); the table still answers
    expect(t.lookup('key')).toBe('three');
  });

  it('the stat poll alone picks up an edit (file systems without inotify)', async () => {
    const file = join(dir, 'polled');
    writeFileSync(file, '192.0.2.0/24 one\n');
    const tables = createTables({ baseDir: dir, watch: true, fsWatch: false, pollMs: 20 });
    const t = tables.open('cidr:polled');
    writeFileSync(`${file}.new`, '192.0.2.0/24 two\n');
    renameSync(`${file}.new`, file);
    await vi.waitFor(() => expect(t.lookup('192.0.2.1')).toBe('two'), { timeout: 5000, interval: 20 });
    tables.close();
  });

  it('watch() attaches a logger and metrics later (the runtime does this to compiled tables)', async () => {
    writeFileSync(join(dir, 'late'), 'x y\n');
    const tables = createTables({ baseDir: dir });
    tables.open('texthash:late');
    const registry = createRegistry();
    tables.watch({ registry });
    tables.watch({ registry }); // idempotent
    expect(await registry.getSingleMetricAsString('moat_maps_entries')).toContain('moat_maps_entries{table="texthash:late"} 1');
    tables.close();
  });
});

describe('createTableAccessMap', () => {
  it('serves AccessMapPort from tables; an unknown map is a failure, not "not found"', async () => {
    const tables = createTables({ baseDir: dir });
    tables.open('inline:{ 192.0.2.1=OK }');
    const port = createTableAccessMap((m) => tables.get(m));
    expect(port.lookupSync('inline:{ 192.0.2.1=OK }', '192.0.2.1')).toBe('OK');
    expect(await port.lookup('inline:{ 192.0.2.1=OK }', '192.0.2.2')).toBeUndefined();
    await expect(port.lookup('hash:/nope', 'x')).rejects.toThrow(/not loaded/);
    expect(port.table('inline:{ 192.0.2.1=OK }')?.pattern).toBe(false);
    tables.close();
  });
});
