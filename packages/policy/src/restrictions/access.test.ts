import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import { domainKeys, isPatternMap, mailAccessKeys, ownerKeys, stripExtension } from './access-keys.ts';
import { rcpt, testEngine } from './testing.ts';

describe('access map keys, in Postfix order', () => {
  const opts = { delimiter: '+', pdms: true, myOrigin: 'mx.example.org' };
  it('check_sender/recipient_access: address, without extension, domain and parents, user+ext@, user@', () => {
    expect(mailAccessKeys('Carol+News@Sub.Sender.Example', opts, false)).toEqual(['carol+news@sub.sender.example', 'carol@sub.sender.example', 'sub.sender.example', 'sender.example', 'example', 'carol+news@', 'carol@']);
    expect(mailAccessKeys('carol@sender.example', opts, false)).toEqual(['carol@sender.example', 'sender.example', 'example', 'carol@']);
  });
  it('parent_domain_matches_subdomains without smtpd_access_maps: .parent keys', () => {
    expect(mailAccessKeys('carol@sub.sender.example', { ...opts, pdms: false }, false)).toEqual(['carol@sub.sender.example', 'sub.sender.example', '.sender.example', '.example', 'carol@']);
  });
  it('no recipient_delimiter: no extension is stripped', () => {
    expect(mailAccessKeys('carol+news@x.example', { ...opts, delimiter: '' }, false)).toEqual(['carol+news@x.example', 'x.example', 'example', 'carol+news@']);
    expect(stripExtension('+news', '+')).toBeUndefined();
    expect(stripExtension('a-b+c', '+-')).toBe('a');
  });
  it('pattern tables (regexp, pcre, cidr) get the full key only', () => {
    expect(isPatternMap('regexp:/etc/postfix/x')).toBe(true);
    expect(isPatternMap('proxy:pcre:/x')).toBe(true);
    expect(isPatternMap('hash:/x')).toBe(false);
    expect(isPatternMap('texthash:/x')).toBe(false);
    expect(mailAccessKeys('carol+news@sender.example', opts, true)).toEqual(['carol+news@sender.example']);
    expect(domainKeys('a.b.example', true, true)).toEqual(['a.b.example']);
  });
  it('an unqualified address is qualified with myorigin', () => {
    expect(mailAccessKeys('carol', opts, false)).toEqual(['carol@mx.example.org', 'mx.example.org', 'example.org', 'org', 'carol@']);
  });
  it('check_helo_access: name and parents; an IP address only itself', () => {
    expect(domainKeys('Mail.Sender.Example', true, false)).toEqual(['mail.sender.example', 'sender.example', 'example']);
    expect(domainKeys('mail.sender.example', false, false)).toEqual(['mail.sender.example', '.sender.example', '.example']);
    expect(domainKeys('192.0.2.1', true, false)).toEqual(['192.0.2.1']);
  });
  it('smtpd_sender_login_maps: address, without extension, local part when the domain is ours, @domain', () => {
    expect(ownerKeys('alice+x@example.org', { delimiter: '+', myOrigin: 'mx.example.org' }, false)).toEqual(['alice+x@example.org', 'alice@example.org', '@example.org']);
    expect(ownerKeys('alice+x@mx.example.org', { delimiter: '+', myOrigin: 'mx.example.org' }, false)).toEqual(['alice+x@mx.example.org', 'alice@mx.example.org', 'alice+x', 'alice', '@mx.example.org']);
  });
});

describe('check_sender_access', () => {
  const spec = { recipientDelimiter: '+' };
  it('asks the keys in order and stops at the first found; REJECT: 554 5.7.1 Sender address rejected: Access denied', async () => {
    const { engine, maps } = testEngine({ list: 'check_sender_access hash:/s, permit', spec, maps: { 'hash:/s': { 'sender.example': 'REJECT' } } });
    const v = await engine.evaluate(rcpt({ sender: 'carol+news@sender.example' }));
    expect(maps.asked).toEqual([
      ['hash:/s', 'carol+news@sender.example'],
      ['hash:/s', 'carol@sender.example'],
      ['hash:/s', 'sender.example'],
    ]);
    expect(replyLine(v)).toBe('554 5.7.1 <carol+news@sender.example>: Sender address rejected: Access denied');
    expect(v.decidedBy).toBe('check_sender_access hash:/s');
    expect(v.trace.find((t) => t.restriction === 'check_sender_access hash:/s')).toMatchObject({ outcome: 'reject', reason: 'sender.example: REJECT' });
  });
  it('user@ matches any domain; a 4xx right-hand side defers with its code', async () => {
    const { engine } = testEngine({ list: 'check_sender_access hash:/s, permit', spec, maps: { 'hash:/s': { 'carol@': '451 4.7.1 slow down' } } });
    expect(replyLine(await engine.evaluate(rcpt()))).toBe('451 4.7.1 <carol@sender.example>: Sender address rejected: slow down');
  });
  it('DEFER: 450 4.7.1; OK permits; DUNNO goes on', async () => {
    const t = (rhs: string) => testEngine({ list: 'check_sender_access hash:/s, reject', spec, maps: { 'hash:/s': { 'carol@sender.example': rhs } } }).engine;
    expect(replyLine(await t('DEFER').evaluate(rcpt()))).toBe('450 4.7.1 <carol@sender.example>: Sender address rejected: Access denied');
    expect((await t('OK').evaluate(rcpt())).action).toBe('permit');
    expect((await t('DUNNO').evaluate(rcpt())).decidedBy).toBe('reject');
  });
  it('the null sender is looked up as <> (smtpd_null_access_lookup_key), nothing else', async () => {
    const { engine, maps } = testEngine({ list: 'check_sender_access hash:/s, permit', maps: { 'hash:/s': { '<>': 'REJECT no bounces here' } } });
    expect(replyLine(await engine.evaluate(rcpt({ sender: '' })))).toBe('554 5.7.1 <>: Sender address rejected: no bounces here');
    expect(maps.asked).toEqual([['hash:/s', '<>']]);
    const other = testEngine({ list: 'check_sender_access hash:/s, permit', spec: { nullAccessLookupKey: 'MAILER-DAEMON' }, maps: { 'hash:/s': { 'MAILER-DAEMON': 'REJECT' } } });
    expect((await other.engine.evaluate(rcpt({ sender: '' }))).action).toBe('reject');
  });
  it('a regexp table is asked once, with the full address', async () => {
    const { engine, maps } = testEngine({ list: 'check_sender_access regexp:/s, permit', spec, maps: { 'regexp:/s': {} } });
    expect((await engine.evaluate(rcpt({ sender: 'carol+x@sender.example' }))).action).toBe('permit');
    expect(maps.asked).toEqual([['regexp:/s', 'carol+x@sender.example']]);
  });
  it('a failed lookup: 451 4.3.5 Server configuration error (Postfix), sync and async', async () => {
    for (const async of [false, true]) {
      const { engine } = testEngine({ list: 'check_sender_access hash:/s, permit', failingMaps: ['hash:/s'], maps: { 'hash:/s': {} }, async });
      const v = await engine.evaluate(rcpt());
      expect(replyLine(v)).toBe('451 4.3.5 <carol@sender.example>: Sender address rejected: Server configuration error');
      expect(v.trace.at(-1)?.reason).toContain('lookup failed (scripted)');
    }
  });
  it('an unsupported action is a configuration error, 451 4.3.5', async () => {
    const { engine } = testEngine({ list: 'check_sender_access hash:/s, permit', maps: { 'hash:/s': { 'sender.example': 'HOLD' } } });
    expect(replyLine(await engine.evaluate(rcpt()))).toBe('451 4.3.5 <carol@sender.example>: Sender address rejected: Server configuration error');
  });
  it('before MAIL FROM it is skipped (stage)', async () => {
    const { engine } = testEngine({ list: 'check_sender_access hash:/s', spec: { delayReject: false }, maps: { 'hash:/s': {} } });
    const v = await engine.evaluate({ ...rcpt(), stage: 'helo', sender: undefined, recipient: undefined });
    expect(v.trace[0]).toMatchObject({ outcome: 'skip' });
  });
});

describe('check_recipient_access', () => {
  it('keys of the recipient; REJECT text names the recipient', async () => {
    const { engine, maps } = testEngine({ list: 'check_recipient_access hash:/r, permit', spec: { recipientDelimiter: '+' }, maps: { 'hash:/r': { 'alice@': 'REJECT gone' } } });
    expect(replyLine(await engine.evaluate(rcpt({ recipient: 'alice+tag@example.org' })))).toBe('554 5.7.1 <alice+tag@example.org>: Recipient address rejected: gone');
    expect(maps.asked.map(([, k]) => k)).toEqual(['alice+tag@example.org', 'alice@example.org', 'example.org', 'org', 'alice+tag@', 'alice@']);
  });
  it('an OK for a source-routed recipient is not trusted (DUNNO)', async () => {
    const { engine } = testEngine({ list: 'check_recipient_access hash:/r, reject', spec: { relayControl: 'caller' }, relay: '', maps: { 'hash:/r': { 'example.org': 'OK' } } });
    const v = await engine.evaluate(rcpt({ recipient: 'v%remote.example@example.org' }));
    expect(v.decidedBy).toBe('reject');
    expect(v.trace[0]?.reason).toContain('percent-hack is not trusted with OK');
    expect((await engine.evaluate(rcpt())).action).toBe('permit');
  });
});

describe('REJECT / DEFER with an enhanced status: what Debian Postfix 3.x answered (e2e-postfix has the same cases)', () => {
  const answer = async (rhs: string, recipient = 'u@example.org') => {
    const { engine } = testEngine({ list: 'check_recipient_access hash:/r, permit', maps: { 'hash:/r': { [recipient]: rhs } } });
    return replyLine(await engine.evaluate(rcpt({ recipient })));
  };
  it.each([
    ['DEFER 4.3.2 temp text', '450 4.3.2'],
    ['DEFER temp text', '450 4.7.1'],
    ['DEFER 5.1.1 wrong class', '450 4.1.1'],
    ['DEFER 2.0.0 success class', '450 4.0.0'],
    ['REJECT 5.1.3 bad syntax', '554 5.1.3'],
    ['REJECT 5.1.7 bad sender syntax', '554 5.1.3'],
    ['REJECT 5.1.1 no user', '554 5.1.1'],
    ['REJECT 4.1.1 wrong class', '554 5.1.1'],
    ['REJECT 2.0.0 success class', '554 5.0.0'],
    ['550 5.1.1 coded', '550 5.1.1'],
    ['450 4.3.2 coded', '450 4.3.2'],
    ['550 coded no status', '550 5.7.1'],
    ['550 5.1.7 coded', '550 5.1.3'],
    ['REJECT 4.1.8 x', '554 5.1.2'],
  ])('%s: %s (access_map_reject_code 554, access_map_defer_code 450; the class follows the code)', async (rhs, start) => {
    expect(await answer(rhs)).toMatch(new RegExp(`^${start} <u@example.org>: Recipient address rejected: `));
  });
  it('a sender is answered with the sender form of an address status, a HELO or client with X.0.0 (smtpd_dsn_fix)', async () => {
    const deferSender = testEngine({ list: 'check_sender_access hash:/s, permit', maps: { 'hash:/s': { 'sender.example': 'DEFER 4.1.3 no' } } }).engine;
    expect(replyLine(await deferSender.evaluate(rcpt()))).toBe('450 4.1.7 <carol@sender.example>: Sender address rejected: no');
    const sender = testEngine({ list: 'check_sender_access hash:/s, permit', maps: { 'hash:/s': { 'sender.example': 'REJECT 5.1.1 no' } } }).engine;
    expect(replyLine(await sender.evaluate(rcpt()))).toBe('554 5.1.7 <carol@sender.example>: Sender address rejected: no');
    const helo = testEngine({ list: 'check_helo_access hash:/h, permit', maps: { 'hash:/h': { 'sender.example': 'DEFER 4.1.8 no' } } }).engine;
    expect(replyLine(await helo.evaluate(rcpt()))).toBe('450 4.0.0 <mail.sender.example>: Helo command rejected: no');
  });
});

describe('check_helo_access', () => {
  it('HELO name and parents; the reply names the HELO', async () => {
    const { engine, maps } = testEngine({ list: 'check_helo_access hash:/h, permit', maps: { 'hash:/h': { 'sender.example': 'REJECT go away' } } });
    expect(replyLine(await engine.evaluate(rcpt()))).toBe('554 5.7.1 <mail.sender.example>: Helo command rejected: go away');
    expect(maps.asked.map(([, k]) => k)).toEqual(['mail.sender.example', 'sender.example']);
  });
  it('no HELO: skipped', async () => {
    const { engine } = testEngine({ list: 'check_helo_access hash:/h, permit', maps: { 'hash:/h': {} } });
    const v = await engine.evaluate(rcpt({ helo: undefined }));
    expect(v.trace.find((t) => t.restriction === 'check_helo_access hash:/h')).toMatchObject({ outcome: 'skip', reason: 'no HELO yet' });
  });
});

describe('check_client_access with other tables', () => {
  it('a regexp table gets the name and the address, no parents or prefixes', async () => {
    const { engine, maps } = testEngine({ list: 'check_client_access regexp:/c, permit', maps: { 'regexp:/c': {} } });
    await engine.evaluate(rcpt());
    expect(maps.asked.map(([, k]) => k)).toEqual(['mail.sender.example', '198.51.100.7']);
  });
  it('an unverified client is looked up as `unknown` (Postfix state->name)', async () => {
    const { engine, maps } = testEngine({ list: 'check_client_access hash:/c, permit', maps: { 'hash:/c': { unknown: 'REJECT no name' } } });
    expect(replyLine(await engine.evaluate(rcpt({ clientName: undefined })))).toBe('554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: no name');
    expect(maps.asked).toEqual([['hash:/c', 'unknown']]);
  });
  it('IPv6: the address cut at each last colon', async () => {
    const { engine, maps } = testEngine({ list: 'check_client_access hash:/c, permit', maps: { 'hash:/c': {} } });
    await engine.evaluate(rcpt({ clientAddress: '2001:db8::1', clientName: undefined }));
    expect(maps.asked.map(([, k]) => k)).toEqual(['unknown', '2001:db8::1', '2001:db8:', '2001:db8', '2001']);
  });
  it('a hash table: name and parents, address and prefixes (unchanged)', async () => {
    const { engine, maps } = testEngine({ list: 'check_client_access hash:/c, permit', maps: { 'hash:/c': {} } });
    await engine.evaluate(rcpt());
    expect(maps.asked.map(([, k]) => k)).toEqual(['mail.sender.example', 'sender.example', 'example', '198.51.100.7', '198.51.100', '198.51', '198']);
  });
});
