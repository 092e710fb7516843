// Who may send as whom, through a real SMTP client on loopback: the listeners' sender-login check as main.ts
// builds it (mx.sender_login over policy.sender_login_maps, a texthash file), on submission and on port 25,
// and which accepted mail is marked for DKIM signing (a login that passed the check, or a mynetworks host).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import { createMemoryDnsList, createMemoryGreylist } from '@moat/policy';
import { type BuiltEngine, buildEngine, type Listener, senderLoginCheck } from '@moat/runtime';
import { authPlain, SmtpClient, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatorFor, startTestMx, type TestMx, userHash } from './harness.ts';

const MY_NETWORKS = ['192.0.2.0/28'];
let dir: Awaited<ReturnType<typeof tmpDir>>;
let built: BuiltEngine;
let sub: TestMx;
let smtp: TestMx;

beforeAll(async () => {
  dir = await tmpDir('mx-sender-login');
  // alice may send as sales@ and as anyone at example.net; bob owns bob@
  writeFileSync(join(dir.path, 'sender_login'), 'sales@example.org alice@example.org\n@example.net alice@example.org\nbob@example.org bob@example.org\n');
  const config = parseConfig('version: 1\npolicy:\n  hostname: mx.example.org\n  sender_login_maps: texthash:sender_login\nrecipients:\n  domains: [example.org]\n', {
    file: join(dir.path, 'moat.yaml'),
    env: {},
  });
  built = await buildEngine(config, {
    registry: createRegistry(),
    logger: createLogger('sender-login-test', { level: 'silent' }),
    ports: { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock: { now: () => 0 } }) },
    watchMaps: false,
  });
  const check = (l: Listener) => senderLoginCheck(config, l, built);
  const users = { 'alice@example.org': (await userHash('pw'))!, 'bob@example.org': (await userHash('pw2'))! };
  sub = await startTestMx({ submission: true, authenticator: authenticatorFor(users), senderLogin: check('submission'), myNetworks: MY_NETWORKS, logs: true });
  // 192.0.2.9 is in mynetworks and also our backup MX (mx.trusted_relays): it relays the world's mail
  smtp = await startTestMx({ authenticator: authenticatorFor(users), senderLogin: check('smtp'), myNetworks: MY_NETWORKS, logs: true, mx: { trusted_relays: ['192.0.2.9/32'] } });
}, 60_000);
afterAll(async () => {
  await sub?.close();
  await smtp?.close();
  await built?.close();
  await dir?.remove();
});

/** A session on `t`, logged in as `user` (after STARTTLS) unless undefined; `xclient` first when given. */
async function session(t: TestMx, user: string | undefined, xclient?: string): Promise<SmtpClient> {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  await c.cmd('EHLO laptop.example');
  if (xclient) expect((await c.cmd(`XCLIENT ${xclient}`)).code).toBe(220);
  await c.starttls();
  await c.cmd('EHLO laptop.example');
  if (user) expect((await c.cmd(`AUTH PLAIN ${authPlain(user, user.startsWith('alice') ? 'pw' : 'pw2')}`)).code).toBe(235);
  return c;
}

const line = (r: { code: number; text: string }) => `${r.code} ${r.text}`;

describe.each([
  ['submission (587)', () => sub],
  ['port 25 with AUTH', () => smtp],
])('%s', (_name, mx) => {
  it('alice as bob: 553 5.7.1 in Postfix\'s words, at MAIL FROM; logged and counted', async () => {
    const c = await session(mx(), 'alice@example.org');
    expect(line(await c.cmd('MAIL FROM:<bob@example.org>'))).toBe('553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org');
    // a domain nobody gives her either
    expect((await c.cmd('MAIL FROM:<ceo@elsewhere.example>')).code).toBe(553);
    await c.quit();
    const logged = mx().logs.find((l) => String(l.restriction).endsWith('sender_login_mismatch') && l.sender === 'bob@example.org');
    expect(logged).toMatchObject({ action: 'reject', saslUsername: 'alice@example.org', stage: 'mail' });
    expect(await mx().registry.getSingleMetricAsString('moat_mx_rejects_total')).toMatch(/stage="mail",restriction="reject_(authenticated_)?sender_login_mismatch",code="553"} [1-9]/);
  });

  it('alice as herself, as an address the map gives her, and in a domain the map gives her: 250, marked for DKIM signing', async () => {
    for (const sender of ['alice@example.org', 'alice+lists@example.org', 'sales@example.org', 'anyone@example.net']) {
      const n = mx().enqueued.length;
      const c = await session(mx(), 'alice@example.org');
      expect(line(await c.cmd(`MAIL FROM:<${sender}>`)), sender).toMatch(/^250 /);
      expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(250);
      expect((await c.data(`From: <${sender}>\r\nSubject: hi\r\n\r\nhi\r\n`)).code).toBe(250);
      await c.quit();
      expect(mx().enqueued[n]?.meta).toMatchObject({ saslUser: 'alice@example.org', dkim: 'sign' });
    }
  });
});

describe('port 25: a login cannot dodge the check', () => {
  it('AUTH inside a transaction is refused (503 5.5.1, as Postfix): MAIL FROM first, then a login, would skip the check', async () => {
    const c = await session(smtp, undefined);
    // 198.51.100.x is no mynetworks host: without a login the check is not asked at MAIL FROM
    expect((await c.cmd('MAIL FROM:<bob@example.org>')).code).toBe(250);
    expect(line(await c.cmd(`AUTH PLAIN ${authPlain('alice@example.org', 'pw')}`))).toBe('503 5.5.1 Error: MAIL transaction in progress');
    // after RSET the login is fine, and the next MAIL FROM is checked
    expect((await c.cmd('RSET')).code).toBe(250);
    expect((await c.cmd(`AUTH PLAIN ${authPlain('alice@example.org', 'pw')}`)).code).toBe(235);
    expect((await c.cmd('MAIL FROM:<bob@example.org>')).code).toBe(553);
    await c.quit();
  });

  it("a logged-in user's null-sender message is accepted but never marked for signing (nothing was checked)", async () => {
    const c = await session(smtp, 'alice@example.org');
    expect((await c.cmd('MAIL FROM:<>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(250);
    const n = smtp.enqueued.length;
    expect((await c.data('From: <ceo@example.org>\r\nSubject: hi\r\n\r\nhi\r\n')).code).toBe(250);
    await c.quit();
    expect(smtp.enqueued[n]?.meta?.dkim).toBeUndefined();
  });
});

describe('port 25 without AUTH', () => {
  it('is unaffected: a stranger may use an owned address (the policy lists decide), and its mail is never marked for signing', async () => {
    // 198.51.100.20 is on the harness's wl2.test whitelist: accepted without the greylist
    const logsBefore = smtp.logs.length;
    const c = await session(smtp, undefined, 'ADDR=198.51.100.20');
    expect((await c.cmd('MAIL FROM:<bob@example.org>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    const n = smtp.enqueued.length;
    expect((await c.data('From: <bob@example.org>\r\nSubject: hi\r\n\r\nhi\r\n')).code).toBe(250);
    await c.quit();
    expect(smtp.enqueued[n]?.meta?.dkim).toBeUndefined();
    // the check was not even asked (reject_authenticated_... decides nothing without a login)
    expect(smtp.logs.slice(logsBefore).some((l) => l.sender === 'bob@example.org' && l.restriction === 'reject_authenticated_sender_login_mismatch')).toBe(false);
  });

  it('a mynetworks host: no login needed, its mail is marked for signing', async () => {
    const c = await session(smtp, undefined, 'ADDR=192.0.2.5');
    expect((await c.cmd('MAIL FROM:<app@example.org>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(250);
    const n = smtp.enqueued.length;
    expect((await c.data('From: <app@example.org>\r\nSubject: report\r\n\r\nok\r\n')).code).toBe(250);
    await c.quit();
    expect(smtp.enqueued[n]?.meta?.dkim).toBe('sign');
  });
});

describe('a backup MX in mynetworks (mx.trusted_relays)', () => {
  it("relays the world's mail: never marked for signing, though its address is in mynetworks", async () => {
    const c = await session(smtp, undefined, 'ADDR=192.0.2.9');
    expect((await c.cmd('MAIL FROM:<ceo@example.org>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    const n = smtp.enqueued.length;
    expect((await c.data('From: <ceo@example.org>\r\nSubject: forged via the backup\r\n\r\nok\r\n')).code).toBe(250);
    await c.quit();
    expect(smtp.enqueued[n]?.meta?.dkim).toBeUndefined();
  });
});

describe('a listener whose check is off', () => {
  it('lets alice send as anyone, and never marks her mail for signing: a signature would prove nothing', async () => {
    const users = { 'alice@example.org': (await userHash('pw'))! };
    const open = await startTestMx({ submission: true, authenticator: authenticatorFor(users), myNetworks: MY_NETWORKS });
    try {
      const c = await session(open, 'alice@example.org');
      expect((await c.cmd('MAIL FROM:<ceo@example.org>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(250);
      expect((await c.data('From: <ceo@example.org>\r\nSubject: hi\r\n\r\nhi\r\n')).code).toBe(250);
      await c.quit();
      expect(open.enqueued[0]?.meta?.saslUser).toBe('alice@example.org');
      expect(open.enqueued[0]?.meta?.dkim).toBeUndefined();
    } finally {
      await open.close();
    }
  });
});
