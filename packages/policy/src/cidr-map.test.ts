import { describe, expect, it } from 'vitest';
import { createCidrAccessMap, parseCidrTable } from './cidr-map.ts';
import { PolicyError } from './errors.ts';

describe('cidr access tables', () => {
  const text = `# the seed's rbl_override
192.0.2.0/24      OK
192.0.2.128/25    REJECT never reached: first match wins
198.51.100.7      REJECT
  with continued text
2001:db8::/32     DUNNO
`;
  it('parses, first match wins, continuation lines join', async () => {
    const t = parseCidrTable(text);
    expect(t.entries.map((e) => [e.network.text, e.action, e.line])).toEqual([
      ['192.0.2.0/24', 'OK', 2],
      ['192.0.2.128/25', 'REJECT never reached: first match wins', 3],
      ['198.51.100.7', 'REJECT with continued text', 4],
      ['2001:db8::/32', 'DUNNO', 6],
    ]);
    const m = createCidrAccessMap({ 'cidr:/etc/moat/rbl_override': t });
    expect(await m.lookup('cidr:/etc/moat/rbl_override', '192.0.2.200')).toBe('OK');
    expect(await m.lookup('cidr:/etc/moat/rbl_override', '198.51.100.7')).toBe('REJECT with continued text');
    expect(await m.lookup('cidr:/etc/moat/rbl_override', '2001:db8::5')).toBe('DUNNO');
    expect(await m.lookup('cidr:/etc/moat/rbl_override', '203.0.113.1')).toBeUndefined();
    expect(await m.lookup('cidr:/etc/moat/rbl_override', 'not-an-ip')).toBeUndefined();
    await expect(m.lookup('cidr:/other', '192.0.2.1')).rejects.toThrow(/not loaded/);
  });

  it('names the bad line', () => {
    for (const [bad, code, line] of [
      ['192.0.2.0/24 OK\n192.0.2.1/24 OK', 'POLICY_BAD_CIDR', 2],
      ['192.0.2.0/24', 'POLICY_BAD_ACCESS_ACTION', 1],
      ['\n\n192.0.2.0/24 HOLD', 'POLICY_BAD_ACCESS_ACTION', 3],
      ['192.0.2.0/24 450 5.7.1 inconsistent', 'POLICY_BAD_ACCESS_ACTION', 1],
    ] as const) {
      try {
        parseCidrTable(bad, 'cidr:/x');
        expect.unreachable(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(PolicyError);
        expect((e as PolicyError).code).toBe(code);
        expect((e as PolicyError).position.line).toBe(line);
      }
    }
  });
});
