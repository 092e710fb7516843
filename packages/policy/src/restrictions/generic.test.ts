import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import { rcpt, testEngine } from './testing.ts';

const run = async (list: string, f: Parameters<typeof rcpt>[0] = {}, extra: Parameters<typeof testEngine>[0] = {}) => testEngine({ list, ...extra }).engine.evaluate(rcpt(f));

describe('reject_unauth_pipelining', () => {
  it('503 5.5.0 when the edge saw commands sent ahead; nothing otherwise', async () => {
    const v = await run('reject_unauth_pipelining, permit', { improperPipelining: true });
    expect(replyLine(v)).toBe('503 5.5.0 <alice@example.org>: Recipient address rejected: Improper use of SMTP command pipelining');
    expect(v.trace.at(-1)?.reason).toBe('commands sent ahead of our replies');
    expect((await run('reject_unauth_pipelining, permit')).action).toBe('permit');
  });
});

describe('warn_if_reject', () => {
  it('the next restriction\'s reject is only a warning in the trace', async () => {
    const v = await run('warn_if_reject, reject, permit');
    expect(v.action).toBe('permit');
    expect(v.trace.find((t) => t.restriction === 'reject')).toMatchObject({ outcome: 'dunno', reason: 'reject_warning: 5.7.1 <alice@example.org>: Recipient address rejected: Access denied' });
    expect(v.trace.find((t) => t.restriction === 'warn_if_reject')).toMatchObject({ outcome: 'dunno', reason: 'the next restriction only warns' });
  });
  it('at the end of a list it warns about nothing after it (not the implicit unknown-user check)', async () => {
    expect((await run('permit, warn_if_reject', { recipient: 'nobody@example.org' })).action).toBe('reject');
    expect((await run('warn_if_reject', { recipient: 'nobody@example.org' })).decidedBy).toBe('reject_unlisted_recipient');
  });
  it('only the next one', async () => {
    expect((await run('warn_if_reject, dunno, reject')).action).toBe('reject');
  });
  it('a lookup failure is never turned into a warning', async () => {
    const v = await run('warn_if_reject, check_sender_access hash:/s, permit', {}, { maps: { 'hash:/s': {} }, failingMaps: ['hash:/s'] });
    expect(replyLine(v)).toBe('451 4.3.5 <carol@sender.example>: Sender address rejected: Server configuration error');
  });
  it('a defer_if_permit under it is a warned deferral, not a held one', async () => {
    expect((await run('warn_if_reject, defer_if_permit, permit')).action).toBe('permit');
  });
});

describe('defer_if_permit', () => {
  it('450 4.7.0 at the end of the RCPT checks when nothing rejected, decided by defer_if_permit', async () => {
    const v = await run('defer_if_permit, permit');
    expect(replyLine(v)).toBe('450 4.7.0 <alice@example.org>: Recipient address rejected: defer_if_permit requested');
    expect(v.decidedBy).toBe('defer_if_permit');
    expect(v.trace.at(-1)).toMatchObject({ restriction: 'defer_if_permit', outcome: 'defer', reason: 'defer_if_permit: nothing rejected' });
  });
  it('a later reject wins', async () => {
    expect(replyLine(await run('defer_if_permit, reject'))).toBe('554 5.7.1 <alice@example.org>: Recipient address rejected: Access denied');
  });
  it('the first reason is kept', async () => {
    const v = await run('defer_if_permit, reject_unknown_sender_domain, permit', { sender: 'x@tmp.example' }, { domains: { 'tmp.example': 'temporary' } });
    expect(v.text).toBe('<alice@example.org>: Recipient address rejected: defer_if_permit requested');
  });
  it('no list item decides: still deferred', async () => {
    expect((await run('defer_if_permit')).action).toBe('defer');
  });
});

describe('defer_if_reject', () => {
  it('a later 5xx reject becomes 450 4.7.0', async () => {
    const v = await run('defer_if_reject, reject');
    expect(replyLine(v)).toBe('450 4.7.0 <alice@example.org>: Recipient address rejected: defer_if_reject requested');
    expect(v.trace.at(-1)?.reason).toMatch(/^defer_if_reject \(defer_if_reject\) instead of: /);
  });
  it('a permit stays a permit; a 4xx stays itself', async () => {
    expect((await run('defer_if_reject, permit')).action).toBe('permit');
    const v = await run('defer_if_reject, check_sender_access hash:/s', {}, { maps: { 'hash:/s': { 'sender.example': '421 4.7.0 busy' } } });
    expect(replyLine(v)).toBe('421 4.7.0 <carol@sender.example>: Sender address rejected: busy');
  });
  it('with both raised, the list stops and the permit deferral applies', async () => {
    const v = await run('defer_if_permit, defer_if_reject, reject');
    expect(replyLine(v)).toBe('450 4.7.0 <alice@example.org>: Recipient address rejected: defer_if_permit requested');
    expect(v.trace.some((t) => t.restriction === 'reject')).toBe(false);
  });
});
