// The seed's main.cf, imported, drives the engine: its mynetworks relay, strangers get Postfix's default
// relay refusal (defer_unauth_destination), its client list, DNS lists and greylist step all take effect.
import { fileURLToPath } from 'node:url';
import { createMemoryTable } from '@moat/address';
import { compileConfig, loadConfig } from '@moat/config';
import { createEngine, createManualClock, createMemoryDnsList, createMemoryGreylist, type Facts, replyLine } from '@moat/policy';
import { describe, expect, it } from 'vitest';

const SEED_YAML = fileURLToPath(new URL('./fixtures/seed-moat.yaml', import.meta.url));

describe('the seed main.cf, imported, in the engine', () => {
  const config = loadConfig(SEED_YAML, { env: {} });
  // the seed's /etc/aliases and /etc/postfix/virtual, which are not in the repository
  const files: Record<string, Array<[string, string]>> = {
    'hash:/etc/aliases': [['postmaster', 'alice'], ['alice', 'alice@example.org']],
    'hash:/etc/postfix/virtual': [['alice@example.net', 'alice@example.org'], ['alice@example.com', 'alice@example.org']],
  };
  const compiled = compileConfig(config, {
    openTable: (spec) => {
      const entries = files[spec];
      if (!entries) throw new Error(`${spec}: not in this test`);
      return createMemoryTable(spec, entries);
    },
  });
  const clock = createManualClock(Date.UTC(2026, 11, 6, 12, 0, 0));
  const engine = createEngine(compiled.spec, {
    dnslist: createMemoryDnsList({ 'zen.spamhaus.org': { '203.0.113.9': { codes: ['127.0.0.2'] } }, 'list.dnswl.org': { '203.0.113.20': { codes: ['127.0.10.2'] } } }),
    greylist: createMemoryGreylist({ clock, delay: 60 }),
    recipients: compiled.recipients,
    accessMaps: compiled.accessMaps,
    clock,
  });
  const ask = async (client: string, recipient: string, extra: Partial<Facts> = {}) => {
    const v = await engine.evaluate({ stage: 'rcpt', tls: true, clientAddress: client, helo: 'client.example.com', sender: 'someone@example.com', rawSender: '<someone@example.com>', recipient, rawRecipient: `<${recipient}>`, ...extra });
    return { reply: replyLine(v), by: v.decidedBy };
  };

  it('uses main.cf\'s keys', () => {
    expect(config.policy.hostname).toBe('mx.example.org');
    expect(config.mx.hostname).toBe('mx.example.org');
    expect(config.mx.banner).toBe('- SMTP BANNER GREETING');
    expect(config.policy.mynetworks).toEqual(['[::1]/128', '198.51.100.10/32', '198.51.100.11/32']);
    expect(config.queue.delay_warning).toBe(3_600_000);
    expect(config.queue.max_lifetime).toBe(7 * 86_400_000);
  });

  it('a backup MX in mynetworks may relay; a stranger gets Postfix\'s default defer_unauth_destination (4xx)', async () => {
    // relay authorised by the relay list; then, as in Postfix, the seed's recipient list (which has no
    // permit_mynetworks) still runs: its greylist step decides
    const backup = await ask('198.51.100.10', 'someone@elsewhere.example');
    expect(backup.by).toBe('check_policy_service inet:127.0.0.1:10023');
    expect(backup.reply).toMatch(/^450 /);
    const stranger = await ask('192.0.2.200', 'someone@elsewhere.example');
    expect(stranger.by).toBe('defer_unauth_destination');
    expect(stranger.reply).toMatch(/^454 4\.7\.1 /);
  });

  it('mail for the hosted domains runs the seed\'s own list: rbl_override, DNS lists, then the greylist', async () => {
    expect((await ask('192.0.2.7', 'alice@example.org')).by).toBe('check_client_access cidr:/etc/postfix/rbl_override');
    expect((await ask('203.0.113.9', 'alice@example.net')).by).toBe('reject_rbl_client zen.spamhaus.org');
    expect((await ask('203.0.113.20', 'alice@example.com')).by).toBe('permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3]');
    expect((await ask('203.0.113.50', 'alice@example.org')).by).toBe('check_policy_service inet:127.0.0.1:10023');
  });
});
