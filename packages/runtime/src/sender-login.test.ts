// The listeners' sender-login check as mx builds it: from config, over the policy's own login maps (a
// texthash file), answered at MAIL FROM; per-listener restriction, `off`, and the login-owns-itself rule.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import { createMemoryDnsList, createMemoryGreylist, type Facts, replyLine } from '@moat/policy';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEngine, senderLoginCheck } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-runtime-login-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'sender_login'), 'sales@example.org alice@example.org\n@example.net alice@example.org\n');

const mail = (login: string | undefined, sender: string): Facts => ({ stage: 'mail', clientAddress: '192.0.2.7', helo: 'laptop', sender, saslUsername: login, tls: true });

async function setup(extra = '', maps = true) {
  const config = parseConfig(
    `version: 1\npolicy:\n  hostname: mx.example.org\n${maps ? '  sender_login_maps: texthash:sender_login\n' : ''}recipients:\n  domains: [example.org]\n${extra}`,
    { file: join(dir, 'moat.yaml'), env: {} },
  );
  const built = await buildEngine(config, {
    registry: createRegistry(),
    logger: createLogger('sender-login-test', { level: 'silent' }),
    ports: { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock: { now: () => 0 } }) },
    watchMaps: false,
  });
  return { config, built };
}

describe('senderLoginCheck', () => {
  it('defaults: submission runs reject_sender_login_mismatch, port 25 reject_authenticated_sender_login_mismatch', async () => {
    const { config, built } = await setup();
    try {
      const sub = senderLoginCheck(config, 'submission', built)!;
      const smtp = senderLoginCheck(config, 'smtp', built)!;
      expect([sub.restriction, smtp.restriction]).toEqual(['reject_sender_login_mismatch', 'reject_authenticated_sender_login_mismatch']);
      for (const c of [sub, smtp]) {
        expect(replyLine(await c.engine.evaluate(mail('alice@example.org', 'bob@example.org')))).toBe('553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org');
        // her own login, an address the map gives her, a domain the map gives her
        for (const s of ['alice@example.org', 'alice+x@example.org', 'sales@example.org', 'anyone@example.net']) {
          expect((await c.engine.evaluate(mail('alice@example.org', s))).action, s).not.toBe('reject');
        }
      }
      // without a login: port 25's check leaves the sender to the policy lists; the full form wants a login for an owned address
      expect((await smtp.engine.evaluate(mail(undefined, 'sales@example.org'))).action).not.toBe('reject');
      expect(replyLine(await sub.engine.evaluate(mail(undefined, 'sales@example.org')))).toBe('553 5.7.1 <sales@example.org>: Sender address rejected: not logged in');
    } finally {
      await built.close();
    }
  });

  it('no maps: a login owns only its own address (a bare login: login@ each of our domains)', async () => {
    const { config, built } = await setup('', false);
    try {
      const sub = senderLoginCheck(config, 'submission', built)!;
      expect((await sub.engine.evaluate(mail('alice@example.org', 'alice@example.org'))).action).not.toBe('reject');
      expect(replyLine(await sub.engine.evaluate(mail('alice@example.org', 'bob@example.org')))).toBe('553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org');
      expect((await sub.engine.evaluate(mail('alice', 'alice@example.org'))).action).not.toBe('reject');
      expect(replyLine(await sub.engine.evaluate(mail('alice', 'alice@elsewhere.example')))).toBe('553 5.7.1 <alice@elsewhere.example>: Sender address rejected: not owned by user alice');
    } finally {
      await built.close();
    }
  });

  it("a bare login never owns its name in a relay domain (the backup-MX case: someone else's mailbox)", async () => {
    const { config, built } = await setup('routing:\n  relay_domains: [relay.example]\n', false);
    try {
      const sub = senderLoginCheck(config, 'submission', built)!;
      expect((await sub.engine.evaluate(mail('alice', 'alice@example.org'))).action).not.toBe('reject');
      expect(replyLine(await sub.engine.evaluate(mail('alice', 'alice@relay.example')))).toBe('553 5.7.1 <alice@relay.example>: Sender address rejected: not owned by user alice');
    } finally {
      await built.close();
    }
  });

  it('per listener: another restriction, off, and Postfix\'s rule alone (login_owns_itself: false)', async () => {
    const { config, built } = await setup('mx:\n  sender_login:\n    submission: reject_known_sender_login_mismatch\n    smtp: "off"\n    login_owns_itself: false\n');
    try {
      expect(senderLoginCheck(config, 'smtp', built)).toBeUndefined();
      const sub = senderLoginCheck(config, 'submission', built)!;
      expect(sub.restriction).toBe('reject_known_sender_login_mismatch');
      // nobody owns ceo@elsewhere.example: known allows it
      expect((await sub.engine.evaluate(mail('alice@example.org', 'ceo@elsewhere.example'))).action).not.toBe('reject');
      // sales@ is owned by alice, not bob
      expect((await sub.engine.evaluate(mail('bob@example.org', 'sales@example.org'))).action).toBe('reject');
      // her own address is nobody's in the map, so known allows it even without the rule; ...
      const strict = await setup('mx:\n  sender_login:\n    login_owns_itself: false\n', false);
      try {
        // ... and with Postfix's rule and no maps she may send as nobody at all
        expect((await senderLoginCheck(strict.config, 'submission', strict.built)!.engine.evaluate(mail('alice@example.org', 'alice@example.org'))).action).toBe('reject');
      } finally {
        await strict.built.close();
      }
    } finally {
      await built.close();
    }
  });

  it('refuses an unknown restriction name in the config', async () => {
    await expect(setup('mx:\n  sender_login:\n    smtp: reject_everything\n')).rejects.toThrow(/sender_login\.smtp/);
  });
});
