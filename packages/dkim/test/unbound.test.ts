// The published record as a real resolver serves it: a test Unbound with the TXT record (split into
// 255-octet strings), looked up through node:dns pointed at it; a signed message verifies through it.
import { Resolver } from 'node:dns/promises';
import { startUnbound, type UnboundServer } from '@moat/testkit';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkDkimRecord, dkimRecord, generateDkimKey, signIfConfigured } from '../src/index.ts';

const key = generateDkimKey('rsa', 2048);
const rec = dkimRecord('sender.test', 'moat1', key);
let unbound: UnboundServer;
let resolver: Resolver;

beforeAll(async () => {
  unbound = await startUnbound({
    stubZones: {},
    localZones: { 'sender.test': 'static' },
    localData: [`${rec.name}. 60 IN TXT ${rec.strings.map((s) => `"${s}"`).join(' ')}`],
  });
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([unbound.server]);
});
afterAll(async () => unbound?.stop());

it('moat dkim check finds the record the key needs, through the resolver', async () => {
  expect(rec.strings.length).toBeGreaterThan(1);
  expect(await checkDkimRecord('sender.test', 'moat1', key, resolver)).toEqual({ status: 'ok', name: rec.name });
  expect((await checkDkimRecord('sender.test', 'other', key, resolver)).status).toBe('missing');
});

it('a signed message verifies with mailauth against the served record', async () => {
  const msg = Buffer.from('From: Alice <alice@sender.test>\r\nTo: x@remote.test\r\nSubject: signed\r\n\r\nhello\r\n');
  const signed = await signIfConfigured(msg, [{ domain: 'sender.test', selector: 'moat1', privateKey: key.privateKeyPem }]);
  const v = await dkimVerify(signed.message, { resolver: (name: string, type: string) => resolver.resolve(name, type) as Promise<string[][]> });
  expect(v.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['sender.test', 'pass']]);
});
