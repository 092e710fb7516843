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
