import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import { rcpt, testEngine } from './testing.ts';

describe('zone display names: a zone holding a secret (DQS key) is never shown', () => {
  const zone = 'k3y5ecret.zen.dq.spamhaus.net';
  const spec = { zoneDisplayNames: { 'K3Y5ECRET.zen.dq.spamhaus.net': 'zen.dq.spamhaus.net' } };
  it('the reply, the trace and decidedBy use the display name; the query uses the zone', async () => {
    const t = testEngine({ list: `reject_rbl_client ${zone}=127.0.0.[2..11], permit`, spec, dns: { [zone]: { '198.51.100.7': { codes: ['127.0.0.2'], txt: 'see https://www.spamhaus.org' } } } });
    const v = await t.engine.evaluate(rcpt());
    expect(replyLine(v)).toBe('554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.dq.spamhaus.net; see https://www.spamhaus.org');
    expect(v.decidedBy).toBe('reject_rbl_client zen.dq.spamhaus.net=127.0.0.[2..11]');
    expect(JSON.stringify(v)).not.toMatch(/k3y5ecret/i);
    const clean = await t.engine.evaluate(rcpt({ clientAddress: '198.51.100.8' }));
    expect(JSON.stringify(clean)).not.toMatch(/k3y5ecret/i);
  });
  it('without a display name the zone is shown as written (lower-cased)', async () => {
    const t = testEngine({ list: 'reject_rbl_client Zen.Example, permit', dns: { 'zen.example': { '198.51.100.7': { codes: ['127.0.0.2'] } } } });
    expect((await t.engine.evaluate(rcpt())).text).toBe('Service unavailable; Client host [198.51.100.7] blocked using zen.example');
  });
});
