// Every key moat.example.yaml documents has a reader, and the readers table is held against the views it names:
// a key nobody reads is a promise the appliance does not keep (mx.timeouts.data once was one).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from './load.ts';
import { keyPaths, readerOf, unreadKeys } from './readers.ts';
import type { Config } from './schema.ts';
import { testConfig } from './test-config.ts';
import { views } from './views/index.ts';

const exampleText = readFileSync(new URL('../../../moat.example.yaml', import.meta.url), 'utf8');

/** Accepted so old files still load, read by nothing: `config check` names them. */
const DEAD = ['policyd.enabled'];

it('every key moat.example.yaml documents has a reader', () => {
  expect(unreadKeys(parseYaml(exampleText))).toEqual([]);
});

it('every key of the schema has a reader, but the dead ones', () => {
  const all = keyPaths(testConfig()).filter((k) => !k.startsWith('source.'));
  expect(all.filter((k) => readerOf(k) === undefined)).toEqual(DEAD);
});

/** A proxy over `v` that records every key path read through it. */
function recording(v: unknown, at: string, seen: Set<string>): unknown {
  if (!v || typeof v !== 'object') return v;
  return new Proxy(v as object, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || Array.isArray(target)) return value;
      const path = at ? `${at}.${key}` : key;
      seen.add(path);
      return recording(value, path, seen);
    },
  });
}

it('what the table gives to views.* is read by them', () => {
  const seen = new Set<string>();
  // a copy: the parsed config is frozen, and a proxy must return a frozen property's own value
  const config = recording(structuredClone(parseConfig(exampleText)), '', seen) as Config;
  views.mx(config);
  views.policyd(config);
  views.console(config);
  const claimed = keyPaths(parseYaml(exampleText)).filter((k) => /^views\.\w+$/.test(readerOf(k) ?? ''));
  expect(claimed.length).toBeGreaterThan(40);
  for (const k of claimed) expect(seen.has(k), `${k} (table: ${readerOf(k)})`).toBe(true);
});

it('names the keys a file sets that nothing reads', () => {
  expect(unreadKeys({ policyd: { enabled: true, listen: '127.0.0.1:10023' }, mx: { banner: 'x' } })).toEqual(['policyd.enabled']);
});
