// In-memory LookupTables for tests: a fixed-string table from a Record, a regexp-like pattern table, a broken one;
// and a resolver spec with Postfix's defaults that tests override.
// Test helper only (not exported from the package); @moat/maps holds the real tables.
import { type LookupTable, TableError } from '@moat/maps';
import { parseNextHop } from './next-hop.ts';
import type { ResolverSpec } from './types.ts';

/** A hash:-like table: keys folded to lower case, as Postfix's fixed-string tables do. */
export function memoryTable(entries: Record<string, string>, spec = 'texthash:/test/table'): LookupTable & { asked: string[]; keys(): Iterable<string> } {
  const m = new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]));
  const asked: string[] = [];
  return {
    spec,
    type: 'texthash',
    pattern: false,
    asked,
    keys: () => m.keys(),
    lookup(key: string) {
      asked.push(key);
      return m.get(key.toLowerCase());
    },
  };
}

/** A regexp:-like table: first matching pattern wins, `$1`..`$9` substituted. */
export function patternTable(rules: ReadonlyArray<readonly [RegExp, string]>, spec = 'regexp:/test/table'): LookupTable & { asked: string[] } {
  const asked: string[] = [];
  return {
    spec,
    type: 'regexp',
    pattern: true,
    asked,
    lookup(key: string) {
      asked.push(key);
      for (const [re, rhs] of rules) {
        const m = re.exec(key);
        if (m) return rhs.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? '');
      }
      return undefined;
    },
  };
}

/** A table that cannot answer (never loaded). */
export function brokenTable(spec = 'hash:/test/broken'): LookupTable {
  return {
    spec,
    type: 'hash',
    pattern: false,
    lookup() {
      throw new TableError('TABLE_UNAVAILABLE', `${spec}: not loaded`);
    },
  };
}

/**
 * A resolver spec for tests: mx.example.org, Postfix's defaults for the limits and the delimiter `+`, local
 * and virtual mail to one maildir, relay: and smtp: next hops, no tables; `over` sets what a test is about.
 */
export function testSpec(over: Partial<ResolverSpec> = {}): ResolverSpec {
  const maildir = parseNextHop('maildir:/var/mail/moat');
  return {
    myhostname: 'mx.example.org',
    mydestination: ['mx.example.org'],
    aliasMaps: [],
    virtualAliasDomains: [],
    virtualAliasMaps: [],
    virtualMailboxDomains: [],
    virtualMailboxMaps: [],
    relayDomains: [],
    transportMaps: [],
    recipientDelimiter: '+',
    localTransport: maildir,
    virtualTransport: maildir,
    relayTransport: parseNextHop('relay:'),
    defaultTransport: parseNextHop('smtp:'),
    virtualAliasRecursionLimit: 1000,
    virtualAliasExpansionLimit: 1000,
    ...over,
  };
}
