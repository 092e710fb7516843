import type { Engine, Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { hideZones, zoneHider } from './hide-zones.ts';

const KEY = 'aB3dEfGhIjKlMnOpQrStUvWxYz';

describe('hideZones', () => {
  it('is the engine itself when no zone needs hiding', () => {
    const engine = { spec: { zoneDisplayNames: { 'zen.spamhaus.org': 'zen.spamhaus.org' } }, evaluate: async () => ({}) } as unknown as Engine;
    expect(hideZones(engine)).toBe(engine);
    expect(zoneHider(undefined)).toBeUndefined();
  });

  it('replaces a keyed zone, any case, in the reply, the deciding restriction, the trace and headers', async () => {
    const zone = `${KEY}.zen.dq.spamhaus.net`;
    const verdict: Verdict = {
      action: 'reject',
      status: '5.7.1',
      text: `Service unavailable; Client host [192.0.2.1] blocked using ${zone.toUpperCase()}; listed`,
      decidedBy: `reject_rbl_client ${zone}=127.0.0.[2..11]`,
      decidedByType: 'reject_rbl_client',
      prepend: [`X-Test: ${zone}`],
      trace: [{ restriction: `reject_rbl_client ${zone}`, list: 'recipient', outcome: 'reject', reason: `127.0.0.2 via 2.0.0.127.${zone}`, ms: 1 }],
    };
    const engine = { spec: { zoneDisplayNames: { [zone]: 'zen.dq.spamhaus.net' } }, evaluate: async () => verdict } as unknown as Engine;
    const v = await hideZones(engine).evaluate({} as never);
    expect(JSON.stringify(v)).not.toMatch(new RegExp(KEY, 'i'));
    expect(v.text).toBe('Service unavailable; Client host [192.0.2.1] blocked using zen.dq.spamhaus.net; listed');
    expect(v.decidedBy).toBe('reject_rbl_client zen.dq.spamhaus.net=127.0.0.[2..11]');
    expect(v.trace[0]!.reason).toBe('127.0.0.2 via 2.0.0.127.zen.dq.spamhaus.net');
  });
});
