// `moat dkim keygen DOMAIN` writes a signing key and prints the record to publish and the config lines;
// `moat dkim check [DOMAIN]` asks the configured resolver whether the published records match our keys.
// keygen writes one new file (never over an existing one); check reads the key files and asks only the resolver.
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createDns } from '@moat/dns';
import { checkDkimRecord, type DkimCheck, describePrivateKey, dkimRecord, generateDkimKey } from '@moat/dkim';
import { isValidHostname } from '@moat/policy';
import { parseArgs, resolverFlag, safe, table, UsageError } from './args.ts';
import { CommandError, guard, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `keygen DOMAIN [--selector S] [--ed25519] [--bits N] [--dir DIR] [--json]
       moat dkim check [DOMAIN] [--config FILE] [--resolver IP[:PORT]] [--json]   (exit 1 unless every record matches)`;

/** Where the stack's MX reads DKIM keys (compose mounts compose/dkim there). */
export const DEFAULT_DKIM_DIR = '/etc/moat/dkim';

/** `moat202612`: a dated selector, so the next rotation's key gets a new name. */
function defaultSelector(now = new Date()): string {
  return `moat${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

async function keygen(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['selector', 'bits', 'dir'], flags: ['ed25519', 'json'] });
  if (a.positionals.length !== 1) throw new UsageError('keygen takes one DOMAIN');
  const domain = a.positionals[0]!.toLowerCase().replace(/\.$/, '');
  if (!isValidHostname(domain) || !domain.includes('.')) throw new UsageError(`${JSON.stringify(a.positionals[0])} is not a domain name`);
  const selector = a.values.selector ?? defaultSelector();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(selector)) throw new UsageError(`${JSON.stringify(selector)} is not a DKIM selector (letters, digits, - and _, dot-separated)`);
  const bits = a.values.bits === undefined ? 2048 : Number(a.values.bits);
  if (a.flags.has('ed25519') && a.values.bits !== undefined) throw new UsageError('--bits is for RSA keys');
  if (!Number.isInteger(bits) || bits < 1024 || bits > 4096) throw new UsageError('--bits: expected 1024..4096 (2048 recommended)');
  const dir = resolve(a.values.dir ?? process.env.MOAT_DKIM_DIR ?? DEFAULT_DKIM_DIR);
  const key = generateDkimKey(a.flags.has('ed25519') ? 'ed25519' : 'rsa', bits);
  const file = join(dir, `${domain}.${selector}.pem`);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  // O_EXCL: an existing key (a published selector) is never overwritten
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch((e: NodeJS.ErrnoException) => {
    throw new CommandError(e.code === 'EEXIST' ? `${file} exists: choose another --selector (a published key is never replaced)` : `cannot write ${file}: ${e.message}`);
  });
  try {
    await fh.writeFile(key.privateKeyPem);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const rec = dkimRecord(domain, selector, key);
  const configLines = `queue:\n  dkim:\n    - { domain: ${domain}, selector: ${selector}, key: ${file} }`;
  if (a.flags.has('json')) {
    io.out.write(`${JSON.stringify({ domain, selector, type: key.type, key: file, record: { name: rec.name, type: 'TXT', value: rec.value, strings: rec.strings } }, null, 2)}\n`);
  } else {
    io.out.write(
      [
        `wrote ${key.type === 'rsa' ? `RSA ${bits}` : 'Ed25519'} key ${file} (mode 0600)`,
        '',
        'Publish this TXT record (zone-file form; most DNS panels take the quoted text joined):',
        `  ${rec.zoneLine}`,
        '',
        'Then add the key to moat.yaml (keep the old entry during a rotation: both selectors sign):',
        ...configLines.split('\n').map((l) => `  ${l}`),
        '',
        `and check it with: moat dkim check ${domain}`,
        '',
      ].join('\n'),
    );
  }
  return 0;
}

async function check(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['config', 'resolver'], flags: ['json'] });
  if (a.positionals.length > 1) throw new UsageError('check takes one DOMAIN at most');
  const config = loadConfigOrFail(a.values.config);
  const want = a.positionals[0]?.toLowerCase().replace(/\.$/, '');
  const entries = config.queue.dkim.filter((k) => want === undefined || k.domain.toLowerCase() === want);
  if (entries.length === 0) throw new CommandError(want ? `no queue.dkim entry for ${want} in ${config.source.file}` : `no queue.dkim entries in ${config.source.file}`);
  const server = resolverFlag(a, config.dns.resolver);
  // a one-shot command: @moat/dns's rules, the old budget (3 s a try, two tries)
  const resolver = createDns({ servers: [server], timeoutMs: 9000 });
  const base = dirname(config.source.file);
  const results: Array<{ domain: string; selector: string; key: string } & DkimCheck> = [];
  for (const k of entries) {
    const path = isAbsolute(k.key) ? k.key : resolve(base, k.key);
    let described: ReturnType<typeof describePrivateKey>;
    try {
      described = describePrivateKey(await readFile(path, 'utf8'));
    } catch (e) {
      results.push({ domain: k.domain, selector: k.selector, key: path, status: 'error', name: `${k.selector}._domainkey.${k.domain}`, expected: '', reason: `key ${path}: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    results.push({ domain: k.domain, selector: k.selector, key: path, ...(await checkDkimRecord(k.domain, k.selector, described, resolver)) });
  }
  if (a.flags.has('json')) io.out.write(`${JSON.stringify({ resolver: server, records: results }, null, 2)}\n`);
  else {
    const rows = [['record', 'status', 'detail']];
    for (const r of results) {
      const detail = r.status === 'ok' ? 'published record matches the key' : r.status === 'missing' ? `publish: ${r.expected}` : r.status === 'mismatch' ? `${r.reason}; publish: ${r.expected}` : r.reason;
      rows.push([r.name, r.status, safe(detail)]);
    }
    io.out.write(`resolver ${server}\n${table(rows)}\n`);
  }
  return results.every((r) => r.status === 'ok') ? 0 : 1;
}

export const dkimCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('dkim', USAGE, io, async () => {
      const [sub, ...rest] = args;
      if (sub === 'keygen') return keygen(rest, io);
      if (sub === 'check') return check(rest, io);
      throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
    });
  },
};
