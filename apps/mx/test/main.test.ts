// The documented command end to end: `node apps/mx/src/main.ts --config FILE --listen HOST:PORT` with a
// real config file, the spool and deliveries in their thread, a loopback SMTP sink as the next hop.
import { writeFile } from 'node:fs/promises';
import { hashPassword, writeFileAtomic } from '@moat/auth';
import { join } from 'node:path';
import { createJournal } from '@moat/journal';
import { createRegistry, createLogger } from '@moat/observe';
import { freePort, SmtpClient, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NextHopSink, startNextHopSink } from './next-hop-sink.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let sink: NextHopSink;
let redis: Awaited<ReturnType<typeof startRedis>>;
let usersFile: string;

beforeAll(async () => {
  dir = await tmpDir('mx-main');
  redis = await startRedis();
  sink = await startNextHopSink();
  const sinkPort = sink.port;
  const deadDns = await freePort();
  port = await freePort();
  metricsPort = await freePort();
  const cfg = join(dir.path, 'moat.yaml');
  usersFile = join(dir.path, 'users');
  await writeFile(usersFile, `alice:${await hashPassword('pw', { N: 1024 })}\n`);
  // a signing key for example.org, and an alias that forwards to a remote address
  const { generateKeyPairSync } = await import('node:crypto');
  await writeFile(join(dir.path, 'dkim.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await writeFile(join(dir.path, 'virtual'), 'fwd@example.org someone@remote.test\n');
  await writeFile(
    cfg,
    `version: 1
policy:
  hostname: mx.example.org
  mynetworks: [192.0.2.0/28]
  recipient_restrictions: reject_non_fqdn_helo_hostname, reject_unlisted_recipient, permit
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
routing:
  virtual_alias_maps: texthash:${dir.path}/virtual
dns:
  resolver: 127.0.0.1:${deadDns}
  timeout: 300ms
mx:
  tls: { state_dir: ${dir.path}/tls }
  xclient: { trusted_networks: [127.0.0.1/32] }
  auth: { users_file: ${usersFile} }
spamd: { enabled: false }
greylist: { redis: { url: "${redis.url}" } }
queue: { dir: ${dir.path}/spool, transport: "smtp://127.0.0.1:${sinkPort}", transports: { remote.test: "smtp:[127.0.0.1]:${sinkPort}" }, dkim: [{ domain: example.org, selector: s1, key: ${dir.path}/dkim.pem }] }
metrics: { enabled: true, listen: "127.0.0.1:${metricsPort}" }
`,
  );
  mx = await spawnMain(cfg, port);
}, 60_000);

afterAll(async () => {
  await mx?.stop();
  await sink?.close();
  await redis?.stop();
  await dir?.remove();
});

describe('moat-mx main', () => {
  it('accepts, answers 250 with the queue id, and delivers to the next hop from its thread', async () => {
    const c = await SmtpClient.connect(port);
    expect((await c.read()).text).toBe('mx.example.org ESMTP moat');
    await c.cmd('EHLO client.example.net');
    await c.cmd('MAIL FROM:<alice@sender.example>');
    expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    const r = await c.data('From: alice@sender.example\r\nSubject: via main\r\n\r\nhello\r\n');
    await c.quit();
    expect(r.code).toBe(250);
    const id = /queued as (\S+)/.exec(r.text)?.[1];
    expect(id).toBeTruthy();
    for (let i = 0; i < 100 && sink.delivered.length === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(sink.delivered).toHaveLength(1);
    expect(sink.delivered[0]).toMatch(/^Received: from client\.example\.net \(unknown \[127\.0\.0\.1\]\) by mx\.example\.org \(moat\) with ESMTP id /);
    expect(sink.delivered[0]).toMatch(/Subject: via main/);
    expect(await mx.logged(/"event":"message".*"outcome":"accepted"/)).toMatch(/"event":"message".*"outcome":"accepted"/);

    // the decision is in the shared journal, found by the queue id the client was given
    const journal = createJournal({ redis: { url: redis.url }, registry: createRegistry(), logger: createLogger('t', { level: 'silent' }) });
    try {
      let entries: Awaited<ReturnType<typeof journal.byQueueId>> = [];
      for (let i = 0; i < 50 && entries.length === 0; i++) {
        entries = await journal.byQueueId(id!);
        if (entries.length === 0) await new Promise((ok) => setTimeout(ok, 100));
      }
      const rcpt = entries.find((e) => e.facts.stage === 'rcpt');
      expect(rcpt?.facts.recipient).toBe('rcpt@example.org');
      expect(rcpt?.verdict.trace.map((t) => t.restriction)).toContain('reject_unlisted_recipient');
    } finally {
      await journal.close();
    }
  });

  it('serves one /metrics with the SMTP thread and the delivery thread (queue) together', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toMatch(/^moat_mx_messages_total\{outcome="accepted"\} 1$/m);
    expect(text).toMatch(/^moat_queue_enqueued_total/m);
  });

  it('routes: a mynetworks client’s mail to a remote domain leaves by its transport; unknown users are refused at RCPT', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    await c.cmd('EHLO client.example.net');
    expect((await c.cmd('XCLIENT ADDR=192.0.2.5')).code).toBe(220);
    await c.cmd('EHLO lan-host.example.net');
    await c.cmd('MAIL FROM:<alice@example.org>');
    expect((await c.cmd('RCPT TO:<someone@remote.test>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<nobody@example.org>')).text).toMatch(/^5\.1\.1 <nobody@example\.org>: Recipient address rejected/);
    const r = await c.data('From: alice@example.org\r\nSubject: to a remote domain\r\n\r\nhello\r\n');
    await c.quit();
    expect(r.code).toBe(250);
    for (let i = 0; i < 100 && !sink.delivered.some((m) => m.includes('Subject: to a remote domain')); i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(sink.delivered.some((m) => m.includes('Subject: to a remote domain'))).toBe(true);
    // a mynetworks host's outbound mail is ours: DKIM-signed
    expect(sink.delivered.find((m) => m.includes('Subject: to a remote domain'))).toMatch(/^DKIM-Signature: .*d=example\.org/);
    // the delivery thread logs `sent` after the sink's reply: under load that line may trail the delivery
    for (let i = 0; i < 100 && !/"recipient":"someone@remote\.test".*"status":"sent"/.test(mx.log.text); i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(await mx.logged(/"recipient":"someone@remote\.test".*"status":"sent"/)).toMatch(/"recipient":"someone@remote\.test".*"status":"sent"/);
  });

  it('a stranger\'s mail forwarded by an alias to a remote address leaves unsigned, though its From is ours', async () => {
    const c = await SmtpClient.connect(port);
    await c.read();
    await c.cmd('EHLO client.example.net');
    expect((await c.cmd('XCLIENT ADDR=198.51.100.9')).code).toBe(220);
    await c.cmd('EHLO stranger.example.net');
    await c.cmd('MAIL FROM:<ceo@example.org>');
    expect((await c.cmd('RCPT TO:<fwd@example.org>')).code).toBe(250);
    const r = await c.data('From: ceo@example.org\r\nSubject: forged and forwarded\r\n\r\npay this\r\n');
    await c.quit();
    expect(r.code).toBe(250);
    for (let i = 0; i < 100 && !sink.delivered.some((m) => m.includes('Subject: forged and forwarded')); i++) await new Promise((ok) => setTimeout(ok, 100));
    const got = sink.delivered.find((m) => m.includes('Subject: forged and forwarded'));
    expect(got).toBeDefined();
    expect(got).not.toContain('DKIM-Signature');
  });

  it('the sender-login check is on by default for AUTH on port 25: without maps a bare login owns login@ our domains only', async () => {
    expect(await mx.logged(/"msg":"no policy.sender_login_maps: a logged-in user may send only as its own address \(a bare login: login@ our domains\)"/)).toMatch(/"msg":"no policy.sender_login_maps: a logged-in user may send only as its own address \(a bare login: login@ our domains\)"/);
    const c = await SmtpClient.connect(port);
    await c.read();
    await c.cmd('EHLO laptop.example');
    await c.starttls();
    await c.cmd('EHLO laptop.example');
    expect((await c.cmd(`AUTH PLAIN ${Buffer.from('\0alice\0pw').toString('base64')}`)).code).toBe(235);
    const r = await c.cmd('MAIL FROM:<ceo@example.org>');
    expect(`${r.code} ${r.text}`).toBe('553 5.7.1 <ceo@example.org>: Sender address rejected: not owned by user alice');
    expect((await c.cmd('MAIL FROM:<alice@example.org>')).code).toBe(250);
    await c.quit();
    // without a login the port-25 check asks nothing: the policy lists decide
    const d = await SmtpClient.connect(port);
    await d.read();
    await d.cmd('EHLO client.example.net');
    expect((await d.cmd('MAIL FROM:<ceo@example.org>')).code).toBe(250);
    await d.quit();
  });

  it('reloads the users file without a restart (watch and SIGHUP); a bad line keeps the last good set', async () => {
    const metric = async () => /^moat_auth_users (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1];
    const until = async (cond: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((ok) => setTimeout(ok, 50));
    };
    expect(await metric()).toBe('1');
    const bob = `bob:${await hashPassword('pw2', { N: 1024 })}\n`;
    await writeFileAtomic(usersFile, `alice:${await hashPassword('pw', { N: 1024 })}\n${bob}`);
    mx.proc.kill('SIGHUP');
    await until(async () => (await metric()) === '2');
    expect(await metric()).toBe('2');
    expect(await mx.logged(/"msg":"users file reloaded"/)).toMatch(/"msg":"users file reloaded"/);
    await writeFileAtomic(usersFile, `${bob}carol:scrypt$broken\n`);
    mx.proc.kill('SIGHUP');
    await until(() => /"line":2,.*"msg":"users file: bad line, keeping the last good set"/.test(mx.log.text));
    expect(await mx.logged(/"line":2,.*"msg":"users file: bad line, keeping the last good set"/)).toMatch(/"line":2,.*"msg":"users file: bad line, keeping the last good set"/);
    expect(await metric()).toBe('2');
    expect(mx.proc.exitCode).toBeNull();
  });

  it('stops on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => mx.proc.once('exit', (code) => r(code)));
    mx.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await mx.logged(/"msg":"mx stopping"/)).toMatch(/"msg":"mx stopping"/);
  });
});
