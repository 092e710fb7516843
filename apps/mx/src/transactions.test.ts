import type { AddressInfo } from 'node:net';
import { SmtpClient } from '@moat/testkit';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTransactions } from './transactions.ts';

let server: SMTPServer;
let port: number;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('openTransactions: sessions between MAIL FROM and the DATA reply (a real smtp-server on loopback)', () => {
  it('counts a session from MAIL FROM until its message is answered, and again until RSET', async () => {
    const a = await SmtpClient.connect(port);
    const b = await SmtpClient.connect(port);
    await a.read();
    await b.read();
    await a.cmd('EHLO a.example');
    await b.cmd('EHLO b.example');
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
  it('no servers, no transactions', () => {
    expect(openTransactions([])).toBe(0);
  });
});
