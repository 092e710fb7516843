// Bench: spamd's time per message with SpamAssassin's network tests on (the stack's MOAT_SPAMD_DNS) against
// off, both site configs written by compose/spamassassin/entrypoint.sh, against a test-stack Unbound that
// refuses every name (testkit's, no zones: compose/unbound/unbound.test.conf does the same). Loopback only.
//
//   npm exec -- node bench/spamd-dns.ts [--messages 40]   (writes docs/bench-spamd-dns.md)
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Daemon, freePort, spawnDaemon, startUnbound, tmpDir, waitForPort } from '@moat/testkit';
import { spamcCheck } from './spamc.ts';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '40' } } });
const MESSAGES = Number(values.messages);
const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

/** A message from a public client with links: every RBL, URIBL, SPF and DKIM rule has something to ask. */
function message(n: number): Buffer {
  return Buffer.from(
    [
      'Received: from mail.sender-shop.example (mail.sender-shop.com [81.2.69.160])',
      '\tby mx.example.org (moat) with ESMTP id bench' + n + '; ' + new Date().toUTCString(),
      'From: "Shop" <offers@sender-shop.com>',
      'To: <rcpt@example.org>',
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <bench-${n}-${Date.now()}@sender-shop.com>`,
      `Subject: Our offers, week ${n}`,
      'DKIM-Signature: v=1; a=rsa-sha256; d=sender-shop.com; s=s1; h=from:to:subject; bh=AAAA; b=AAAA',
      '',
      'Dear customer, see http://www.sender-shop.com/offers and https://cdn.click-tracker.net/x?id=42',
      'or write to help@sender-shop.com. La la la, the quick brown fox jumps over the lazy dog.',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

/** The entrypoint's site config for `env` (MOAT_SPAMD_SITE_ONLY), then spamd on it (network tests allowed). */
async function spamd(etc: string, name: string, env: Record<string, string>): Promise<{ d: Daemon; port: number; runtime: string }> {
  const site = join(etc, '..', name);
  execFileSync('sh', [join(REPO, 'compose/spamassassin/entrypoint.sh')], {
    env: { ...process.env, ...env, MOAT_SPAMD_ETC: etc, MOAT_SPAMD_SITE_DIR: site, MOAT_SPAMD_SITE_ONLY: '1' },
  });
  await chmod(join(etc, '..'), 0o755);
  const port = await freePort();
  const args = ['--siteconfigpath', site, '--listen', `127.0.0.1:${port}`, '--nouser-config', '--max-children', '1', '--min-children', '1'];
  args.push('--syslog', 'stderr', '--pidfile', join(site, 'spamd.pid'));
  if (process.getuid?.() === 0) args.push('-u', 'debian-spamd');
  const d = spawnDaemon('/usr/sbin/spamd', args);
  await waitForPort(port, '127.0.0.1', 60_000);
  const runtime = execFileSync('cat', [join(site, 'zz_moat_runtime.cf')], { encoding: 'utf8' });
  return { d, port, runtime };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const dir = await tmpDir('spamd-dns');
await chmod(dir.path, 0o755);
const etc = join(dir.path, 'etc');
execFileSync('mkdir', ['-p', etc]);
for (const f of await readdir('/etc/spamassassin')) if (f.endsWith('.pre')) await copyFile(join('/etc/spamassassin', f), join(etc, f));
for (const f of ['local.cf', 'moat-dnsbl.cf']) await copyFile(join(REPO, 'compose/spamassassin', f), join(etc, f));
const unbound = await startUnbound({ stubZones: {} });
const load = loadavg()[0] ?? 0;
const off = await spamd(etc, 'site-off', {});
const on = await spamd(etc, 'site-on', { MOAT_SPAMD_DNS: unbound.server });
try {
  // one message each first: spamd compiles its rules in the child on the first scan
  await spamcCheck(off.port, message(0));
  await spamcCheck(on.port, message(0));
  const t = { off: [] as number[], on: [] as number[] };
  for (let n = 1; n <= MESSAGES; n++) {
    // alternate which goes first, so the machine's noise hits both alike
    for (const which of n % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const s = performance.now();
      await spamcCheck(which === 'on' ? on.port : off.port, message(n));
      t[which].push(performance.now() - s);
    }
  }
  for (const xs of Object.values(t)) xs.sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(0);
  const rows = [
    ['network tests off (MOAT_SPAMD_DNS unset)', t.off],
    ['network tests on (MOAT_SPAMD_DNS = the refusing Unbound)', t.on],
  ] as const;
  const table = [
    '| spamd | p50 ms | p99 ms | max ms | p50 / off |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, xs]) => `| ${name} | ${f(pct(xs, 50))} | ${f(pct(xs, 99))} | ${f(xs.at(-1) ?? 0)} | ${(pct(xs, 50) / pct(t.off, 50)).toFixed(2)}x |`),
  ].join('\n');
  const loadAfter = loadavg()[0] ?? 0;
  console.log(table);
  await writeFile(
    join(REPO, 'docs/bench-spamd-dns.md'),
    `# Bench: SpamAssassin's network tests against a test stack's resolver

\`npm exec -- node bench/spamd-dns.ts\` (measured ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Debian spamd,
1-min load average ${load.toFixed(1)} before and ${loadAfter.toFixed(1)} after: the machine is shared, read the ratio).

Two spamd (one child each) on site configs written by \`compose/spamassassin/entrypoint.sh\` from the
image's \`local.cf\` and \`moat-dnsbl.cf\`: one without \`MOAT_SPAMD_DNS\`, one with it pointing at an
Unbound that refuses every name (\`@moat/testkit\` \`startUnbound\` with no zones, as
\`compose/unbound/unbound.test.conf\` refuses everything outside moat.test.). The runtime file of the second:

\`\`\`
${on.runtime.trim()}
\`\`\`

${MESSAGES} messages each, alternating, one at a time (SPAMC/1.5 CHECK on its own connection), each from a public
client address with a DKIM signature, a sender domain and two links, so every RBL, URIBL, SPF and DKIM
rule has a question to ask:

${table}

Every question gets REFUSED from loopback at once, so SpamAssassin never waits on its DNS timeouts
(\`rbl_timeout\`, 15 s by default): what network tests add in a test stack is their own work (about 27
questions per message here: the DNSBLs on the client, URIBL/SURBL/DBL on the links, DKIM's key, HELO's A;
\`spamassassin -t -D dns,async,timing\` on the same message shows each answered, \`poll_dns_idle\` 0.1 ms).
`,
  );
  console.log('wrote docs/bench-spamd-dns.md');
} finally {
  await off.d.stop(5000);
  await on.d.stop(5000);
  await unbound.stop();
  await dir.remove();
}
