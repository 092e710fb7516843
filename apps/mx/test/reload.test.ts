// Reload without restart, end to end: the real `main.ts` on loopback, its config file rewritten, then SIGHUP or
// POST /-/reload. New sessions get the new generation, open ones finish on theirs, a broken config changes nothing.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { freePort, SmtpClient, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NextHopSink, startNextHopSink } from './next-hop-sink.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let sinkPort: number;
let deadDns: number;
let cfg: string;
let sink: NextHopSink;

const config = (o: { senderMap?: boolean; cert?: string; concurrency?: number; broken?: boolean; perIp?: number; dkim?: string } = {}) => `version: 1
policy:
  hostname: mx.example.org
  recipient_restrictions: reject_non_fqdn_helo_hostname, ${o.senderMap ? `check_sender_access texthash:${dir.path}/senders, ` : ''}reject_unlisted_recipient, ${o.broken ? 'reject_everything_now, ' : ''}permit
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: 127.0.0.1:${deadDns}
  timeout: 300ms
mx:
  tls: { cert: ${dir.path}/${o.cert ?? 'one'}.crt, key: ${dir.path}/${o.cert ?? 'one'}.key }
${o.perIp ? `  limits: { per_ip_concurrency: ${o.perIp} }\n` : ''}spamd: { enabled: false }
greylist: { redis: { url: "${redis.url}" } }
queue: { dir: ${dir.path}/spool, transport: "smtp://127.0.0.1:${sinkPort}", transports: { remote.test: "smtp:[127.0.0.1]:${sinkPort}" }, concurrency: ${o.concurrency ?? 4}${o.dkim ? `, dkim: [{ domain: sender.example, selector: ${o.dkim}, key: ${dir.path}/${o.dkim}.pem }]` : ''} }
metrics: { enabled: true, listen: "127.0.0.1:${metricsPort}" }
`;

const reload = async () => {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/-/reload`, { method: 'POST', headers: { 'x-moat-reload': '1' } });
  return { status: r.status, report: (await r.json()) as { outcome: string; generation: number; error?: string; needsRestart: string[]; draining: number } };
};
const metric = async (name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1];

/** One whole session with one message; the subject names it. */
async function session(subject: string, sender = 'alice@sender.example'): Promise<{ code: number; text: string }> {
  const c = await SmtpClient.connect(port);
  await c.read();
  await c.cmd('EHLO client.example.net');
  await c.cmd(`MAIL FROM:<${sender}>`);
  const rcpt = await c.cmd('RCPT TO:<rcpt@example.org>');
  if (rcpt.code !== 250) {
    await c.quit();
    return rcpt;
  }
  const r = await c.data(`From: ${sender}\r\nSubject: ${subject}\r\n\r\nhello\r\n`);
  await c.quit();
  return r;
}

beforeAll(async () => {
  dir = await tmpDir('mx-reload');
  redis = await startRedis();
  sink = await startNextHopSink();
  sinkPort = sink.port;
  deadDns = await freePort();
  port = await freePort();
  metricsPort = await freePort();
  for (const name of ['one', 'two']) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}.example.org`,
      '-keyout', join(dir.path, `${name}.key`), '-out', join(dir.path, `${name}.crt`),
    ], { stdio: 'ignore' });
  }
  for (const selector of ['s1', 's2']) execFileSync('openssl', ['genrsa', '-out', join(dir.path, `${selector}.pem`), '2048'], { stdio: 'ignore' });
  await writeFile(join(dir.path, 'senders'), 'spam@bad.example REJECT no thanks\n');
  cfg = join(dir.path, 'moat.yaml');
  await writeFile(cfg, config());
  mx = await spawnMain(cfg, port);
}, 60_000);

afterAll(async () => {
  await mx?.stop();
  await sink?.close();
  await redis?.stop();
  await dir?.remove();
});

describe('mx reload', () => {
  it('a changed restriction list applies to the next session; a session open across the reload finishes on its own', async () => {
    const open = await SmtpClient.connect(port);
    await open.read();
    await open.cmd('EHLO client.example.net');
    await writeFile(cfg, config({ senderMap: true }));
    const { status, report } = await reload();
    expect(status).toBe(200);
    expect(report).toMatchObject({ outcome: 'applied', generation: 2, needsRestart: [], draining: 1 });
    // the new session: check_sender_access refuses the sender
    const next = await session('after reload', 'spam@bad.example');
    expect(next.code).toBe(554);
    expect(next.text).toMatch(/no thanks/);
    // the old one: still the old list
    await open.cmd('MAIL FROM:<spam@bad.example>');
    expect((await open.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    await open.quit();
    expect(await mx.logged(/"event":"reload","outcome":"applied"/)).toMatch(/"event":"reload","outcome":"applied"/);
  });

  it('a broken config changes nothing, and is logged, counted and reported', async () => {
    await writeFile(cfg, config({ senderMap: true, broken: true }));
    const { status, report } = await reload();
    expect(status).toBe(422);
    expect(report.outcome).toBe('refused');
    expect(report.generation).toBe(2);
    expect(report.error).toMatch(/reject_everything_now/);
    expect(await metric('moat_reload_total\\{outcome="refused"\\}')).toBe('1');
    expect(await metric('moat_config_last_reload_successful')).toBe('0');
    expect(await mx.logged(/"outcome":"refused".*config reload refused/)).toMatch(/"outcome":"refused".*config reload refused/);
    // still generation 2: the sender map refuses, the rest accepts
    expect((await session('still gen 2', 'spam@bad.example')).code).toBe(554);
    expect((await session('still gen 2, good sender')).code).toBe(250);
    // GET shows the last outcome
    const last = (await (await fetch(`http://127.0.0.1:${metricsPort}/-/reload`)).json()) as { outcome: string };
    expect(last.outcome).toBe('refused');
  });

  it('serves a new TLS certificate to the next STARTTLS (SIGHUP)', async () => {
    const cn = async () => {
      const c = await SmtpClient.connect(port);
      await c.read();
      await c.cmd('EHLO client.example.net');
      const s = await c.starttls({ rejectUnauthorized: false });
      const subject = new X509Certificate(s.getPeerX509Certificate()!.raw).subject;
      await c.quit().catch(() => {});
      return subject;
    };
    expect(await cn()).toBe('CN=one.example.org');
    await writeFile(cfg, config({ senderMap: true, cert: 'two' }));
    const before = Number(await metric('moat_config_generation'));
    mx.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && Number(await metric('moat_config_generation')) === before; i++) await new Promise((ok) => setTimeout(ok, 50));
    expect(Number(await metric('moat_config_generation'))).toBe(before + 1);
    expect(await cn()).toBe('CN=two.example.org');
  });

  it('reports a setting that only a restart applies, instead of ignoring it', async () => {
    await writeFile(cfg, config({ senderMap: true, cert: 'two', concurrency: 9 }));
    const { report } = await reload();
    expect(report.outcome).toBe('applied');
    expect(report.needsRestart).toEqual(['queue.concurrency']);
    await writeFile(cfg, config({ senderMap: true, cert: 'two' }));
    expect((await reload()).report.needsRestart).toEqual([]);
  });

  it('reloads under a loop of concurrent sessions: none dropped, no message acknowledged twice', async () => {
    const before = sink.delivered.length;
    const clients = 6;
    const perClient = 8;
    let stop = false;
    const reloads = (async () => {
      let n = 0;
      while (!stop) {
        await writeFile(cfg, config({ senderMap: true, cert: n % 2 ? 'one' : 'two' }));
        expect((await reload()).report.outcome).toBe('applied');
        n++;
        await new Promise((ok) => setTimeout(ok, 20));
      }
      return n;
    })();
    const results = await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const mine: Array<{ subject: string; code: number; id: string | undefined }> = [];
        for (let i = 0; i < perClient; i++) {
          const subject = `load ${c}-${i}`;
          const r = await session(subject);
          mine.push({ subject, code: r.code, id: /queued as (\S+)/.exec(r.text)?.[1] });
        }
        return mine;
      }),
    );
    stop = true;
    const reloadCount = await reloads;
    expect(reloadCount).toBeGreaterThan(1);
    const all = results.flat();
    expect(all.filter((r) => r.code !== 250)).toEqual([]);
    const ids = all.map((r) => r.id);
    expect(new Set(ids).size).toBe(clients * perClient);
    // every acknowledged message is delivered exactly once
    for (let i = 0; i < 200 && sink.delivered.length - before < all.length; i++) await new Promise((ok) => setTimeout(ok, 50));
    const got = sink.delivered.slice(before).map((m) => /Subject: (load \S+)/.exec(m)?.[1]).filter(Boolean);
    expect(got.sort()).toEqual(all.map((r) => r.subject).sort());
    // old generations were released once their sessions ended
    expect(await mx.logged(/"event":"reload-retired"/)).toMatch(/"event":"reload-retired"/);
    expect(mx.proc.exitCode).toBeNull();
  }, 120_000);

  it("a client's sessions on the old generation still count against its per-address limit after a reload", async () => {
    await writeFile(cfg, config({ perIp: 1 }));
    expect((await reload()).report.outcome).toBe('applied');
    const held = await SmtpClient.connect(port);
    expect((await held.read()).code).toBe(220);
    await writeFile(cfg, config({ perIp: 1, senderMap: true }));
    const { report } = await reload();
    expect(report.outcome).toBe('applied');
    expect(report.draining).toBeGreaterThanOrEqual(1);
    // the new generation knows the session the old one holds: no fresh allowance for this address
    const second = await SmtpClient.connect(port);
    const refused = await second.read();
    expect(refused.code).toBe(421);
    expect(refused.text).toMatch(/Too many concurrent connections/);
    second.destroy();
    await held.quit();
    await writeFile(cfg, config());
    expect((await reload()).report.outcome).toBe('applied');
  });

  it('re-reads the DKIM keys: the next message is signed with the new key; an unreadable key refuses the reload and the old key signs on', async () => {
    /** One message from loopback (mynetworks: ours to sign) to a remote domain (signed on the way out); its DKIM selector. */
    const signedWith = async (subject: string) => {
      const c = await SmtpClient.connect(port);
      await c.read();
      await c.cmd('EHLO client.example.net');
      await c.cmd('MAIL FROM:<alice@sender.example>');
      expect((await c.cmd('RCPT TO:<bob@remote.test>')).code).toBe(250);
      expect((await c.data(`From: alice@sender.example\r\nTo: bob@remote.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`)).code).toBe(250);
      await c.quit();
      for (let i = 0; i < 200 && !sink.delivered.some((m) => m.includes(`Subject: ${subject}`)); i++) await new Promise((ok) => setTimeout(ok, 50));
      const m = sink.delivered.find((x) => x.includes(`Subject: ${subject}`));
      expect(m, `${subject} sink.delivered`).toBeDefined();
      return /^DKIM-Signature:[\s\S]*?\bs=([a-z0-9]+);/im.exec(m ?? '')?.[1];
    };
    await writeFile(cfg, config({ dkim: 's1' }));
    expect((await reload()).report.outcome).toBe('applied');
    expect(await signedWith('dkim one')).toBe('s1');
    await writeFile(cfg, config({ dkim: 's2' }));
    expect((await reload()).report.outcome).toBe('applied');
    expect(await signedWith('dkim two')).toBe('s2');
    await writeFile(cfg, config({ dkim: 'missing' }));
    const { status, report } = await reload();
    expect(report.outcome).toBe('refused');
    expect(status).toBe(422);
    expect(report.error).toMatch(/missing\.pem/);
    expect(await signedWith('dkim three')).toBe('s2');
    await writeFile(cfg, config());
    expect((await reload()).report.outcome).toBe('applied');
  });
});
