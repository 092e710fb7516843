#!/usr/bin/env zx
// Makes a Docker engine reachable for the stack and the integration tests, on a machine that may have none.
// Trusts Debian's apt mirror (docker.io, docker-compose, debootstrap, the base image's packages) and nothing else: it never pulls.
//
//   zx scripts/docker.mjs            ensure engine + base image (+ compose v2), print the env to use
//   zx scripts/docker.mjs env        print `export ...` lines for a shell (eval "$(zx scripts/docker.mjs env)")
//   zx scripts/docker.mjs cleanup    remove test containers and the stack's test projects
//   zx scripts/docker.mjs stop       stop the private dockerd this script started (if any)
import { spawn } from 'node:child_process';
import { $, fs, path, sleep } from 'zx';

/** Private engine's home: socket, exec root, data root, logs. Short: a unix socket path must stay under 108 bytes. */
export const DK_DIR = process.env.MOAT_DOCKER_DIR ?? '/tmp/moat-dk';
/** The base every moat image is built FROM when no registry is used (debootstrap + docker import). */
export const BASE_IMAGE = process.env.MOAT_BASE_IMAGE ?? 'moat/debian:bookworm';
/** The base of the install and bundle stages (compose/app/Dockerfile's BUILD_BASE): the same offline Debian (its npm bootstraps). */
export const BUILD_BASE_IMAGE = process.env.MOAT_BUILD_BASE_IMAGE ?? BASE_IMAGE;
const MIRROR = process.env.MOAT_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const PRIVATE_HOST = `unix://${DK_DIR}/docker.sock`;

const say = (msg) => console.error(`docker: ${msg}`);
const q = $({ quiet: true, nothrow: true });

/** Environment every caller (compose, testcontainers, turbo) needs once the engine is known. */
export function dockerEnv(host = process.env.DOCKER_HOST ?? PRIVATE_HOST) {
  const env = {
    DOCKER_HOST: host,
    // ryuk (the reaper container) cannot be pulled; we clean up ourselves (cleanup() below).
    TESTCONTAINERS_RYUK_DISABLED: 'true',
    // This machine looks like a container (/.dockerenv), so testcontainers would pull alpine to find a gateway.
    TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
    MOAT_BASE_IMAGE: BASE_IMAGE,
    MOAT_BUILD_BASE_IMAGE: BUILD_BASE_IMAGE,
  };
  if (fs.existsSync(path.join(DK_DIR, 'config', 'cli-plugins', 'docker-compose'))) {
    env.DOCKER_CONFIG = process.env.DOCKER_CONFIG ?? path.join(DK_DIR, 'config');
  }
  return env;
}

async function reachable(host) {
  return (await q({ env: { ...process.env, DOCKER_HOST: host } })`docker version --format ${'{{.Server.Version}}'}`).exitCode === 0;
}

async function has(cmd) {
  return (await q`command -v ${cmd}`).exitCode === 0;
}

/** command -> Debian package, for what this script may need. */
const PACKAGES = { dockerd: 'docker.io', 'docker-compose': 'docker-compose', debootstrap: 'debootstrap' };

/** Installs the Debian packages behind the given commands when missing (root only; docker.io ~25 s on a bare machine). */
export async function ensurePackages(commands = Object.keys(PACKAGES)) {
  const need = [];
  for (const cmd of commands) if (!(await has(cmd))) need.push(PACKAGES[cmd] ?? cmd);
  if (need.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`docker: need root to install ${need.join(' ')} (or start a Docker engine and set DOCKER_HOST)`);
  say(`installing Debian packages: ${need.join(' ')} (log: ${DK_DIR}/apt.log)`);
  await fs.mkdirp(DK_DIR);
  // The packages' postinst must not start a system dockerd: we run our own.
  if (!fs.existsSync('/usr/sbin/policy-rc.d')) await fs.writeFile('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const log = path.join(DK_DIR, 'apt.log');
  const r = await $({ env, quiet: true, nothrow: true })`apt-get -o DPkg::Lock::Timeout=300 update -qq >${log} 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -qq ${need} >>${log} 2>&1`;
  if (r.exitCode !== 0) throw new Error(`docker: apt-get failed:\n${(await fs.readFile(log, 'utf8')).slice(-3000)}`);
}

/** Starts a private dockerd with its own socket, exec root and data root under DK_DIR. Returns its pid. */
export async function startPrivateDockerd() {
  await fs.mkdirp(DK_DIR);
  const log = path.join(DK_DIR, 'dockerd.log');
  say(`starting a private dockerd: socket ${DK_DIR}/docker.sock, data ${DK_DIR}/data, log ${log}`);
  const out = fs.openSync(log, 'a');
  const child = spawn(
    'dockerd',
    ['--host', PRIVATE_HOST, '--data-root', `${DK_DIR}/data`, '--exec-root', `${DK_DIR}/exec`, '--pidfile', `${DK_DIR}/dockerd.pid`],
    { detached: true, stdio: ['ignore', out, out] },
  );
  child.unref();
  fs.closeSync(out);
  for (let i = 0; i < 120; i++) {
    if (await reachable(PRIVATE_HOST)) {
      await fs.writeFile(path.join(DK_DIR, 'started-by-moat'), String(child.pid));
      return child.pid;
    }
    if (child.exitCode !== null) break;
    await sleep(500);
  }
  throw new Error(`docker: private dockerd did not come up:\n${(await fs.readFile(log, 'utf8')).slice(-3000)}`);
}

/** Stops the private dockerd if this project started it (never a daemon someone else runs). */
export async function stopPrivateDockerd() {
  const mark = path.join(DK_DIR, 'started-by-moat');
  const pidfile = path.join(DK_DIR, 'dockerd.pid');
  if (!fs.existsSync(mark) || !fs.existsSync(pidfile)) return false;
  const pid = Number((await fs.readFile(pidfile, 'utf8')).trim());
  say(`stopping the private dockerd (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  for (let i = 0; i < 60 && fs.existsSync(pidfile); i++) await sleep(500);
  await fs.remove(mark);
  return true;
}

/** The base image, made with debootstrap + docker import (~30 s), since nothing can be pulled. */
export async function ensureBaseImage(image = BASE_IMAGE) {
  if ((await q`docker image inspect ${image}`).exitCode === 0) return false;
  if (image !== 'moat/debian:bookworm' && !image.startsWith('moat/')) {
    throw new Error(`docker: base image ${image} is not present (set MOAT_BASE_IMAGE or docker pull it)`);
  }
  await ensurePackages(['debootstrap']);
  const started = Date.now();
  say(`building base image ${image} with debootstrap --variant=minbase bookworm from ${MIRROR} (log: ${DK_DIR}/debootstrap.log)`);
  await fs.mkdirp(DK_DIR);
  const rootfs = (await $({ quiet: true })`mktemp -d ${DK_DIR}/rootfs.XXXXXX`).stdout.trim();
  const log = path.join(DK_DIR, 'debootstrap.log');
  try {
    const r = await q`debootstrap --variant=minbase bookworm ${rootfs} ${MIRROR} >${log} 2>&1`;
    if (r.exitCode !== 0) throw new Error(`docker: debootstrap failed:\n${(await fs.readFile(log, 'utf8')).slice(-3000)}`);
    await $({ quiet: true })`rm -rf ${rootfs}/var/cache/apt/archives/*.deb ${rootfs}/var/cache/apt/*.bin ${rootfs}/var/lib/apt/lists/*`;
    // The security suite, as debian:bookworm-slim has it, so apt-get in our Dockerfiles gets fixed packages.
    const sec = MIRROR.replace(/\/debian\/?$/, '/debian-security');
    await fs.writeFile(
      `${rootfs}/etc/apt/sources.list`,
      `deb ${MIRROR} bookworm main\ndeb ${MIRROR} bookworm-updates main\ndeb ${sec} bookworm-security main\n`,
    );
    await $({ quiet: true })`tar -C ${rootfs} -c . | docker import -c ${'CMD ["bash"]'} - ${image}`;
  } finally {
    await $({ quiet: true, nothrow: true })`rm -rf ${rootfs}`;
  }
  say(`base image ${image} ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return true;
}

/** The compose v2 CLI plugin from Debian trixie's docker-compose package (bookworm only has v1.29). ~5 s. */
export async function ensureComposeV2() {
  if ((await q`docker compose version`).exitCode === 0) return true;
  const dir = path.join(DK_DIR, 'config', 'cli-plugins');
  if (!fs.existsSync(path.join(dir, 'docker-compose'))) {
    say(`fetching the compose v2 plugin from Debian trixie's docker-compose package into ${dir}`);
    await fs.mkdirp(dir);
    const script = `set -e
echo "deb ${MIRROR} trixie main" > /etc/apt/sources.list.d/trixie.list
apt-get update -qq && cd /tmp && apt-get download -qq docker-compose/trixie
dpkg-deb -x docker-compose_*.deb x && cp x/usr/libexec/docker/cli-plugins/docker-compose /out/`;
    const r = await q`docker run --rm -v ${dir}:/out ${BASE_IMAGE} sh -c ${script}`;
    if (r.exitCode !== 0) {
      say(`compose v2 unavailable (${r.stderr.trim().split('\n').pop()}); docker-compose v1 will be used`);
      await ensurePackages(['docker-compose']);
      return false;
    }
  }
  process.env.DOCKER_CONFIG = process.env.DOCKER_CONFIG ?? path.join(DK_DIR, 'config');
  return (await q`docker compose version`).exitCode === 0;
}

/** The compose command to run: v2 (`docker compose`) when present, else v1 (`docker-compose`). MOAT_COMPOSE=v1 forces v1. */
export async function composeCommand() {
  // MOAT_COMPOSE=v1 forces docker-compose 1.29 (to check that the files still work with it).
  if (process.env.MOAT_COMPOSE !== 'v1' && (await q`docker compose version`).exitCode === 0) return ['docker', 'compose'];
  if (await has('docker-compose')) return ['docker-compose'];
  throw new Error('docker: neither `docker compose` nor `docker-compose` is available');
}

/** Where findEngine looks: DOCKER_HOST alone when it is set (the caller chose), else the system socket, then ours. */
export function engineCandidates() {
  return process.env.DOCKER_HOST ? [process.env.DOCKER_HOST] : ['unix:///var/run/docker.sock', PRIVATE_HOST];
}

/** The first engine that answers, or null; starts and installs nothing (for commands that only use a running stack). */
export async function findEngine() {
  for (const h of engineCandidates()) if (await reachable(h)) return h;
  return null;
}

/**
 * Makes a Docker engine reachable and sets process.env for callers. Uses DOCKER_HOST or the system socket
 * when they answer; otherwise installs Debian's docker.io and runs a private dockerd under DK_DIR.
 */
export async function ensureDocker({ base = true, composeV2 = true } = {}) {
  let host = null;
  let started = false;
  for (const h of [process.env.DOCKER_HOST, 'unix:///var/run/docker.sock', PRIVATE_HOST]) {
    if (h && (await reachable(h))) {
      host = h;
      break;
    }
  }
  if (!host) {
    // No engine answers: Debian's docker.io (and docker-compose v1, the fallback) and our own daemon.
    await ensurePackages(['dockerd', 'docker-compose']);
    await startPrivateDockerd();
    host = PRIVATE_HOST;
    started = true;
  }
  Object.assign(process.env, dockerEnv(host));
  if (base) await ensureBaseImage();
  if (composeV2) await ensureComposeV2();
  Object.assign(process.env, dockerEnv(host));
  return { env: dockerEnv(host), started };
}

/**
 * Removes what tests leave behind (ryuk is off): testcontainers' containers (unless testcontainers: false),
 * and the containers, networks and volumes of the given compose projects and of every project whose name
 * matches `pattern` (default: the test projects, moat-test and moat-<something>-test; null: none).
 */
export async function cleanup({ projects = [], pattern = /^moat-(.+-)?test$/, testcontainers = true } = {}) {
  const ids = new Set();
  const ls = async (...filters) =>
    (await q`docker ps -aq ${filters.flatMap((f) => ['--filter', f])}`).stdout.split('\n').filter(Boolean);
  if (testcontainers) for (const id of await ls('label=org.testcontainers=true')) ids.add(id);
  const all = (await q`docker ps -a --format ${'{{.ID}}\t{{.Label "com.docker.compose.project"}}'}`).stdout.split('\n');
  const names = new Set(projects);
  for (const line of all) {
    const [id, project] = line.split('\t');
    if (id && project && (names.has(project) || pattern?.test(project))) {
      ids.add(id);
      names.add(project);
    }
  }
  if (ids.size) await q`docker rm -f -v ${[...ids]}`;
  for (const project of names) {
    const nets = (await q`docker network ls -q --filter label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean);
    if (nets.length) await q`docker network rm ${nets}`;
    const vols = (await q`docker volume ls -q --filter label=com.docker.compose.project=${project}`).stdout.split('\n').filter(Boolean);
    if (vols.length) await q`docker volume rm -f ${vols}`;
  }
  return ids.size;
}

if (process.argv.some((a) => a.endsWith('scripts/docker.mjs')) && import.meta.url.endsWith('scripts/docker.mjs')) {
  const cmd = process.argv.slice(process.argv.findIndex((a) => a.endsWith('docker.mjs')) + 1)[0] ?? 'up';
  if (cmd === 'stop') await stopPrivateDockerd();
  else if (cmd === 'cleanup') {
    Object.assign(process.env, dockerEnv());
    say(`removed ${await cleanup()} container(s)`);
  } else {
    const { env } = await ensureDocker();
    if (cmd === 'env') for (const [k, v] of Object.entries(env)) console.log(`export ${k}=${v}`);
    else {
      say('engine ready; use it with:');
      for (const [k, v] of Object.entries(env)) console.log(`  export ${k}=${v}`);
    }
  }
}
