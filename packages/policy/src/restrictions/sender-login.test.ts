import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import type { PolicySpec } from '../types.ts';
import { rcpt, testEngine } from './testing.ts';

const LOGIN = { 'hash:/login': { 'alice@example.org': 'alice', '@example.org': 'admin, postmaster', 'shared@example.org': 'alice,bob', 'ceo@mx.example.org': 'boss', boss: 'boss' } };
const spec = { senderLoginMaps: ['hash:/login'], recipientDelimiter: '+' };
const run = async (restriction: string, f: Parameters<typeof rcpt>[0], s: Partial<PolicySpec> = spec, async = false) => {
  const t = testEngine({ list: `${restriction}, permit`, spec: s, maps: LOGIN, async });
  return { v: await t.engine.evaluate(rcpt(f)), asked: t.maps.asked };
};

describe('reject_sender_login_mismatch (Postfix: authenticated, then unauthenticated)', () => {
  it('a user may send as her own address, with or without extension, in any case', async () => {
    for (const sender of ['alice@example.org', 'Alice+news@Example.org']) {
      const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender });
      expect(v.action, sender).toBe('permit');
      expect(v.trace.find((t) => t.restriction === 'reject_sender_login_mismatch')?.reason).toMatch(/owned by alice/);
    }
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'ALICE', sender: 'alice@example.org' })).v.action).toBe('permit');
  });
  it('not as another owner\'s address: 553 5.7.1 ... not owned by user alice', async () => {
    const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender: 'ceo@example.org' });
    expect(replyLine(v)).toBe('553 5.7.1 <ceo@example.org>: Sender address rejected: not owned by user alice');
    expect(v.decidedBy).toBe('reject_sender_login_mismatch');
    expect(v.trace.at(-1)?.reason).toBe('owners: admin, postmaster');
  });
  it('an address with several owners', async () => {
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'bob', sender: 'shared@example.org' })).v.action).toBe('permit');
  });
  it('an address nobody owns is refused to a logged-in user (FORBID_UNKNOWN_SENDER)', async () => {
    const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender: 'carol@elsewhere.example' });
    expect(replyLine(v)).toBe('553 5.7.1 <carol@elsewhere.example>: Sender address rejected: not owned by user alice');
    expect(v.trace.at(-1)?.reason).toBe('carol@elsewhere.example has no owner');
  });
  it('without a login, an owned address is refused: not logged in', async () => {
    const { v } = await run('reject_sender_login_mismatch', { sender: 'alice@example.org' });
    expect(replyLine(v)).toBe('553 5.7.1 <alice@example.org>: Sender address rejected: not logged in');
    expect((await run('reject_sender_login_mismatch', { sender: 'carol@elsewhere.example' })).v.action).toBe('permit');
  });
  it('the null sender is not checked', async () => {
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender: '' })).v.action).toBe('permit');
  });
  // Checked against Debian's Postfix 3.7.11 (empty smtpd_sender_login_maps, XCLIENT LOGIN=alice@example.org,
  // smtpd_sender_restrictions = reject_sender_login_mismatch): 553 for every sender, the login's own address too.
  it('no maps: nobody owns anything, so a logged-in client is refused every sender (as Postfix)', async () => {
    for (const sender of ['ceo@example.org', 'alice@example.org']) {
      const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'alice@example.org', sender }, {});
      expect(replyLine(v)).toBe(`553 5.7.1 <${sender}>: Sender address rejected: not owned by user alice@example.org`);
      expect(v.trace.at(-1)?.reason).toBe(`no smtpd_sender_login_maps: ${sender} has no owner`);
    }
    expect((await run('reject_authenticated_sender_login_mismatch', { saslUsername: 'alice', sender: 'x@example.org' }, {})).v.action).toBe('reject');
    // unknown senders allowed, and nobody needs a login for an address nobody owns
    expect((await run('reject_known_sender_login_mismatch', { saslUsername: 'alice', sender: 'x@example.org' }, {})).v.action).toBe('permit');
    expect((await run('reject_sender_login_mismatch', { sender: 'x@example.org' }, {})).v.action).toBe('permit');
  });
  it('keys in mail_addr_find order: address, without extension, @domain; the local part for our own host name', async () => {
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'x', sender: 'nobody+y@example.org' })).asked.map(([, k]) => k)).toEqual(['nobody+y@example.org', 'nobody@example.org', '@example.org']);
    const { v, asked } = await run('reject_sender_login_mismatch', { saslUsername: 'boss', sender: 'boss@mx.example.org' });
    expect(asked.map(([, k]) => k)).toEqual(['boss@mx.example.org', 'boss']);
    expect(v.action).toBe('permit');
  });
  it('several maps: each key in every map before the next key', async () => {
    const t = testEngine({ list: 'reject_sender_login_mismatch, permit', spec: { senderLoginMaps: ['hash:/a', 'hash:/b'] }, maps: { 'hash:/a': {}, 'hash:/b': { '@example.org': 'alice' } } });
    await t.engine.evaluate(rcpt({ saslUsername: 'alice', sender: 'x@example.org' }));
    expect(t.maps.asked).toEqual([
      ['hash:/a', 'x@example.org'],
      ['hash:/b', 'x@example.org'],
      ['hash:/a', '@example.org'],
      ['hash:/b', '@example.org'],
    ]);
  });
  it('a failed lookup: 451 4.3.0 <sender>: Temporary lookup failure (sync and async)', async () => {
    for (const async of [false, true]) {
      const t = testEngine({ list: 'reject_sender_login_mismatch, permit', spec, maps: LOGIN, failingMaps: ['hash:/login'], async });
      expect(replyLine(await t.engine.evaluate(rcpt({ saslUsername: 'alice', sender: 'alice@example.org' })))).toBe('451 4.3.0 <alice@example.org>: Temporary lookup failure');
    }
  });
  it('the async port gives the same answers', async () => {
    expect(replyLine((await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender: 'ceo@example.org' }, spec, true)).v)).toBe('553 5.7.1 <ceo@example.org>: Sender address rejected: not owned by user alice');
  });
});

describe('the other three forms', () => {
  it('reject_authenticated_sender_login_mismatch: only logged-in clients, unknown senders refused', async () => {
    expect((await run('reject_authenticated_sender_login_mismatch', { sender: 'alice@example.org' })).v.action).toBe('permit');
    expect((await run('reject_authenticated_sender_login_mismatch', { saslUsername: 'alice', sender: 'carol@elsewhere.example' })).v.action).toBe('reject');
    expect((await run('reject_authenticated_sender_login_mismatch', { saslUsername: 'alice', sender: 'ceo@example.org' })).v.action).toBe('reject');
  });
  it('reject_known_sender_login_mismatch: an address nobody owns is allowed', async () => {
    expect((await run('reject_known_sender_login_mismatch', { saslUsername: 'alice', sender: 'carol@elsewhere.example' })).v.action).toBe('permit');
    expect(replyLine((await run('reject_known_sender_login_mismatch', { saslUsername: 'alice', sender: 'ceo@example.org' })).v)).toBe('553 5.7.1 <ceo@example.org>: Sender address rejected: not owned by user alice');
    expect(replyLine((await run('reject_known_sender_login_mismatch', { sender: 'alice@example.org' })).v)).toBe('553 5.7.1 <alice@example.org>: Sender address rejected: not logged in');
  });
  it('reject_unauthenticated_sender_login_mismatch: only clients without a login', async () => {
    expect((await run('reject_unauthenticated_sender_login_mismatch', { saslUsername: 'alice', sender: 'ceo@example.org' })).v.action).toBe('permit');
    expect(replyLine((await run('reject_unauthenticated_sender_login_mismatch', { sender: 'ceo@example.org' })).v)).toBe('553 5.7.1 <ceo@example.org>: Sender address rejected: not logged in');
  });
});

describe('loginOwnsItself (moat: the listeners\' check only)', () => {
  const own = { ...spec, loginOwnsItself: true };
  it('a login that is an address owns it, with an extension, in any case, even where the map names others', async () => {
    for (const sender of ['carol@example.org', 'Carol+x@Example.ORG']) {
      const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'carol@example.org', sender }, own);
      expect(v.action, sender).toBe('permit');
      expect(v.trace.find((t) => t.restriction === 'reject_sender_login_mismatch')?.reason).toBe(`${sender} is the login carol@example.org's own address`);
    }
    // without maps too
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'carol@example.org', sender: 'carol@example.org' }, { loginOwnsItself: true })).v.action).toBe('permit');
  });
  it('a bare login owns login@ each domain of ours (the recipient directory), with an extension; never a remote domain', async () => {
    for (const async of [false, true]) {
      for (const sender of ['carol@example.org', 'Carol+x@example.org']) {
        const { v } = await run('reject_sender_login_mismatch', { saslUsername: 'carol', sender }, { loginOwnsItself: true, recipientDelimiter: '+' }, async);
        expect(v.action, `${sender} async=${async}`).toBe('permit');
      }
      expect((await run('reject_sender_login_mismatch', { saslUsername: 'carol', sender: 'carol@elsewhere.example' }, { loginOwnsItself: true }, async)).v.action).toBe('reject');
      expect((await run('reject_sender_login_mismatch', { saslUsername: 'carol', sender: 'dave@example.org' }, { loginOwnsItself: true }, async)).v.action).toBe('reject');
    }
  });
  it('nothing else: other addresses still need the map', async () => {
    expect(replyLine((await run('reject_sender_login_mismatch', { saslUsername: 'carol@example.org', sender: 'ceo@example.org' }, own)).v)).toBe(
      '553 5.7.1 <ceo@example.org>: Sender address rejected: not owned by user carol@example.org',
    );
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'carol@example.org', sender: 'carol@example.org.evil' }, own)).v.action).toBe('reject');
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'alice', sender: 'alice@example.org' }, own)).v.action).toBe('permit');
  });
  it('a failure after the directory said "not ours" (a broken map answer) is 451 4.3.0, not an escaped exception (sync and async)', async () => {
    // a port answering a non-string: byMaps' split throws inside the continuation classifyOther calls
    const maps = { 'hash:/login': { 'carol@elsewhere.example': 42 as unknown as string } };
    for (const async of [false, true]) {
      const t = testEngine({ list: 'reject_sender_login_mismatch, permit', spec: { ...own, loginOwnsItself: true }, maps, async });
      const v = await t.engine.evaluate(rcpt({ saslUsername: 'carol', sender: 'carol@elsewhere.example' }));
      expect(replyLine(v), `async=${async}`).toBe('451 4.3.0 <carol@elsewhere.example>: Temporary lookup failure');
      // sync: the exception reaches ownAddress's guard; async: the map lookup's own Wait.fail takes it first
      expect(v.trace.at(-1)?.reason).toMatch(async ? /^smtpd_sender_login_maps: .*split/ : /^recipient directory: .*split/);
    }
  });
  it('off by default: Postfix\'s lists keep Postfix\'s answer', async () => {
    expect((await run('reject_sender_login_mismatch', { saslUsername: 'carol@example.org', sender: 'carol@example.org' })).v.action).toBe('reject');
  });
});
