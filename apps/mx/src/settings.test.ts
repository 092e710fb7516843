// Every key moat.example.yaml documents under `mx` and `spamd` has a reader: a key nobody reads is a promise
// the gateway does not keep (mx.timeouts.data was one). Fails when a documented key is added without wiring.
import { readFileSync } from 'node:fs';
import { type Config, parseConfig, testConfig, views } from '@moat/config';
import { createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist, createStaticRecipients } from '@moat/policy';
import { rateLimiterOptionsFromConfig } from '@moat/ratelimit';
import { senderLoginCheck } from '@moat/runtime';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const root = new URL('../../../', import.meta.url);
const exampleText = readFileSync(new URL('moat.example.yaml', root), 'utf8');

/** Leaf key paths of a parsed YAML value (arrays and scalars are leaves). */
function leaves(v: unknown, at: string, out: string[] = []): string[] {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, at ? `${at}.${k}` : k, out);
  } else out.push(at);
  return out;
}

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

/** Read in run-mx.ts straight from the config (not through views.mx): checked against its source below. */
const READ_IN_MAIN = ['mx.listen.smtp', 'mx.listen.submission', 'mx.auth.require_tls'];

it('every documented mx.* and spamd.* key is read (by views.mx, the rate limiter, or run-mx.ts)', () => {
  const documented = leaves(parseYaml(exampleText), '').filter((k) => k.startsWith('mx.') || k.startsWith('spamd.'));
  // run-mx.ts and what it calls at start: the config generation (generation.ts), ACME (acme.ts), the listeners
  // (listeners.ts), the spool (spool-start.ts) and the admin listener (admin-listener.ts)
  const main = ['run-mx.ts', 'generation.ts', 'acme.ts', 'listeners.ts', 'spool-start.ts', 'admin-listener.ts'].map((f) => readFileSync(new URL(f, import.meta.url), 'utf8')).join('\n');
  expect(documented).toContain('mx.timeouts.data');
  const seen = new Set<string>();
  // a copy: the parsed config is frozen, and a proxy must return a frozen property's own value
  const config = recording(structuredClone(parseConfig(exampleText)), '', seen) as Config;
  views.mx(config);
  // mx.rate_limits belongs to @moat/ratelimit, which main.ts builds from the config
  rateLimiterOptionsFromConfig(config);
  // mx.sender_login belongs to @moat/runtime's senderLoginCheck, which main.ts builds for each listener
  const clock = createManualClock();
  const base = {
    spec: { myHostname: 'mx.example.org', myAddresses: [], myNetworks: [], delayReject: true, strictRfc821Envelopes: true, relayRestrictions: [], recipientRestrictions: [] },
    ports: { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock }), recipients: createStaticRecipients({ domains: ['example.org'] }), accessMaps: createMemoryAccessMaps({}), clock },
  };
  for (const listener of ['smtp', 'submission'] as const) senderLoginCheck(config, listener, base);
  expect(main).toContain('senderLoginCheck(config, ');
  for (const k of READ_IN_MAIN) expect(main, `run-mx.ts reads config.${k}`).toContain(`config.${k}`);
  const unread = documented.filter((k) => !seen.has(k) && !READ_IN_MAIN.includes(k));
  expect(unread, 'documented in moat.example.yaml but read by nobody').toEqual([]);
});

it('the timeouts that were dead are wired: DATA idle time and spamd connect time', () => {
  const s = views.mx(testConfig({ mx: { timeouts: { data: 42_000 } }, spamd: { connect_timeout: 3000 } }));
  expect(s.limits.dataIdleTimeoutMs).toBe(42_000);
  expect(s.spamd.connectTimeoutMs).toBe(3000);
  expect(views.mx(testConfig()).limits.dataIdleTimeoutMs).toBe(600_000);
});
