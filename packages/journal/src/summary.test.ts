import type { Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, type JournalEntry } from './entry.ts';
import { lookupFailed, summarize, zoneOfTrace } from './summary.ts';

const verdict = (over: Partial<Verdict>): Verdict => ({ action: 'continue', status: '2.0.0', text: '', prepend: [], trace: [], ...over });
const entry = (v: Verdict, time = 1000): JournalEntry => ({ time, node: 'mx1', facts: { stage: 'rcpt', clientAddress: '192.0.2.1', tls: false }, verdict: v });

describe('summarize', () => {
  it('counts decisions by restriction/action and DNS list zones from the trace', () => {
    const rbl = verdict({
      action: 'reject',
      status: '5.7.1',
      decidedBy: 'reject_rbl_client zen.example',
      trace: [
        { restriction: 'permit_dnswl_client list.dnswl.example=127.0.[0..255].[2..3]', list: 'recipient', outcome: 'dunno', ms: 1 },
        { restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'reject', ms: 1 },
      ],
    });
    const grey = verdict({
      action: 'defer',
      decidedBy: 'check_policy_service inet:127.0.0.1:10023',
      greylisted: true,
      trace: [
        { restriction: 'permit_dnswl_client list.dnswl.example=127.0.[0..255].[2..3]', list: 'recipient', outcome: 'error', ms: 1 },
        { restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'dunno', ms: 1 },
        { restriction: 'check_policy_service inet:127.0.0.1:10023', list: 'recipient', outcome: 'defer', ms: 1 },
      ],
    });
    const s = summarize([entry(rbl, 5), entry(rbl, 7), entry(grey, 6), entry(verdict({}), 9)]);
    expect(s).toMatchObject({ decisions: 4, from: 5, to: 9, byAction: { reject: 2, defer: 1, continue: 1 } });
    expect(s.byRestriction[0]).toEqual({ restriction: 'reject_rbl_client zen.example', action: 'reject', count: 2 });
    expect(s.byRestriction.map((r) => r.restriction)).toContain('none');
    expect(s.byZone).toEqual([
      { zone: 'zen.example', checked: 3, hits: 2, errors: 0 },
      { zone: 'list.dnswl.example', checked: 3, hits: 0, errors: 1 },
    ]);
  });

  it('counts a lookup the engine failed open on (SERVFAIL, timeout) as an error, not as a clean not-listed', () => {
    const servfail = verdict({
      action: 'permit',
      trace: [{ restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'dunno', reason: '10.2.0.192: unknown, treated as not listed (SERVFAIL)', ms: 1 }],
    });
    const clean = verdict({ action: 'permit', trace: [{ restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'dunno', ms: 1 }] });
    expect(summarize([entry(servfail), entry(servfail), entry(clean)]).byZone).toEqual([{ zone: 'zen.example', checked: 3, hits: 0, errors: 2 }]);
    expect(lookupFailed({ outcome: 'dunno', reason: '192.0.2.1: listed 127.0.0.9, no code matches 127.0.0.2' })).toBe(false);
    expect(lookupFailed({ outcome: 'dunno', reason: 'x.example: unknown (no answer)' })).toBe(true);
  });

  it('knows which trace lines are DNS lists', () => {
    expect(zoneOfTrace('reject_rhsbl_sender dbl.example.')).toBe('dbl.example');
    expect(zoneOfTrace('reject_unauth_destination')).toBeUndefined();
    expect(zoneOfTrace('check_client_access cidr:/etc/x')).toBeUndefined();
  });
});

describe('entry encoding', () => {
  it('caps untrusted strings and round-trips', () => {
    const e = entry(verdict({ action: 'reject', text: 't'.repeat(5000) }));
    e.facts.helo = 'h'.repeat(10_000);
    const back = decodeEntry('5-0', encodeEntry(e))!;
    expect(back.facts.helo!.length).toBeLessThan(600);
    expect(back.verdict.text.length).toBeLessThan(1100);
    expect(back).toMatchObject({ id: '5-0', time: 1000, node: 'mx1', verdict: { action: 'reject' } });
  });

  it('refuses what is not an entry', () => {
    expect(decodeEntry('1-0', 'not json')).toBeUndefined();
    expect(decodeEntry('1-0', '{"v":2}')).toBeUndefined();
    expect(decodeEntry('1-0', undefined)).toBeUndefined();
  });
});
