import { parseNextHop } from '@moat/address';
import { describe, expect, it } from 'vitest';
import { createRouter } from './router.ts';
import type { NextHopTlsPolicy } from './tls-requirement.ts';

describe('createRouter: one transport per destination as its TLS policy key sees it', () => {
  it('lmtp:[h]:2424 and lmtp:h:2424 are two transports, each asks the TLS policy with its own dest', () => {
    const asked: Array<string | undefined> = [];
    const hopTls: NextHopTlsPolicy = (hop) => {
      asked.push(hop.dest);
      return { starttls: 'never' };
    };
    const router = createRouter({ heloName: 'mx.test', hopTls });
    const bracketed = router.transportFor(parseNextHop('lmtp:[box.example]:2424'), false);
    const bare = router.transportFor(parseNextHop('lmtp:box.example:2424'), false);
    expect(bracketed).not.toBe(bare);
    expect(router.transportFor(parseNextHop('lmtp:inet:[box.example]:2424'), false)).toBe(bracketed);
    expect(asked).toEqual(['[box.example]:2424', 'box.example:2424']);
  });
  it('smtp:[h] and smtp:[h]:25 are two transports (Postfix keys [h]:25 apart from [h])', () => {
    const asked: Array<string | undefined> = [];
    const router = createRouter({
      heloName: 'mx.test',
      hopTls: (hop) => {
        asked.push(hop.dest);
        return { starttls: 'opportunistic' };
      },
    });
    const a = router.transportFor(parseNextHop('smtp:[relay.example]'), false);
    const b = router.transportFor(parseNextHop('smtp:[relay.example]:25'), false);
    expect(a).not.toBe(b);
    expect(router.transportFor(parseNextHop('relay:[relay.example]:25'), false)).toBe(b);
    expect(asked).toEqual(['[relay.example]', '[relay.example]:25']);
  });
});
