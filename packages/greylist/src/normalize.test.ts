import { describe, expect, it } from 'vitest';
import { addressDomain, normalizeRecipient, normalizeSender } from './normalize.ts';

describe('normalizeSender', () => {
  it.each([
    // plain, case, brackets
    ['John.Doe@Example.COM', 'john.doe@example.com'],
    ['<a@b.example>', 'a@b.example'],
    ['', '<>'],
    ['<>', '<>'],
    // address extension
    ['user+tag@example.com', 'user@example.com'],
    ['user+news+x@example.com', 'user@example.com'],
    // BATV prvs, both orders, msprvs
    ['prvs=1234abcdef=user@example.com', 'user@example.com'],
    ['prvs=2345bcdef0=user@example.com', 'user@example.com'],
    ['prvs=user=1234abcdef@example.com', 'user@example.com'],
    ['msprvs1=19851zQrAbCdE=bounces-12345@example.com', 'bounces-#@example.com'],
    ['btv1==1a2b3c4d5e6==user@example.com', 'user@example.com'],
    // SRS0 and SRS1 fold to the original sender
    ['SRS0=HHH1=TT=orig.example=alice@forwarder.example', 'alice@orig.example'],
    ['srs0=XyZ9=2K=orig.example=alice@forwarder.example', 'alice@orig.example'],
    ['SRS1=HHH=fwd1.example==HHH=TT=orig.example=alice@fwd2.example', 'alice@orig.example'],
    // SRS of a BATV address
    ['SRS0=h=tt=orig.example=prvs=1234abcdef=bob@fwd.example', 'bob@orig.example'],
    // VERP-ish per-message tokens
    ['bounces-12345@lists.example.com', 'bounces-#@lists.example.com'],
    ['bounce-mc.us5_1234567.89012-alice=example.net@mail.mcsv.net', 'bounce-mc.#_#.#-alice=example.net@mail.mcsv.net'],
    ['list-owner-4711@lists.example.org', 'list-owner-#@lists.example.org'],
    ['0100018c3f5a7b2e-4e1f9a2c-1d2e-4f3a-9b8c-7d6e5f4a3b2c-000000@amazonses.com', '#-#-1d2e-4f3a-9b8c-#-#@amazonses.com'],
    ['msg-a1b2c3d4e5f6@esp.example', 'msg-#@esp.example'],
    ['noreply-Xq7Zt9Lm3Np8Rs2Vw4@esp.example', 'noreply-#@esp.example'],
    // ordinary local parts are not folded
    ['john-smith@example.com', 'john-smith@example.com'],
    ['team.2b@example.com', 'team.2b@example.com'],
  ])('%s -> %s', (input, want) => {
    expect(normalizeSender(input)).toBe(want);
  });

  it('folds two VERP bounces of the same list to one sender', () => {
    const a = normalizeSender('bounces+1234-5678-alice=example.org@lists.example.com');
    const b = normalizeSender('bounces+9999-0000-alice=example.org@lists.example.com');
    expect(a).toBe(b);
    expect(normalizeSender('bounces-111-222@x.example')).toBe(normalizeSender('bounces-333-444@x.example'));
  });

  it('a BATV tag that changes per day maps to the same sender', () => {
    expect(normalizeSender('prvs=1123abcdef=u@d.example')).toBe(normalizeSender('prvs=1124fedcba=u@d.example'));
  });
});

describe('normalizeRecipient', () => {
  it.each([
    ['Alice@Example.NET', 'alice@example.net'],
    ['alice+lists@example.net', 'alice@example.net'],
    ['<bob@example.net>', 'bob@example.net'],
    ['bounces-123@example.net', 'bounces-123@example.net'],
  ])('%s -> %s', (input, want) => {
    expect(normalizeRecipient(input)).toBe(want);
  });
});

describe('addressDomain', () => {
  it('takes the envelope domain as written (the forwarder for SRS)', () => {
    expect(addressDomain('SRS0=h=tt=orig.example=a@Fwd.Example')).toBe('fwd.example');
    expect(addressDomain('')).toBe('');
  });
});
