// One TXT question on the wire (transport.ts), read far enough to see a negative answer's SOA (RFC 2308), which
// node:dns (c-ares) does not report. Trusts the configured resolver; a reply it cannot use goes back to c-ares.
import type { ResolverAddress } from './server-address.ts';
import { DnsAnswerError, exchange } from './transport.ts';
import { TYPE_TXT, txtChunks } from './wire.ts';

/** The reply needs what c-ares does and this does not (an old server without EDNS, an odd name). */
export const FALL_BACK = Symbol('fall back to c-ares');

/**
 * TXT records of `name` and their TTL (exchange: tries, TCP after truncation, the budget). NXDOMAIN -> ENOTFOUND,
 * no TXT -> ENODATA, both with the SOA's negative TTL (0 without an SOA: RFC 2308 section 5, not kept).
 * FALL_BACK when c-ares should ask.
 */
export async function askTxt(
  servers: readonly ResolverAddress[],
  name: string,
  perTryMs: number,
  deadline: number,
): Promise<{ data: string[][]; ttl: number } | typeof FALL_BACK> {
  const r = await exchange(servers, name, TYPE_TXT, { perTryMs, deadline });
  if (!r) return FALL_BACK;
  if (r.rcode === 3) throw new DnsAnswerError('ENOTFOUND', name, r.negativeTtl ?? 0);
  if (r.rcode !== 0) return FALL_BACK; // FORMERR (an old server and EDNS) and the rest: c-ares knows the dance
  if (r.records.length === 0) throw new DnsAnswerError('ENODATA', name, r.negativeTtl ?? 0);
  const data: string[][] = [];
  for (const rr of r.records) {
    const chunks = txtChunks(rr.data);
    if (!chunks) return FALL_BACK;
    data.push(chunks);
  }
  return { data, ttl: r.ttl };
}
