// `moat config check [FILE]`: loads and compiles moat.yaml, prints `ok` and a summary, or the errors.
// Reads the config file and the map/users files it names; talks to no network.
import { readFileSync } from 'node:fs';
import { type Config, ConfigError, compileConfig, formatConfigErrors, IGNORED_CLASSES, lintConfig, lintRouting, lintRoutingTables, loadConfig, type PostfixReport, unreadKeysOfText } from '@moat/config';
import { formatDnsblSite, formatRestriction, type Restriction } from '@moat/policy';
import { zoneHider } from '@moat/runtime';
import type { Command, Io } from './types.ts';

const USAGE = 'check [FILE] [--show-policy]   (FILE defaults to $MOAT_CONFIG, then ./moat.yaml)';

function seconds(ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function summary(c: Config, lists: { relay: readonly Restriction[]; recipient: readonly Restriction[] }): string {
  const zones = new Set<string>();
  for (const r of lists.recipient) if ('zone' in r) zones.add(r.zone);
  const weighted = c.policy.dnsbl_sites.length ? `, ${c.policy.dnsbl_sites.length} weighted (threshold ${c.policy.dnsbl_threshold})` : '';
  const g = c.greylist;
  const redis = g.redis.sentinels.length ? `sentinels ${g.redis.sentinels.join(',')} (${g.redis.name})` : g.redis.url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[\s\S]*@/i, '$1***@');
  return [
    `hostname: ${c.policy.hostname}`,
    `domains: ${c.recipients.domains.join(', ') || '(none)'}${c.recipients.relay_domains.length ? `; backup MX for ${c.recipients.relay_domains.join(', ')}` : ''}`,
    `mynetworks: ${c.policy.mynetworks.join(', ')}`,
    `relay restrictions: ${lists.relay.map(formatRestriction).join(', ')}`,
    `recipient restrictions: ${lists.recipient.length} (${zones.size} DNS list zones${weighted})`,
    `dns: resolver ${c.dns.resolver}, timeout ${seconds(c.dns.timeout)}, budget ${seconds(c.dns.budget)}`,
    `greylist: ${redis}, delay ${seconds(g.delay)}, confirmed ttl ${seconds(g.confirmed_ttl)}`,
    `mx: smtp ${c.mx.listen.smtp.join(',')}, submission ${c.mx.listen.submission.join(',')}, size limit ${c.mx.size_limit}`,
    `spamd: ${c.spamd.enabled ? `${c.spamd.host}:${c.spamd.port}, on failure ${c.spamd.on_failure}` : 'disabled'}`,
    `queue: ${c.queue.dir} -> ${c.queue.transport}`,
    ...(Object.keys(c.source.env).length ? [`from environment: ${Object.values(c.source.env).join(', ')}`] : []),
  ].join('\n');
}

/**
 * The imported main.cf: each key that took effect and what it set, then each ignored key once, grouped
 * under its reason class, then what moat.yaml overrode. Warnings follow with the other warnings.
 */
function postfixReport(r: PostfixReport): string {
  const at = (line: number | undefined) => (line === undefined ? '' : ` (line ${line})`);
  const out = [`postfix main.cf ${r.file}: ${r.used.length} keys take effect, ${r.ignored.length} ignored`];
  for (const u of r.used) out.push(`  used: ${u.name}${at(u.line)}: ${u.note}`);
  const classes = new Map<string, typeof r.ignored>();
  for (const k of r.ignored) classes.set(k.class ?? 'other', [...(classes.get(k.class ?? 'other') ?? []), k]);
  for (const [cls, keys] of classes) {
    const reason = cls === 'routing-pending' ? keys[0]!.note : (IGNORED_CLASSES as Record<string, string>)[cls] ?? 'not implemented by moat';
    out.push(`  ignored [${cls}] ${reason}:`);
    for (const k of keys) out.push(`    ${k.name}${at(k.line)}${k.note !== reason ? `: ${k.note}` : ''}`);
  }
  for (const o of r.overridden) out.push(`  overridden: ${o.name}${at(o.line)}: moat.yaml sets ${o.path}, which wins`);
  return out.join('\n');
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
    const pf = config.source.postfix;
    if (pf !== undefined) {
      io.out.write(`${postfixReport(pf)}\n`);
      for (const w of pf.warnings) io.out.write(`warning: ${pf.file}${w.line === undefined ? '' : `:${w.line}`}: ${w.name}: ${w.note}\n`);
    }
    for (const t of compiled.tables.list()) {
      io.out.write(`table: ${t.spec} (${t.entries} ${t.pattern ? 'rules' : 'entries'}${t.file ? `, ${t.file}` : ''})\n`);
      for (const w of t.warnings) io.out.write(`warning: ${t.file}:${w.line}: ${w.message}\n`);
    }
    for (const w of lintConfig(config)) io.out.write(`warning: ${w.path}: ${w.message}\n`);
    for (const k of unreadKeysOfText(readFileSync(config.source.file, 'utf8'))) io.out.write(`warning: ${k}: set in the file but read by nothing\n`);
    for (const w of lintRouting(config.routing, config.recipients, config.policy.hostname)) io.out.write(`warning: ${w.path.join('.')}: ${w.message}\n`);
    // the routing tables' entries: transport_maps statuses and transports, alias loops (what is not listable is said)
    for (const f of lintRoutingTables(compiled.routing.spec)) io.out.write(`${f.severity}: ${f.where}: ${f.param}${f.key ? ` ${f.key}` : ''}: ${f.message}\n`);
    if (flags.includes('--show-policy')) {
      // keyed zones (Spamhaus DQS) by their display names: this output gets pasted into tickets and forums
      const hide = zoneHider(compiled.spec.zoneDisplayNames) ?? ((t: string) => t);
      const show = (r: Restriction) => hide(formatRestriction(r));
      io.out.write(`\nsmtpd_relay_restrictions =\n  ${compiled.spec.relayRestrictions.map(show).join(',\n  ')}\n`);
      io.out.write(`smtpd_recipient_restrictions =\n  ${compiled.spec.recipientRestrictions.map(show).join(',\n  ')}\n`);
      const sites = compiled.spec.dnsblSites ?? [];
      if (sites.length) {
        io.out.write(`postscreen_dnsbl_sites =\n  ${sites.map((x) => hide(formatDnsblSite(x))).join(',\n  ')}\n`);
        io.out.write(`postscreen_dnsbl_threshold = ${compiled.spec.dnsblThreshold ?? 1}\npostscreen_dnsbl_allowlist_threshold = ${compiled.spec.dnsblAllowlistThreshold ?? 0}\n`);
      }
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
