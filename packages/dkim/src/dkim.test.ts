import { dkimVerify } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { checkDkimRecord } from './check.ts';
import { describePrivateKey, dkimRecord, generateDkimKey, parseDkimRecord } from './keys.ts';
import { fromAddress, keysFor, matchesFrom, signIfConfigured } from './sign.ts';

const message = (from: string) => Buffer.from(`From: ${from}\r\nTo: bob@remote.test\r\nSubject: hello\r\nMessage-ID: <1@example.org>\r\n\r\nbody\r\n`);

/** A resolver serving exactly the given TXT records. */
const zone = (records: Record<string, string[]>) => ({
  async resolveTxt(name: string): Promise<string[][]> {
    const r = records[name.toLowerCase()];
    if (!r) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return r.map((t) => [t]);
  },
});

describe('keys and records', () => {
  it.each(['rsa', 'ed25519'] as const)('a %s key signs a message that verifies against its published record', async (type) => {
    const key = generateDkimKey(type);
    const rec = dkimRecord('Example.org.', 's1', key);
    expect(rec.name).toBe('s1._domainkey.example.org');
    expect(rec.value).toBe(`v=DKIM1; k=${type}; p=${key.publicKey}`);
    expect(rec.strings.every((s) => s.length <= 255)).toBe(true);
    expect(rec.strings.join('')).toBe(rec.value);
    const signed = await signIfConfigured(message('Alice <alice@example.org>'), [{ domain: 'example.org', selector: 's1', privateKey: key.privateKeyPem }]);
    expect(signed.signedBy).toBe('example.org/s1');
    const dns = zone({ [rec.name]: [rec.value] });
    const v = await dkimVerify(signed.message, { resolver: async (name: string) => dns.resolveTxt(name) });
    expect(v.results.map((r) => r.status.result)).toEqual(['pass']);
  });

  it('reads the type and public key back from a PEM', () => {
    const key = generateDkimKey('ed25519');
    expect(describePrivateKey(key.privateKeyPem)).toEqual({ type: 'ed25519', publicKey: key.publicKey });
    expect(Buffer.from(key.publicKey, 'base64')).toHaveLength(32);
    expect(() => generateDkimKey('rsa', 512)).toThrow(/1024/);
  });

  it('parses record tags', () => {
    expect(Object.fromEntries(parseDkimRecord('v=DKIM1; k=rsa;\tp=AB CD'))).toEqual({ v: 'DKIM1', k: 'rsa', p: 'ABCD' });
  });
});

describe('the signing table', () => {
  it('matches addresses, whole domains and subdomains', () => {
    expect(matchesFrom('alice@example.org', 'alice@example.org')).toBe(true);
    expect(matchesFrom('alice@example.org', 'bob@example.org')).toBe(false);
    expect(matchesFrom('*@example.org', 'bob@example.org')).toBe(true);
    expect(matchesFrom('example.org', 'bob@example.org')).toBe(true);
    expect(matchesFrom('example.org', 'bob@sub.example.org')).toBe(false);
    expect(matchesFrom('*.example.org', 'bob@sub.example.org')).toBe(true);
    expect(matchesFrom('*.example.org', 'bob@example.org')).toBe(false);
  });

  it('finds the From address in folded and display-name forms', () => {
    expect(fromAddress(Buffer.from('Subject: x\r\nFrom: "Doe, Jane"\r\n <Jane@Example.ORG>\r\n\r\nb'))).toBe('jane@example.org');
    expect(fromAddress(Buffer.from('From: jane@example.org\r\n\r\nb'))).toBe('jane@example.org');
    expect(fromAddress(Buffer.from('Subject: none\r\n\r\nFrom: a@b.example\r\n'))).toBeNull();
  });

  it('signs with both selectors during a rotation, and with nothing for a domain it has no entry for', async () => {
    const old = generateDkimKey('rsa');
    const next = generateDkimKey('ed25519');
    const keys = [
      { domain: 'example.org', selector: 'old', privateKey: old.privateKeyPem },
      { domain: 'example.org', selector: 'new', privateKey: next.privateKeyPem },
      { domain: 'example.org', selector: 'old', privateKey: old.privateKeyPem, match: '*@example.org' },
    ];
    expect(keysFor('a@example.org', keys).map((k) => k.selector)).toEqual(['old', 'new']);
    const signed = await signIfConfigured(message('a@example.org'), keys);
    expect(signed.signedBy).toBe('example.org/old,example.org/new');
    const dns = zone({ 'old._domainkey.example.org': [dkimRecord('example.org', 'old', old).value], 'new._domainkey.example.org': [dkimRecord('example.org', 'new', next).value] });
    const v = await dkimVerify(signed.message, { resolver: async (name: string) => dns.resolveTxt(name) });
    expect(v.results.map((r) => r.status.result)).toEqual(['pass', 'pass']);
    const other = await signIfConfigured(message('a@elsewhere.example'), keys);
    expect(other.signedBy).toBeUndefined();
    expect(other.message.equals(message('a@elsewhere.example'))).toBe(true);
  });

  it('an address entry signs only that sender', async () => {
    const key = generateDkimKey('ed25519');
    const keys = [{ domain: 'example.org', selector: 'ceo', privateKey: key.privateKeyPem, match: 'ceo@example.org' }];
    expect((await signIfConfigured(message('ceo@example.org'), keys)).signedBy).toBe('example.org/ceo');
    expect((await signIfConfigured(message('intern@example.org'), keys)).signedBy).toBeUndefined();
  });
});

describe('checking the published record', () => {
  const key = generateDkimKey('rsa');
  const rec = dkimRecord('example.org', 's1', key);
  it('says ok, missing, mismatch or error', async () => {
    expect(await checkDkimRecord('example.org', 's1', key, zone({ [rec.name]: [rec.value] }))).toEqual({ status: 'ok', name: rec.name });
    expect((await checkDkimRecord('example.org', 's1', key, zone({}))).status).toBe('missing');
    const other = generateDkimKey('rsa');
    const wrong = await checkDkimRecord('example.org', 's1', key, zone({ [rec.name]: [dkimRecord('example.org', 's1', other).value] }));
    expect(wrong).toMatchObject({ status: 'mismatch', reason: 'p= is another public key' });
    const revoked = await checkDkimRecord('example.org', 's1', key, zone({ [rec.name]: ['v=DKIM1; k=rsa; p='] }));
    expect(revoked).toMatchObject({ status: 'mismatch', reason: 'the key is revoked (empty p=)' });
    const failing = { resolveTxt: async () => Promise.reject(Object.assign(new Error('queryTxt ETIMEOUT'), { code: 'ETIMEOUT' })) };
    expect(await checkDkimRecord('example.org', 's1', key, failing)).toMatchObject({ status: 'error' });
  });
});
