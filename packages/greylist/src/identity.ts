// The "sender identity" a triplet is keyed by: the sender domain's SPF pool, the forward-confirmed
// reverse-DNS organisational domain, or the client network. Trusts SPF answers and the caller's clientName.
import { withTimeout } from '@moat/redis';
import { getDomain } from 'tldts';
import type { SpfDns } from './dns.ts';
import { canonicalAddress, clientNetwork } from './network.ts';
import { addressDomain } from './normalize.ts';
import { checkSpf, type SpfAnswer } from './spf.ts';

export type IdentityKind = 'spf' | 'ptr' | 'net';

export interface Identity {
  kind: IdentityKind;
  /** `spf:example.com`, `ptr:example.net`, `net:192.0.2.0/24`: the Redis hash tag. */
  id: string;
  /** The client network, always (for logs and the admin API). */
  network: string;
  spf?: SpfAnswer | undefined;
}

/** Hash tags and key parts are ours: keep them to a safe alphabet (no braces, no glob chars). */
export function safeKeyPart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.:/_-]/g, '_').slice(0, 200);
}

const GENERIC_WORDS = /(^|[.-])(dyn|dynamic|dhcp|dsl|adsl|xdsl|cable|ppp|pppoe|pool|broadband|client|clients|cust|customer|home|user|users|dialup|dial|unassigned|static|ip)[\d.-]/;

/** What genericity needs from a (lower-case) name alone; memoised per name by ptrIdentity. */
interface NameFacts {
  /** Names an access network by its words (`dyn`, `dsl`, `pool`, ...). */
  words: boolean;
  /** The name's digit runs (an address spelt in decimal), absent when it has none. */
  runs: Set<string> | undefined;
  /** Has 8 hex digits in a row (an address spelt in hex), else it cannot contain one. */
  hexy: boolean;
}

function nameFacts(n: string): NameFacts {
  const runs = n.match(/\d+/g);
  return { words: GENERIC_WORDS.test(n), runs: runs ? new Set(runs) : undefined, hexy: /[0-9a-f]{8}/.test(n) };
}

/** Whether a name with these facts spells `clientAddress` (or is generic by its words). */
function genericFor(f: NameFacts, n: string, clientAddress: string): boolean {
  if (f.words) return true;
  const c = canonicalAddress(clientAddress);
  if (!c) return true;
  if (c.family === 4 && (f.runs || f.hexy)) {
    const octets = c.address.split('.');
    if (f.runs) {
      let hits = 0;
      for (const o of octets) if (f.runs.has(o)) hits++;
      if (hits >= 2) return true;
    }
    if (f.hexy && n.includes(octets.map((o) => Number(o).toString(16).padStart(2, '0')).join(''))) return true;
  }
  return false;
}

/**
 * A PTR name that just spells the address (`203-0-113-45.dyn.example.net`) names an access
 * network, not a mail operator: grouping by its organisational domain would merge every bot in that
 * ISP, so such names fall back to the client network.
 */
export function isGenericHostname(name: string, clientAddress: string): boolean {
  const n = name.toLowerCase();
  return genericFor(nameFacts(n), n, clientAddress);
}

/** The registrable domain of a hostname (public-suffix list via tldts); undefined for IPs and bare suffixes. */
export function organisationalDomain(name: string): string | undefined {
  const d = getDomain(name.toLowerCase().replace(/\.$/, ''), { allowPrivateDomains: false });
  return d ?? undefined;
}

export interface IdentityOptions {
  v4Prefix: number;
  v6Prefix: number;
  /** SPF lookups; undefined disables SPF pool matching. */
  dns?: SpfDns | undefined;
  /** Time budget for the SPF evaluation; past it the identity falls back. */
  spfTimeoutMs: number;
}

/** The SPF budget ran out: the identity falls back as for a temperror (an error from checkSpf itself still propagates). */
class SpfBudgetSpent extends Error {}

/**
 * Decide the identity. SPF first (a pass from a specific mechanism, never from `all`), then the
 * forward-confirmed name's organisational domain (unless generic), else the client network.
 * A value, not a promise, when the SPF answers are all in the DNS cache (or no SPF check is made).
 */
export function senderIdentity(
  req: { clientAddress: string; clientName?: string | undefined; sender: string },
  opts: IdentityOptions,
): Identity | Promise<Identity> {
  const network = clientNetwork(req.clientAddress, opts.v4Prefix, opts.v6Prefix) ?? `addr:${safeKeyPart(req.clientAddress)}`;
  const domain = req.sender ? addressDomain(req.sender) : '';
  if (!opts.dns || !domain) return identityAfterSpf(req, network, domain, undefined);
  const spf = checkSpf(opts.dns, req.clientAddress, domain);
  if (!(spf instanceof Promise)) return identityAfterSpf(req, network, domain, spf);
  // only a check that waits for DNS needs the budget (and its timer)
  return withTimeout(spf, opts.spfTimeoutMs, () => new SpfBudgetSpent())
    .catch((e: unknown) => {
      if (e instanceof SpfBudgetSpent) return { result: 'temperror', viaAll: false, mechanism: 'timeout' } satisfies SpfAnswer;
      throw e;
    })
    .then((answer) => identityAfterSpf(req, network, domain, answer));
}

function identityAfterSpf(req: { clientAddress: string; clientName?: string | undefined }, network: string, domain: string, spf: SpfAnswer | undefined): Identity {
  if (spf && spf.result === 'pass' && !spf.viaAll) return { kind: 'spf', id: `spf:${safeKeyPart(domain)}`, network, spf };
  const ptr = req.clientName ? ptrIdentity(req.clientName, req.clientAddress) : '';
  if (ptr) return { kind: 'ptr', id: ptr, network, spf };
  return { kind: 'net', id: `net:${network}`, network, spf };
}

/**
 * `ptr:<organisational domain>` for a client name that names a mail operator, '' for none (generic,
 * `unknown`, a bare suffix). What depends on the name alone (the genericity regexes and the public-suffix
 * lookup: ~5% of policyd's CPU in the bench profile) is memoised per name: a sending host repeats its name.
 */
function ptrIdentity(clientName: string, clientAddress: string): string {
  let m = ptrMemo.get(clientName);
  if (m === undefined) {
    const name = clientName.toLowerCase().replace(/\.$/, '');
    const org = name && name !== 'unknown' ? organisationalDomain(name) : undefined;
    m = { name, facts: nameFacts(name), id: org ? `ptr:${safeKeyPart(org)}` : '' };
    if (clientName.length <= 255) {
      if (ptrMemo.size >= PTR_MEMO_MAX) ptrMemo.clear(); // bounded; a full clear is cheaper than LRU upkeep
      ptrMemo.set(clientName, m);
    }
  }
  return m.id && !genericFor(m.facts, m.name, clientAddress) ? m.id : '';
}
const PTR_MEMO_MAX = 8192;
const ptrMemo = new Map<string, { name: string; facts: NameFacts; id: string }>();
