// `moat greylist show|whitelist|remove|stuck`: the shared greylist's admin API from the command line.
// Talks to the greylist's Redis (from moat.yaml); trusts the local operator, checks every address it is given.
import { type Config, views } from '@moat/config';
import type { Greylist, TripletRecord } from '@moat/greylist';
import { parseCidr, parseIp } from '@moat/policy';
import { describeRedisTarget } from '@moat/redis';
import { ago, isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { CommandError, engineFor, guard, loadConfigOrFail, noDnsLists } from './context.ts';
import { probeRedis } from './reach.ts';
import type { Command, Io } from './types.ts';

const USAGE = `show --client IP --sender ADDR --recipient ADDR [--client-name NAME] | whitelist CIDR [--ttl DAYS] | remove --cidr CIDR | remove --client IP --sender ADDR --recipient ADDR | remove --auto-whitelist --client IP [--client-name NAME] | stuck [--limit N]   [--config FILE] [--json]
  show       what Redis holds for a triplet (every identity the client may be known by)
  whitelist  never greylist this client network again (shared by every MX; default 365 days)
  remove     forget a whitelist entry, a triplet, or an auto-whitelist counter
  stuck      senders deferred and never retried successfully, most attempts first, with their retry pattern`;

async function withGreylist<T>(config: Config, io: Io, fn: (g: Greylist) => Promise<T>): Promise<T> {
  const built = await engineFor(config, io, { dnslist: noDnsLists });
  try {
    if (!built.greylist) throw new CommandError('greylisting is not in the policy (no check_policy_service in recipient_restrictions)');
    if (!(await built.greylist.ping())) {
      const target = views.redis(config);
      const why = await probeRedis(target, Math.max(config.greylist.timeout, 2000));
      throw new CommandError(`the greylist's Redis at ${describeRedisTarget(target)} is unreachable${why ? ` (${why})` : ''}`);
    }
    return await fn(built.greylist);
  } finally {
    await built.close();
  }
}

const ip = (v: string | undefined, flag: string): string => {
  if (v === undefined) throw new UsageError(`${flag} is required`);
  if (!parseIp(v)) throw new UsageError(`${flag} ${JSON.stringify(v)} is not an IP address`);
  return v;
};
const required = (v: string | undefined, flag: string): string => {
  if (v === undefined) throw new UsageError(`${flag} is required (use "" for the null sender)`);
  return v;
};
const cidr = (v: string | undefined): string => {
  if (v === undefined) throw new UsageError('a CIDR is required, e.g. 192.0.2.0/24');
  const withLen = v.includes('/') ? v : v.includes(':') ? `${v}/128` : `${v}/32`;
  if (!parseCidr(withLen)) throw new UsageError(`${JSON.stringify(v)} is not an address or network (host bits must be zero)`);
  return withLen;
};

/** The retry pattern of a stuck triplet: attempts over how long, and the mean gap between them. */
export function retryPattern(t: TripletRecord, now = Math.floor(Date.now() / 1000)): { span: number; meanGap?: number | undefined; sinceLast: number } {
  const span = t.lastSeen - t.firstSeen;
  return { span, meanGap: t.attempts > 1 ? span / (t.attempts - 1) : undefined, sinceLast: now - t.lastSeen };
}

function stuckTable(rows: TripletRecord[]): string {
  if (rows.length === 0) return 'no sender is stuck in greylisting\n';
  const out = [['client', 'sender', 'recipient', 'attempts', 'first seen', 'retry pattern', 'identity']];
  for (const t of rows) {
    const p = retryPattern(t);
    const pattern = t.attempts > 1 ? `every ~${ago(p.meanGap!)} over ${ago(p.span)}, last ${ago(p.sinceLast)} ago` : `once, ${ago(p.sinceLast)} ago, never retried`;
    out.push([safe(t.client), `<${safe(t.sender)}>`, `<${safe(t.recipient)}>`, String(t.attempts), isoTime(t.firstSeen * 1000), pattern, safe(t.identity)]);
  }
  return `${table(out)}\n`;
}

export const greylistCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('greylist', USAGE, io, async () => {
      const a = parseArgs(args, {
        values: ['client', 'client-name', 'sender', 'recipient', 'ttl', 'cidr', 'limit', 'config'],
        flags: ['json', 'auto-whitelist'],
      });
      const [sub, ...pos] = a.positionals;
      const json = a.flags.has('json');
      const v = a.values;
      const say = (obj: unknown, text: string) => io.out.write(json ? `${JSON.stringify(obj, null, 2)}\n` : text);
      switch (sub) {
        case 'show': {
          const q = { clientAddress: ip(v.client, '--client'), clientName: v['client-name'], sender: required(v.sender, '--sender'), recipient: required(v.recipient, '--recipient') };
          const config = loadConfigOrFail(v.config);
          const r = await withGreylist(config, io, (g) => g.inspect(q));
          const lines = [`triplet <${safe(r.sender)}> -> <${safe(r.recipient)}>, identity now: ${safe(r.identity)}`];
          for (const c of r.candidates) {
            const t = c.triplet;
            const state = !t ? 'no record' : t.passedAt !== undefined ? `passed ${isoTime(t.passedAt * 1000)}, ${t.passes} pass(es)` : `waiting: ${t.attempts} attempt(s) since ${isoTime(t.firstSeen * 1000)}`;
            const awl = c.autoWhitelist ? `, auto-whitelist count ${c.autoWhitelist.count}` : '';
            lines.push(`  ${safe(c.identity)}: ${state}${t ? `, ttl ${ago(t.ttl)}` : ''}${awl}`);
          }
          say(r, `${lines.join('\n')}\n`);
          return 0;
        }
        case 'whitelist': {
          if (pos.length !== 1) throw new UsageError('whitelist takes one CIDR');
          const net = cidr(pos[0]);
          const days = v.ttl === undefined ? 365 : Number(v.ttl);
          if (!Number.isFinite(days) || days <= 0) throw new UsageError('--ttl is a number of days > 0');
          const config = loadConfigOrFail(v.config);
          await withGreylist(config, io, (g) => g.whitelistClient(net, Math.round(days * 86400)));
          say({ whitelisted: net, days }, `whitelisted ${net} for ${days} day(s) (every MX within its refresh interval)\n`);
          return 0;
        }
        case 'remove': {
          if (pos.length) throw new UsageError(`unexpected argument ${JSON.stringify(pos[0])}`);
          const config = loadConfigOrFail(v.config);
          let target: Parameters<Greylist['remove']>[0];
          if (v.cidr !== undefined) target = { cidr: cidr(v.cidr) };
          else if (a.flags.has('auto-whitelist')) target = { autoWhitelist: { clientAddress: ip(v.client, '--client'), clientName: v['client-name'], sender: v.sender } };
          else target = { triplet: { clientAddress: ip(v.client, '--client'), clientName: v['client-name'], sender: required(v.sender, '--sender'), recipient: required(v.recipient, '--recipient') } };
          const n = await withGreylist(config, io, (g) => g.remove(target));
          say({ removed: n }, `removed ${n} record(s)\n`);
          return n > 0 ? 0 : 1;
        }
        case 'stuck': {
          if (pos.length) throw new UsageError(`unexpected argument ${JSON.stringify(pos[0])}`);
          const limit = v.limit === undefined ? 50 : Number(v.limit);
          if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit is a whole number > 0');
          const config = loadConfigOrFail(v.config);
          const rows = await withGreylist(config, io, (g) => g.listStuck(limit));
          say(rows.map((t) => ({ ...t, pattern: retryPattern(t) })), stuckTable(rows));
          return 0;
        }
        default:
          throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
      }
    });
  },
};
