// `moat config check [FILE]`: loads and compiles moat.yaml, prints `ok` and a summary, or the errors.
// Reads the config file and the map/users files it names; talks to no network.
import { type Config, ConfigError, compileConfig, formatConfigErrors, lintConfig, loadConfig } from '@moat/config';
import { formatRestriction, type Restriction } from '@moat/policy';
import type { Command, Io } from './types.ts';

const USAGE = 'check [FILE] [--show-policy]   (FILE defaults to $MOAT_CONFIG, then ./moat.yaml)';

function seconds(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function summary(c: Config, lists: { relay: readonly Restriction[]; recipient: readonly Restriction[] }): string {
  const zones = new Set<string>();
  for (const r of lists.recipient) if ('zone' in r) zones.add(r.zone);
  const g = c.greylist;
  const redis = g.redis.sentinels.length ? `sentinels ${g.redis.sentinels.join(',')} (${g.redis.name})` : g.redis.url.replace(/\/\/[^@/]*@/, '//***@');
  return [
    `hostname: ${c.policy.hostname}`,
    `domains: ${c.recipients.domains.join(', ') || '(none)'}${c.recipients.relay_domains.length ? `; backup MX for ${c.recipients.relay_domains.join(', ')}` : ''}`,
    `mynetworks: ${c.policy.mynetworks.join(', ')}`,
    `relay restrictions: ${lists.relay.map(formatRestriction).join(', ')}`,
    `recipient restrictions: ${lists.recipient.length} (${zones.size} DNS list zones)`,
    `dns: resolver ${c.dns.resolver}, timeout ${seconds(c.dns.timeout)}, budget ${seconds(c.dns.budget)}`,
    `greylist: ${redis}, delay ${seconds(g.delay)}, confirmed ttl ${seconds(g.confirmed_ttl)}`,
    `mx: smtp ${c.mx.listen.smtp.join(',')}, submission ${c.mx.listen.submission.join(',')}, size limit ${c.mx.size_limit}`,
    `spamd: ${c.spamd.enabled ? `${c.spamd.host}:${c.spamd.port}, on failure ${c.spamd.on_failure}` : 'disabled'}`,
    `queue: ${c.queue.dir} -> ${c.queue.transport}`,
    ...(Object.keys(c.source.env).length ? [`from environment: ${Object.values(c.source.env).join(', ')}`] : []),
  ].join('\n');
}

async function check(args: readonly string[], io: Io): Promise<number> {
  const flags = args.filter((a) => a.startsWith('-'));
  const files = args.filter((a) => !a.startsWith('-'));
  const unknown = flags.filter((f) => f !== '--show-policy');
  if (unknown.length || files.length > 1) {
    io.err.write(`moat config: ${unknown.length ? `unknown option ${unknown[0]}` : 'one FILE at most'}\nusage: moat config ${USAGE}\n`);
    return 2;
  }
  try {
    const config = loadConfig(files[0]);
    const compiled = compileConfig(config);
    io.out.write(`ok ${config.source.file}\n${summary(config, { relay: compiled.spec.relayRestrictions, recipient: compiled.spec.recipientRestrictions })}\n`);
    for (const t of compiled.tables.list()) {
      io.out.write(`table: ${t.spec} (${t.entries} ${t.pattern ? 'rules' : 'entries'}${t.file ? `, ${t.file}` : ''})\n`);
      for (const w of t.warnings) io.out.write(`warning: ${t.file}:${w.line}: ${w.message}\n`);
    }
    for (const w of lintConfig(config)) io.out.write(`warning: ${w.path}: ${w.message}\n`);
    if (flags.includes('--show-policy')) {
      io.out.write(`\nsmtpd_relay_restrictions =\n  ${compiled.spec.relayRestrictions.map(formatRestriction).join(',\n  ')}\n`);
      io.out.write(`smtpd_recipient_restrictions =\n  ${compiled.spec.recipientRestrictions.map(formatRestriction).join(',\n  ')}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err.write(`${formatConfigErrors(e)}\n`);
      return 1;
    }
    throw e;
  }
}

export const configCommand: Command = {
  usage: USAGE,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === 'check') return check(rest, io);
    io.err.write(`moat config: ${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: moat config ${USAGE}\n`);
    return 2;
  },
};
