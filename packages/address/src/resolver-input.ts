// The resolver's working address (internal local part, domain) and how a resolution stops: parsing client
// input into it, and showing it again in external form. Trusts nothing: the address is client input.
import { externalForm, plainAddressAt, quoteLocal, splitAddress } from './address-parts.ts';
import type { Resolution } from './types.ts';

type Failure = Extract<Resolution, { ok: false }>;

/** A resolution stops: the reason, status and text become the Resolution. */
export class Stop extends Error {
  readonly reason: Failure['reason'];
  readonly status: string;
  readonly text: string;
  constructor(reason: Failure['reason'], status: string, text: string) {
    super(text);
    this.reason = reason;
    this.status = status;
    this.text = text;
  }
}

export interface Addr {
  /** Internal (unquoted) local part. */
  local: string;
  domain: string;
  /** The external form as one string, when the input already was exactly that (no quotes, canonical domain). */
  text?: string | undefined;
}

/** An Addr in external form (its key for the tables). */
export const show = (a: Addr): string => a.text ?? externalForm(a.local, a.domain);

/** Parses resolver input; an address without a domain gets `myorigin` (trivial-rewrite). */
export function createInputParser(myorigin: string): (address: string) => Addr {
  // The last few domains seen: an address of one of them reuses its string (no slice, its hash already computed).
  const recent = ['', '', '', ''];
  let nextRecent = 0;
  const domainAt = (address: string, at: number): string => {
    const n = address.length - at - 1;
    for (let i = 0; i < 4; i++) {
      const d = recent[i] as string;
      if (d.length === n && address.endsWith(d)) return d;
    }
    const d = address.slice(at + 1);
    recent[nextRecent] = d;
    nextRecent = (nextRecent + 1) & 3;
    return d;
  };
  return (address: string): Addr => {
    const at = plainAddressAt(address);
    if (at > 0) return { local: address.slice(0, at), domain: domainAt(address, at), text: address };
    const p = splitAddress(address);
    // trivial-rewrite: no domain is @$myhostname (after myorigin in cleanup); an empty local part is MAILER-DAEMON.
    const a: Addr = { local: p.local === '' ? 'MAILER-DAEMON' : p.local, domain: p.hasDomain && p.domain !== '' ? p.domain : myorigin, text: undefined };
    // The common case: the input is already the external form (its key for the tables), no string to build.
    if (p.hasDomain && p.domain !== '' && a.local === p.local && address.length === p.local.length + 1 + p.domain.length && address.endsWith(p.domain) && quoteLocal(p.local) === p.local) a.text = address;
    return a;
  };
}
