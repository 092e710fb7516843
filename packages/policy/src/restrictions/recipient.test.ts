import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import type { RecipientVerification } from '../types.ts';
import { rcpt, testEngine } from './testing.ts';

/** A recipient port that refuses every address as the address resolver would, for one class and cause. */
const refusing = (cls: string, by: 'table' | 'error' | 'retry' | 'alias', status: string, text: string) => (): RecipientVerification => ({ accepted: false, class: cls, by, status, text });

describe('check_rcpt_maps reply codes (smtpd_check.c)', () => {
  const cases: Array<[string, string, 'table' | 'error' | 'retry' | 'alias', string, string, string]> = [
    // class, spec key set to 450, refusing cause, status, text, the reply with Postfix's defaults
    ['local', 'unknownLocalRecipientRejectCode', 'table', '5.1.1', 'User unknown in local recipient table', '550 5.1.1'],
    ['virtual-mailbox', 'unknownVirtualMailboxRejectCode', 'table', '5.1.1', 'User unknown in virtual mailbox table', '550 5.1.1'],
    ['relay', 'unknownRelayRecipientRejectCode', 'table', '5.1.1', 'User unknown in relay recipient table', '550 5.1.1'],
    ['virtual-alias', 'unknownVirtualAliasRejectCode', 'error', '5.1.1', 'User unknown in virtual alias table', '550 5.1.1'],
  ];
  it.each(cases)('%s: 550 by default, the class\'s own code when set (%s), a 4xx code defers with a 4.x.x status', async (cls, key, by, status, text, dflt) => {
    const verify = refusing(cls, by, status, text);
    const line = `<nobody@example.org>: Recipient address rejected: ${text}`;
    for (const list of ['reject_unlisted_recipient, permit', 'permit']) {
      expect(replyLine(await testEngine({ list, verify }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))), list).toBe(`${dflt} ${line}`);
      const deferred = await testEngine({ list, verify, spec: { [key]: 450 } }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }));
      expect(replyLine(deferred), list).toBe(`450 4.1.1 ${line}`);
      expect(deferred.action).toBe('defer');
      expect(replyLine(await testEngine({ list, verify, spec: { [key]: 551 } }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))), list).toBe(`551 5.1.1 ${line}`);
    }
  });
  it('another class\'s code does not apply', async () => {
    const verify = refusing('relay', 'table', '5.1.1', 'User unknown in relay recipient table');
    const spec = { unknownLocalRecipientRejectCode: 450, unknownVirtualMailboxRejectCode: 450, unknownVirtualAliasRejectCode: 450 };
    expect(replyLine(await testEngine({ verify, spec }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' })))).toMatch(/^550 5\.1\.1 /);
  });
  it('an error: hop answers 550 outside virtual alias domains, whatever the class codes say', async () => {
    const verify = refusing('local', 'error', '5.2.0', 'gone');
    const spec = { unknownLocalRecipientRejectCode: 450 };
    expect(replyLine(await testEngine({ verify, spec }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' })))).toBe('550 5.2.0 <nobody@example.org>: Recipient address rejected: gone');
    const alias = refusing('virtual-alias', 'error', '5.1.1', 'no such list');
    expect(replyLine(await testEngine({ verify: alias, spec: { unknownVirtualAliasRejectCode: 450 } }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' })))).toBe('450 4.1.1 <nobody@example.org>: Recipient address rejected: no such list');
  });
  it('a retry: hop answers 450 (4.1.1 by default), explicit or implicit', async () => {
    const verify = refusing('relay', 'retry', '4.1.1', 'Address is undeliverable');
    for (const list of ['reject_unlisted_recipient, permit', 'permit']) {
      const v = await testEngine({ list, verify }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }));
      expect(replyLine(v), list).toBe('450 4.1.1 <nobody@example.org>: Recipient address rejected: Address is undeliverable');
      expect(v.action).toBe('defer');
    }
  });
  it('a recipient port that fails while wording the refusal answers 451 4.3.0, as reject_dict_retry (never a hard reject)', async () => {
    const verify = (): RecipientVerification => {
      throw new Error('hash:/etc/postfix/vmailbox: not loaded');
    };
    for (const list of ['reject_unlisted_recipient, permit', 'permit']) {
      const v = await testEngine({ list, verify }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }));
      expect(replyLine(v), list).toBe('451 4.3.0 <nobody@example.org>: Temporary lookup failure');
      expect(v.action).toBe('defer');
      expect(JSON.stringify(v)).toMatch(/recipient directory: hash:\/etc\/postfix\/vmailbox: not loaded/);
    }
    const s = await testEngine({ list: 'permit', verify, spec: { rejectUnlistedSender: true } }).engine.evaluate(rcpt({ sender: 'nobody@example.org' }));
    expect(replyLine(s)).toBe('451 4.3.0 <nobody@example.org>: Temporary lookup failure');
  });
  it('a sender of ours: the port\'s words for a sender, the class\'s code', async () => {
    const asked: string[] = [];
    const verify = (a: string, as?: 'recipient' | 'sender'): RecipientVerification => {
      asked.push(`${a} ${as}`);
      return { accepted: false, class: 'virtual-mailbox', by: 'table', status: '5.1.0', text: 'User unknown in virtual mailbox table' };
    };
    const spec = { rejectUnlistedSender: true, unknownVirtualMailboxRejectCode: 450 };
    const v = await testEngine({ list: 'permit', verify, spec }).engine.evaluate(rcpt({ sender: 'nobody@example.org' }));
    expect(replyLine(v)).toBe('450 4.1.0 <nobody@example.org>: Sender address rejected: User unknown in virtual mailbox table');
    expect(asked).toContain('nobody@example.org sender');
  });
  it('refuses a code outside 400..599 when the engine is built', () => {
    expect(() => testEngine({ spec: { unknownRelayRecipientRejectCode: 250 } })).toThrow(/unknownRelayRecipientRejectCode: expected a 4xx or 5xx reply code/);
  });
});
