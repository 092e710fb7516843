import { describe, expect, it } from 'vitest';
import { validDisplayName, zoneDisplayName, zoneDisplayNames } from './display-name.ts';

describe('zoneDisplayName', () => {
  it('strips the key label of Spamhaus DQS and Abusix zones', () => {
    expect(zoneDisplayName('aB3dEfGhIjKlMnOpQrStUvWxYz.zen.dq.spamhaus.net')).toBe('zen.dq.spamhaus.net');
    expect(zoneDisplayName('aB3dEfGhIjKlMnOpQrStUvWxYz.dbl.dq.spamhaus.net.')).toBe('dbl.dq.spamhaus.net');
    expect(zoneDisplayName('KEY.ZRD.DQ.SPAMHAUS.NET')).toBe('zrd.dq.spamhaus.net');
    expect(zoneDisplayName('x._cw.KEY.hbl.dq.spamhaus.net')).toBe('hbl.dq.spamhaus.net');
    expect(zoneDisplayName('0123abcd.black.mail.abusix.zone')).toBe('black.mail.abusix.zone');
  });

  it('keeps every other zone as written', () => {
    expect(zoneDisplayName('zen.spamhaus.org')).toBe('zen.spamhaus.org');
    expect(zoneDisplayName('zen.dq.spamhaus.net')).toBe('zen.dq.spamhaus.net');
    expect(zoneDisplayName('bl.Moat.test.')).toBe('bl.Moat.test');
    expect(zoneDisplayName('notdq.spamhaus.net')).toBe('notdq.spamhaus.net');
  });

  it('prefers an explicit display name when it looks like a zone name', () => {
    expect(zoneDisplayName('k3y.rbl.example.net', 'rbl.example.net')).toBe('rbl.example.net');
    expect(zoneDisplayName('k3y.zen.dq.spamhaus.net', 'spamhaus zen')).toBe('zen.dq.spamhaus.net');
    expect(validDisplayName('a..b')).toBe(false);
    expect(validDisplayName('ok.example')).toBe(true);
  });

  it('maps every zone, as written and normalised, with dns.zones display names', () => {
    const m = zoneDisplayNames(['K.zen.dq.spamhaus.net', 'bl.example'], { 'k3y.rbl.example.net.': { display: 'rbl.example.net' } });
    expect(m).toEqual({
      'K.zen.dq.spamhaus.net': 'zen.dq.spamhaus.net',
      'k.zen.dq.spamhaus.net': 'zen.dq.spamhaus.net',
      'bl.example': 'bl.example',
      'k3y.rbl.example.net.': 'rbl.example.net',
      'k3y.rbl.example.net': 'rbl.example.net',
    });
  });
});
