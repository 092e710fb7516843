import type { DmarcView } from '@moat/config';
import { describe, expect, it } from 'vitest';
import { type DmarcFacts, dmarcDecision, trustedArcSealer } from './dmarc-policy.ts';

const defaults: DmarcView = { onReject: 'enforce', onQuarantine: 'quarantine', trustedArcSealers: ['lists.example.net'] };
const fail = (policy: DmarcFacts['policy'], more: Partial<DmarcFacts> = {}): DmarcFacts => ({ result: 'fail', domain: 'bank.example', policyDomain: 'bank.example', policy, ...more });
const arcPass = { result: 'pass', instance: 1, sealer: 'lists.example.net', aarDmarc: 'pass', aarFrom: 'bank.example' };

describe('dmarcDecision', () => {
  // [case, facts, exemption, settings, expected action, expected reason or text fragment]
  const table: Array<[string, Parameters<typeof dmarcDecision>[0], Parameters<typeof dmarcDecision>[1], Partial<DmarcView>, string, string]> = [
    ['not run (disabled, trusted relay)', undefined, undefined, {}, 'accept', 'not evaluated'],
    ['the check failed or timed out: tag, never reject', { error: 'timed out after 10000 ms' }, undefined, {}, 'tag', 'not evaluated: timed out'],
    ['pass', { result: 'pass', domain: 'bank.example', policy: 'reject' }, undefined, {}, 'accept', 'pass'],
    ['no record', { result: 'none', domain: 'bank.example' }, undefined, {}, 'accept', 'none'],
    ['temperror (DNS timeout): tag', { result: 'temperror', domain: 'bank.example', error: 'ETIMEOUT' }, undefined, {}, 'tag', 'temperror: ETIMEOUT'],
    ['p=reject: 550', fail('reject'), undefined, {}, 'reject', 'p=reject'],
    ['p=quarantine: held', fail('quarantine'), undefined, {}, 'quarantine', 'p=quarantine'],
    ['p=none: tag', fail('none'), undefined, {}, 'tag', 'p=none (monitoring)'],
    ['sp=reject of the organizational domain', fail('reject', { domain: 'mail.bank.example' }), undefined, {}, 'reject', 'sp=reject of bank.example'],
    ['on_reject: quarantine', fail('reject'), undefined, { onReject: 'quarantine' }, 'quarantine', 'p=reject'],
    ['on_reject: tag', fail('reject'), undefined, { onReject: 'tag' }, 'tag', 'mx.dmarc says tag'],
    ['on_quarantine: tag', fail('quarantine'), undefined, { onQuarantine: 'tag' }, 'tag', 'mx.dmarc says tag'],
    ['mynetworks exempt', fail('reject'), 'mynetworks', {}, 'tag', 'exempt: mynetworks'],
    ['SASL exempt', fail('reject'), 'sasl', {}, 'tag', 'exempt: sasl'],
    ['trusted ARC sealer', fail('reject', { arc: arcPass }), undefined, {}, 'tag', 'trusted ARC sealer lists.example.net'],
    ['ARC sealer not on the list', fail('reject', { arc: { ...arcPass, sealer: 'evil.example' } }), undefined, {}, 'reject', 'p=reject'],
    ['trusted sealer, but the chain fails', fail('reject', { arc: { ...arcPass, result: 'fail' } }), undefined, {}, 'reject', 'p=reject'],
    ['trusted sealer saw dmarc=fail too', fail('reject', { arc: { ...arcPass, aarDmarc: 'fail' } }), undefined, {}, 'reject', 'p=reject'],
    ['trusted sealer vouched for another From domain', fail('reject', { arc: { ...arcPass, aarFrom: 'other.example' } }), undefined, {}, 'reject', 'p=reject'],
    ['pct=50 sampled in: the policy', fail('reject', { pct: 50 }), undefined, {}, 'reject', 'p=reject'],
  ];
  for (const [name, facts, exemption, settings, action, fragment] of table) {
    it(name, () => {
      const d = dmarcDecision(facts, exemption, { ...defaults, ...settings }, () => 0.1);
      expect(d.action).toBe(action);
      expect(`${d.reason} ${d.text ?? ''}`).toContain(fragment);
    });
  }

  it('pct= not sampled: the next weaker policy (reject -> quarantine, quarantine -> none)', () => {
    expect(dmarcDecision(fail('reject', { pct: 50 }), undefined, defaults, () => 0.7)).toMatchObject({ action: 'quarantine', policy: 'quarantine', reason: 'p=quarantine (pct=50: reject not sampled)' });
    expect(dmarcDecision(fail('quarantine', { pct: 0 }), undefined, defaults, () => 0)).toMatchObject({ action: 'tag', policy: 'none' });
    expect(dmarcDecision(fail('reject', { pct: 100 }), undefined, defaults, () => 0.999).action).toBe('reject');
  });

  it('the reply names the domain and its policy as OpenDMARC does; the header is safe text', () => {
    expect(dmarcDecision(fail('reject'), undefined, defaults)).toMatchObject({ code: 550, text: '5.7.1 Rejected by DMARC policy for bank.example (p=reject)' });
    expect(dmarcDecision(fail('quarantine', { domain: 'b\r\nX: y' }), undefined, defaults).header).toBe('X-Moat-DMARC: fail (domain=b??X??y policy=quarantine; quarantined)');
    expect(dmarcDecision(fail('reject'), 'sasl', defaults).header).toBe('X-Moat-DMARC: fail (domain=bank.example policy=reject; exempt: sasl)');
  });

  it('a trusted sealer may be a parent domain of the seal d=; an untrusted chain is not consulted', () => {
    expect(trustedArcSealer(fail('reject', { arc: { ...arcPass, sealer: 'eu.lists.example.net' } }), ['lists.example.net'])).toBe('eu.lists.example.net');
    expect(trustedArcSealer(fail('reject', { arc: { ...arcPass, sealer: 'badlists.example.net' } }), ['lists.example.net'])).toBeUndefined();
    expect(trustedArcSealer(fail('reject', { arc: { ...arcPass, aarFrom: undefined } }), ['lists.example.net'])).toBeUndefined();
    expect(trustedArcSealer(fail('reject'), ['lists.example.net'])).toBeUndefined();
  });
});
