// The SMTP session cache: sessions are reused (RSET first), never leaked, and a dead cached session is replaced.
import { expect, it } from 'vitest';
import { smtpSend } from '../src/index.ts';
import { message, startSink } from './helpers.ts';

it('reuses sessions without leaking them, and survives the next hop restarting', async () => {
  let sink = await startSink();
  const port = sink.port;
  const send = () =>
    smtpSend({ host: '127.0.0.1', port, heloName: 'mx.test', sender: 'a@sender.test', recipients: ['b@example.test'], message: message('c', 'x'), reuse: true });
  const results = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const out = [];
      for (let i = 0; i < 6; i++) out.push((await send()).results[0]!.status);
      return out;
    }),
  );
  expect(results.flat().every((s) => s === 'sent')).toBe(true);
  expect(sink.messages).toHaveLength(48);
  expect(sink.connects()).toBeLessThanOrEqual(8);
  // the cached sessions die with the server; the next send notices at RSET and connects afresh
  await sink.close();
  sink = await startSink({ port });
  expect((await send()).results[0]!.status).toBe('sent');
  expect(sink.messages).toHaveLength(1);
  await sink.close();
});

it('declares 8-bit bodies (BODY=8BITMIME) and bounces internationalised addresses a next hop cannot take', async () => {
  const plain = await startSink({ noSmtpUtf8: true });
  const utf8 = await startSink();
  const body = Buffer.concat([message('8bit', 'caf'), Buffer.from([0xc3, 0xa9, 0x0d, 0x0a])]);
  const send = (port: number, recipients: string[]) =>
    smtpSend({ host: '127.0.0.1', port, heloName: 'mx.test', sender: 'a@sender.test', recipients, message: body });
  expect((await send(plain.port, ['b@example.test'])).results[0]!.status).toBe('sent');
  expect(plain.messages[0]!.mailArgs).toMatchObject({ BODY: '8BITMIME' });
  const r = await send(plain.port, ['jos\u00e9@example.test']);
  expect(r.results[0]).toMatchObject({ status: 'bounced', enhanced: '5.6.7' });
  expect((await send(utf8.port, ['jos\u00e9@example.test'])).results[0]!.status).toBe('sent');
  expect(utf8.messages[0]!.mailArgs).toMatchObject({ SMTPUTF8: true });
  await plain.close();
  await utf8.close();
});
