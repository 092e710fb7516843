import { X509Certificate } from 'node:crypto';
import { createTestCa, selfSignedCert } from '@moat/testkit';
import { describe, expect, it } from 'vitest';
import { associationData, checkChain, formatTlsa, parseTlsa, tlsa311, usable } from './tlsa.ts';

const der = (pem: string) => Buffer.from(new X509Certificate(pem).raw);

describe('TLSA matching (RFC 7672)', () => {
  it('DANE-EE 3 1 1 matches the leaf key whatever its name or issuer', async () => {
    const leaf = await selfSignedCert(['other.name.test']);
    const r = tlsa311(leaf.cert);
    expect(formatTlsa(r)).toMatch(/^3 1 1 [0-9a-f]{64}$/);
    expect(parseTlsa(Buffer.concat([Buffer.from([3, 1, 1]), r.data]))).toEqual(r);
    expect(checkChain([r], [der(leaf.cert)], ['mx.example.test'])).toBeUndefined();
    const other = await selfSignedCert(['mx.example.test']);
    expect(checkChain([r], [der(other.cert)], ['mx.example.test'])).toMatch(/no TLSA/);
  });

  it('a renewed certificate on the same key still matches 3 1 1 (the record survives renewal)', async () => {
    const first = await selfSignedCert(['mx.example.test']);
    const renewed = await selfSignedCert(['mx.example.test'], { key: first.key });
    expect(checkChain([tlsa311(first.cert)], [der(renewed.cert)], ['mx.example.test'])).toBeUndefined();
  });

  it('DANE-TA 2 0 1 needs the CA in the chain, a real signature and the MX name', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue(['mx.example.test']);
    const ta = { usage: 2, selector: 0, matchingType: 1, data: associationData(der(ca.cert), 0, 1) };
    expect(checkChain([ta], [der(leaf.cert), der(ca.cert)], ['mx.example.test', 'example.test'])).toBeUndefined();
    expect(checkChain([ta], [der(leaf.cert), der(ca.cert)], ['mx.elsewhere.test'])).toMatch(/no TLSA/);
    expect(checkChain([ta], [der(leaf.cert)], ['mx.example.test'])).toMatch(/no TLSA/); // CA not presented
    const forged = await selfSignedCert(['mx.example.test']);
    expect(checkChain([ta], [der(forged.cert), der(ca.cert)], ['mx.example.test'])).toMatch(/no TLSA/);
  });

  it('PKIX usages 0 and 1 and unknown parameters are unusable for SMTP', () => {
    const d = Buffer.alloc(32);
    expect(usable({ usage: 1, selector: 1, matchingType: 1, data: d })).toBe(false);
    expect(usable({ usage: 0, selector: 0, matchingType: 1, data: d })).toBe(false);
    expect(usable({ usage: 3, selector: 2, matchingType: 1, data: d })).toBe(false);
    expect(usable({ usage: 3, selector: 1, matchingType: 3, data: d })).toBe(false);
    expect(usable({ usage: 3, selector: 1, matchingType: 2, data: d })).toBe(true);
  });
});
