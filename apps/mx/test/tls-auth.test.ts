// STARTTLS versions and ciphers, AUTH only after STARTTLS, the failed-AUTH limit, authenticated relay through
// a real SMTP client (nodemailer), and the client certificate in the Received header.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { authPlain, SmtpClient, tmpDir } from '@moat/testkit';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatorFor, startTestMx, type TestMx, userHash } from './harness.ts';

let t: TestMx;
beforeAll(async () => {
  const alice = (await userHash('correct horse'))!;
  t = await startTestMx({ authenticator: authenticatorFor({ alice }, 3) });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

async function handshake(opts: ConnectionOptions): Promise<{ protocol: string | null; cipher: string } | { error: string }> {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  await c.cmd('EHLO client.example');
  try {
    const s = await c.starttls(opts);
    const r = { protocol: s.getProtocol(), cipher: s.getCipher().standardName };
    await c.quit();
    return r;
  } catch (e) {
    c.destroy();
    return { error: String((e as Error).message) };
  }
}

describe('STARTTLS', () => {
  it('refuses TLS 1.0 and 1.1', async () => {
    for (const v of ['TLSv1', 'TLSv1.1'] as const) {
      const r = await handshake({ minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' });
      expect(r).toHaveProperty('error');
    }
  });

  it('accepts TLS 1.2 and 1.3 with forward-secret AEAD suites', async () => {
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toEqual({ protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' });
    const r13 = await handshake({ minVersion: 'TLSv1.3' });
    expect(r13).toMatchObject({ protocol: 'TLSv1.3' });
  });

  it('refuses weak TLS 1.2 suites (static RSA, CBC, no forward secrecy)', async () => {
    for (const ciphers of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers })).toHaveProperty('error');
    }
  });

  it("server preference: picks its own first choice over the client's order", async () => {
    const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384' });
    expect(r).toMatchObject({ cipher: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384' });
  });
});

describe('AUTH', () => {
  it('is neither offered nor accepted before STARTTLS, offered after', async () => {
    const c = await SmtpClient.connect(t.port);
    await c.read();
    const e1 = await c.cmd('EHLO client.example');
    expect(e1.lines.some((l) => l.startsWith('AUTH'))).toBe(false);
    const r = await c.cmd(`AUTH PLAIN ${authPlain('alice', 'correct horse')}`);
    expect(`${r.code} ${r.text}`).toBe('530 5.7.0 Must issue a STARTTLS command first');
    await c.starttls();
    const e2 = await c.cmd('EHLO client.example');
    expect(e2.lines).toContain('AUTH PLAIN LOGIN');
    expect(e2.lines).not.toContain('STARTTLS');
    const ok = await c.cmd(`AUTH PLAIN ${authPlain('alice', 'correct horse')}`);
    expect(`${ok.code} ${ok.text}`).toBe('235 2.7.0 Authentication successful');
    await c.quit();
  });

  it('failed attempts are limited per client: 535 5.7.8, then 454 4.7.0 even for the right password', async () => {
    const lim = await startTestMx({ authenticator: authenticatorFor({ alice: (await userHash('pw'))! }, 2) });
    try {
      const c = await SmtpClient.connect(lim.port);
      await c.read();
      await c.cmd('EHLO client.example');
      await c.starttls();
      await c.cmd('EHLO client.example');
      for (let i = 0; i < 2; i++) {
        const r = await c.cmd(`AUTH PLAIN ${authPlain('alice', 'wrong')}`);
        expect(`${r.code} ${r.text}`).toBe('535 5.7.8 Authentication credentials invalid');
      }
      const r = await c.cmd(`AUTH PLAIN ${authPlain('alice', 'pw')}`);
      expect(`${r.code} ${r.text}`).toBe('454 4.7.0 Too many failed authentication attempts, try again later');
      await c.quit();
      const m = await lim.registry.getSingleMetricAsString('moat_mx_auth_total');
      expect(m).toMatch(/result="bad-credentials"} 2/);
      expect(m).toMatch(/result="rate-limited"} 1/);
    } finally {
      await lim.close();
    }
  });

  it('an authenticated user relays to a remote domain (nodemailer, STARTTLS + AUTH LOGIN): queued with route relay', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice', pass: 'correct horse' },
      authMethod: 'LOGIN',
      name: 'laptop.sender.example',
    });
    const n = t.enqueued.length;
    const info = await transport.sendMail({
      from: 'alice@sender.example',
      to: 'friend@elsewhere.example',
      subject: 'relay me',
      text: 'hello from the road',
    });
    transport.close();
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \S+$/);
    const q = t.enqueued[n]!;
    expect(q.route).toBe('relay');
    expect(q.recipients).toEqual(['friend@elsewhere.example']);
    expect(q.meta?.saslUser).toBe('alice');
    expect(q.prepend?.[0]).toMatch(/with ESMTPSA id/);
    expect(q.prepend?.[0]).toMatch(/\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384/);
  });

  it('without AUTH a remote recipient is refused (no open relay)', async () => {
    const c = await SmtpClient.connect(t.port);
    await c.read();
    await c.cmd('EHLO client.example');
    await c.starttls();
    await c.cmd('EHLO client.example');
    await c.cmd('MAIL FROM:<alice@sender.example>');
    expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(554);
    await c.quit();
  });
});

describe('submission (587)', () => {
  it('requires AUTH (after STARTTLS) before MAIL; then relays without the HELO/DNS-list policy', async () => {
    const sub = await startTestMx({ submission: true, authenticator: authenticatorFor({ alice: (await userHash('pw'))! }) });
    try {
      const c = await SmtpClient.connect(sub.port);
      await c.read();
      await c.cmd('EHLO laptop');
      expect(`${(await c.cmd('MAIL FROM:<alice@sender.example>')).code}`).toBe('530');
      await c.starttls();
      await c.cmd('EHLO laptop');
      const r = await c.cmd('MAIL FROM:<alice@sender.example>');
      expect(`${r.code} ${r.text}`).toBe('530 5.7.0 Authentication required');
      expect((await c.cmd(`AUTH PLAIN ${authPlain('alice', 'pw')}`)).code).toBe(235);
      expect((await c.cmd('MAIL FROM:<alice@sender.example>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<friend@elsewhere.example>')).code).toBe(250);
      expect((await c.data('Subject: from the road\r\n\r\nhi\r\n')).code).toBe(250);
      await c.quit();
      expect(sub.enqueued[0]?.route).toBe('relay');
    } finally {
      await sub.close();
    }
  });
});

describe('swaks', () => {
  it('STARTTLS + AUTH PLAIN + relay with a real command-line client', async () => {
    // async: the server runs in this process, a synchronous exec would block it
    const { stdout } = await promisify(execFile)('swaks', [
      '--server', `127.0.0.1:${t.port}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'correct horse',
      '--from', 'alice@sender.example', '--to', 'friend@elsewhere.example', '--helo', 'laptop.sender.example', '--timeout', '20',
    ]);
    expect(stdout).toMatch(/<~ {2}235 2\.7\.0 Authentication successful/);
    expect(stdout).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as \S+/);
    expect(stdout).not.toMatch(/<- {2}250[- ]AUTH/); // not offered in clear
  });
});

describe('client certificate', () => {
  it('is asked for, and when sent its subject goes in the Received header', async () => {
    const dir = await tmpDir('ccert');
    try {
      const key = join(dir.path, 'c.key');
      const cert = join(dir.path, 'c.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=backup-mx.example.net'], { stdio: 'ignore' });
      const c = await SmtpClient.connect(t.port);
      await c.read();
      await c.cmd('XCLIENT ADDR=192.0.2.5');
      await c.cmd('EHLO backup-mx.example.net');
      await c.starttls({ key: readFileSync(key), cert: readFileSync(cert) });
      await c.cmd('EHLO backup-mx.example.net');
      await c.cmd('MAIL FROM:<alice@sender.example>');
      await c.cmd('RCPT TO:<rcpt@example.org>');
      const n = t.enqueued.length;
      expect((await c.data('Subject: cert\r\n\r\nbody\r\n')).code).toBe(250);
      await c.quit();
      expect(t.enqueued[n]?.prepend?.[0]).toMatch(/\(Client CN "backup-mx\.example\.net", Issuer "backup-mx\.example\.net" \(not verified\)\)/);
    } finally {
      await dir.remove();
    }
  });
});
