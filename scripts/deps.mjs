#!/usr/bin/env zx
// Installs the Debian packages moat's tests and benches run for real (idempotent, root only).
// Talks to Debian's apt mirror and nothing else; never starts the daemons it installs.
import { $, fs } from 'zx';

/**
 * command on PATH (or an absolute path, for packages that install no command) -> Debian package that
 * provides it. One place; add here, nowhere else.
 */
export const debianPackages = {
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
  unbound: 'unbound',
  rbldnsd: 'rbldnsd',
  spamd: 'spamd',
  spamassassin: 'spamassassin',
  postfix: 'postfix',
  'smtp-source': 'postfix',
  // pcre: tables for postmap (the maps differential test); a plugin, no command of its own
  '/usr/lib/postfix/postfix-pcre.so': 'postfix-pcre',
  swaks: 'swaks',
  postgrey: 'postgrey',
  openssl: 'openssl',
  'kdig': 'knot-dnsutils',
  // the simulated Internet of the production-resolver test (@moat/testkit startDnsInternet): NSD and zone signing
  nsd: 'nsd',
  'nsd-control': 'nsd',
  'ldns-signzone': 'ldnsutils',
  'ldns-keygen': 'ldnsutils',
  'ldns-key2ds': 'ldnsutils',
  drill: 'ldnsutils',
  // a test ACME server (outbound TLS: @moat/acme)
  pebble: 'pebble',
  // the TLS audit on the wire (apps/mx/test/tls-audit.test.ts)
  testssl: 'testssl.sh',
  // scrapes the stack's loopback metrics with the scrape config docs/operations.md shows (packages/e2e metrics test)
  prometheus: 'prometheus',
  strace: 'strace',
  // the private registry of the Swarm tier (scripts/swarm.mjs): the distribution registry, as an admin runs it
  'docker-registry': 'docker-registry',
  chromium: 'chromium',
};

const has = async (cmd) =>
  cmd.startsWith('/')
    ? fs.existsSync(cmd)
    : (await $({ nothrow: true, quiet: true })`command -v ${cmd} || test -x /usr/sbin/${cmd} || test -x /usr/lib/postfix/sbin/${cmd}`).exitCode === 0;

export async function ensureDebianPackages(wanted = debianPackages) {
  const missing = new Set();
  for (const [cmd, pkg] of Object.entries(wanted)) if (!(await has(cmd))) missing.add(pkg);
  if (missing.size === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages (need root to install): ${[...missing].join(' ')}`);
  console.log(`deps: installing Debian packages: ${[...missing].join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Daemons must not start from postinst: tests start their own on loopback ports.
  if (!fs.existsSync('/usr/sbin/policy-rc.d')) {
    await fs.writeFile('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  }
  await $({ env, quiet: true })`echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections`;
  await $({ env, quiet: true })`apt-get -o DPkg::Lock::Timeout=300 update -qq`;
  await $({ env })`apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends ${[...missing]}`.quiet();
}

// Run directly (`zx scripts/deps.mjs` or `node scripts/deps.mjs`): zx's argv[1] is zx itself, so match by name.
if (process.argv.slice(1, 3).some((a) => a?.endsWith('scripts/deps.mjs') || a === 'deps.mjs')) await ensureDebianPackages();
