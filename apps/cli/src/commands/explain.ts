// `moat explain`: why a mail was (or would be) deferred, rejected or accepted, restriction by restriction.
// Hypothetical mode asks the live DNS lists and reads (never writes) the greylist; journal mode reads Redis only.
import type { Config } from '@moat/config';
import type { JournalEntry } from '@moat/journal';
import type { GreylistAnswer, GreylistPort, Stage, TraceEntry, Verdict } from '@moat/policy';
import { cidrContains, createEngine, parseCidr, parseIp } from '@moat/policy';
import type { Greylist } from '@moat/greylist';
import { hideZones } from '@moat/runtime';
import { isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { CommandError, engineFor, guard, journalFor, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `--client IP --helo NAME --sender ADDR --recipient ADDR [--sasl USER] [--client-name NAME] [--tls] [--stage rcpt] [--live-greylist] [--config FILE] [--json]
       moat explain --session ID | --queue-id ID [--config FILE] [--json]
  Hypothetical: evaluates against the live config, DNS lists and greylist; the greylist is only read
  (a dry run) unless --live-greylist, which records the attempt like a real delivery would.
  Recorded: prints the trace of real decisions from the decision journal.`;

const STAGES: readonly Stage[] = ['connect', 'helo', 'mail', 'rcpt', 'data', 'end-of-data'];

/** The greylist's answer without changing it: what check() would say now, from inspect(). */
export function dryRunGreylist(g: Greylist, config: Config): GreylistPort {
  const gc = config.greylist;
  return {
    async check(req): Promise<GreylistAnswer> {
      const ip = parseIp(req.clientAddress);
      const wl = ip && gc.whitelist.clients.find((c) => {
        const n = parseCidr(c);
        return n !== undefined && cidrContains(n, ip);
      });
      if (wl) return { action: 'pass', reason: 'whitelist', detail: `dry run: whitelisted client ${wl} (config)` };
      const rcpt = req.recipient.toLowerCase();
      const rwl = gc.whitelist.recipients.find((r) => {
        const w = r.toLowerCase();
        return w === rcpt || (!w.includes('@') && rcpt.endsWith(`@${w}`)) || (w.endsWith('@') && rcpt.startsWith(w));
      });
      if (rwl) return { action: 'pass', reason: 'whitelist', detail: `dry run: whitelisted recipient ${rwl} (config)` };
      let r: Awaited<ReturnType<Greylist['inspect']>>;
      try {
        r = await g.inspect({ clientAddress: req.clientAddress, clientName: req.clientName, sender: req.sender, recipient: req.recipient });
      } catch (e) {
        return { action: 'pass', reason: 'fail-open', detail: `dry run: greylist store unavailable (${(e as Error).message}): a real check would fail open` };
      }
      const now = Math.floor(Date.now() / 1000);
      const awl = r.candidates.find((c) => c.autoWhitelist && gc.auto_whitelist_count > 0 && c.autoWhitelist.count >= gc.auto_whitelist_count);
      if (awl) return { action: 'pass', reason: 'auto-whitelist', detail: `dry run: ${awl.identity} auto-whitelisted after ${awl.autoWhitelist!.count} deliveries` };
      const t = r.candidates.find((c) => c.triplet)?.triplet;
      const delay = Math.round(gc.delay / 1000);
      if (t?.passedAt !== undefined) return { action: 'pass', reason: 'known', detail: `dry run: triplet passed at ${isoTime(t.passedAt * 1000)} (${t.identity})` };
      if (t) {
        const age = now - t.firstSeen;
        if (age >= delay) return { action: 'pass', reason: 'retry', detail: `dry run: a retry now passes (first seen ${age}s ago, ${t.attempts} attempts, ${t.identity})` };
        return { action: 'defer', retryAfter: delay - age, detail: `dry run: seen ${age}s ago, ${t.attempts} attempts; passes after ${delay - age}s more (${t.identity})` };
      }
      return {
        action: 'defer',
        retryAfter: delay,
        detail: `dry run: new triplet for ${r.identity}: would be greylisted for ${delay}s (admin whitelist entries are not consulted in a dry run; use --live-greylist)`,
      };
    },
  };
}

function traceRows(trace: readonly TraceEntry[]): string {
  const rows = [['#', 'list', 'restriction', 'outcome', 'ms', 'reason']];
  trace.forEach((t, i) => {
    rows.push([String(i + 1), t.list, safe(t.restriction), t.outcome, t.ms.toFixed(2), safe(t.reason)]);
  });
  return table(rows)
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function verdictLine(v: Verdict): string {
  const by = v.decidedBy ? ` by ${safe(v.decidedBy)}` : ' (no restriction decided: accepted at the last stage)';
  return `=> ${v.action.toUpperCase()} ${v.status}${by}${v.greylisted ? ' [greylisted]' : ''}${v.text ? `\n   text: ${safe(v.text)}` : ''}`;
}

function envelope(e: Pick<JournalEntry, 'facts'>): string {
  const f = e.facts;
  return `client ${safe(f.clientAddress)}${f.clientName ? ` (${safe(f.clientName)})` : ''} helo ${safe(f.helo)} from <${safe(f.sender)}> to <${safe(f.recipient)}>${f.saslUsername ? ` sasl ${safe(f.saslUsername)}` : ''}${f.tls ? ' tls' : ''}`;
}

export function formatEntry(e: JournalEntry): string {
  const head = `${isoTime(e.time)} ${safe(e.node)} session ${safe(e.session)}${e.queueId ? ` queue ${safe(e.queueId)}` : ''} stage ${e.facts.stage}${e.reply ? ` reply ${safe(e.reply)}` : ''}`;
  return `${head}\n  ${envelope(e)}\n${traceRows(e.verdict.trace)}\n${verdictLine(e.verdict)}\n`;
}

async function hypothetical(config: Config, a: ReturnType<typeof parseArgs>, io: Io): Promise<number> {
  const v = a.values;
  const client = v.client;
  if (!client) throw new UsageError('--client IP is required (or --session/--queue-id)');
  if (!parseIp(client)) throw new UsageError(`--client ${JSON.stringify(client)} is not an IP address`);
  const stage = (v.stage ?? 'rcpt') as Stage;
  if (!STAGES.includes(stage)) throw new UsageError(`--stage must be one of ${STAGES.join(', ')}`);
  if (stage === 'rcpt' && (v.sender === undefined || v.recipient === undefined)) throw new UsageError('--sender and --recipient are required at the rcpt stage (--sender "" for the null sender)');
  const built = await engineFor(config, io);
  try {
    await built.dnslist?.ready;
    const live = a.flags.has('live-greylist');
    const engine = built.greylist && !live ? hideZones(createEngine(built.spec, { ...built.ports, greylist: dryRunGreylist(built.greylist, config) })) : built.engine;
    const facts = {
      stage,
      clientAddress: client,
      clientName: v['client-name'],
      reverseClientName: v['client-name'],
      helo: v.helo,
      sender: v.sender,
      recipient: v.recipient,
      saslUsername: v.sasl,
      tls: a.flags.has('tls'),
      sessionId: 'explain',
    };
    const verdict = await engine.evaluate(facts);
    if (a.flags.has('json')) {
      io.out.write(`${JSON.stringify({ hypothetical: true, greylist: built.greylist ? (live ? 'live' : 'dry-run') : 'not-in-policy', facts, verdict }, null, 2)}\n`);
    } else {
      io.out.write(`hypothetical ${stage}: ${envelope({ facts })}\n${traceRows(verdict.trace)}\n${verdictLine(verdict)}\n`);
    }
    return 0;
  } finally {
    await built.close();
  }
}

async function recorded(config: Config, a: ReturnType<typeof parseArgs>, io: Io): Promise<number> {
  const session = a.values.session;
  const queueId = a.values['queue-id'];
  const journal = journalFor(config, io);
  try {
    if (!(await journal.ping())) throw new CommandError('the decision journal (the greylist Redis) is unreachable');
    const entries = session !== undefined ? await journal.bySession(session) : await journal.byQueueId(queueId!);
    const what = session !== undefined ? `session ${session}` : `queue id ${queueId}`;
    if (a.flags.has('json')) io.out.write(`${JSON.stringify({ [session !== undefined ? 'session' : 'queueId']: session ?? queueId, decisions: entries }, null, 2)}\n`);
    else if (entries.length) io.out.write(`${entries.length} decision(s) for ${safe(what)}:\n\n${entries.map(formatEntry).join('\n')}`);
    if (entries.length === 0) {
      io.err.write(`moat explain: no journaled decision for ${safe(what)} (expired, trimmed, or never seen)\n`);
      return 1;
    }
    return 0;
  } finally {
    await journal.close();
  }
}

export const explainCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('explain', USAGE, io, async () => {
      const a = parseArgs(args, {
        values: ['client', 'helo', 'sender', 'recipient', 'sasl', 'client-name', 'stage', 'session', 'queue-id', 'config'],
        flags: ['json', 'tls', 'live-greylist'],
      });
      if (a.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(a.positionals[0])}`);
      const byJournal = a.values.session !== undefined || a.values['queue-id'] !== undefined;
      if (a.values.session !== undefined && a.values['queue-id'] !== undefined) throw new UsageError('give --session or --queue-id, not both');
      if (byJournal && a.values.client !== undefined) throw new UsageError('--client is for a hypothetical; --session/--queue-id read the journal');
      const config = loadConfigOrFail(a.values.config);
      return byJournal ? recorded(config, a, io) : hypothetical(config, a, io);
    });
  },
};
