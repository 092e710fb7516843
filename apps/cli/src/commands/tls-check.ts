// `moat tls check DOMAIN`: are the published MTA-STS, TLSA and TLS-RPT records right for this MX, as the world sees them?
// Asks only the configured (validating) resolver and the policy host over HTTPS; every answer is untrusted and only compared.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isValidHostname } from '@moat/policy';
import { checkChain, fetchStsPolicy, mxMatches, parseStsTxt, parseTlsRptTxt, systemCas, wireResolver } from '@moat/tlspolicy';
import { parseArgs, resolverFlag, safe, table, UsageError } from './args.ts';
import { CommandError, loadConfigOrFail } from './context.ts';
import { currentCertPath } from './tls-cert.ts';
import type { Io } from './types.ts';

interface Row {
  record: string;
  status: 'ok' | 'missing' | 'wrong' | 'error';
  detail: string;
}

export async function checkPublished(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['config', 'resolver', 'cert', 'ca', 'sts-port'], flags: ['json'] });
  if (a.positionals.length !== 1) throw new UsageError('check takes one DOMAIN');
  const domain = a.positionals[0]!.toLowerCase().replace(/\.$/, '');
  if (!isValidHostname(domain) || !domain.includes('.')) throw new UsageError(`${JSON.stringify(a.positionals[0])} is not a domain name`);
  const config = loadConfigOrFail(a.values.config);
  const mx = (config.mx.hostname ?? config.policy.hostname).toLowerCase();
  const server = resolverFlag(a, config.dns.resolver);
  const resolver = wireResolver([server], { timeoutMs: 3000 });
  const certFile = a.values.cert ? resolve(a.values.cert) : currentCertPath(config);
  let leaf: Buffer;
  try {
    leaf = Buffer.from(new X509Certificate(await readFile(certFile)).raw);
  } catch (e) {
    throw new CommandError(`cannot read the current certificate ${certFile}: ${(e as Error).message}`);
  }
  const ca = a.values.ca ? [await readFile(resolve(a.values.ca), 'utf8')] : systemCas();
  const rows: Row[] = [];
  const fail = (record: string, e: unknown) => rows.push({ record, status: 'error', detail: String((e as Error)?.message ?? e) });

  try {
    const id = parseStsTxt((await resolver.txt(`_mta-sts.${domain}`)).records);
    rows.push(id ? { record: `_mta-sts.${domain} TXT`, status: 'ok', detail: `id=${id}` } : { record: `_mta-sts.${domain} TXT`, status: 'missing', detail: 'no single v=STSv1 record with an id' });
  } catch (e) {
    fail(`_mta-sts.${domain} TXT`, e);
  }
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  try {
    const p = await fetchStsPolicy(domain, { resolver, ca, timeoutMs: 10_000, ...(a.values['sts-port'] ? { port: Number(a.values['sts-port']) } : {}) });
    if (p.mode === 'none') rows.push({ record: url, status: 'wrong', detail: 'mode none: senders apply no policy' });
    else if (!mxMatches(p, mx)) rows.push({ record: url, status: 'wrong', detail: `mx patterns ${p.mx.join(', ')} do not cover ${mx}` });
    else rows.push({ record: url, status: 'ok', detail: `mode ${p.mode}, max_age ${p.maxAge}` });
  } catch (e) {
    rows.push({ record: url, status: (e as { kind?: string }).kind === 'absent' ? 'missing' : 'error', detail: (e as Error).message });
  }
  const tlsaName = `_25._tcp.${mx}`;
  try {
    const t = await resolver.tlsa(tlsaName);
    if (t.records.length === 0) rows.push({ record: `${tlsaName} TLSA`, status: 'missing', detail: 'publish the record `moat tls policy` prints' });
    else if (!t.secure) rows.push({ record: `${tlsaName} TLSA`, status: 'wrong', detail: 'not DNSSEC-validated: senders ignore it (is the zone signed, and does the resolver validate?)' });
    else {
      const why = checkChain(t.records, [leaf], [mx, domain]);
      rows.push(why ? { record: `${tlsaName} TLSA`, status: 'wrong', detail: `${why} (the certificate in ${certFile})` } : { record: `${tlsaName} TLSA`, status: 'ok', detail: 'validated and matches the current certificate' });
    }
  } catch (e) {
    fail(`${tlsaName} TLSA`, e);
  }
  try {
    const rua = parseTlsRptTxt((await resolver.txt(`_smtp._tls.${domain}`)).records);
    rows.push(rua.length ? { record: `_smtp._tls.${domain} TXT`, status: 'ok', detail: rua.join(', ') } : { record: `_smtp._tls.${domain} TXT`, status: 'missing', detail: 'no v=TLSRPTv1 record with rua' });
  } catch (e) {
    fail(`_smtp._tls.${domain} TXT`, e);
  }
  if (a.flags.has('json')) io.out.write(`${JSON.stringify({ domain, mx, resolver: server, records: rows }, null, 2)}\n`);
  else io.out.write(`resolver ${server}\n${table([['record', 'status', 'detail'], ...rows.map((r) => [r.record, r.status, safe(r.detail)])])}\n`);
  return rows.every((r) => r.status === 'ok') ? 0 : 1;
}
