import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { ConfigError, formatConfigErrors, parseConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-check-transports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n  users: [alice@example.org]\n  relay_domains: [backup.example]\n';

/** compileConfig's error text, or 'ok'. */
function check(yaml: string, transport?: string): string {
  if (transport !== undefined) writeFileSync(join(dir, 'transport'), transport);
  const config = parseConfig(`${BASE}${yaml}`, { file: join(dir, 'moat.yaml'), env: {} });
  try {
    const c = compileConfig(config);
    c.tables.close();
    return 'ok';
  } catch (e) {
    if (e instanceof ConfigError) return formatConfigErrors(e);
    throw e;
  }
}

describe('maildir: for a relay or remote domain is a config error', () => {
  it('names the transport_maps file, line and domain', () => {
    const text = check(
      'routing:\n  relay_domains: [relay.example]\n  transport_maps: texthash:transport\n',
      '# ours\nexample.org   maildir:/var/mail/moat\nrelay.example   smtp:[10.0.0.2]\n\nrelay.example.net maildir:/var/mail/x\n.relay.example  local:\nuser@remote.example maildir:/tmp/m\n',
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    // a subdomain of a relay domain is remote (relay_domains matches subdomains only with parent_domain_matches_subdomains)
    expect(lines[0]).toBe(
      `${join(dir, 'transport')}:5:1: routing.transport_maps: a maildir: transport only for a local or virtual mailbox domain (relay and remote mail goes on by smtp: or lmtp:); found texthash:transport: relay.example.net: maildir:/var/mail/x for a remote domain; the delivery would defer it`,
    );
    expect(lines[1]).toContain(':6:1: routing.transport_maps: ');
    expect(lines[1]).toContain('.relay.example: local: for a relay domain (relay_domains)');
    expect(lines[2]).toContain(':7:1: routing.transport_maps: ');
    expect(lines[2]).toContain('user@remote.example: maildir:/tmp/m for a remote domain');
  });
  it('a relay domain of recipients: routed by queue.transports', () => {
    const text = check("queue:\n  transports:\n    backup.example: 'maildir:/var/mail/b'\n    example.org: 'maildir:/var/mail/o'\n");
    expect(text).toContain('queue.transports.backup.example: a maildir: transport only');
    expect(text).toContain('found backup.example: maildir:/var/mail/b for a relay domain');
    expect(text).not.toContain('example.org:');
  });
  it('relay_transport and default_transport', () => {
    expect(check("routing:\n  relay_transport: 'maildir:/var/mail/r'\n")).toContain('routing.relay_transport: a maildir: transport only');
    expect(check("routing:\n  default_transport: 'maildir:/var/mail/r'\n")).toContain('routing.default_transport: a maildir: transport only');
  });
  it('maildir for our own domains, and smtp for the others, are fine', () => {
    expect(check('routing:\n  transport_maps: texthash:transport\n', 'example.org maildir:/srv/mail\nmx.example.org local:\nbackup.example smtp:[10.0.0.3]:25\n* smtp:\n')).toBe('ok');
  });
});

describe('queue.tls.security_level dane-only with a next hop without MX lookup is a config error', () => {
  const q = (extra = '') => `queue:\n  tls:\n    security_level: dane-only\n${extra}`;
  it('the relayhost and a transport_maps [host] entry are named; MX-lookup hops are fine', () => {
    expect(check(q())).toBe('ok');
    expect(check(`routing:\n  relayhost: relay.example\n${q()}`)).toBe('ok');
    const text = check(`routing:\n  relayhost: "[smart.example]:25"\n  transport_maps: texthash:transport\n${q()}`, 'other.example smtp:[10.0.0.9]:2525\nmx.example smtp:mx.example\n');
    expect(text).toContain('queue.tls.security_level: a security_level other than dane-only');
    expect(text).toContain('dane-only for [smart.example]:25 (default_transport / relayhost');
    expect(text).toContain('dane-only for [10.0.0.9]:2525 (texthash:transport');
    expect(text).not.toContain('mx.example smtp');
  });
  it('a queue.tls.policies entry with another level for the hop clears it', () => {
    expect(check(`routing:\n  relayhost: "[smart.example]"\n${q("    policies: { '[smart.example]': verify }\n")}`)).toBe('ok');
    expect(check(`routing:\n  relayhost: "[smart.example]"\n${q("    policies: { '[smart.example]:25': verify }\n")}`)).toContain('dane-only for [smart.example] ');
  });
});
