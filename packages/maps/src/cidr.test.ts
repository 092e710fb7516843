import { describe, expect, it } from 'vitest';
import { parseCidrTable } from './cidr.ts';
import { inetPton } from './inet.ts';

describe('cidr tables', () => {
  const t = parseCidrTable(
    ['192.0.2.0/24 first', '192.0.2.0/25 shadowed', '2001:db8::/32 v6', '[198.51.100.0]/24 bracket', 'if !10.0.0.0/8', '0.0.0.0/0 not ten', 'endif', '!::/0 never'].join('\n'),
    'f',
  );

  it('first match wins, IPv6 and brackets, IF/ENDIF with negation', () => {
    expect(t.lookup('192.0.2.1')).toBe('first');
    expect(t.lookup('2001:DB8::5')).toBe('v6');
    expect(t.lookup('198.51.100.7')).toBe('bracket');
    expect(t.lookup('203.0.113.1')).toBe('not ten');
    expect(t.lookup('10.1.1.1')).toBeUndefined();
    expect(t.lookup('2001:db9::1')).toBeUndefined();
  });

  it('an IPv4-mapped IPv6 key is IPv6, as in Postfix; malformed keys match nothing', () => {
    expect(t.lookup('::ffff:192.0.2.1')).toBeUndefined();
    for (const k of ['192.0.2.01', '192.0.2', '[192.0.2.1]', 'host.example', '', '1::2::3']) expect(t.lookup(k)).toBeUndefined();
  });

  it('refuses host bits, bad masks, bad addresses, missing results and unbalanced IF/ENDIF, naming the line', () => {
    for (const [text, msg] of [
      ['192.0.2.1/24 x', /2: non-null host address bits/],
      ['192.0.2.0/33 x', /2: bad mask length/],
      ['192.0.2.0/2x x', /2: bad mask value/],
      ['300.0.0.1 x', /2: bad address pattern/],
      ['192.0.2.0/24', /2: no lookup result/],
      ['endif', /2: ENDIF without IF/],
      ['if 192.0.2.0/24', /2: IF has no matching ENDIF/],
      ['if 192.0.2.0/24\nendif junk', /3: text after ENDIF/],
    ] as const) {
      expect(() => parseCidrTable(`127.0.0.1 ok\n${text}\n`, 'f')).toThrow(msg);
    }
  });
});

describe('inetPton (glibc)', () => {
  it('parses what glibc parses', () => {
    expect(inetPton('::')?.bytes).toEqual(new Uint8Array(16));
    expect([...inetPton('::ffff:1.2.3.4')!.bytes.slice(10)]).toEqual([255, 255, 1, 2, 3, 4]);
    expect([...inetPton('1:2:3:4:5:6:7::')!.bytes.slice(10)]).toEqual([0, 6, 0, 7, 0, 0]);
    expect(inetPton('0.0.0.0')?.v6).toBe(false);
    for (const bad of ['1.2.3.4.', '01.2.3.4', '256.1.1.1', '1:2:3:4:5:6:7:8::', ':1::2', '1:2:3:4:5:6:7:8:9', '12345::', '1::2::3', '::1.2.3', 'fe80::1%eth0']) {
      expect(inetPton(bad), bad).toBeUndefined();
    }
  });
});
