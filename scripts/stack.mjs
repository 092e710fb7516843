#!/usr/bin/env zx
// The appliance stack on this machine: build bundles and images, then compose up / down / logs / status.
// Trusts Debian's mirror (through docker.mjs) and the local engine; publishes only SMTP and submission (and the
// web console, on the host's loopback only; the policy port only with MOAT_PUBLISH_POLICYD=1 or --test; 80 and 443
// only when moat.yaml sets mx.tls.acme or mx.mta_sts, or with MOAT_PUBLISH_WEB=1).
//
//   npm run stack -- up [--test] [--no-build]   build everything, start, wait until every service is healthy
//   npm run stack -- down [-v] [--test]         stop and remove containers (-v: also the volumes)
//   npm run stack -- logs [--test] [SERVICE]    follow logs
//   npm run stack -- status [--test]            services, health and published ports
//   npm run stack -- build [--test]             images only (the node services install and bundle inside Docker)
//   npm run stack -- prepare                    compose/secrets/ and the builds' npm cache (then `docker compose ... up --build` works by itself)
//   npm run stack -- restart [SERVICE]          restart services (e.g. mx after changing certificates)
//   npm run stack -- adduser NAME               add or replace an AUTH user with `moat user` (MOAT_PASSWORD, or a generated one)
//   npm run stack -- dkim keygen DOMAIN         a DKIM key in secrets/dkim (`moat dkim keygen`), the record to publish, the config lines
// Day-two commands inside the running stack: npm run moat -- queue list (scripts/moat.mjs).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { $, fs, path, sleep } from 'zx';
import { generatePassword, hashPassword } from '../packages/auth/src/index.ts';
import { BASE_IMAGE, BUILD_BASE_IMAGE, composeCommand, ensureDocker } from './docker.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const COMPOSE_DIR = path.join(ROOT, 'compose');
/** Every image the stack runs. mx, policyd and console are targets of compose/app/Dockerfile (APP_IMAGES). */
export const IMAGES = ['mx', 'policyd', 'console', 'unbound', 'redis', 'spamassassin'];
/** The node services: one multi-stage Dockerfile installs and bundles inside Docker; each is one of its targets. */
export const APP_IMAGES = ['mx', 'policyd', 'console'];
export const TEST_IMAGES = ['rbldnsd'];
export const TAG = process.env.MOAT_TAG ?? 'dev';
/** The uid the node services run as (compose/app/Dockerfile): secrets must be readable by it. */
const MOAT_UID = 10025;

const say = (msg) => console.log(`stack: ${msg}`);

/** Compose project, files and environment for the production stack or the test profile. */
export function stackOptions({ test = false } = {}) {
  // policyd's port is published only on request (a Postfix outside the stack) and in the test profile
  const publishPolicyd = test || /^(1|true|yes)$/i.test(process.env.MOAT_PUBLISH_POLICYD ?? '');
  // mx's web ports (80 ACME HTTP-01, 443 MTA-STS policy host) only when the config serves them, or on request
  const publishWeb = !test && (/^(1|true|yes)$/i.test(process.env.MOAT_PUBLISH_WEB ?? '') || servesWeb(readConfigText(process.env.MOAT_CONFIG_DIR)));
  const files = [
    'docker-compose.yml',
    ...(publishPolicyd ? ['docker-compose.policyd-port.yml'] : []),
    ...(publishWeb ? ['docker-compose.web-ports.yml'] : []),
    ...(test ? ['docker-compose.test.yml'] : []),
  ];
  const env = { MOAT_TAG: TAG, MOAT_BASE_IMAGE: BASE_IMAGE, MOAT_BUILD_BASE_IMAGE: BUILD_BASE_IMAGE, ...(test ? readEnvFile(path.join(COMPOSE_DIR, 'test.env')) : {}) };
  return { project: test ? 'moat-test' : 'moat', files, env };
}

/**
 * The stack's moat.yaml: `moat.yaml` in MOAT_CONFIG_DIR (from the environment, else compose/.env as compose reads
 * it; relative to compose/, as in the compose file, default ./config: compose mounts the directory, not the file).
 */
export function stackConfigFile(dir = process.env.MOAT_CONFIG_DIR ?? composeDotEnv().MOAT_CONFIG_DIR) {
  return path.resolve(COMPOSE_DIR, dir ?? 'config', 'moat.yaml');
}

function readConfigText(dir) {
  try {
    return fs.readFileSync(stackConfigFile(dir), 'utf8');
  } catch {
    return '';
  }
}

/** Whether a moat.yaml makes mx answer on 80 or 443: ACME HTTP-01 (mx.tls.acme) or the MTA-STS host (mx.mta_sts). */
export function servesWeb(configText) {
  let doc;
  try {
    doc = parseYaml(configText);
  } catch {
    return false; // the config check reports it; compose up then fails on the same file
  }
  const mx = doc?.mx;
  return Boolean(mx?.tls?.acme || mx?.mta_sts);
}

/** compose/.env, which docker compose reads by itself (its project directory is compose/); {} when there is none. */
export function composeDotEnv(file = path.join(COMPOSE_DIR, '.env')) {
  try {
    return readEnvFile(file);
  } catch (e) {
    if (e.code === 'ENOENT') return {};
    throw e;
  }
}

/**
 * Refuses the retired MOAT_CONFIG (one file, which compose mounted before the config directory): no compose file
 * reads it, so `up` would start on compose/config/moat.yaml, not the user's file. Looked for where compose looks,
 * the environment and compose/.env. With MOAT_CONFIG_DIR set too the user has moved (MOAT_CONFIG may then be
 * for a host `moat` run). Throws an Error saying what to rename.
 */
export function checkRetiredConfigVar(env = process.env, dotEnv = composeDotEnv()) {
  if (env.MOAT_CONFIG_DIR || dotEnv.MOAT_CONFIG_DIR) return;
  const where = env.MOAT_CONFIG ? 'the environment' : dotEnv.MOAT_CONFIG ? 'compose/.env' : undefined;
  if (!where) return;
  const file = env.MOAT_CONFIG || dotEnv.MOAT_CONFIG;
  throw new Error(
    `stack: MOAT_CONFIG=${file} (in ${where}) is no longer read: compose mounts a config directory at /etc/moat/conf, and would start with compose/config/moat.yaml instead. ` +
      `Move the file to compose/config/moat.yaml and remove MOAT_CONFIG${where === 'compose/.env' ? ' from compose/.env' : ''}, ` +
      `or put it as moat.yaml in a directory of its own and rename MOAT_CONFIG to MOAT_CONFIG_DIR=that directory (relative to compose/).`,
  );
}

/** KEY=VALUE lines (the compose .env format) as an object; comments and blank lines skipped. */
export function readEnvFile(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2].trim();
  }
  return env;
}

/** Where compose/app/Dockerfile looks for npm's cache (copied into the install stage, used before the registry). */
export const NPM_CACHE_DIR = path.join(COMPOSE_DIR, 'app', 'npm-cache');

/**
 * Gives the image builds this host's npm cache (compose/app/npm-cache/_cacache, hard links when the file
 * system allows, else a copy), once: on this machine a build cannot reach the npm registry (its TLS is
 * intercepted by a proxy only the host trusts), and `npm ci` inside the build then installs from the cache,
 * checking every package against package-lock's integrity hash. MOAT_NPM_CACHE=off leaves it empty (the
 * build fetches from the registry); MOAT_NPM_CACHE=DIR names another cache. `dir`: another checkout's
 * compose/app/npm-cache. Returns whether it holds a cache.
 */
export async function ensureBuildNpmCache(dir = NPM_CACHE_DIR) {
  const setting = process.env.MOAT_NPM_CACHE ?? '';
  if (setting === 'off') return false;
  const dest = path.join(dir, '_cacache');
  if (fs.existsSync(dest)) return true;
  const hostCache =
    setting ||
    (await $({ quiet: true, nothrow: true })`npm config get cache`).stdout.trim() ||
    path.join(os.homedir(), '.npm');
  const src = path.join(hostCache, '_cacache');
  if (!hostCache || !fs.existsSync(src)) {
    say(`no npm cache at ${src}: the image builds fetch from the npm registry (run \`npm ci\` here first if they cannot reach it)`);
    return false;
  }
  say(`giving the image builds this host's npm cache: ${src} -> ${dest}`);
  const tmp = `${dest}.tmp-${process.pid}`;
  const linked = await $({ quiet: true, nothrow: true })`cp -al ${src} ${tmp}`;
  if (linked.exitCode !== 0) {
    await fs.remove(tmp);
    await $({ quiet: true })`cp -a ${src} ${tmp}`;
  }
  await fs.rename(tmp, dest);
  return true;
}

/** `docker build` arguments of an image: the app targets of compose/app/Dockerfile, or compose/NAME/Dockerfile. */
export function imageBuildArgs(name, { tag = TAG } = {}) {
  const args = ['--build-arg', `BASE=${BASE_IMAGE}`, '--build-arg', `BUILD_BASE=${BUILD_BASE_IMAGE}`];
  const file = APP_IMAGES.includes(name) ? ['-f', 'compose/app/Dockerfile', '--target', name] : ['-f', `compose/${name}/Dockerfile`];
  return [...args, ...file, '-t', `moat/${name}:${tag}`, '.'];
}

/**
 * Builds the images with plain `docker build` (no buildx here), FROM the offline base image. The node
 * services install and bundle inside Docker (compose/app/Dockerfile); nothing is built on the host first.
 */
export async function buildImages({ test = false, only = undefined } = {}) {
  // only: a subset of the stack's images (the Swarm suite runs four of them)
  const names = only ?? [...IMAGES, ...(test ? TEST_IMAGES : [])];
  await ensureBuildNpmCache();
  for (const name of names) {
    const started = Date.now();
    const r = await $({ cwd: ROOT, quiet: true, nothrow: true })`docker build ${imageBuildArgs(name)}`;
    if (r.exitCode !== 0) throw new Error(`stack: building moat/${name}:${TAG} failed:\n${(r.stdout + r.stderr).slice(-4000)}`);
    say(`image moat/${name}:${TAG} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

/**
 * TLS pair, AUTH users file, the console's admin password hash and the cluster's Redis password in
 * compose/secrets/ when missing (a self-signed certificate for the host name, one AUTH user and the
 * console's admin password, each printed once; the Redis password only ever lives in its file). Readable by
 * the node containers' user only; the Redis password also by its group, which the redis image's user is in.
 */
export async function ensureSecrets(dir = path.join(COMPOSE_DIR, 'secrets'), { hostname = 'mx.moat.test', users: fixedUsers } = {}) {
  await fs.mkdirp(dir);
  const crt = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  if (!fs.existsSync(crt) || !fs.existsSync(key)) {
    say(`creating a self-signed TLS certificate for ${hostname} in ${dir} (replace it with your own)`);
    await $({ quiet: true })`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 -subj ${`/CN=${hostname}`} -addext ${`subjectAltName=DNS:${hostname}`} -keyout ${key} -out ${crt}`;
  }
  // The AUTH users file lives in a directory of its own, which compose mounts (not the file: `moat user`
  // replaces it by rename, and only a mounted directory shows the new file to a running mx).
  const authDir = path.join(dir, 'auth');
  const users = path.join(authDir, 'users');
  await fs.mkdirp(authDir);
  await fs.chmod(authDir, 0o700);
  if (process.getuid?.() === 0) await fs.chown(authDir, MOAT_UID, MOAT_UID);
  const legacy = path.join(dir, 'auth-users');
  if (fs.existsSync(legacy) && !fs.existsSync(users)) {
    await fs.rename(legacy, users);
    say(`moved ${legacy} to ${users} (compose now mounts the directory)`);
  }
  if (fixedUsers) {
    // Known users (the tests'): rewritten every time so the file matches the passwords the caller holds.
    await fs.writeFile(users, '# user:hash, one a line; edit with `moat user` (apps/cli)\n');
    for (const [u, p] of fixedUsers) await setUser(users, u, p);
  } else if (!fs.existsSync(users)) {
    await fs.writeFile(users, '# user:hash, one a line; edit with `moat user` (apps/cli)\n', { mode: 0o600 });
    const password = await setUser(users, 'admin');
    say(`created AUTH user "admin" with password ${password} in ${users}`);
  }
  const consoleHash = path.join(dir, 'console-password-hash');
  if (!fs.existsSync(consoleHash)) {
    const password = generatePassword();
    await fs.writeFile(consoleHash, `${await hashPassword(password)}\n`);
    say(`created the web console's admin password (user ${process.env.MOAT_CONSOLE_USER || 'admin'}): ${password}  (its hash is in ${consoleHash})`);
  }
  // DKIM signing keys (`npm run stack -- dkim keygen DOMAIN`), mounted read-only at /etc/moat/dkim: made
  // here so Docker does not create it as root, and so only the node services' user reads it
  const dkimDir = path.join(dir, 'dkim');
  await fs.mkdirp(dkimDir);
  await fs.chmod(dkimDir, 0o700);
  if (process.getuid?.() === 0) await fs.chown(dkimDir, MOAT_UID, MOAT_UID);
  const redisPassword = path.join(dir, 'redis-password');
  if (!fs.existsSync(redisPassword)) {
    // base64url: no spaces or quotes, which redis.sh and sentinel.sh refuse
    await fs.writeFile(redisPassword, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    say(`created the cluster's Redis password in ${redisPassword}`);
  }
  // the nodes' quarantine admin API token (quarantine.admin_token): mx serves it, the console and the CLI send it
  const quarantineToken = path.join(dir, 'quarantine-token');
  if (!fs.existsSync(quarantineToken)) {
    await fs.writeFile(quarantineToken, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    say(`created the quarantine admin API's token in ${quarantineToken}`);
  }
  for (const f of [crt, key, users, consoleHash, redisPassword, quarantineToken]) {
    await fs.chmod(f, f === crt ? 0o644 : f === redisPassword ? 0o640 : 0o600);
    if (process.getuid?.() === 0) await fs.chown(f, MOAT_UID, MOAT_UID);
  }
  return { crt, key, users, consoleHash, redisPassword, quarantineToken };
}

/** Where the mx container reads DKIM keys (docker-compose.yml mounts secrets/dkim there, read-only). */
export const STACK_DKIM_DIR = '/etc/moat/dkim';

/**
 * `moat dkim keygen DOMAIN` (apps/cli, the one key writer: never over an existing file) into the stack's
 * secrets/dkim, owned by the node services' user; returns the CLI's JSON with the key's path in the container.
 */
export async function dkimKeygen(domain, { test = false, dir = path.resolve(COMPOSE_DIR, test ? 'secrets-test' : 'secrets'), selector, ed25519 = false, bits } = {}) {
  await ensureSecrets(dir);
  const dkimDir = path.join(dir, 'dkim');
  const args = ['dkim', 'keygen', domain, '--dir', dkimDir, '--json', ...(selector ? ['--selector', selector] : []), ...(ed25519 ? ['--ed25519'] : []), ...(bits ? ['--bits', String(bits)] : [])];
  const r = await $({ cwd: ROOT, quiet: true, nothrow: true })`${process.execPath} apps/cli/src/main.ts ${args}`;
  if (r.exitCode !== 0) throw new Error(`stack: moat dkim keygen ${domain}: ${(r.stderr || r.stdout).trim()}`);
  const out = JSON.parse(r.stdout);
  if (process.getuid?.() === 0) await fs.chown(out.key, MOAT_UID, MOAT_UID);
  return { ...out, hostKey: out.key, key: path.posix.join(STACK_DKIM_DIR, path.basename(out.key)) };
}

/**
 * The test profile's DKIM key for DOMAIN/SELECTOR in DIR/dkim (made once, like the other test secrets) and
 * its TXT record as Unbound local-data in DIR/dns/, which the test Unbound includes: the key and the record
 * it is checked against always come from the same file. Returns the record.
 */
export async function ensureTestDkim(dir, { domain = 'moat.test', selector = 'default' } = {}) {
  const { describePrivateKey, dkimRecord } = await import('../packages/dkim/src/index.ts');
  const pem = path.join(dir, 'dkim', `${domain}.${selector}.pem`);
  if (!fs.existsSync(pem)) await dkimKeygen(domain, { dir, selector });
  const rec = dkimRecord(domain, selector, describePrivateKey(await fs.readFile(pem, 'utf8')));
  const dnsDir = path.join(dir, 'dns');
  await fs.mkdirp(dnsDir);
  const conf = `# generated by scripts/stack.mjs ensureTestDkim from ${path.basename(pem)}: the test Unbound includes it\nserver:\n    local-data: '${rec.name}. 300 IN TXT ${rec.strings.map((x) => `"${x}"`).join(' ')}'\n`;
  await fs.writeFile(path.join(dnsDir, `dkim-${selector}.${domain}.conf`), conf, { mode: 0o644 });
  return rec;
}

/**
 * The test profile's Redis URL with the password in it (DIR/redis-url, the redis_url secret the test
 * compose file hands mx, policyd and the console as MOAT_REDIS_URL_FILE): the test Redis wants the
 * redis-password ensureSecrets made, so secrets.test.ts can check no output ever shows it. Rewritten
 * every time, so it always holds the current password and the test network's address.
 */
export async function ensureTestRedisUrl(dir, { net = '172.29.26' } = {}) {
  const password = (await fs.readFile(path.join(dir, 'redis-password'), 'utf8')).trim();
  const file = path.join(dir, 'redis-url');
  await fs.writeFile(file, `redis://:${password}@${net}.79:6379\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  if (process.getuid?.() === 0) await fs.chown(file, MOAT_UID, MOAT_UID);
  return file;
}

/** Runs `moat user ARGS` (apps/cli, the one writer of the users file: @moat/auth's format, atomic, locked). */
export async function moatUser(args, { input } = {}) {
  const r = await $({ cwd: ROOT, quiet: true, nothrow: true, ...(input !== undefined ? { input } : {}) })`${process.execPath} apps/cli/src/main.ts user ${args}`;
  if (r.exitCode !== 0) throw new Error(`stack: moat user ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Adds or replaces an AUTH user in the stack's users file with `moat user add|passwd`; returns the password
 * (given, or generated by the CLI: letters and digits only).
 */
export async function addUser(user, { test = false, password, dir = path.resolve(COMPOSE_DIR, test ? 'secrets-test' : 'secrets') } = {}) {
  const { users } = await ensureSecrets(dir);
  return setUser(users, user, password);
}

async function setUser(file, user, password) {
  const listed = JSON.parse(await moatUser(['list', '--file', file, '--json'])).users;
  const sub = listed.some((u) => u.user === user.toLowerCase()) ? 'passwd' : 'add';
  const out = JSON.parse(
    await moatUser([sub, user, '--file', file, '--json', ...(password !== undefined ? ['--password-stdin'] : [])], password !== undefined ? { input: `${password}\n` } : {}),
  );
  return password ?? out.password;
}

/** Runs compose with the stack's project and files: compose(opts, ['ps']). */
export async function compose(opts, args, { quiet = false, nothrow = false, inherit = false } = {}) {
  const cmd = await composeCommand();
  const files = opts.files.flatMap((f) => ['-f', path.join(COMPOSE_DIR, f)]);
  const o = { cwd: COMPOSE_DIR, env: { ...process.env, ...opts.env }, quiet, nothrow, ...(inherit ? { stdio: 'inherit' } : {}) };
  return $(o)`${cmd} -p ${opts.project} ${files} ${args}`;
}

/** Containers of a compose project with their state and health, from `docker ps` (same for compose v1 and v2). */
export async function projectContainers(project) {
  const fmt = '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
  const r = await $({ quiet: true })`docker ps -a --filter ${`label=com.docker.compose.project=${project}`} --format ${fmt}`;
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [service, state, status, ports, name] = l.split('\t');
      const health = /\(healthy\)/.test(status) ? 'healthy' : /\(unhealthy\)/.test(status) ? 'unhealthy' : /health: starting/.test(status) ? 'starting' : 'none';
      return { service, state, status, ports, name, health };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** Waits until every container of the project runs and is healthy; throws with the laggards' logs otherwise. */
export async function waitHealthy(project, { timeoutMs = 240_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = [];
  while (Date.now() < deadline) {
    last = await projectContainers(project);
    if (last.length && last.every((c) => c.state === 'running' && (c.health === 'healthy' || c.health === 'none'))) return last;
    if (last.some((c) => c.state === 'exited' || c.state === 'dead')) break;
    await sleep(1000);
  }
  const bad = last.filter((c) => c.state !== 'running' || c.health !== 'healthy');
  let detail = '';
  for (const c of bad) detail += `\n--- ${c.service}: ${c.status}\n${(await $({ quiet: true, nothrow: true })`docker logs --tail 40 ${c.name} 2>&1`).stdout}`;
  throw new Error(`stack: not healthy: ${bad.map((c) => `${c.service} (${c.status})`).join(', ')}${detail}`);
}

function printStatus(containers) {
  for (const c of containers) console.log(`  ${c.service.padEnd(13)} ${c.status.padEnd(28)} ${c.ports}`);
}

export async function up({ test = false, build = true } = {}) {
  const t0 = Date.now();
  const opts = stackOptions({ test });
  checkRetiredConfigVar({ ...process.env, ...opts.env });
  await ensureDocker();
  if (build) await buildImages({ test });
  // The certificate names the host moat.yaml names (policy.hostname), so clients checking names see it.
  const yaml = await fs.readFile(stackConfigFile(opts.env.MOAT_CONFIG_DIR ?? process.env.MOAT_CONFIG_DIR), 'utf8');
  const hostname = /^\s+hostname:\s*([A-Za-z0-9.-]+)/m.exec(yaml)?.[1];
  const secrets = opts.env.MOAT_SECRETS ? path.resolve(COMPOSE_DIR, opts.env.MOAT_SECRETS) : undefined;
  await ensureSecrets(secrets, { hostname });
  // the test profile signs as moat.test (config-test/moat.yaml queue.dkim) and serves the key's record itself
  if (test) {
    await ensureTestDkim(secrets ?? path.join(COMPOSE_DIR, 'secrets-test'));
    await ensureTestRedisUrl(secrets ?? path.join(COMPOSE_DIR, 'secrets-test'), { net: opts.env.MOAT_NET });
  }
  say(`starting project ${opts.project} (${opts.files.join(' + ')})`);
  const started = await compose(opts, ['up', '-d', '--no-build'], { quiet: true, nothrow: true });
  if (started.exitCode !== 0) {
    // e.g. a host port already taken (a local Postfix on 25): say which, and where to change it
    throw new Error(`stack: compose up failed:\n${started.stderr.trim().split('\n').slice(-15).join('\n')}\n(ports: MOAT_SMTP_PORT, MOAT_SUBMISSION_PORT, MOAT_POLICY_PORT, MOAT_CONSOLE_PORT; network: MOAT_NET)`);
  }
  const containers = await waitHealthy(opts.project);
  say(`all ${containers.length} services healthy in ${Math.round((Date.now() - t0) / 1000)} s`);
  printStatus(containers);
  const port = (svc, p) => {
    const c = containers.find((x) => x.service === svc);
    const m = c && new RegExp(`(\\d+\\.\\d+\\.\\d+\\.\\d+):(\\d+)->${p}/tcp`).exec(c.ports);
    return m ? `${m[1] === '0.0.0.0' ? 'localhost' : m[1]}:${m[2]}` : null;
  };
  console.log(`
Connect:
  SMTP (MX)            ${port('mx', 25)}
  submission (AUTH)    ${port('mx', 587)}     STARTTLS, then AUTH with a user from compose/secrets/auth/users (moat user add|passwd|del|list)
  Postfix policy       ${port('policyd', 10023) ? `${port('policyd', 10023)}   check_policy_service inet:${port('policyd', 10023)} (only from policyd.clients)` : 'not published (MOAT_PUBLISH_POLICYD=1 publishes it; docs/operations.md)'}
  web console          http://${port('console', 9480)}/   loopback only; user ${test ? 'admin, password in compose/test.env' : `${process.env.MOAT_CONSOLE_USER || 'admin'}, password printed when it was created (compose/secrets/console-password-hash)`}
Config: ${path.relative(process.cwd(), stackConfigFile(opts.env.MOAT_CONFIG_DIR ?? process.env.MOAT_CONFIG_DIR))} · logs: npm run stack -- logs${test ? ' --test' : ''} · stop: npm run stack -- down${test ? ' --test' : ''}
CLI in the stack: npm run moat --${test ? ' --test' : ''} queue list | zones | explain ... | greylist stuck  (docker: export DOCKER_HOST=${process.env.DOCKER_HOST})`);
  return containers;
}

export async function down({ test = false, volumes = false } = {}) {
  await ensureDocker({ base: false });
  const opts = stackOptions({ test });
  await compose(opts, ['down', '--remove-orphans', ...(volumes ? ['-v'] : [])], { inherit: true });
}

export async function status({ test = false } = {}) {
  await ensureDocker({ base: false });
  const containers = await projectContainers(stackOptions({ test }).project);
  if (!containers.length) say('not running');
  printStatus(containers);
  return containers;
}

if (process.argv.some((a) => a.endsWith('scripts/stack.mjs')) && import.meta.url.endsWith('scripts/stack.mjs')) {
  const args = process.argv.slice(process.argv.findIndex((a) => a.endsWith('stack.mjs')) + 1);
  const flags = new Set(args.filter((a) => a.startsWith('-')));
  const [cmd = 'status', ...rest] = args.filter((a) => !a.startsWith('-'));
  const test = flags.has('--test');
  try {
    if (cmd === 'up') await up({ test, build: !flags.has('--no-build') });
    else if (cmd === 'down') await down({ test, volumes: flags.has('-v') || flags.has('--volumes') });
    else if (cmd === 'status' || cmd === 'ps') await status({ test });
    else if (cmd === 'logs') {
      await ensureDocker({ base: false });
      await compose(stackOptions({ test }), ['logs', '--tail', '200', ...(flags.has('--no-follow') ? [] : ['-f']), ...rest], { inherit: true });
    } else if (cmd === 'restart') {
      await ensureDocker({ base: false });
      await compose(stackOptions({ test }), ['restart', ...rest], { inherit: true });
    } else if (cmd === 'adduser' && rest[0]) {
      const password = await addUser(rest[0], { test, ...(process.env.MOAT_PASSWORD ? { password: process.env.MOAT_PASSWORD } : {}) });
      say(`AUTH user ${rest[0]} set; password: ${password}  (the mx picks it up within seconds, no restart)`);
    } else if (cmd === 'dkim' && rest[0] === 'keygen' && rest[1]) {
      const opt = (name) => {
        const i = args.indexOf(`--${name}`);
        return i >= 0 ? args[i + 1] : undefined;
      };
      const k = await dkimKeygen(rest[1], { test, selector: opt('selector'), bits: opt('bits'), ed25519: flags.has('--ed25519') });
      console.log(`wrote ${k.type} key ${k.hostKey} (mode 0600; the mx reads it as ${k.key})

Publish this TXT record (zone-file form; most DNS panels take the quoted text joined):
  ${k.record.name}. 3600 IN TXT ( ${k.record.strings.map((x) => `"${x}"`).join(' ')} )

Then add the key to ${test ? 'compose/config-test/moat.yaml' : 'compose/config/moat.yaml'} and reload (npm run moat -- reload):
  queue:
    dkim:
      - { domain: ${k.domain}, selector: ${k.selector}, key: ${k.key} }

and check the record with: npm run moat -- dkim check ${k.domain}`);
    } else if (cmd === 'build') {
      await ensureDocker();
      await buildImages({ test });
    } else if (cmd === 'prepare') {
      // what `docker compose up --build` needs that git does not hold: compose/secrets/, and the host's npm cache
      const opts = stackOptions({ test });
      await ensureSecrets(opts.env.MOAT_SECRETS ? path.resolve(COMPOSE_DIR, opts.env.MOAT_SECRETS) : undefined);
      await ensureBuildNpmCache();
    } else {
      console.error('usage: npm run stack -- up|down|logs|status|restart|build|prepare [--test] [--no-build] [-v] | adduser NAME | dkim keygen DOMAIN [--selector S] [--ed25519] [--bits N]');
      process.exitCode = 2;
    }
  } catch (e) {
    console.error(e.message ?? e);
    process.exitCode = 1;
  }
}
