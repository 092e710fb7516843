// Just enough SPF (RFC 7208 check_host) to say whether a domain's record authorises a client address.
// Trusts the DNS answers of the configured resolver; the record itself is the sender's, so it is bounded.
import type { DnsResult, SpfDns, SpfQuestion } from './dns.ts';
import { canonicalAddress, clientNetwork } from './network.ts';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';

export interface SpfAnswer {
  result: SpfResult;
  /** True when the result came from an `all` mechanism (`+all` authorises everyone: not a pool). */
  viaAll: boolean;
  /** The mechanism that matched, for the log. */
  mechanism?: string | undefined;
}

interface Budget {
  lookups: number;
  voids: number;
}

const QUALIFIER: Record<string, SpfResult> = { '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' };

function inCidr(ip: string, family: 4 | 6, net: string, prefix: number): boolean {
  const n = canonicalAddress(net);
  if (!n || n.family !== family) return false;
  return clientNetwork(ip, prefix, prefix) === clientNetwork(n.address, prefix, prefix);
}

function parseCidrSuffix(spec: string): { domain: string; v4: number; v6: number } | undefined {
  const m = /^([^/]*)(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(spec);
  if (!m) return undefined;
  const v4 = m[2] === undefined ? 32 : Number(m[2]);
  const v6 = m[3] === undefined ? 128 : Number(m[3]);
  if (v4 > 32 || v6 > 128) return undefined;
  return { domain: m[1] ?? '', v4, v6 };
}

function validDomain(d: string): boolean {
  return d.length > 0 && d.length <= 253 && /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)+$/i.test(d.replace(/\.$/, ''));
}

/**
 * The evaluation is a generator that yields each DNS question and is handed its answer: one copy of the
 * RFC's logic, driven synchronously while the cache holds every answer, asynchronously from the first miss.
 */
type Ask = { type: SpfQuestion; name: string };
type Evaluation<T> = Generator<Ask, T, DnsResult<string[]>>;

function* addresses(name: string, family: 4 | 6, budget: Budget): Evaluation<string[] | SpfResult> {
  const r = yield { type: family === 4 ? 'a' : 'aaaa', name };
  if (r.status === 'error') return 'temperror';
  if (r.status === 'none') {
    if (++budget.voids > 2) return 'permerror';
    return [];
  }
  return r.data;
}

function* checkHost(ip: string, family: 4 | 6, domain: string, budget: Budget, depth: number): Evaluation<SpfAnswer> {
  if (depth > 10 || !validDomain(domain)) return { result: 'none', viaAll: false };
  const txt = yield { type: 'txt', name: domain };
  if (txt.status === 'error') return { result: 'temperror', viaAll: false };
  if (txt.status === 'none') return { result: 'none', viaAll: false };
  const records = txt.data.filter((t) => /^v=spf1(\s|$)/i.test(t));
  if (records.length === 0) return { result: 'none', viaAll: false };
  if (records.length > 1) return { result: 'permerror', viaAll: false };
  const terms = (records[0] ?? '').slice(0, 4096).trim().split(/\s+/).slice(1, 200);
  let redirect: string | undefined;
  const count = (): boolean => ++budget.lookups <= 10;

  for (const raw of terms) {
    const term = raw.toLowerCase();
    if (term.startsWith('redirect=')) {
      redirect = term.slice(9);
      continue;
    }
    if (/^[a-z][a-z0-9_.-]*=/.test(term)) continue; // exp= and unknown modifiers
    let q = '+';
    let mech = term;
    if (/^[+\-~?]/.test(mech)) {
      q = mech[0] ?? '+';
      mech = mech.slice(1);
    }
    const result = QUALIFIER[q] ?? 'neutral';
    const parts = /^([a-z0-9]+)(.*)$/s.exec(mech);
    const name = parts?.[1] ?? '';
    const rest = parts?.[2] ?? '';
    const arg0: string | undefined = rest.startsWith(':') ? rest.slice(1) : rest.startsWith('/') ? rest : rest ? '\0' : undefined;
    // Macros are not expanded: a mechanism using them simply does not match here.
    if (arg0?.includes('%')) {
      if (['include', 'a', 'mx', 'exists', 'ptr'].includes(name) && !count()) return { result: 'permerror', viaAll: false };
      continue;
    }
    let matched = false;
    switch (name) {
      case 'all':
        return { result, viaAll: true, mechanism: raw };
      case 'ip4':
      case 'ip6': {
        const [net = '', len] = (arg0 ?? '').split('/');
        const want = name === 'ip4' ? 4 : 6;
        matched = family === want && inCidr(ip, family, net, len === undefined ? (want === 4 ? 32 : 128) : Number(len));
        break;
      }
      case 'include': {
        if (!count()) return { result: 'permerror', viaAll: false };
        const sub = yield* checkHost(ip, family, arg0 ?? '', budget, depth + 1);
        if (sub.result === 'temperror') return sub;
        if (sub.result === 'permerror' || sub.result === 'none') return { result: 'permerror', viaAll: false };
        if (sub.result === 'pass') {
          if (sub.viaAll) return { result, viaAll: true, mechanism: raw };
          matched = true;
        }
        break;
      }
      case 'a':
      case 'mx': {
        if (!count()) return { result: 'permerror', viaAll: false };
        const spec = parseCidrSuffix(arg0 ?? '');
        if (!spec) return { result: 'permerror', viaAll: false };
        const target = spec.domain || domain;
        const prefix = family === 4 ? spec.v4 : spec.v6;
        let hosts = [target];
        if (name === 'mx') {
          const mx = yield { type: 'mx', name: target };
          if (mx.status === 'error') return { result: 'temperror', viaAll: false };
          if (mx.status === 'none') {
            if (++budget.voids > 2) return { result: 'permerror', viaAll: false };
            hosts = [];
          } else {
            if (mx.data.length > 10) return { result: 'permerror', viaAll: false };
            hosts = mx.data;
          }
        }
        for (const h of hosts) {
          const addrs = yield* addresses(h, family, budget);
          if (typeof addrs === 'string') return { result: addrs, viaAll: false };
          if (addrs.some((a) => inCidr(ip, family, a, prefix))) {
            matched = true;
            break;
          }
        }
        break;
      }
      case 'exists': {
        if (!count()) return { result: 'permerror', viaAll: false };
        const addrs = yield* addresses(arg0 ?? '', 4, budget);
        if (typeof addrs === 'string') return { result: addrs, viaAll: false };
        matched = addrs.length > 0;
        break;
      }
      case 'ptr':
        // Deprecated (RFC 7208 5.5) and slow: counted, never matched.
        if (!count()) return { result: 'permerror', viaAll: false };
        break;
      default:
        return { result: 'permerror', viaAll: false };
    }
    if (matched) return { result, viaAll: false, mechanism: raw };
  }
  if (redirect !== undefined) {
    if (!count()) return { result: 'permerror', viaAll: false };
    const sub = yield* checkHost(ip, family, redirect, budget, depth + 1);
    return sub.result === 'none' ? { result: 'permerror', viaAll: false } : sub;
  }
  return { result: 'neutral', viaAll: false };
}

const TEMPERROR: SpfAnswer = Object.freeze({ result: 'temperror', viaAll: false });

/**
 * check_host(ip, domain) with the RFC's 10-lookup and 2-void-lookup limits. Never throws (a failure is a
 * temperror). An answer, not a promise, when the DNS cache holds every answer it needs (`dns.held`): the
 * common repeat of a sender domain then costs no promise, timer or microtask.
 */
export function checkSpf(dns: SpfDns, clientAddress: string, domain: string): SpfAnswer | Promise<SpfAnswer> {
  const c = canonicalAddress(clientAddress);
  if (!c) return { result: 'none', viaAll: false };
  const evaluation = checkHost(c.address, c.family, domain.toLowerCase().replace(/\.$/, ''), { lookups: 0, voids: 0 }, 0);
  return drive(dns, evaluation, undefined);
}

/** Runs the evaluation with `answer` to its last question (undefined: from the start), from the cache while it can. */
function drive(dns: SpfDns, evaluation: Evaluation<SpfAnswer>, answer: DnsResult<string[]> | undefined): SpfAnswer | Promise<SpfAnswer> {
  try {
    let step = answer === undefined ? evaluation.next() : evaluation.next(answer);
    while (!step.done) {
      const { type, name } = step.value;
      const held = dns.held?.(type, name);
      if (held === undefined) return dns[type](name).then((r) => drive(dns, evaluation, r), () => ({ ...TEMPERROR }));
      step = evaluation.next(held);
    }
    return step.value;
  } catch {
    return { ...TEMPERROR };
  }
}
