// `moat tls policy DOMAIN` prints what to publish for inbound MTA-STS, DANE and TLS-RPT; `moat tls report`
// builds the RFC 8460 daily aggregate from the outcomes the delivery thread kept. Reads files, asks only the resolver.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createDns } from '@moat/dns';
import { type Config, tlsReportFrom, views } from '@moat/config';
import { isValidHostname } from '@moat/policy';
import { createLogger, createRegistry } from '@moat/observe';
import { openQueue } from '@moat/queue';
import { connectRedis } from '@moat/redis';
import { REPORT_ENVELOPE, clusterOutcomes, collectDailyReports, type DailyReports, dailyReportMessages, formatStsPolicy, formatTlsa, previousDay, type StsMode, tlsa311 } from '@moat/tlspolicy';
import { currentCertPath } from './tls-cert.ts';
import { checkPublished } from './tls-check.ts';
import { parseArgs, resolverFlag, UsageError } from './args.ts';
import { CommandError, guard, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `check DOMAIN [--config FILE] [--resolver IP[:PORT]] [--cert FILE] [--ca FILE] [--json]   (exit 1 unless every record is right)
       moat tls policy DOMAIN [--mode testing|enforce] [--max-age SECONDS] [--mx HOST]... [--cert FILE] [--config FILE] [--json]
       moat tls report [--day YYYY-MM-DD] [--dir DIR] [--cluster] [--all] [--send] [--config FILE] [--resolver IP[:PORT]]   (RFC 8460 JSON; default: yesterday, UTC; --cluster: every node's counts from the cluster's Redis; --send queues each report to its mailto: rua)`;

const fromConfig = (config: Config, p: string) => (isAbsolute(p) ? p : resolve(dirname(config.source.file), p));

async function policy(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['mode', 'max-age', 'mx', 'cert', 'config'], flags: ['json'] });
  if (a.positionals.length !== 1) throw new UsageError('policy takes one DOMAIN');
  const domain = a.positionals[0]!.toLowerCase().replace(/\.$/, '');
  if (!isValidHostname(domain) || !domain.includes('.')) throw new UsageError(`${JSON.stringify(a.positionals[0])} is not a domain name`);
  const mode = (a.values.mode ?? 'testing') as StsMode;
  if (mode !== 'testing' && mode !== 'enforce') throw new UsageError('--mode: testing or enforce (start with testing, RFC 8461 5)');
  const maxAge = a.values['max-age'] === undefined ? 604_800 : Number(a.values['max-age']);
  if (!Number.isInteger(maxAge) || maxAge < 86_400 || maxAge > 31_557_600) throw new UsageError('--max-age: 86400..31557600 seconds (a week or more is usual)');
  const config = loadConfigOrFail(a.values.config);
  const mx = (a.values.mx ?? config.mx.hostname ?? config.policy.hostname).toLowerCase();
  const certFile = a.values.cert ? resolve(a.values.cert) : currentCertPath(config);
  let cert: string;
  try {
    cert = await readFile(certFile, 'utf8');
  } catch (e) {
    throw new CommandError(`cannot read the current certificate ${certFile}: ${(e as Error).message} (start mx once, or pass --cert)`);
  }
  let tlsa: string;
  try {
    tlsa = formatTlsa(tlsa311(cert));
  } catch (e) {
    throw new CommandError(`${certFile} is not a PEM certificate: ${(e as Error).message}`);
  }
  const file = formatStsPolicy({ mode, mx: [mx], maxAge });
  // the id changes exactly when the policy text does
  const id = createHash('sha256').update(file).digest('hex').slice(0, 20);
  const records = {
    mtaStsTxt: { name: `_mta-sts.${domain}`, type: 'TXT', value: `v=STSv1; id=${id}` },
    policyUrl: `https://mta-sts.${domain}/.well-known/mta-sts.txt`,
    policyFile: file,
    tlsa: { name: `_25._tcp.${mx}`, type: 'TLSA', value: tlsa },
    tlsRptTxt: { name: `_smtp._tls.${domain}`, type: 'TXT', value: `v=TLSRPTv1; rua=mailto:tlsrpt@${domain}` },
  };
  if (a.flags.has('json')) {
    io.out.write(`${JSON.stringify({ domain, mx, cert: certFile, ...records }, null, 2)}\n`);
    return 0;
  }
  io.out.write(
    [
      `MTA-STS for ${domain} (mode ${mode}; move to --mode enforce once reports are clean):`,
      `  ${records.mtaStsTxt.name}. 3600 IN TXT "${records.mtaStsTxt.value}"`,
      `  mta-sts.${domain}. points at a web server with a certificate for that name, serving ${records.policyUrl} as text/plain:`,
      ...file.trimEnd().split('\r\n').map((l) => `    ${l}`),
      '',
      `DANE for ${mx} (the zone must be DNSSEC-signed; 3 1 1 pins the key, so a renewal on the same key keeps it):`,
      `  ${records.tlsa.name}. 3600 IN TLSA ${tlsa}`,
      `  (from ${certFile})`,
      '',
      'TLS reports from senders (RFC 8460):',
      `  ${records.tlsRptTxt.name}. 3600 IN TXT "${records.tlsRptTxt.value}"`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function report(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['day', 'dir', 'config', 'resolver'], flags: ['all', 'send', 'cluster'] });
  if (a.positionals.length) throw new UsageError('report takes no positional arguments');
  const day = a.values.day ?? previousDay(Date.now());
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day))) throw new UsageError('--day: YYYY-MM-DD (UTC)');
  // the node's own files carry its node id: another directory's would be pushed as one more node, counted twice
  if (a.flags.has('cluster') && a.values.dir) throw new UsageError('--cluster reads the configured report_dir, not --dir');
  const config = loadConfigOrFail(a.values.config);
  const dir = a.values.dir ? resolve(a.values.dir) : fromConfig(config, config.queue.tls.report_dir ?? join(config.queue.dir, 'tlsrpt'));
  const organization = config.queue.tls.report_organization ?? config.policy.hostname;
  const contact = config.queue.tls.report_contact ?? `mailto:postmaster@${config.policy.hostname}`;
  // a one-shot command: @moat/dns's rules, the old budget (3 s a try, two tries)
  const resolver = createDns({ servers: [resolverFlag(a, config.dns.resolver)], timeoutMs: 9000 });
  // only domains that ask for reports get one (RFC 8460 3), unless --all; the same run mx's daily timer makes
  // --cluster: every node's counts as mx's daily run reads them (this node's files pushed first, docs/tls.md)
  const redis = a.flags.has('cluster') ? connectRedis(views.redis(config), { connectionName: 'moat-cli-tlsrpt', connectTimeoutMs: 5000 }) : undefined;
  redis?.on('error', () => undefined);
  let d: DailyReports;
  try {
    if (redis) await ready(redis, 5000);
    d = await collectDailyReports({
      dir,
      day,
      organization,
      contact,
      all: a.flags.has('all'),
      txt: async (name) => (await resolver.resolveTxt(name)).map((parts) => parts.join('')),
      read: redis ? (x) => clusterOutcomes({ dir, redis }).read(x) : undefined,
    });
  } finally {
    redis?.disconnect();
  }
  const queued = a.flags.has('send') ? await sendReports(config, d) : undefined;
  io.out.write(`${JSON.stringify({ day, dir, reports: d.reports, 'no-tlsrpt-record': d.withoutRecord, 'unreadable-lines': d.skipped, ...(queued ? { queued } : {}) }, null, 2)}\n`);
  return 0;
}

/** Wait for a fail-fast client to connect (its commands fail while it is not), at most `ms`. */
function ready(redis: ReturnType<typeof connectRedis>, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new CommandError(`cannot reach the cluster's Redis (greylist.redis) within ${ms / 1000} s`)), ms);
    redis.once('ready', () => {
      clearTimeout(t);
      ok();
    });
  });
}

/** Queue each report to its mailto: addresses (RFC 8460 5.3), out by MX lookup like any outbound mail. */
async function sendReports(config: Config, d: DailyReports): Promise<Array<{ domain: string; to: string; id: string }>> {
  const queue = await openQueue({ dir: config.queue.dir, logger: createLogger('moat', { level: 'warn' }), registry: createRegistry() });
  const { from } = tlsReportFrom(config); // a From a queue.dkim key signs (RFC 8460 3), when one does
  const done: Array<{ domain: string; to: string; id: string }> = [];
  try {
    for (const m of dailyReportMessages(d, { from, submitter: config.queue.tls.report_organization ?? config.policy.hostname })) {
      const q = await queue.enqueue({ sender: from, recipients: [m.to], message: m.message, ...REPORT_ENVELOPE });
      done.push({ domain: m.domain, to: m.to, id: q.id });
    }
  } finally {
    await queue.close();
  }
  return done;
}

export const tlsCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('tls', USAGE, io, async () => {
      const [sub, ...rest] = args;
      if (sub === 'policy') return policy(rest, io);
      if (sub === 'report') return report(rest, io);
      if (sub === 'check') return checkPublished(rest, io);
      throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
    });
  },
};
