// The admin API behind the CLI/console: inspect a triplet, whitelist a client, remove records, list stuck senders.
// Trusts its caller (an operator); reads and writes Redis directly and may throw, unlike check().
import type { ClockPort } from '@moat/policy';
import { type IdentityOptions, isGenericHostname, organisationalDomain, safeKeyPart, senderIdentity } from './identity.ts';
import { adminWhitelistKey, awlKey, identityOfKey, tripletKey, tripletPattern } from './keys.ts';
import { CidrSet, clientNetwork, parseCidr } from './network.ts';
import { normalizeRecipient, normalizeSender } from './normalize.ts';
import type { Store } from './store.ts';

export interface AdminContext {
  store: Store;
  prefix: string;
  clock: ClockPort | undefined;
  delay: number;
  identityOptions: IdentityOptions;
  /** CIDRs added through whitelistClient, mirrored from Redis. */
  adminWhitelist: CidrSet;
}

export interface TripletQuery {
  clientAddress: string;
  clientName?: string | undefined;
  sender: string;
  recipient: string;
}

export interface TripletRecord {
  key: string;
  identity: string;
  client?: string | undefined;
  clientName?: string | undefined;
  sender?: string | undefined;
  recipient?: string | undefined;
  firstSeen: number;
  lastSeen: number;
  attempts: number;
  /** First pass (epoch seconds); undefined while unconfirmed. */
  passedAt?: number | undefined;
  lastPass?: number | undefined;
  passes: number;
  /** Seconds to live in Redis (-1 none, -2 gone). */
  ttl: number;
}

export interface AutoWhitelistRecord {
  key: string;
  identity: string;
  count: number;
  first?: number | undefined;
  last?: number | undefined;
  hits: number;
  ttl: number;
}

export interface InspectResult {
  sender: string;
  recipient: string;
  /** The identity check() would use now (SPF evaluated live). */
  identity: string;
  /** Every candidate identity (current first, then ptr and network fallbacks) with what Redis holds. */
  candidates: { identity: string; triplet?: TripletRecord | undefined; autoWhitelist?: AutoWhitelistRecord | undefined }[];
}

export type RemoveTarget =
  | { triplet: TripletQuery }
  | { autoWhitelist: { clientAddress: string; clientName?: string | undefined; sender?: string | undefined } }
  | { cidr: string };

export interface GreylistAdmin {
  inspect(triplet: TripletQuery): Promise<InspectResult>;
  /** Shared by every MX through Redis; effective on this node at once, on others within the refresh interval. */
  whitelistClient(cidr: string, ttlSeconds?: number): Promise<void>;
  /** Returns how many keys/entries were removed. */
  remove(target: RemoveTarget): Promise<number>;
  /** Unconfirmed triplets older than the delay (deferred, never passed), most attempts first. SCANs, bounded. */
  listStuck(limit?: number, opts?: { maxScan?: number }): Promise<TripletRecord[]>;
  /** Re-read the admin whitelist from Redis (also runs on a timer). */
  refreshWhitelist(): Promise<void>;
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

function toTriplet(key: string, h: Record<string, string>, ttl: number): TripletRecord | undefined {
  if (!h.first) return undefined;
  return {
    key,
    identity: identityOfKey(key) ?? '',
    client: h.c,
    clientName: h.h || undefined,
    sender: h.s,
    recipient: h.r,
    firstSeen: Number(h.first),
    lastSeen: Number(h.last ?? h.first),
    attempts: Number(h.n ?? 0),
    passedAt: num(h.pass),
    lastPass: num(h.lastpass),
    passes: Number(h.passes ?? 0),
    ttl,
  };
}

export function createAdmin(ctx: AdminContext): GreylistAdmin {
  const { store, prefix } = ctx;
  const now = async () => (ctx.clock ? Math.floor(ctx.clock.now() / 1000) : store.time());

  async function candidates(q: { clientAddress: string; clientName?: string | undefined; sender?: string | undefined }) {
    const current = await senderIdentity({ ...q, sender: q.sender ?? '' }, ctx.identityOptions);
    const ids = [current.id];
    const name = q.clientName?.toLowerCase();
    if (name && name !== 'unknown' && !isGenericHostname(name, q.clientAddress)) {
      const org = organisationalDomain(name);
      if (org) ids.push(`ptr:${safeKeyPart(org)}`);
    }
    const net = clientNetwork(q.clientAddress, ctx.identityOptions.v4Prefix, ctx.identityOptions.v6Prefix);
    if (net) ids.push(`net:${net}`);
    return { current: current.id, ids: [...new Set(ids)] };
  }

  async function readTriplet(key: string): Promise<TripletRecord | undefined> {
    const [h, ttl] = await store.admin((r) => Promise.all([r.hgetall(key), r.ttl(key)]));
    return toTriplet(key, h, ttl);
  }

  async function readAwl(key: string): Promise<AutoWhitelistRecord | undefined> {
    const [h, ttl] = await store.admin((r) => Promise.all([r.hgetall(key), r.ttl(key)]));
    if (!h.n) return undefined;
    return { key, identity: identityOfKey(key) ?? '', count: Number(h.n), first: num(h.first), last: num(h.last), hits: Number(h.hits ?? 0), ttl };
  }

  const api: GreylistAdmin = {
    async inspect(q) {
      const sender = normalizeSender(q.sender);
      const recipient = normalizeRecipient(q.recipient);
      const { current, ids } = await candidates(q);
      const out: InspectResult = { sender, recipient, identity: current, candidates: [] };
      for (const id of ids) {
        out.candidates.push({
          identity: id,
          triplet: await readTriplet(tripletKey(prefix, id, sender, recipient)),
          autoWhitelist: await readAwl(awlKey(prefix, id)),
        });
      }
      return out;
    },

    async whitelistClient(cidr, ttlSeconds = 365 * 86400) {
      const p = parseCidr(cidr);
      if (!p) throw new Error(`not a CIDR: ${cidr}`);
      const canonical = `${p.address}/${p.prefix}`;
      const t = await now();
      const key = adminWhitelistKey(prefix);
      await store.admin(async (r) => {
        await r.zremrangebyscore(key, '-inf', String(t));
        await r.zadd(key, t + ttlSeconds, canonical);
        // The set lives as long as its longest entry.
        const max = await r.zrange(key, '-1', '-1', 'WITHSCORES');
        const until = Number(max[1] ?? t + ttlSeconds);
        await r.expire(key, Math.max(1, until - t));
      });
      ctx.adminWhitelist.add([canonical]);
    },

    async remove(target) {
      if ('cidr' in target) {
        const p = parseCidr(target.cidr);
        if (!p) throw new Error(`not a CIDR: ${target.cidr}`);
        const n = await store.admin((r) => r.zrem(adminWhitelistKey(prefix), `${p.address}/${p.prefix}`));
        await api.refreshWhitelist();
        return n;
      }
      if ('triplet' in target) {
        const q = target.triplet;
        const sender = normalizeSender(q.sender);
        const recipient = normalizeRecipient(q.recipient);
        const { ids } = await candidates(q);
        let n = 0;
        // One DEL per key: the candidates live in different hash slots.
        for (const id of ids) n += await store.admin((r) => r.del(tripletKey(prefix, id, sender, recipient)));
        return n;
      }
      const { ids } = await candidates(target.autoWhitelist);
      let n = 0;
      for (const id of ids) n += await store.admin((r) => r.del(awlKey(prefix, id)));
      return n;
    },

    async listStuck(limit = 50, opts = {}) {
      const maxScan = opts.maxScan ?? 100_000;
      const t = await now();
      const found: TripletRecord[] = [];
      let scanned = 0;
      // On Redis Cluster every master holds a share of the keys: scan each one directly.
      for (const node of store.dataNodes()) {
        let cursor = '0';
        do {
          const [next, keys] = await store.admin(() => node.scan(cursor, 'MATCH', tripletPattern(prefix), 'COUNT', 1000));
          cursor = next;
          scanned += keys.length;
          if (keys.length) {
            const rows = await store.admin(async () => {
              const p = node.pipeline();
              for (const k of keys) p.hgetall(k);
              return (await p.exec()) ?? [];
            });
            keys.forEach((k, i) => {
              const h = rows[i]?.[1] as Record<string, string> | undefined;
              const rec = h ? toTriplet(k, h, -1) : undefined;
              if (rec && rec.passedAt === undefined && t - rec.firstSeen >= ctx.delay) found.push(rec);
            });
          }
        } while (cursor !== '0' && scanned < maxScan);
      }
      found.sort((a, b) => b.attempts - a.attempts || a.firstSeen - b.firstSeen);
      return found.slice(0, limit);
    },

    async refreshWhitelist() {
      const t = await now();
      const cidrs = await store.admin((r) => r.zrangebyscore(adminWhitelistKey(prefix), t, '+inf'));
      const fresh = new CidrSet();
      fresh.add(cidrs);
      ctx.adminWhitelist = fresh;
    },
  };
  return api;
}
