import type { AddressInfo } from 'node:net';
import { createLogger } from '@moat/observe';
import { SmtpClient } from '@moat/testkit';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hook, hooksInFlight } from './hook.ts';
import { serverConnections } from './smtp-hooks.ts';
import { openTransactions } from './transactions.ts';

const logger = createLogger('test', { level: 'silent' });
let server: SMTPServer;
let port: number;
// a second server: a generation draining after a reload still holds its sessions
let slow: SMTPServer;
let slowPort: number;
// what the slow server's onMailFrom waits for (an async lookup)
let release: (() => void) | undefined;
let entered: (() => void) | undefined;
// server's onClose by session id: smtp-server calls it (on setImmediate) after the connection has left its set
const closed = new Map<string, () => void>();

const listen = async (s: SMTPServer) => {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.server.address() as AddressInfo).port;
};

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
    onClose(session) {
      closed.get(session.id)?.();
    },
  });
  slow = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      hook('mail', 60_000, logger, callback, async () => {
        entered?.();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
    },
  });
  port = await listen(server);
  slowPort = await listen(slow);
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => slow.close(() => resolve()));
});

const greeted = async (p: number, helo: string) => {
  const c = await SmtpClient.connect(p);
  await c.read();
  await c.cmd(`EHLO ${helo}`);
  return c;
};

describe('openTransactions: sessions between MAIL FROM and the DATA reply (a real smtp-server on loopback)', () => {
  it('counts a session from MAIL FROM until its message is answered, and again until RSET', async () => {
    const a = await greeted(port, 'a.example');
    const b = await greeted(port, 'b.example');
    expect(openTransactions([server])).toBe(0);
    expect((await a.cmd('MAIL FROM:<s@example.net>')).code).toBe(250);
    expect(openTransactions([server])).toBe(1);
    await b.cmd('MAIL FROM:<t@example.net>');
    await a.cmd('RCPT TO:<r@example.org>');
    expect((await a.cmd('DATA')).code).toBe(354);
    expect(openTransactions([server])).toBe(2);
    expect((await a.cmd('Subject: x\r\n\r\nbody\r\n.')).code).toBe(250);
    expect(openTransactions([server])).toBe(1);
    await b.cmd('RSET');
    expect(openTransactions([server])).toBe(0);
    await a.cmd('QUIT');
    await b.cmd('QUIT');
  });
  it('EHLO and HELO end a transaction as RSET does', async () => {
    const a = await greeted(port, 'a.example');
    await a.cmd('MAIL FROM:<s@example.net>');
    expect(openTransactions([server])).toBe(1);
    expect((await a.cmd('EHLO again.example')).code).toBe(250);
    expect(openTransactions([server])).toBe(0);
    await a.cmd('MAIL FROM:<s@example.net>');
    expect(openTransactions([server])).toBe(1);
    expect((await a.cmd('HELO again.example')).code).toBe(250);
    expect(openTransactions([server])).toBe(0);
    await a.cmd('QUIT');
  });
  it('a client that disconnects mid-DATA leaves no transaction behind', async () => {
    const a = await greeted(port, 'a.example');
    await a.cmd('MAIL FROM:<s@example.net>');
    await a.cmd('RCPT TO:<r@example.org>');
    expect((await a.cmd('DATA')).code).toBe(354);
    a.write('Subject: cut\r\n\r\nhalf a body');
    expect(openTransactions([server])).toBe(1);
    // the server notices the close on its own schedule: awaited through its onClose, not timed
    const id = [...serverConnections(server)].find((c) => c.session?.envelope?.mailFrom)?.id;
    expect(id).toBeDefined();
    const gone = new Promise<void>((resolve) => closed.set(id!, resolve));
    a.destroy();
    await gone;
    expect(openTransactions([server])).toBe(0);
  });
  it('sums over several servers (a generation draining after a reload keeps its sessions)', async () => {
    const a = await greeted(port, 'a.example');
    await a.cmd('MAIL FROM:<s@example.net>');
    const b = await greeted(slowPort, 'b.example');
    expect(openTransactions([server, slow])).toBe(1);
    await a.cmd('QUIT');
    await b.cmd('QUIT');
  });
  it('no servers, no transactions', () => {
    expect(openTransactions([])).toBe(0);
  });
});

describe('hooksInFlight: a hook counts from its entry to its callback', () => {
  it('a session inside an async onMailFrom is busy before smtp-server marks the transaction', async () => {
    const c = await greeted(slowPort, 'c.example');
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const before = hooksInFlight();
    const reply = c.cmd('MAIL FROM:<s@example.net>');
    await inside;
    expect(openTransactions([slow])).toBe(0); // not yet: mailFrom is set after the callback
    expect(hooksInFlight()).toBe(before + 1);
    release?.();
    expect((await reply).code).toBe(250);
    expect(hooksInFlight()).toBe(before);
    expect(openTransactions([slow])).toBe(1);
    await c.cmd('QUIT');
  });
});
