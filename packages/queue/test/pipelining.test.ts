// The SMTP client with and without PIPELINING (RFC 2920): the same results per recipient either way, and a
// pipelined transaction whose every recipient is refused leaves the session clean for the next one.
import { expect, it } from 'vitest';
import { smtpSend } from '../src/index.ts';
import { message, startSink } from './helpers.ts';

for (const noPipelining of [false, true]) {
  it(`${noPipelining ? 'without' : 'with'} PIPELINING: each recipient's own reply; all refused sends nothing and the session is reused`, async () => {
    const sink = await startSink({
      noPipelining,
      onRcpt: (rcpt) => (rcpt.startsWith('no') ? { code: 550, message: '5.1.1 no such user' } : rcpt.startsWith('later') ? { code: 450, message: '4.2.0 try later' } : null),
    });
    const send = (recipients: string[]) =>
      smtpSend({ host: '127.0.0.1', port: sink.port, heloName: 'mx.test', sender: 'a@sender.test', recipients, message: message('p', 'x'), reuse: true });
    const r = await send(['yes1@example.test', 'no1@example.test', 'later1@example.test', 'yes2@example.test']);
    expect(r.results.map((x) => `${x.recipient} ${x.status} ${x.code}`).sort()).toEqual([
      'later1@example.test deferred 450',
      'no1@example.test bounced 550',
      'yes1@example.test sent 250',
      'yes2@example.test sent 250',
    ]);
    expect(sink.messages.map((m) => m.recipients)).toEqual([['yes1@example.test', 'yes2@example.test']]);
    const none = await send(['no2@example.test', 'later2@example.test']);
    expect(none.results.map((x) => x.status).sort()).toEqual(['bounced', 'deferred']);
    expect(sink.messages).toHaveLength(1);
    // the cached session took the refused transaction's DATA reply: the next message goes through it cleanly
    expect((await send(['yes3@example.test'])).results[0]).toMatchObject({ status: 'sent', code: 250 });
    expect(sink.messages).toHaveLength(2);
    expect(sink.connects()).toBe(1);
    await sink.close();
  });
}
