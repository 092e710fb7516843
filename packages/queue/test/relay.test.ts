// Outbound relay for authenticated users: MX lookup through a loopback Unbound (never the machine's resolver),
// opportunistic STARTTLS to a loopback smtp-server, DKIM signed with mailauth and verified against the same DNS.
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { startUnbound, tmpDir, type UnboundServer } from '@moat/testkit';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeCachedSessions, DKIM_META_KEY, DKIM_SIGN, dnsMxResolver, maildirTransport, openQueue, relayTransport, startDelivery } from '../src/index.ts';
import { fakeClock, memoryLogger, type Sink, startSink } from './helpers.ts';

let dns: UnboundServer;
let sink: Sink;
let publicKeyB64: string;
let privateKey: string;

beforeAll(async () => {
  const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  publicKeyB64 = kp.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const txt = `v=DKIM1; k=rsa; p=${publicKeyB64}`;
  const chunks = txt.match(/.{1,200}/g)!.map((c) => `"${c}"`).join(' ');
  sink = await startSink({ tls: true, onRcpt: (r) => (r.startsWith('nobody@') ? { code: 550, message: '5.1.1 no such user' } : null) });
  dns = await startUnbound({
    stubZones: {},
    localZones: {
      'example.test': 'static',
      'sender.test': 'static',
      'nowhere.test': 'static',
      'down.test': 'static',
      'backup.test': 'static',
      'plain-a.test': 'static',
    },
    localData: [
      'example.test. 60 IN MX 10 mx1.example.test.',
      'example.test. 60 IN MX 20 mx2.example.test.',
      'mx1.example.test. 60 IN A 127.0.0.1',
      'mx2.example.test. 60 IN A 127.0.0.1',
      'down.test. 60 IN MX 10 mx.down.test.',
      'mx.down.test. 60 IN A 127.0.0.2',
      `s1._domainkey.sender.test. 60 IN TXT ${chunks}`,
      // the preferred MX answers nothing, the backup takes it
      'backup.test. 60 IN MX 10 dead.backup.test.',
      'backup.test. 60 IN MX 20 alive.backup.test.',
      'dead.backup.test. 60 IN A 127.0.0.2',
      'alive.backup.test. 60 IN A 127.0.0.1',
      // no MX at all: the domain's own address (RFC 5321 5.1)
      'plain-a.test. 60 IN A 127.0.0.1',
    ],
  });
});

afterAll(async () => {
  closeCachedSessions();
  await sink?.close();
  await dns?.stop();
});

it('looks up the MX through the configured resolver, uses STARTTLS and signs with DKIM', async () => {
  const dir = await tmpDir('relay');
  const registry = createRegistry();
  const clock = fakeClock();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), clock, logger: memoryLogger().logger, registry });
  const relay = relayTransport({
    heloName: 'mx.sender.test',
    resolver: dnsMxResolver([dns.server], { timeoutMs: 1000 }),
    port: sink.port, // every MX host is 127.0.0.x: the loopback sink, never a real MX
    dkim: [{ domain: 'sender.test', selector: 's1', privateKey }],
    timeoutMs: 5000,
  });
  const bounces = join(dir.path, 'mail');
  const runner = await startDelivery({
    queue,
    registry,
    clock,
    hostname: 'mx.sender.test',
    transports: { local: maildirTransport({ root: bounces, hostname: 'mx.test' }), relay },
    bounceRoute: 'local',
  });
  const msg = Buffer.from(
    'From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: signed\r\nDate: Mon, 5 Jan 2026 12:00:00 +0000\r\nMessage-ID: <signed@sender.test>\r\n\r\nHello over TLS.\r\n.leading dot\r\n',
  );
  await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test', 'nobody@example.test'], message: msg, route: 'relay', meta: { saslUser: 'alice', [DKIM_META_KEY]: DKIM_SIGN } });
  await queue.enqueue({ sender: 'alice@sender.test', recipients: ['x@nowhere.test'], message: msg, route: 'relay' });
  const { id: downId } = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['y@down.test'], message: msg, route: 'relay' });
  await runner.idle();
  await runner.idle();

  expect(sink.messages).toHaveLength(1);
  const got = sink.messages[0]!;
  expect(got.secure).toBe(true); // opportunistic STARTTLS was used
  expect(got.helo).toBe('mx.sender.test');
  expect(got.recipients).toEqual(['bob@example.test']);
  const text = got.data.toString();
  expect(text.startsWith('DKIM-Signature: ')).toBe(true);
  expect(got.data.subarray(got.data.indexOf('From: Alice')).equals(msg)).toBe(true);
  // verify against the key published in the loopback DNS
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([dns.server]);
  const verified = await dkimVerify(got.data, {
    resolver: (name: string, type: string) => r.resolve(name, type as 'TXT') as Promise<string[][]>,
  });
  expect(verified.results[0]?.status.result).toBe('pass');
  expect(verified.results[0]?.signingDomain).toBe('sender.test');

  // nobody@ got 550 at RCPT, x@nowhere.test is NXDOMAIN: both bounced (DSNs delivered locally)
  const box = join(bounces, 'sender.test', 'alice', 'new');
  const dsns = await Promise.all((await readdir(box)).map((f) => readFile(join(box, f), 'utf8')));
  expect(dsns).toHaveLength(2);
  expect(dsns.some((d) => d.includes('Final-Recipient: rfc822; nobody@example.test') && d.includes('Status: 5.1.1') && d.includes('Remote-MTA: dns; mx1.example.test'))).toBe(true);
  expect(dsns.some((d) => d.includes('Final-Recipient: rfc822; x@nowhere.test') && d.includes('Status: 5.1.2'))).toBe(true);
  // down.test's MX (127.0.0.2:sink port) answers nothing: deferred, not bounced
  const list = await queue.list();
  expect(list.map((e) => [e.id, e.state])).toEqual([[downId, 'deferred']]);

  await runner.stop();
  await dir.remove();
});

it('falls back to the next MX, and to the address of a domain without MX', async () => {
  const relay = relayTransport({
    heloName: 'mx.sender.test',
    resolver: dnsMxResolver([dns.server], { timeoutMs: 1000 }),
    port: sink.port,
    timeoutMs: 5000,
  });
  const msg = Buffer.from('From: a@sender.test\r\nSubject: fallback\r\n\r\nx\r\n');
  const before = sink.messages.length;
  const r1 = await relay.deliver({ id: 'X', sender: 'a@sender.test', recipients: ['u@backup.test'], message: msg });
  expect(r1).toMatchObject([{ status: 'sent', relay: `alive.backup.test[127.0.0.1]:${sink.port}` }]);
  const r2 = await relay.deliver({ id: 'Y', sender: 'a@sender.test', recipients: ['u@plain-a.test'], message: msg });
  expect(r2).toMatchObject([{ status: 'sent', relay: `plain-a.test[127.0.0.1]:${sink.port}` }]);
  expect(sink.messages.length - before).toBe(2);
});

it('a policy that refuses the first MX host\'s TLS moves on to the next MX host (RFC 8461 5, RFC 7672 2.2)', async () => {
  const reports: Array<[string, boolean]> = [];
  const relay = relayTransport({
    heloName: 'mx.sender.test',
    resolver: dnsMxResolver([dns.server], { timeoutMs: 1000 }),
    port: sink.port,
    timeoutMs: 5000,
    tlsPolicy: {
      async forDomain() {
        return {
          // mx1's certificate "does not match" the policy; mx2 is opportunistic
          async forHost(host) {
            return host.startsWith('mx1.')
              ? { required: true, id: 'test-policy', options: { rejectUnauthorized: false }, check: () => ({ type: 'certificate-host-mismatch', detail: 'not the policy\'s name' }) }
              : undefined;
          },
          report(host, _addr, _req, res) {
            reports.push([host, res.tlsFailure === undefined]);
          },
        };
      },
    },
  });
  const before = sink.messages.length;
  const r = await relay.deliver({ id: 'T', sender: 'a@sender.test', recipients: ['u@example.test'], message: Buffer.from('From: a@sender.test\r\nSubject: next mx\r\n\r\nx\r\n') });
  expect(r).toMatchObject([{ status: 'sent', relay: `mx2.example.test[127.0.0.1]:${sink.port}` }]);
  expect(reports).toEqual([
    ['mx1.example.test', false],
    ['mx2.example.test', true],
  ]);
  expect(sink.messages.length - before).toBe(1);
});

it('needs an explicit resolver: there is no fallback to the machine’s DNS', () => {
  expect(() => dnsMxResolver([])).toThrow(/dns servers must be configured/);
});
