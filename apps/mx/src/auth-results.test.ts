import { describe, expect, it } from 'vitest';
import { dmarcFacts } from './auth-results.ts';

describe('dmarcFacts (mailauth result -> DMARC enforcement input)', () => {
  it('reads the applied policy, pct= from the record, and the newest ARC seal (the chain is a hidden property)', () => {
    const arc = { status: { result: 'pass' }, i: 2, authenticationResults: { dmarc: { result: 'pass', header: { from: 'Bank.Example' } } } };
    Object.defineProperty(arc, 'chain', { value: [{ 'arc-seal': { parsed: { d: { value: 'first.example' } } } }, { 'arc-seal': { parsed: { d: { value: 'Lists.Example.' } } } }], enumerable: false });
    const f = dmarcFacts({ dmarc: { status: { result: 'fail', header: { from: 'bank.example' } }, policy: 'reject', policyDomain: 'bank.example', rr: 'v=DMARC1; p=reject; pct=25' }, arc });
    expect(f).toEqual({ result: 'fail', domain: 'bank.example', policyDomain: 'bank.example', policy: 'reject', pct: 25, error: undefined, arc: { result: 'pass', instance: 2, sealer: 'lists.example', aarDmarc: 'pass', aarFrom: 'bank.example' } });
  });

  it('no chain (mailauth: chain false), no ARC result, no DMARC result', () => {
    const arc = { status: { result: 'none' }, i: 0 };
    Object.defineProperty(arc, 'chain', { value: false, enumerable: false });
    expect(dmarcFacts({ dmarc: { status: { result: 'none' } }, arc })?.arc).toEqual({ result: 'none', instance: 0, sealer: undefined, aarDmarc: undefined, aarFrom: undefined });
    expect(dmarcFacts({ dmarc: { status: { result: 'pass' } }, arc: false })?.arc).toBeUndefined();
    expect(dmarcFacts({ dmarc: false })).toBeUndefined();
  });
});
