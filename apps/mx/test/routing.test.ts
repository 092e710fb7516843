// Where accepted mail goes: each recipient resolved at RCPT, queued per next hop, delivered by a real runner
// to real loopback next hops (an smtp-server sink as a remote domain's MX) or a real maildir.
import { fakeAddressResolver } from '@moat/address';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { closeCachedSessions, createRouter, type DeliveryRunner, nextHopOf, startDelivery } from '@moat/queue';
import { SmtpClient } from '@moat/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '@moat/config';
import { routingFromConfig } from '../src/routing.ts';
import { startTestMx, type TestMx } from './harness.ts';
import { type NextHopSink, startNextHopSink } from './next-hop-sink.ts';

let sink: NextHopSink;
let sinkPort: number;

beforeAll(async () => {
  sink = await startNextHopSink();
  sinkPort = sink.port;
});

afterAll(async () => {
  closeCachedSessions();
  await sink.close();
});

let t: TestMx | undefined;
let runner: DeliveryRunner | undefined;
afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await t?.close();
  t = undefined;
  sink.received.length = 0;
  sink.delivered.length = 0;
});

/** A runner on the gateway's spool: by next hop, maildirs only for example.org. */
async function deliver(mx: TestMx, resolver: Parameters<typeof startDelivery>[0]['resolver']): Promise<DeliveryRunner> {
  const r = await startDelivery({
    queue: mx.queue,
    transports: { local: createRouter({ heloName: 'mx.test' }).transportFor(nextHopOf('error:4.3.5 unused'), false) },
    router: createRouter({ heloName: 'mx.test', isLocal: (d) => d === 'example.org', recipientDelimiter: '+' }),
    resolver,
    registry: createRegistry(),
    hostname: 'mx.test',
    scanIntervalMs: 50,
  });
  runner = r;
  return r;
}

/** One transaction as `client` (XCLIENT from 127.0.0.1); the reply lines of RCPTs and DATA. */
async function send(mx: TestMx, client: string, from: string, to: string[], body = 'Subject: routing\r\n\r\nhello\r\n'): Promise<string[]> {
  const c = await SmtpClient.connect(mx.port);
  await c.read();
  expect((await c.cmd(`XCLIENT ADDR=${client}`)).code).toBe(220);
  await c.cmd('EHLO mail.sender.example');
  expect((await c.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
  const out: string[] = [];
  let ok = 0;
  for (const r of to) {
    const reply = await c.cmd(`RCPT TO:<${r}>`);
    out.push(`${r} => ${reply.code} ${reply.text}`);
    if (reply.code === 250) ok++;
  }
  if (ok > 0) {
    const d = await c.data(body);
    out.push(`DATA => ${d.code}`);
  }
  await c.quit();
  return out;
}

async function box(root: string, ...path: string[]): Promise<string[]> {
  const d = join(root, ...path);
  try {
    return Promise.all((await readdir(d)).sort().map(async (n) => (await readFile(join(d, n))).toString('utf8')));
  } catch {
    return [];
  }
}

const MYNETWORKS = '192.0.2.5'; // the harness's mynetworks is 192.0.2.0/28
const STRANGER = '198.51.100.20'; // on wl2.test: skips greylisting, not in mynetworks

describe('with the config resolver (recipients + queue.transport + queue.transports)', () => {
  const routing = (dir: string) =>
    routingFromConfig(
      parseConfig(
        `policy: { hostname: mx.example.org }
recipients: { domains: [example.org], users: [rcpt@example.org, postmaster@example.org, bob@example.org], recipient_delimiter: "+" }
queue:
  transport: "maildir:${join(dir, 'mail')}"
  transports: { remote.test: "smtp:[127.0.0.1]:${sinkPort}", bob@example.org: "error:5.1.1 bob has left", postmaster@example.org: "error:4.2.0 later" }
`,
        { file: join(dir, 'moat.yaml'), env: {} },
      ),
    ).resolver;

  it('an address whose transport is error: is refused at RCPT as Postfix does (550, a 4.x.x status made permanent)', async () => {
    t = await startTestMx({ addressResolver: routing });
    expect(await send(t, STRANGER, 'x@sender.example', ['bob@example.org', 'postmaster@example.org', 'bob+x@example.org'])).toEqual([
      'bob@example.org => 550 5.1.1 <bob@example.org>: Recipient address rejected: bob has left',
      'postmaster@example.org => 550 5.2.0 <postmaster@example.org>: Recipient address rejected: later',
      'bob+x@example.org => 550 5.1.1 <bob+x@example.org>: Recipient address rejected: bob has left',
    ]);
    expect(t.enqueued).toEqual([]);
  });

  it('a mynetworks client’s mail to a remote domain goes to that domain’s next hop, not into a maildir', async () => {
    t = await startTestMx({ addressResolver: routing });
    const r = await deliver(t, routing(t.dir));
    expect(await send(t, MYNETWORKS, 'alice@example.org', ['someone@remote.test'])).toEqual(['someone@remote.test => 250 2.1.5 Accepted', 'DATA => 250']);
    // a stranger may not relay (relay control, before any routing)
    expect((await send(t, STRANGER, 'x@sender.example', ['someone@remote.test']))[0]).toMatch(/^someone@remote\.test => 554 5\.7\.1 .*Relay access denied/);
    await r.idle();
    expect(sink.received.map((m) => [m.sender, m.recipients])).toEqual([['alice@example.org', ['someone@remote.test']]]);
    expect(t.enqueued).toHaveLength(1);
    expect(t.enqueued[0]).toMatchObject({ route: 'relay', nextHop: { transport: 'smtp', host: '127.0.0.1', port: sinkPort, mx: false } });
    expect(await readdir(t.dir)).not.toContain('mail');
  });

  it('user+tag lands in the user’s mailbox (queue.transport), with Delivered-To naming the tag', async () => {
    t = await startTestMx({ addressResolver: routing });
    const r = await deliver(t, routing(t.dir));
    expect(await send(t, STRANGER, 'x@sender.example', ['rcpt+news@example.org'])).toEqual(['rcpt+news@example.org => 250 2.1.5 Accepted', 'DATA => 250']);
    await r.idle();
    const mail = join(t.dir, 'mail');
    const inbox = await box(mail, 'example.org', 'rcpt', 'new');
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatch(/^Return-Path: <x@sender\.example>\r\nDelivered-To: rcpt\+news@example\.org\r\n/);
    expect(await readdir(join(mail, 'example.org'))).toEqual(['rcpt']);
  });
});

describe('with an address resolver that has aliases (a test resolver)', () => {
  it('an alias fans out (deduplicated) to mailboxes and a remote next hop; user+tag to the user; unresolvable addresses refused at RCPT with their status', async () => {
    const aliases = (dir: string) =>
      fakeAddressResolver({
        domains: { 'example.org': { nextHop: nextHopOf(`maildir:${join(dir, 'mail')}`), users: ['rcpt', 'bob', 'postmaster'] } },
        aliases: { 'team@example.org': ['rcpt@example.org', 'bob@example.org', 'rcpt@example.org', 'far@remote.test'] },
        defaultTransport: nextHopOf(`smtp:[127.0.0.1]:${sinkPort}`),
        errors: {
          'loop@example.org': { reason: 'loop', status: '5.4.6', text: '<loop@example.org>: Recipient address rejected: alias loop' },
          'table@example.org': { reason: 'lookup-failure', status: '4.3.0', text: '<table@example.org>: Temporary lookup failure' },
        },
      });
    t = await startTestMx({ addressResolver: aliases, users: ['rcpt@example.org', 'bob@example.org', 'team@example.org', 'loop@example.org', 'table@example.org'] });
    const mailRoot = join(t.dir, 'mail');
    const r = await deliver(t, aliases(t.dir));
    expect(await send(t, STRANGER, 'x@sender.example', ['rcpt+news@example.org', 'team@example.org', 'loop@example.org', 'table@example.org'])).toEqual([
      'rcpt+news@example.org => 250 2.1.5 Accepted',
      'team@example.org => 250 2.1.5 Accepted',
      'loop@example.org => 550 5.4.6 <loop@example.org>: Recipient address rejected: alias loop',
      'table@example.org => 451 4.3.0 <table@example.org>: Temporary lookup failure',
      'DATA => 250',
    ]);
    await r.idle();
    // one queue file per next hop: the maildir's three recipients, the remote one
    expect(t.enqueued.map((e) => [e.nextHop?.transport, e.recipients])).toEqual([
      ['maildir', ['rcpt+news@example.org', 'rcpt@example.org', 'bob@example.org']],
      ['smtp', ['far@remote.test']],
    ]);
    const rcptBox = await box(mailRoot, 'example.org', 'rcpt', 'new');
    expect(rcptBox).toHaveLength(2);
    expect(rcptBox.some((m) => m.includes('Delivered-To: rcpt+news@example.org\r\n'))).toBe(true);
    expect(await box(mailRoot, 'example.org', 'bob', 'new')).toHaveLength(1);
    expect((await readdir(join(mailRoot, 'example.org'))).sort()).toEqual(['bob', 'rcpt']);
    expect(sink.received.map((m) => m.recipients)).toEqual([['far@remote.test']]);
  });
});
