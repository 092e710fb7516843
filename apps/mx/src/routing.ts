// Where accepted mail goes until the full address resolver is wired: an AddressResolver over `recipients:`
// and `queue.transport(s)`. Trusts the config (the admin's); the address asked about is client input.
import type { AddressClass, AddressResolver, NextHop, Resolution } from '@moat/address';
import { createStaticRecipients, type StaticRecipientsOptions } from '@moat/policy';
import { nextHopOf } from '@moat/queue';

/** Plain data (it crosses to the delivery thread): the recipient directory and the transports. */
export interface RoutingConfig {
  recipients: StaticRecipientsOptions;
  /** queue.transport: our domains' mail. */
  transport: string;
  /**
   * queue.transports, read as Postfix transport_maps: `user@domain`, then `domain`, then `.parent`
   * for each parent domain; the first match wins, for every address class.
   */
  transports: Readonly<Record<string, string>>;
  /** Remote mail (Postfix default_transport with relayhost empty): `smtp:`, an MX lookup of the recipient's domain. */
  defaultTransport?: string | undefined;
}

export interface ConfigResolver extends AddressResolver {
  /** Domains whose mailboxes are ours (recipients.domains and catch_all): the maildir guard. */
  isLocal(domain: string): boolean;
}

const norm = (d: string) => d.toLowerCase().replace(/\.$/, '');

/**
 * Build the resolver; throws an Error naming the key when a transport does not parse (at start).
 * Classes: hosted domains are `virtual-mailbox` (mail to their unknown users is refused, 550 5.1.1),
 * relay_domains `relay` (any user; they need a queue.transports entry, since an MX lookup would find
 * us: without one they go by MX lookup like Postfix's relay_transport), everything else `remote`.
 */
export function configResolver(cfg: RoutingConfig): ConfigResolver {
  const directory = createStaticRecipients(cfg.recipients);
  const relayDomains = new Set((cfg.recipients.relayDomains ?? []).map(norm));
  const hosted = new Set([...cfg.recipients.domains.map(norm), ...(cfg.recipients.catchAll ?? []).map((d) => norm(d.replace(/^@/, '')))]);
  const delims = cfg.recipients.recipientDelimiter ?? '+';
  const hop = (spec: string, where: string): NextHop => {
    try {
      return nextHopOf(spec);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  };
  const local = hop(cfg.transport, 'queue.transport');
  const remote = hop(cfg.defaultTransport ?? 'smtp:', 'default transport');
  const map = new Map<string, NextHop>();
  for (const [k, v] of Object.entries(cfg.transports)) map.set(k.toLowerCase(), hop(v, `queue.transports.${k}`));

  const split = (address: string) => {
    const at = address.lastIndexOf('@');
    const whole = at < 0 ? address : address.slice(0, at);
    const domain = at < 0 ? '' : norm(address.slice(at + 1));
    let cut = -1;
    for (const ch of delims) {
      const i = whole.indexOf(ch);
      if (i > 0 && (cut < 0 || i < cut)) cut = i;
    }
    // `user+@d`: an empty extension is no extension (the address stays as written)
    if (cut <= 0 || cut === whole.length - 1) return { whole, user: whole, extension: undefined, domain };
    return { whole, user: whole.slice(0, cut), extension: whole.slice(cut + 1), domain };
  };

  /** transport_maps order (Postfix trivial-rewrite): user+ext@domain, user@domain, domain, .parent ... */
  const transportFor = (whole: string, user: string, domain: string): NextHop | undefined => {
    const exact = map.get(`${whole.toLowerCase()}@${domain}`) ?? map.get(`${user.toLowerCase()}@${domain}`) ?? map.get(domain);
    if (exact) return exact;
    for (let d = domain; d.includes('.'); ) {
      d = d.slice(d.indexOf('.') + 1);
      const parent = map.get(`.${d}`);
      if (parent) return parent;
    }
    return undefined;
  };

  const classify = (address: string): AddressClass => {
    const { domain } = split(address);
    if (relayDomains.has(domain)) return 'relay';
    if (hosted.has(domain)) return 'virtual-mailbox';
    return 'remote';
  };

  function resolve(input: string): Resolution {
    const trace: string[] = [];
    const { whole, user, extension, domain } = split(input);
    const cls = classify(input);
    if (cls === 'virtual-mailbox') {
      let known: string;
      try {
        known = directory.classifySync(input);
      } catch (e) {
        return { ok: false, input, class: cls, reason: 'lookup-failure', status: '4.3.0', text: `<${input}>: Temporary lookup failure`, trace: [String((e as Error).message)] };
      }
      if (known === 'unknown-user') {
        return {
          ok: false,
          input,
          class: cls,
          reason: 'unknown-user',
          status: '5.1.1',
          text: `<${input}>: Recipient address rejected: User unknown in virtual mailbox table`,
          trace,
        };
      }
    }
    const nextHop = transportFor(whole, user, domain) ?? (cls === 'virtual-mailbox' ? local : remote);
    trace.push(`${cls} -> ${nextHop.raw}`);
    return {
      ok: true,
      input,
      class: cls,
      recipients: [{ address: `${user}@${domain}`, ...(extension !== undefined ? { extension } : {}), class: cls, nextHop }],
      trace,
    };
  }

  const verify = (address: string) => {
    const r = resolve(address);
    return r.ok ? { accepted: true as const, class: r.class } : { accepted: false as const, class: r.class, status: r.status, text: r.text };
  };
  return { resolve, classify, verify, isLocal: (domain) => hosted.has(norm(domain)) };
}
