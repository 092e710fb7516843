import { describe, expect, it } from 'vitest';
import { foldKey, parseTableSpec } from './spec.ts';

describe('parseTableSpec', () => {
  it('splits type:name at the first colon; proxy: is read through', () => {
    expect(parseTableSpec('hash:/etc/postfix/virtual')).toEqual({ type: 'hash', name: '/etc/postfix/virtual' });
    expect(parseTableSpec('inline:{ a=b:c }')).toEqual({ type: 'inline', name: '{ a=b:c }' });
    expect(parseTableSpec('proxy:hash:/etc/postfix/virtual')).toEqual({ type: 'hash', name: '/etc/postfix/virtual' });
    expect(parseTableSpec('CIDR:/x')).toEqual({ type: 'cidr', name: '/x' });
  });

  it('names what it cannot read', () => {
    expect(() => parseTableSpec('mysql:/etc/postfix/mysql.cf')).toThrow(/mysql: a Postfix table type moat does not read \(moat reads texthash, hash/);
    expect(() => parseTableSpec('proxy:ldap:/x.cf')).toThrow(/ldap: a Postfix table type/);
    expect(() => parseTableSpec('bogus:/x')).toThrow(/not a Postfix table type/);
    expect(() => parseTableSpec('/etc/postfix/access')).toThrow(/expected type:name/);
    expect(() => parseTableSpec('hash:')).toThrow(/no table name/);
  });

  it('folds keys as Postfix does with smtputf8 (full case folding)', () => {
    expect(foldKey('User@Example.COM')).toBe('user@example.com');
    expect(foldKey('STRASSE')).toBe(foldKey('Straße'));
  });
});
