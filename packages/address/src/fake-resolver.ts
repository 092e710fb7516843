// A small in-memory AddressResolver for tests (exported, like @moat/policy's memory ports) of routing and delivery: domains, users, aliases, next hops.
// Trusts its table (the test's); not Postfix's semantics in full, only what routing tests need.
import type { AddressClass, AddressResolver, FinalRecipient, NextHop, Resolution, Verification } from './types.ts';

export interface FakeResolverSpec {
  /** Our mailbox domains: their class (default virtual-mailbox), next hop and users (undefined: any user). */
  domains: Record<string, { class?: AddressClass; nextHop: NextHop; users?: string[] }>;
  /** Relay domains (backup MX) and their next hops; any user. */
  relayDomains?: Record<string, NextHop>;
  /** Virtual aliases: `user@domain` (lower case) to its targets; the extension is propagated to targets. */
  aliases?: Record<string, string[]>;
  /** Everything else (class remote). */
  defaultTransport: NextHop;
  /** recipient_delimiter (default '+'). */
  delimiter?: string;
  /** Addresses that fail as given (e.g. a table that cannot answer). */
  errors?: Record<string, { reason: 'unknown-user' | 'retry' | 'empty-expansion' | 'loop' | 'too-many' | 'lookup-failure'; status: string; text: string }>;
}

export function fakeAddressResolver(spec: FakeResolverSpec): AddressResolver & { asked: string[] } {
  const delim = spec.delimiter ?? '+';
  const asked: string[] = [];
  const split = (address: string) => {
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    const domain = at < 0 ? '' : address.slice(at + 1).toLowerCase().replace(/\.$/, '');
    let cut = -1;
    for (const ch of delim) {
      const i = local.indexOf(ch);
      if (i > 0 && (cut < 0 || i < cut)) cut = i;
    }
    return cut > 0 ? { user: local.slice(0, cut), extension: local.slice(cut + 1), domain } : { user: local, extension: undefined, domain };
  };
  const classify = (address: string): AddressClass => {
    const { domain } = split(address);
    if (spec.domains[domain]) return spec.domains[domain].class ?? 'virtual-mailbox';
    if (spec.relayDomains?.[domain]) return 'relay';
    return 'remote';
  };
  const fail = (input: string, cls: AddressClass, e: NonNullable<FakeResolverSpec['errors']>[string], trace: string[]): Resolution => ({
    ok: false,
    input,
    class: cls,
    ...e,
    trace,
  });

  function resolve(input: string): Resolution {
    asked.push(input);
    const trace: string[] = [];
    const out: FinalRecipient[] = [];
    const walk = (address: string, ext: string | undefined, depth: number): Resolution | null => {
      const err = spec.errors?.[address.toLowerCase()];
      if (err) return fail(input, classify(address), err, trace);
      if (depth > 20) return fail(input, classify(input), { reason: 'loop', status: '5.4.6', text: 'Too many levels of alias recursion' }, trace);
      const s = split(address);
      const extension = s.extension ?? ext;
      const key = `${s.user.toLowerCase()}@${s.domain}`;
      const targets = spec.aliases?.[key];
      if (targets) {
        trace.push(`${key} -> ${targets.join(', ')}`);
        if (targets.length === 0) return fail(input, classify(address), { reason: 'empty-expansion', status: '5.1.1', text: 'alias expands to nothing' }, trace);
        for (const t of targets) {
          const r = walk(t, extension, depth + 1);
          if (r) return r;
        }
        return null;
      }
      const cls = classify(address);
      const dom = spec.domains[s.domain];
      if (dom) {
        if (dom.users && !dom.users.map((u) => u.toLowerCase()).includes(s.user.toLowerCase())) {
          return fail(input, cls, { reason: 'unknown-user', status: '5.1.1', text: `<${input}>: Recipient address rejected: User unknown in virtual mailbox table` }, trace);
        }
        // the real resolver refuses an address given as it is that routes to error: or retry: (smtpd's RCPT check)
        if (depth === 0 && dom.nextHop.transport === 'error') return fail(input, cls, { reason: 'unknown-user', status: dom.nextHop.status ?? '5.0.0', text: dom.nextHop.text }, trace);
        if (depth === 0 && dom.nextHop.transport === 'retry') return fail(input, cls, { reason: 'retry', status: dom.nextHop.status ?? '4.0.0', text: dom.nextHop.text }, trace);
        out.push({ address: `${s.user}@${s.domain}`, ...(extension ? { extension } : {}), class: cls, nextHop: dom.nextHop });
        return null;
      }
      const relay = spec.relayDomains?.[s.domain];
      out.push({ address: `${s.user}@${s.domain}`, ...(extension ? { extension } : {}), class: cls, nextHop: relay ?? spec.defaultTransport });
      return null;
    };
    const failed = walk(input, undefined, 0);
    if (failed) return failed;
    return { ok: true, input, class: classify(input), recipients: out, trace };
  }

  // the RCPT check without expansion, as far as a fake can tell it: what resolve() says
  const verify = (address: string): Verification => {
    const r = resolve(address);
    if (r.ok) return { accepted: true, class: r.class };
    const hop = route(address).nextHop.transport;
    const by = r.reason === 'retry' ? 'retry' : r.reason === 'empty-expansion' ? 'alias' : r.reason === 'unknown-user' && hop === 'error' ? 'error' : 'table';
    return { accepted: false, class: r.class, status: r.status, text: r.text, by };
  };
  const route = (address: string) => {
    const cls = classify(address);
    const domain = split(address).domain;
    return { class: cls, nextHop: spec.domains[domain]?.nextHop ?? spec.relayDomains?.[domain] ?? spec.defaultTransport };
  };
  return { asked, resolve, classify, verify, route };
}
