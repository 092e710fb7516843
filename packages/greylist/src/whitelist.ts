// Static whitelists checked in process before Redis: client CIDRs, client names, recipients.
// Trusts the operator's lists; matches client names only against the forward-confirmed name.
import { CidrSet } from './network.ts';

export interface WhitelistSpec {
  /** CIDRs or bare addresses, v4 or v6. */
  clients?: readonly string[];
  /**
   * Forward-confirmed client hostnames: `mail.example.com` (exact), `*.example.com` or
   * `.example.com` (any subdomain), `example.com`-style entries also match subdomains (postgrey's
   * whitelist_clients semantics), `/regex/` (case-insensitive).
   */
  clientNames?: readonly string[];
  /** `user@domain` (exact), `user@` (that local part at any domain: `postmaster@`), `@domain` or `domain`. */
  recipients?: readonly string[];
  /** `example.com` (exact domain), `*.example.com` / `.example.com` (subdomains too). */
  recipientDomains?: readonly string[];
}

export type WhitelistHit = { kind: 'client' | 'client-name' | 'recipient' | 'recipient-domain'; entry: string };

interface NameRule {
  entry: string;
  test(name: string): boolean;
}

/**
 * Client-name entries: plain names and `*.`/`.` wildcards in a map looked up by each suffix of the
 * name (a few lookups per request, however long the list), `/regex/` entries tested one by one.
 */
class NameRules {
  /** `example.com` -> the entry; `subOnly` for `*.example.com` / `.example.com`. */
  private readonly domains = new Map<string, { entry: string; subOnly: boolean }>();
  private readonly regexes: NameRule[] = [];

  /** Adds an entry; throws on a bad regex. */
  add(entry: string): void {
    const e = entry.trim();
    if (!e) return;
    if (e.length > 2 && e.startsWith('/') && e.endsWith('/')) {
      const re = new RegExp(e.slice(1, -1), 'i');
      this.regexes.push({ entry: e, test: (n) => re.test(n) });
      return;
    }
    const d = e.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
    const subOnly = e.startsWith('*.'); // `.example.com` also matches example.com itself, as it always has
    const known = this.domains.get(d);
    // `example.com` matches itself and subdomains; it wins over `*.example.com` for the same domain.
    if (!known || (known.subOnly && !subOnly)) this.domains.set(d, { entry: e, subOnly });
  }

  /** The matching entry for a lowercased name without trailing dot. */
  match(name: string): string | undefined {
    if (this.domains.size > 0) {
      const exact = this.domains.get(name);
      if (exact && !exact.subOnly) return exact.entry;
      for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
        const hit = this.domains.get(name.slice(dot + 1));
        if (hit) return hit.entry;
      }
    }
    for (const r of this.regexes) if (r.test(name)) return r.entry;
    return undefined;
  }
}

function domainRule(entry: string): NameRule | undefined {
  const e = entry.trim().toLowerCase().replace(/\.$/, '');
  if (!e) return undefined;
  if (e.startsWith('*.') || e.startsWith('.')) {
    const d = e.replace(/^\*?\./, '');
    return { entry, test: (n) => n === d || n.endsWith(`.${d}`) };
  }
  return { entry, test: (n) => n === e };
}

const NAME_MEMO_MAX = 8192;

export class Whitelist {
  private readonly cidrs = new CidrSet();
  private readonly names = new NameRules();
  private readonly rcptExact = new Set<string>();
  private readonly rcptLocal = new Set<string>();
  private readonly rcptDomains: NameRule[] = [];
  /** Entries that did not parse (reported once at start by the caller). */
  readonly rejected: string[] = [];

  constructor(...specs: readonly WhitelistSpec[]) {
    for (const s of specs) {
      this.rejected.push(...this.cidrs.add(s.clients ?? []));
      for (const n of s.clientNames ?? []) {
        try {
          this.names.add(n);
        } catch {
          this.rejected.push(n);
        }
      }
      for (const r of s.recipients ?? []) {
        const v = r.trim().toLowerCase();
        if (v.startsWith('@')) {
          const d = domainRule(v.slice(1));
          if (d) this.rcptDomains.push(d);
        } else if (v.endsWith('@')) this.rcptLocal.add(v.slice(0, -1));
        else if (v.includes('@')) this.rcptExact.add(v);
        else {
          // A bare domain (postgrey's whitelist_recipients allows it): that recipient domain.
          const d = domainRule(v);
          if (d) this.rcptDomains.push(d);
        }
      }
      for (const d of s.recipientDomains ?? []) {
        const rule = domainRule(d);
        if (rule) this.rcptDomains.push(rule);
      }
    }
  }

  /** Client name -> its matching entry ('' for none): a sending host repeats its name. Bounded, cleared when full. */
  private readonly nameMemo = new Map<string, string>();

  private nameEntry(clientName: string): string | undefined {
    let entry = this.nameMemo.get(clientName);
    if (entry === undefined) {
      const name = clientName.toLowerCase().replace(/\.$/, '');
      entry = (name && name !== 'unknown' && this.names.match(name)) || '';
      if (clientName.length <= 255) {
        if (this.nameMemo.size >= NAME_MEMO_MAX) this.nameMemo.clear();
        this.nameMemo.set(clientName, entry);
      }
    }
    return entry || undefined;
  }

  /** The first matching entry, or undefined. `recipient` must already be normalised. */
  match(q: { clientAddress: string; clientName?: string | undefined; recipient: string }): WhitelistHit | undefined {
    if (this.cidrs.has(q.clientAddress)) return { kind: 'client', entry: q.clientAddress };
    if (q.clientName) {
      const entry = this.nameEntry(q.clientName);
      if (entry) return { kind: 'client-name', entry };
    }
    const rcpt = q.recipient;
    if (this.rcptExact.has(rcpt)) return { kind: 'recipient', entry: rcpt };
    const at = rcpt.lastIndexOf('@');
    if (at >= 0) {
      if (this.rcptLocal.has(rcpt.slice(0, at))) return { kind: 'recipient', entry: `${rcpt.slice(0, at)}@` };
      const domain = rcpt.slice(at + 1);
      for (const r of this.rcptDomains) if (r.test(domain)) return { kind: 'recipient-domain', entry: r.entry };
    }
    return undefined;
  }
}
