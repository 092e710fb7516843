import { describe, expect, it } from 'vitest';
import { createDomainList } from './domain-list.ts';
import { brokenTable, memoryTable, patternTable } from './test-tables.ts';

describe('domain lists', () => {
  it('string lists (mydestination, virtual_*_domains) match exact names only', () => {
    const l = createDomainList(['Example.ORG.', 'localhost'], [], { kind: 'string' });
    expect(l.match('example.org')).toBe(true);
    expect(l.match('sub.example.org')).toBe(false);
    expect(l.match('localhost')).toBe(true);
    expect(l.match('')).toBe(false);
    expect(l.names).toEqual(['example.org', 'localhost']);
  });
  it('relay_domains with parent_domain_matches_subdomains: a domain matches its subdomains', () => {
    const l = createDomainList(['example.org'], [], { kind: 'domain', parent: true });
    expect(l.match('example.org')).toBe(true);
    expect(l.match('a.b.example.org')).toBe(true);
    expect(l.match('badexample.org')).toBe(false);
  });
  it('without it: .domain matches subdomains, domain only itself', () => {
    const l = createDomainList(['example.org', '.example.net'], [], { kind: 'domain', parent: false });
    expect(l.match('sub.example.org')).toBe(false);
    expect(l.match('sub.example.net')).toBe(true);
    expect(l.match('example.net')).toBe(false);
  });
  it('!name excludes; the first match wins', () => {
    const l = createDomainList(['!private.example.org', 'example.org'], [], { kind: 'domain', parent: true });
    expect(l.match('private.example.org')).toBe(false);
    expect(l.match('public.example.org')).toBe(true);
  });
  it('tables: asked the name, and (fixed tables, domain lists) the parents; pattern tables the name only', () => {
    const t = memoryTable({ 'example.org': 'x' });
    const parent = createDomainList([], [t], { kind: 'domain', parent: true });
    expect(parent.match('a.example.org')).toBe(true);
    expect(t.asked).toEqual(['a.example.org', 'example.org']);
    const dot = memoryTable({ '.example.org': 'x' });
    expect(createDomainList([], [dot], { kind: 'domain', parent: false }).match('a.example.org')).toBe(true);
    expect(createDomainList([], [memoryTable({ 'example.org': 'x' })], { kind: 'string' }).match('a.example.org')).toBe(false);
    const p = patternTable([[/^example\.org$/, 'x']]);
    expect(createDomainList([], [p], { kind: 'domain', parent: true }).match('a.example.org')).toBe(false);
    expect(p.asked).toEqual(['a.example.org']);
  });
  it('a table that cannot answer throws LookupFailure', () => {
    expect(() => createDomainList(['a.example'], [brokenTable()], { kind: 'string' }).match('b.example')).toThrow(/lookup failed/);
    // Names are asked first: a listed name does not need the table.
    expect(createDomainList(['a.example'], [brokenTable()], { kind: 'string' }).match('a.example')).toBe(true);
  });
});
