import { describe, expect, it } from 'vitest';
import { lintConfig } from '../lint.ts';
import { ConfigError, formatConfigErrors, parseConfig } from '../load.ts';

const load = (resolver: string) => parseConfig(`policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\ndns:\n  resolver: "${resolver}"\n`, { env: {} });

describe('dns.resolver: read as @moat/dns parseResolver reads it (the one reader)', () => {
  it.each(['127.0.0.1', '127.0.0.1:5353', '[::1]', '[::1]:5353', '::1', '10.0.0.53'])('accepts %s', (r) => {
    expect(load(r).dns.resolver).toBe(r);
  });
  it.each(['localhost:53', 'unbound', '127.0.0.1:0', '127.0.0.1:70000', '[::1]:', ''])('refuses %j, saying why', (r) => {
    try {
      load(r);
      throw new Error('accepted');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      expect(formatConfigErrors(e)).toMatch(/dns\.resolver: (resolver must be an IP address \(optionally :port\)|bad resolver port)/);
    }
  });
  it('a bare IPv6 loopback is our own resolver (no public-resolver warning)', () => {
    expect(lintConfig(load('::1')).filter((w) => w.path === 'dns.resolver')).toEqual([]);
    expect(lintConfig(load('8.8.8.8')).filter((w) => w.path === 'dns.resolver')).toHaveLength(1);
  });
});
