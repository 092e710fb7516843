// DNS-list keys and the one batched lookup per list: what each restriction's zone is asked about.
// Trusts the DNS-list port's answers; a port that throws (it promises not to) makes every list unknown.
import { addressDomain, isValidHostname } from '../address.ts';
import type { DnsListAnswer, DnsListQuery, DnsTarget } from '../types.ts';
import { type Compiled, type Ctx, type DnsPlan, lowerName } from './context.ts';

export const TARGET_INDEX: Readonly<Record<DnsTarget, number>> = { client: 0, 'client-name': 1, 'reverse-client-name': 2, 'sender-domain': 3, helo: 4 };

function computeKey(target: DnsTarget, ctx: Ctx): string | undefined {
  const f = ctx.facts;
  switch (target) {
    case 'client':
      return ctx.client ? ctx.clientText : undefined;
    case 'client-name':
      return nameKey(f.clientName, ctx);
    case 'reverse-client-name':
      return nameKey(f.reverseClientName, ctx);
    case 'sender-domain': {
      if (!f.sender) return undefined;
      const d = addressDomain(f.sender);
      return d && isValidHostname(d) ? d : undefined;
    }
    case 'helo':
      return nameKey(f.helo, ctx);
  }
}

/** A host name's key; the client, reverse and HELO names are often the same text: checked once. */
function nameKey(n: string | undefined, ctx: Ctx): string | undefined {
  if (!n) return undefined;
  if (n === ctx.lastName) return ctx.lastNameKey;
  const k = isValidHostname(n) ? lowerName(n) : undefined;
  ctx.lastName = n;
  ctx.lastNameKey = k;
  return k;
}

/** The name or address a DNS list is asked about, computed once per decision and target. */
export function dnsKey(target: DnsTarget, i: number, ctx: Ctx): string | undefined {
  let k = ctx.keys[i];
  if (k === null) k = ctx.keys[i] = computeKey(target, ctx);
  return k;
}

export function makeDnsPlan(list: Compiled[], maxStage: number): DnsPlan {
  const pairs: DnsPlan['pairs'] = [];
  const pairOf = new Int32Array(list.length).fill(-1);
  const sitePairs: DnsPlan['sitePairs'] = [];
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c.needs > maxStage) break;
    if (c.dnsTarget === undefined) continue;
    if (c.sites !== undefined) {
      // a weighted set shares the batch (and the port's cache) with the first-hit lists: one query per (zone, use)
      sitePairs[i] = c.sites.map((s) => pairFor(pairs, s.zone, 'client', TARGET_INDEX.client, s.use));
      continue;
    }
    pairOf[i] = pairFor(pairs, c.zone!, c.dnsTarget, c.targetIndex, c.dnsUse);
  }
  return { pairs, pairOf, sitePairs };
}

function pairFor(pairs: DnsPlan['pairs'], zone: string, target: DnsTarget, targetIndex: number, use: 'allow' | 'block' | undefined): number {
  const idx = pairs.findIndex((p) => p.zone === zone && p.target === target && p.use === use);
  if (idx >= 0) return idx;
  const sameZoneBefore = pairs.flatMap((p, j) => (p.zone === zone && p.use === use ? [j] : []));
  return pairs.push({ zone, target, targetIndex, use, sameZoneBefore, last: undefined }) - 1;
}

/** One lookup() for every DNS-list restriction the plan holds: concurrent, under the port's budget. */
export function fetchDns(ctx: Ctx, plan: DnsPlan): Promise<DnsListAnswer[]> | undefined {
  const queries: DnsListQuery[] = [];
  // a plain array: a typed array costs more to allocate than it saves on a dozen reads
  const n = plan.pairs.length;
  const answerOf: number[] = new Array(n);
  for (let p = 0; p < n; p++) answerOf[p] = -1;
  for (let p = 0; p < plan.pairs.length; p++) {
    const pair = plan.pairs[p]!;
    const key = dnsKey(pair.target, pair.targetIndex, ctx);
    if (key === undefined) continue;
    // the same zone asked about the same name for the same use through two targets (HELO = client name): ask once
    const same = pair.sameZoneBefore;
    for (let j = 0; j < same.length; j++) {
      const q = same[j]!;
      if (answerOf[q]! >= 0 && ctx.keys[plan.pairs[q]!.targetIndex] === key) {
        answerOf[p] = answerOf[q]!;
        break;
      }
    }
    if (answerOf[p]! >= 0) continue;
    answerOf[p] = queries.length;
    // Queries are values (ports must not change them): the same name as last time reuses the object.
    let query = pair.last;
    if (query === undefined || query.key !== key) query = pair.last = { zone: pair.zone, target: pair.target, key, use: pair.use };
    queries.push(query);
  }
  ctx.dnsPlan = plan;
  ctx.dnsAnswerOf = answerOf;
  if (queries.length === 0) {
    ctx.dnsAnswers = [];
    return undefined;
  }
  try {
    return ctx.env.ports.dnslist.lookup(queries);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The port promises never to throw; if it does, every list is unknown (fail open). */
export function dnsFailOpen(ctx: Ctx, e: unknown): DnsListAnswer[] {
  const n = ctx.dnsAnswerOf ? Math.max(-1, ...ctx.dnsAnswerOf) + 1 : 0;
  return Array.from({ length: n }, (): DnsListAnswer => ({ zone: '', key: '', status: 'unknown', codes: [], detail: `lookup failed: ${(e as Error).message}` }));
}
