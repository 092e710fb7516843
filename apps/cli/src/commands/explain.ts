// `moat explain`: why a mail was (or would be) deferred, rejected or accepted, restriction by restriction.
// Hypothetical mode asks the live DNS lists and peeks at (never writes) the greylist; journal mode reads Redis only.
import { type Config, views } from '@moat/config';
import type { Greylist } from '@moat/greylist';
import { type JournalEntry, journalRedisTarget } from '@moat/journal';
import type { GreylistAnswer, GreylistPort, Stage, TraceEntry, Verdict } from '@moat/policy';
import { createEngine, parseIp } from '@moat/policy';
import { describeRedisTarget } from '@moat/redis';
import { type AddressExplanation, type BuiltEngine, type BuiltRouting, buildRouting, hideZones, zonesOf } from '@moat/runtime';
import { isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { CommandError, engineFor, guard, journalFor, loadConfigOrFail } from './context.ts';
import { HEALTH_NAME, probeRedis, probeResolver } from './reach.ts';
import { formatResolution } from './resolution.ts';
import type { Command, Io } from './types.ts';

const USAGE = `--client IP --helo NAME --sender ADDR --recipient ADDR [--sasl USER] [--client-name NAME] [--tls] [--stage rcpt] [--live-greylist] [--assume-fail-open] [--config FILE] [--json]
       moat explain --session ID | --queue-id ID [--config FILE] [--json]
  Hypothetical: evaluates against the live config, DNS lists and greylist; the greylist is only read
  (a dry run, the greylist's peek) unless --live-greylist, which records the attempt like a real delivery would.
  When the resolver or the greylist's Redis is unreachable it gives no verdict (exit 1), unless
  --assume-fail-open, which answers as a node that cannot reach them would, and says so.
  Recorded: prints the trace of real decisions from the decision journal.
  Both show the recipient's address resolution beside the trace: its class, alias and recipient_delimiter
  rewrites and each final recipient's next hop (or why it is refused); for recorded decisions, as the
  current config and tables resolve it.`;

const STAGES: readonly Stage[] = ['connect', 'helo', 'mail', 'rcpt', 'data', 'end-of-data'];

/**
 * The greylist asked without a write: peek() answers what check() would. When Redis cannot be asked,
 * check() would fail open; that is only an answer here when the operator said --assume-fail-open.
 */
export function peekingGreylist(g: Greylist, redis: string, assumeFailOpen: boolean, known?: string): GreylistPort & { failure?: string } {
  const port: GreylistPort & { failure?: string } = {
    async check(req): Promise<GreylistAnswer> {
      try {
        const answer = await g.peek(req);
        return { ...answer, detail: `dry run: ${answer.detail ?? ''}`.trimEnd() };
      } catch (e) {
        // The probe's words when it already failed; never the client library's internals.
        port.failure = known ?? `Redis at ${redis} could not be asked (${(e as { code?: string }).code ?? 'error'})`;
        if (!assumeFailOpen) throw e;
        return { action: 'pass', reason: 'fail-open', detail: `assumed fail-open: ${port.failure}` };
      }
    },
  };
  return port;
}

/**
 * What the hypothetical needs and this process cannot reach: the resolver (DNS lists, and SPF for the
 * greylist's sender identity) and the greylist's Redis. Probed side by side, before any verdict.
 */
async function unreachable(config: Config, built: BuiltEngine): Promise<string[]> {
  const zones = zonesOf(built.spec);
  const needsResolver = zones.length > 0 || built.greylist !== undefined;
  const target = views.redis(config);
  const [dns, redis] = await Promise.all([
    needsResolver ? probeResolver(config.dns.resolver, [HEALTH_NAME, ...zones.slice(0, 1).map((z) => `2.0.0.127.${z}`)], Math.max(config.dns.timeout, 1000)) : undefined,
    built.greylist ? probeRedis(target, Math.max(config.greylist.timeout, 2000)) : undefined,
  ]);
  return [
    ...(dns ? [`the resolver at ${config.dns.resolver} is unreachable (${dns})`] : []),
    ...(redis ? [`Redis at ${describeRedisTarget(target)} is unreachable (${redis})`] : []),
  ];
}

function refusal(what: readonly string[]): string {
  return `no verdict: ${what.join('; ')}.
  Every lookup to them would fail open here, so a verdict could differ from the one the running stack gives.
  Run it where they are reachable (inside the stack: npm run moat -- explain ...), or add --assume-fail-open
  for the verdict of a node that cannot reach them (DNS lists not listed, the greylist passing).`;
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

function verdictLine(v: Verdict, note = ''): string {
  const by = v.decidedBy ? ` by ${safe(v.decidedBy)}` : ' (no restriction decided: accepted at the last stage)';
  return `=> ${v.action.toUpperCase()} ${v.status}${by}${v.greylisted ? ' [greylisted]' : ''}${note}${v.text ? `\n   text: ${safe(v.text)}` : ''}`;
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
  const assume = a.flags.has('assume-fail-open');
  const built = await engineFor(config, io);
  try {
    const [down] = await Promise.all([unreachable(config, built), built.dnslist?.ready]);
    if (down.length && !assume) throw new CommandError(refusal(down));
    const live = a.flags.has('live-greylist');
    const redisDown = down.find((d) => d.startsWith('Redis at'));
    const peeking = built.greylist && !live ? peekingGreylist(built.greylist, describeRedisTarget(views.redis(config)), assume, redisDown) : undefined;
    const engine = peeking ? hideZones(createEngine(built.spec, { ...built.ports, greylist: peeking })) : built.engine;
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
    // Redis went away after the probe: the engine failed open, which is no answer unless assumed.
    if (peeking?.failure && !redisDown) {
      if (!assume) throw new CommandError(refusal([peeking.failure]));
      down.push(peeking.failure);
    }
    // Beside the restrictions: where the recipient goes once accepted (the resolver mx delivers with).
    const resolution = facts.recipient ? built.explainAddress(facts.recipient) : undefined;
    if (a.flags.has('json')) {
      const greylist = built.greylist ? (live ? 'live' : 'dry-run') : 'not-in-policy';
      io.out.write(`${JSON.stringify({ hypothetical: true, greylist, assumedFailOpen: down, facts, verdict, resolution }, null, 2)}\n`);
    } else {
      const note = down.length ? `assuming fail-open (--assume-fail-open): ${down.join('; ')}; this verdict may differ from the running stack's\n` : '';
      const where = resolution ? `${formatResolution(resolution)}\n` : '';
      io.out.write(`${note}hypothetical ${stage}: ${envelope({ facts })}\n${traceRows(verdict.trace)}\n${verdictLine(verdict, down.length ? ' (assuming fail-open)' : '')}\n${where}`);
    }
    return 0;
  } finally {
    await built.close();
  }
}

const RESOLVED_NOW = 'address resolution by the current config';

/**
 * The recipient of a journaled RCPT (or later) decision, resolved by today's config and tables: the
 * journal keeps the verdict, not the routing. A config that no longer compiles gives no resolution (said once).
 */
function resolverNow(config: Config, io: Io): (e: JournalEntry) => AddressExplanation | undefined {
  let routing: BuiltRouting | undefined;
  try {
    routing = buildRouting(config);
    routing.close();
  } catch (e) {
    io.err.write(`moat explain: no address resolution: ${(e as Error).message.split('\n')[0]}\n`);
  }
  return (e) => (routing && e.facts.recipient && !['connect', 'helo', 'mail'].includes(e.facts.stage) ? routing.explainAddress(e.facts.recipient) : undefined);
}

async function recorded(config: Config, a: ReturnType<typeof parseArgs>, io: Io): Promise<number> {
  const session = a.values.session;
  const queueId = a.values['queue-id'];
  const journal = journalFor(config, io);
  try {
    if (!(await journal.ping())) {
      const target = journalRedisTarget(config);
      const why = await probeRedis(target, 3000);
      throw new CommandError(`the decision journal's Redis at ${describeRedisTarget(target)} is unreachable${why ? ` (${why})` : ''}`);
    }
    const entries = session !== undefined ? await journal.bySession(session) : await journal.byQueueId(queueId!);
    const what = session !== undefined ? `session ${session}` : `queue id ${queueId}`;
    const resolve = resolverNow(config, io);
    const explained = entries.map((e) => ({ ...e, resolution: resolve(e) }));
    if (a.flags.has('json')) io.out.write(`${JSON.stringify({ [session !== undefined ? 'session' : 'queueId']: session ?? queueId, decisions: explained }, null, 2)}\n`);
    else if (entries.length) {
      const text = explained.map((e) => `${formatEntry(e)}${e.resolution ? `${formatResolution(e.resolution, RESOLVED_NOW)}\n` : ''}`);
      io.out.write(`${entries.length} decision(s) for ${safe(what)}:\n\n${text.join('\n')}`);
    }
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
        flags: ['json', 'tls', 'live-greylist', 'assume-fail-open'],
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
