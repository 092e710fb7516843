// Per-client-address connection limits, like Postfix's anvil: concurrent sessions and new sessions per minute.
// Trusts only the TCP peer address (never XCLIENT's, never HELO); state is in memory, per process.
import { cidrContains, parseCidr, parseIp } from '@moat/policy';

export type AdmitResult = { ok: true } | { ok: false; reason: 'concurrency' | 'rate'; message: string };

export interface AnvilOptions {
  perIpConcurrency: number;
  /** 0 disables the rate limit. */
  perIpRatePerMinute: number;
  /** Never limited (trusted proxies, monitoring). Exact addresses. */
  exempt?: readonly string[] | undefined;
  now?: (() => number) | undefined;
}

export class Anvil {
  #opts: AnvilOptions;
  readonly #now: () => number;
  readonly #active = new Map<string, number>();
  #total = 0;
  #concurrency: number | undefined;
  /** Token buckets: capacity perIpRatePerMinute, refilled at that rate per minute. O(1) per connection. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: AnvilOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Count a new session; call release() once for every admitted one. */
  admit(ip: string): AdmitResult {
    if (this.#opts.exempt?.includes(ip)) {
      this.#active.set(ip, (this.#active.get(ip) ?? 0) + 1);
      this.#total++;
      return { ok: true };
    }
    const active = this.#active.get(ip) ?? 0;
    const limit = this.#concurrency ?? this.#opts.perIpConcurrency;
    if (limit > 0 && active >= limit) {
      return { ok: false, reason: 'concurrency', message: '4.7.0 Too many concurrent connections from your address, try again later' };
    }
    const rate = this.#opts.perIpRatePerMinute;
    if (rate > 0) {
      const now = this.#now();
      const b = this.#buckets.get(ip) ?? { tokens: rate, at: now };
      b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / 60_000);
      b.at = now;
      if (b.tokens < 1) {
        this.#buckets.set(ip, b);
        return { ok: false, reason: 'rate', message: '4.7.0 Too many connections from your address, slow down' };
      }
      b.tokens -= 1;
      this.#buckets.set(ip, b);
      if (this.#buckets.size > 100_000) this.#sweep(now);
    }
    this.#active.set(ip, active + 1);
    this.#total++;
    return { ok: true };
  }

  /**
   * New limits (a config reload): the sessions and buckets counted so far stay, so a reload never hands a
   * client a fresh allowance. The clock stays the one given at construction.
   */
  configure(opts: Omit<AnvilOptions, 'now'>): void {
    this.#opts = { ...opts, now: this.#now };
  }

  /** Override the per-address session limit (stress), or undefined for the configured one. New sessions only. */
  setConcurrency(limit: number | undefined): void {
    this.#concurrency = limit;
  }

  release(ip: string): void {
    const had = this.#active.get(ip) ?? 0;
    if (had > 0) this.#total--;
    if (had <= 1) this.#active.delete(ip);
    else this.#active.set(ip, had - 1);
  }

  /** Sessions admitted and not yet released, every address (the stress state counts these). */
  total(): number {
    return this.#total;
  }

  active(ip: string): number {
    return this.#active.get(ip) ?? 0;
  }

  /** Forget full buckets (idle addresses): they would admit anyway. */
  #sweep(now: number): void {
    const rate = this.#opts.perIpRatePerMinute;
    for (const [ip, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * rate) / 60_000 >= rate && !this.#active.has(ip)) this.#buckets.delete(ip);
    }
  }
}

/** IPv4/IPv6 CIDR membership for trusted-network lists (XCLIENT). `::ffff:a.b.c.d` matches v4 entries. */
export function inNetworks(address: string, networks: readonly string[]): boolean {
  const addr = parseIp(address.trim().replace(/^\[|\]$/g, ''));
  if (!addr) return false;
  for (const net of networks) {
    const n = parseCidr(net);
    if (n && cidrContains(n, addr)) return true;
  }
  return false;
}
