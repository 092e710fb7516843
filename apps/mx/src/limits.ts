// Per-client-address connection limits, like Postfix's anvil: concurrent sessions and new sessions per minute.
// Trusts only the TCP peer address (never XCLIENT's, never HELO); state is in memory, per process.

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
  readonly #opts: AnvilOptions;
  readonly #now: () => number;
  readonly #active = new Map<string, number>();
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
    return { ok: true };
  }

  /** Override the per-address session limit (stress), or undefined for the configured one. New sessions only. */
  setConcurrency(limit: number | undefined): void {
    this.#concurrency = limit;
  }

  release(ip: string): void {
    const n = (this.#active.get(ip) ?? 0) - 1;
    if (n <= 0) this.#active.delete(ip);
    else this.#active.set(ip, n);
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
  const addr = parseIp(address);
  if (!addr) return false;
  for (const net of networks) {
    const [base = '', lenText] = net.split('/');
    const b = parseIp(base);
    if (!b || b.v6 !== addr.v6) continue;
    const bits = addr.v6 ? 128 : 32;
    const len = lenText === undefined ? bits : Number(lenText);
    if (!Number.isInteger(len) || len < 0 || len > bits) continue;
    let ok = true;
    for (let i = 0; i < len && ok; i++) {
      const byte = i >> 3;
      const mask = 0x80 >> (i & 7);
      ok = ((addr.bytes[byte] ?? 0) & mask) === ((b.bytes[byte] ?? 0) & mask);
    }
    if (ok) return true;
  }
  return false;
}

function parseIp(s: string): { v6: boolean; bytes: number[] } | undefined {
  let t = s.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
  if (mapped) t = mapped[1]!;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(t)) {
    const bytes = t.split('.').map(Number);
    return bytes.every((n) => n >= 0 && n <= 255) ? { v6: false, bytes } : undefined;
  }
  if (!t.includes(':')) return undefined;
  const [head = '', tail, extra] = t.split('::');
  if (extra !== undefined) return undefined;
  const groups = (x: string) => (x === '' ? [] : x.split(':'));
  const h = groups(head);
  const tl = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - tl.length;
  const all = [...h, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tl];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { v6: true, bytes: all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]) };
}
