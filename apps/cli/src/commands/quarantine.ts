// `moat quarantine list|show|release|delete`: the held messages of every node (each mx's /-/quarantine), or of
// one spool (--dir). Presents @moat/queue's data; prints untrusted text escaped and never renders HTML.
import { userInfo } from 'node:os';
import { loadConfig } from '@moat/config';
import { createRegistry, type QuarantineClient, quarantineClient, type QuarantineTarget } from '@moat/observe';
import { assertSpool, type HeldEntry, type HeldMessage, type Learner, openQuarantine, type QuarantineActionResult } from '@moat/queue';
import { createSpamdClient, spamdLearner } from '@moat/spamd';
import { isoTime, parseArgs, safe, table, UsageError } from './args.ts';
import { CommandError, cliLogger, guard } from './context.ts';
import { parseTargets, TARGETS_ENV } from './reload.ts';
import { spoolDir } from './queue.ts';
import type { Command, Io } from './types.ts';

const USAGE = `[--targets NAME=URL,...] [--dir DIR] [--by NAME] [--json] list | show ID | release ID... [--learn-ham] | delete ID... [--learn-spam]
  list      every node's held messages (node, id, held since, check, score, sender, subject)
  show      one message's hold record, headers and a safe text preview (never rendered, nothing fetched)
  release   deliver held messages through the normal route; --learn-ham also teaches the spam filter
  delete    remove held messages; --learn-spam teaches the spam filter first (a failed learning keeps it)
  Nodes: --targets, else MOAT_RELOAD_TARGETS (the stack and cluster set it: every mx's admin listener); with
  --dir, or without targets, this host's spool (DIR as for moat queue). --by: who acts (default the OS user).`;

/** Where the CLI's learner comes from: the lead wires @moat/spamd's here (local --dir mode only; nodes learn with their own). */
export interface QuarantineDeps {
  learner?: Learner | undefined;
}

type Row = HeldEntry & { node: string };

function score(s: number | undefined): string {
  return s === undefined ? '-' : s.toFixed(1);
}

export function formatList(rows: readonly Row[]): string {
  if (rows.length === 0) return 'quarantine is empty\n';
  const out = [['node', 'id', 'held since', 'check', 'score', 'sender', 'subject']];
  for (const r of rows) {
    out.push([
      safe(r.node),
      r.damaged ? `${r.id} (damaged)` : `${r.id}${r.releasePending ? ' (release pending)' : ''}`,
      isoTime(r.hold?.time),
      safe(r.hold?.check ?? '?'),
      score(r.hold?.score),
      r.sender === '' ? 'MAILER-DAEMON' : safe(r.sender ?? '?'),
      safe((r.subject ?? '').slice(0, 60)),
    ]);
  }
  return `${table(out)}\n${rows.length} held message(s)\n`;
}

export function formatShow(m: HeldMessage & { node: string }): string {
  const lines = [
    `node:       ${safe(m.node)}`,
    `id:         ${m.id}`,
    `held:       ${isoTime(m.hold?.time)} by ${safe(m.hold?.check)}${m.hold?.score === undefined ? '' : ` (score ${score(m.hold.score)})`}: ${safe(m.hold?.reason)}`,
    `held on:    ${safe(m.hold?.node)}`,
    `expires:    ${isoTime(m.expires)}`,
    `sender:     ${m.sender === '' ? 'MAILER-DAEMON' : safe(m.sender)}`,
    `recipients: ${m.recipients.map(safe).join(', ')}`,
    `size:       ${m.size} bytes`,
    '',
    ...m.preview.headers.map((h) => `${safe(h.name)}: ${safe(h.value)}`),
    '',
    `--- ${m.preview.source === 'none' ? 'no text part' : `${m.preview.source} part as text`}${m.preview.truncated ? ', cut short' : ''} ---`,
    // the preview is escaped already (controls as \xNN); newlines and tabs stay
    m.preview.text,
    ...(m.preview.attachments.length ? ['---', ...m.preview.attachments.map((a) => `attachment: ${safe(a.type)}${a.name ? ` ${safe(a.name)}` : ''} (not opened)`)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

function defaultBy(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Nodes to ask: --targets, else the stack's MOAT_RELOAD_TARGETS; none (undefined): this host's spool. */
function targetsOf(values: Record<string, string>): QuarantineTarget[] | undefined {
  if (values.dir !== undefined) return undefined;
  const text = values.targets ?? process.env[TARGETS_ENV];
  if (!text) return undefined;
  return parseTargets(text).map((t) => ({ name: t.name, url: new URL('/', t.url).toString() }));
}

/** The same operations on one spool, as rows of a node named after this host's spool. */
async function localOps(dir: string, io: Io, deps: QuarantineDeps, configFile: string | undefined): Promise<QuarantineClient> {
  await assertSpool(dir);
  let config: ReturnType<typeof loadConfig> | undefined;
  try {
    config = loadConfig(configFile);
  } catch {
    config = undefined; // no config here: the default retention (only the "expires" column uses it), no learning
  }
  const retentionMs = config?.quarantine.retention;
  const sp = config?.spamd;
  // --learn-ham / --learn-spam teach the config's spamd (TELL), one connection per message
  const learner: Learner | undefined =
    deps.learner ??
    (sp?.enabled
      ? async (message, as) => {
          const client = createSpamdClient({ host: sp.host, port: sp.port, timeoutMs: sp.timeout, connectTimeoutMs: sp.connect_timeout, maxConnections: 1 });
          try {
            await spamdLearner(client)(message, as);
          } finally {
            client.close();
          }
        }
      : undefined);
  const q = openQuarantine({ dir, logger: cliLogger(io), registry: createRegistry(), learner, ...(retentionMs ? { retentionMs } : {}) });
  const node = 'local';
  const ops = {
    list: async () => ({ rows: (await q.list()).map((r) => ({ ...r, node })), failures: [] as { node: string; error: string; absent?: boolean }[] }),
    show: async (id: string) => ({ ...(await q.show(id)), node }),
    act: async (action: 'release' | 'delete', id: string, o: { by: string; learn?: boolean }) => ({
      ...(action === 'release' ? await q.release(id, { by: o.by, learn: o.learn === true }) : await q.delete(id, { by: o.by, learn: o.learn === true })),
      node,
    }),
  };
  return ops as unknown as QuarantineClient; // the same answers as the nodes' (HeldEntry, HeldMessage, ActionResult)
}

/** The nodes' admin token (quarantine.admin_token, MOAT_QUARANTINE_TOKEN[_FILE]) from the config, when one loads. */
function adminToken(configFile: string | undefined): string | undefined {
  try {
    return loadConfig(configFile).quarantine.admin_token;
  } catch {
    return undefined; // the nodes answer 401/403 and say which setting is missing
  }
}

async function run(args: readonly string[], io: Io, deps: QuarantineDeps): Promise<number> {
  const a = parseArgs(args, { values: ['targets', 'dir', 'config', 'by', 'node'], flags: ['json', 'learn-ham', 'learn-spam'] });
  const [cmd, ...ids] = a.positionals;
  const json = a.flags.has('json');
  if (cmd === undefined) throw new UsageError('missing subcommand');
  if (!['list', 'show', 'release', 'delete'].includes(cmd)) throw new UsageError(`unknown subcommand ${JSON.stringify(cmd)}`);
  if (cmd === 'list' && ids.length) throw new UsageError(`unexpected argument ${JSON.stringify(ids[0])}`);
  if (cmd === 'show' && ids.length !== 1) throw new UsageError('show: give one id');
  if ((cmd === 'release' || cmd === 'delete') && ids.length === 0) throw new UsageError(`${cmd}: give ids`);
  if (a.flags.has('learn-ham') && cmd !== 'release') throw new UsageError('--learn-ham goes with release');
  if (a.flags.has('learn-spam') && cmd !== 'delete') throw new UsageError('--learn-spam goes with delete');
  const by = a.values.by ?? defaultBy();
  const targets = targetsOf(a.values);
  const ops = targets ? quarantineClient(targets, { token: adminToken(a.values.config) }) : await localOps(spoolDir(a.values), io, deps, a.values.config).catch((e: Error & { code?: string }) => {
    throw e.code === 'EQUEUE_NOSPOOL' ? new CommandError(`${e.message} (no --targets and no ${TARGETS_ENV}: looked at this host's spool)`) : e;
  });
  const say = (obj: unknown, text: string) => io.out.write(json ? `${JSON.stringify(obj, null, 2)}\n` : text);
  const reportFailures = (failures: readonly { node: string; error: string; absent?: boolean }[]) => {
    for (const f of failures) io.err.write(`moat quarantine: ${f.absent ? 'note' : 'NOT ASKED'}: ${safe(f.error)}\n`);
    return failures.some((f) => !f.absent);
  };

  if (cmd === 'list') {
    const { rows, failures } = await ops.list<HeldEntry>();
    say({ rows, failures }, formatList(rows));
    return reportFailures(failures) ? 1 : 0;
  }
  if (cmd === 'show') {
    const m = await ops.show<HeldMessage>(ids[0]!, a.values.node);
    say(m, formatShow(m as HeldMessage & { node: string }));
    return 0;
  }
  const learn = a.flags.has('learn-ham') || a.flags.has('learn-spam');
  const done: Array<QuarantineActionResult & { node: string }> = [];
  let failed = false;
  for (const id of ids) {
    try {
      const r = await ops.act<QuarantineActionResult>(cmd as 'release' | 'delete', id, { by, learn, ...(a.values.node ? { node: a.values.node } : {}) });
      done.push(r);
      if (!json) io.out.write(`${r.action} ${r.id} on ${safe(r.node)}${r.learned ? ` (learned as ${r.learned})` : ''}\n`);
      if (r.learnError) {
        failed = true;
        io.err.write(`moat quarantine: ${r.id} was released, but learning it as ham failed: ${safe(r.learnError)}\n`);
      }
    } catch (e) {
      failed = true;
      io.err.write(`moat quarantine ${cmd}: ${safe((e as Error).message)}\n`);
    }
  }
  if (json) say(done, '');
  return failed ? 1 : 0;
}

export function makeQuarantineCommand(deps: QuarantineDeps = {}): Command {
  return {
    usage: USAGE,
    run(args, io) {
      return guard('quarantine', USAGE, io, () => run(args, io, deps));
    },
  };
}

export const quarantineCommand: Command = makeQuarantineCommand();
