// startPostfix's two deliveries: discard(8) by default, or a relay to a loopback SMTP server.
// Real Debian postfix and smtp-sink on 127.0.0.1; needs root (the queue is owned by the postfix user).
import { afterAll, describe, expect, it } from 'vitest';
import { type PostfixInstance, type SmtpSink, startPostfix, startSmtpSink } from './postfix.ts';
import { smtpTransaction } from './smtp-client.ts';

const stops: Array<{ stop(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s.stop();
});

async function until(cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const message = (subject: string) => `From: a@sender.example\r\nTo: b@example.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`;

describe('startPostfix', () => {
  it('discards accepted mail by default and refuses foreign domains', async () => {
    const pf: PostfixInstance = await startPostfix({ listeners: { plain: 'permit' } });
    stops.push(pf);
    const port = pf.ports.plain!;
    const ok = await smtpTransaction({ port, from: 'a@sender.example', to: 'b@example.org', message: message('discarded') });
    expect(ok.stage, ok.text).toBe('done');
    await until(async () => (await pf.queued()) === 0 && (await pf.log()).includes('postfix/discard'), 'discard');
    expect(await pf.log()).toMatch(/discard\[\d+\]: \w+: to=<b@example\.org>, relay=none, .*status=sent/);
    const foreign = await smtpTransaction({ port, from: 'a@sender.example', to: 'b@elsewhere.example', message: message('x') });
    expect(foreign).toMatchObject({ stage: 'rcpt', code: 554 });
  }, 60_000);

  it('relays accepted mail to the given server; a listener may have no restrictions', async () => {
    const sink: SmtpSink = await startSmtpSink();
    stops.push(sink);
    const pf = await startPostfix({ listeners: { open: '' }, domains: ['example.test'], relay: sink, main: { myhostname: 'relay.moat.test' } });
    stops.push(pf);
    const r = await smtpTransaction({ port: pf.ports.open!, from: 'a@sender.example', to: 'b@example.test', message: message('relayed') });
    expect(r.stage, r.text).toBe('done');
    await until(async () => (await sink.messages()).length === 1, 'smtp-sink');
    expect((await sink.messages())[0]).toContain('Subject: relayed');
    await until(async () => (await pf.queued()) === 0, 'empty queue');
    expect(await pf.log()).toContain(`relay=127.0.0.1[127.0.0.1]:${sink.port}`);
  }, 60_000);
});
