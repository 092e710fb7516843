import { describe, expect, it } from 'vitest';
import { createMemoryDnsList, type DnsScript } from '../memory-ports.ts';
import { parseDnsblSites } from '../dnsbl-sites.ts';
import { replyLine } from '../reply.ts';
import type { DnsListAnswer, DnsListQuery, PolicySpec, TraceEntry, Verdict } from '../types.ts';
import { rcpt, testEngine } from './testing.ts';

const SITES = parseDnsblSites('k3y.zen.dq.spamhaus.net=127.0.0.[2..11]*3, bl.example*2, bl.spamcop.example, list.dnswl.example=127.0.[0..255].[1..3]*-2');
const spec = (s: Partial<PolicySpec> = {}): Partial<PolicySpec> => ({ dnsblSites: SITES, dnsblThreshold: 3, zoneDisplayNames: { 'k3y.zen.dq.spamhaus.net': 'zen.dq.spamhaus.net' }, ...s });
const A = '198.51.100.7';
const at = (v: Verdict, name: string): TraceEntry => v.trace.find((e) => e.restriction === name)!;

describe('reject_dnsbl_score: postscreen_dnsbl_sites summed against postscreen_dnsbl_threshold', () => {
  it('rejects at the threshold with 554 5.7.1, naming the display names that added, never the DQS key', async () => {
    const dns: DnsScript = { 'k3y.zen.dq.spamhaus.net': { [A]: { codes: ['127.0.0.4'] } }, 'bl.spamcop.example': { [A]: { codes: ['127.0.0.2'] } } };
    const t = testEngine({ list: 'reject_dnsbl_score, permit', spec: spec(), dns });
    const v = await t.engine.evaluate(rcpt());
    expect(replyLine(v)).toBe(`554 5.7.1 Service unavailable; Client host [${A}] blocked using zen.dq.spamhaus.net, bl.spamcop.example (DNSBL score 4)`);
    expect(v.decidedBy).toBe('reject_dnsbl_score');
    expect(at(v, 'reject_dnsbl_score').reason).toBe('score 4: zen.dq.spamhaus.net=127.0.0.[2..11]*3 127.0.0.4 +3, bl.spamcop.example 127.0.0.2 +1 (threshold 3)');
    expect(JSON.stringify(v)).not.toMatch(/k3y/);
  });
  it('an allow list pulls the sum below the threshold: the next restriction decides', async () => {
    const dns: DnsScript = {
      'k3y.zen.dq.spamhaus.net': { [A]: { codes: ['127.0.0.4'] } },
      'bl.spamcop.example': { [A]: { codes: ['127.0.0.2'] } },
      'list.dnswl.example': { [A]: { codes: ['127.0.10.2'] } },
    };
    const t = testEngine({ list: 'reject_dnsbl_score, permit', spec: spec(), dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('permit');
    expect(at(v, 'reject_dnsbl_score')).toMatchObject({ outcome: 'dunno', reason: expect.stringContaining('list.dnswl.example=127.0.[0..255].[1..3]*-2 127.0.10.2 -2') });
    expect(at(v, 'reject_dnsbl_score').reason).toMatch(/^score 2:/);
  });
  it('the mail it lets through carries X-Moat-DNSBL-Score (display names, once) for content scoring', async () => {
    const dns: DnsScript = { 'k3y.zen.dq.spamhaus.net': { [A]: { codes: ['127.0.0.4'] } }, 'list.dnswl.example': { [A]: { codes: ['127.0.10.2'] } } };
    const t = testEngine({ list: 'permit_dnsbl_score, reject_dnsbl_score, permit', spec: spec(), dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.prepend).toEqual(['X-Moat-DNSBL-Score: 1 (zen.dq.spamhaus.net +3, list.dnswl.example -2)']);
    const clean = await t.engine.evaluate(rcpt({ clientAddress: '198.51.100.9' }));
    expect(clean.prepend).toEqual(['X-Moat-DNSBL-Score: 0']);
  });
  it("a site's pattern decides what counts: an answer outside it adds nothing; two entries of one zone may both add", async () => {
    const sites = parseDnsblSites('zen.example=127.0.0.[2..3]*2 zen.example=127.0.0.[10..11]*1 zen.example=127.0.0.4*5');
    const dns: DnsScript = { 'zen.example': { [A]: { codes: ['127.0.0.3', '127.0.0.10'] } } };
    const t = testEngine({ list: 'reject_dnsbl_score, permit', spec: { dnsblSites: sites, dnsblThreshold: 3 }, dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('reject');
    expect(at(v, 'reject_dnsbl_score').reason).toBe('score 3: zen.example=127.0.0.[2..3]*2 127.0.0.3 +2, zen.example=127.0.0.[10..11] 127.0.0.10 +1 (threshold 3)');
  });
  it('the default threshold is 1: a bare name is weight 1, any answer', async () => {
    const t = testEngine({ list: 'reject_dnsbl_score, permit', spec: { dnsblSites: parseDnsblSites('bl.example') }, dns: { 'bl.example': { [A]: { codes: ['127.0.0.9'] } } } });
    expect((await t.engine.evaluate(rcpt())).action).toBe('reject');
  });
  it('a failed lookup adds 0 (fail open) and is named in the trace', async () => {
    const dns: DnsScript = { 'k3y.zen.dq.spamhaus.net': { [A]: 'unknown' }, 'bl.example': { [A]: { codes: ['127.0.0.2'] } } };
    const t = testEngine({ list: 'reject_dnsbl_score, permit', spec: spec(), dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('permit');
    expect(at(v, 'reject_dnsbl_score').reason).toBe('score 2: bl.example*2 127.0.0.2 +2; unknown, counted 0: zen.dq.spamhaus.net (threshold 3)');
  });
  it('the list profile decides first: answers the port dropped (error codes, other use) never count', async () => {
    // the port answers not-listed for a code of the other use (a mixed list's allow code asked for block)
    const sites = parseDnsblSites('mixed.example*2 mixed.example=127.0.0.1*-3');
    const dns: DnsScript = { 'mixed.example': { [A]: { codes: ['127.0.0.1'], use: 'allow' } } };
    const t = testEngine({ list: 'permit_dnsbl_score, reject_dnsbl_score, permit', spec: { dnsblSites: sites, dnsblThreshold: 2, dnsblAllowlistThreshold: -1 }, dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit_dnsbl_score');
    expect(at(v, 'permit_dnsbl_score').reason).toBe('score -3: mixed.example=127.0.0.1*-3 127.0.0.1 -3 (allowlist threshold -1)');
  });
});

describe('permit_dnsbl_score: postscreen_dnsbl_allowlist_threshold', () => {
  const dns: DnsScript = { 'list.dnswl.example': { [A]: { codes: ['127.0.10.3'] } } };
  it('is off at the default 0 (as in Postfix): never permits', async () => {
    const t = testEngine({ list: 'permit_dnsbl_score, reject', spec: spec(), dns });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('reject');
    expect(at(v, 'permit_dnsbl_score').reason).toBe('score -2: list.dnswl.example=127.0.[0..255].[1..3]*-2 127.0.10.3 -2 (allowlist threshold 0: off)');
  });
  it('permits a sum at or below a negative threshold; never in the relay list', async () => {
    const t = testEngine({ list: 'permit_dnsbl_score, reject', spec: spec({ dnsblAllowlistThreshold: -2 }), dns });
    expect((await t.engine.evaluate(rcpt())).action).toBe('permit');
    const relay = testEngine({ relay: 'permit_dnsbl_score, reject_unauth_destination', list: 'permit', spec: spec({ dnsblAllowlistThreshold: -2 }), dns });
    const v = await relay.engine.evaluate(rcpt({ recipient: 'x@elsewhere.example' }));
    expect(v.action).toBe('reject');
    expect(at(v, 'permit_dnsbl_score').reason).toMatch(/never authorises relaying/);
  });
});

describe('one batch with the first-hit lists', () => {
  it('a zone used by reject_rbl_client and a positive site is asked once; every site once, concurrently', async () => {
    const dns: DnsScript = { 'bl.example': { [A]: { codes: ['127.0.0.2'] } } };
    const port = createMemoryDnsList(dns);
    const seen: DnsListQuery[][] = [];
    const spy = {
      lookup(q: readonly DnsListQuery[]): Promise<DnsListAnswer[]> {
        seen.push([...q]);
        return port.lookup(q);
      },
    };
    const t = testEngine({ list: 'reject_rbl_client bl.example=127.0.0.3, reject_dnsbl_score, permit', spec: spec({ dnsblThreshold: 5 }), dnslist: spy });
    const v = await t.engine.evaluate(rcpt());
    expect(v.action).toBe('permit');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map((q) => `${q.zone}/${q.use}`)).toEqual(['bl.example/block', 'k3y.zen.dq.spamhaus.net/block', 'bl.spamcop.example/block', 'list.dnswl.example/allow']);
  });
  it('a score restriction without postscreen_dnsbl_sites is refused when the engine is built', () => {
    expect(() => testEngine({ list: 'reject_dnsbl_score' })).toThrow(/reject_dnsbl_score.*needs weighted DNS lists \(postscreen_dnsbl_sites\)/);
  });
});
