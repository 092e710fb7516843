#!/usr/bin/env zx
// Three Docker engines on this machine, each in its own network namespace on a bridge (its own address,
// data root, exec root, socket and hostname), joined as a three-manager swarm, plus a private registry
// (Debian's docker-registry) on the bridge: what packages/e2e-swarm deploys compose/stack.swarm.yml onto.
// Trusts root on this machine and Debian's docker.io / docker-registry; creates and removes only names
// it owns (bridge msw0, namespaces msw-*, cgroups msw-*, iptables rules commented moat-swarm, SWARM_DIR).
//
//   zx scripts/swarm.mjs up        engines + swarm + labels + registry (removes leftovers of an earlier run first)
//   zx scripts/swarm.mjs down      stop everything up made and remove it (safe to run any time, twice)
//   zx scripts/swarm.mjs env       print `export DOCKER_HOST=...` for node mx1 (a manager)
//   zx scripts/swarm.mjs probe     say whether this kernel can run the swarm (exit 0), or what it lacks (exit 3)
//   node scripts/swarm.mjs watch PID   (started by up()) runs down() when process PID ends without doing it
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { $, fs, path, sleep } from 'zx';
import { ensureDebianPackages } from './deps.mjs';

/** The bridge network's first three octets: the host is .1, node mxN is .1N, extra clients .100 and up. */
export const NET = process.env.MOAT_SWARM_NET ?? '10.231.0';
export const BRIDGE = 'msw0';
/** State of every engine and the registry. On disk (not tmpfs): three data roots hold the images. */
export const SWARM_DIR = process.env.MOAT_SWARM_DIR ?? '/var/tmp/moat-swarm';
/** Sockets and exec roots: short paths (a unix socket path must stay under 108 bytes). */
const RUN_DIR = '/run/moat-swarm';
export const REGISTRY = `${NET}.1:5000`;
/** A second client address on the host side of the bridge (the host-mode test tells two clients apart). */
export const CLIENT2 = `${NET}.100`;
const COMMENT = 'moat-swarm';

/** The three nodes: label moat.node=name, namespace, address, engine socket. */
export const NODES = ['mx1', 'mx2', 'mx3'].map((name, i) => ({
  name,
  ns: `msw-${name}`,
  ip: `${NET}.1${i + 1}`,
  host: `unix://${RUN_DIR}/${name}.sock`,
  dir: path.join(SWARM_DIR, name),
  execRoot: path.join(RUN_DIR, name),
}));

const say = (msg) => console.error(`swarm: ${msg}`);
const q = $({ quiet: true, nothrow: true });

/** docker against one node's engine. */
export function dockerAt(node, args, opts = {}) {
  return $({ quiet: true, ...opts, env: { ...process.env, DOCKER_HOST: node.host, ...(opts.env ?? {}) } })`docker ${args}`;
}

async function engineUp(node) {
  return (await q({ env: { ...process.env, DOCKER_HOST: node.host } })`docker version --format ${'{{.Server.Version}}'}`).exitCode === 0;
}

/** The bridge, the host's forwarding rule for it, and one namespace per node with a veth on the bridge. */
async function makeNetwork() {
  await $`ip link add ${BRIDGE} type bridge`;
  await $`ip addr add ${NET}.1/24 dev ${BRIDGE}`;
  await $`ip addr add ${CLIENT2}/24 dev ${BRIDGE}`;
  await $`ip link set ${BRIDGE} up`;
  // The host's FORWARD policy is DROP (its own dockerd) and bridged frames pass iptables
  // (bridge-nf-call-iptables=1): let the nodes talk to each other, and to nothing beyond the bridge.
  await $`iptables -I FORWARD 1 -i ${BRIDGE} -o ${BRIDGE} -m comment --comment ${COMMENT} -j ACCEPT`;
  for (const [i, n] of NODES.entries()) {
    await $`ip netns add ${n.ns}`;
    await $`ip link add msw-h${i + 1} type veth peer name eth0 netns ${n.ns}`;
    await $`ip link set msw-h${i + 1} master ${BRIDGE} up`;
    await $`ip -n ${n.ns} addr add ${n.ip}/24 dev eth0`;
    await $`ip -n ${n.ns} link set eth0 up`;
    await $`ip -n ${n.ns} link set lo up`;
    await $`ip -n ${n.ns} route add default via ${NET}.1`;
  }
}

/**
 * Starts a node's dockerd in its namespace: nsenter for the network only (the host's /sys and cgroups stay
 * visible, which `ip netns exec` would hide), a private mount namespace so the engine's mounts vanish with
 * it, and its own hostname. Its containers go under the cgroup parent msw-NAME, so down() finds them all.
 */
export async function startEngine(node) {
  await fs.mkdirp(node.dir);
  await fs.mkdirp(node.execRoot);
  const conf = path.join(node.dir, 'daemon.json');
  // key.json (the engine's identity) is written beside the config file: one per node.
  // dns: Docker's embedded DNS forwards names it does not know (a service with no task, such as the Sentinel
  // of a node that is down) to the containers' upstream resolver. The host's (10.255.255.53 here) is not
  // reachable from the test bridge, so every such lookup would hang for seconds; and a Sentinel resolving
  // host names blocks on it, enters TILT, fails its health check and is restarted in a loop, so no failover.
  // A real host's resolver answers at once; here scripts/swarm-dns.mjs on the bridge does (NXDOMAIN).
  await fs.writeJson(conf, { 'insecure-registries': [REGISTRY], 'cgroup-parent': node.ns, 'log-level': 'warn', dns: [`${NET}.1`] });
  const args = [
    `--net=/run/netns/${node.ns}`, 'unshare', '--mount', '--uts', '--propagation', 'slave', 'sh', '-c', `hostname ${node.ns} && exec "$@"`, 'sh',
    'dockerd', '--config-file', conf, '--data-root', path.join(node.dir, 'data'), '--exec-root', node.execRoot,
    '--pidfile', path.join(node.execRoot, 'dockerd.pid'), '-H', node.host,
  ];
  const log = openSync(path.join(node.dir, 'dockerd.log'), 'a');
  spawn('nsenter', args, { detached: true, stdio: ['ignore', log, log] }).unref();
  for (let i = 0; i < 300; i++) {
    if (await engineUp(node)) return;
    await sleep(100);
  }
  throw new Error(`swarm: the engine of ${node.name} did not answer in 30 s (${path.join(node.dir, 'dockerd.log')})`);
}

const pidOf = async (file) => Number.parseInt((await fs.readFile(file, 'utf8').catch(() => '')).trim(), 10) || 0;
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes in a cgroup (v1 pids hierarchy, or v2) under the node's parent, container by container. */
async function cgroupPids(node) {
  const pids = [];
  for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const dir = path.join(root, node.ns);
    if (!fs.existsSync(dir)) continue;
    const out = await q`find ${dir} -name cgroup.procs -exec cat {} +`;
    for (const l of out.stdout.split('\n')) if (l.trim()) pids.push(Number(l));
  }
  return [...new Set(pids)];
}

/** Processes whose command line names the node's exec root: its containerd and the shims. */
async function engineHelpers(node) {
  const out = await q`grep -l -s -F ${node.execRoot} /proc/[0-9]*/cmdline`;
  return out.stdout.split('\n').map((l) => Number(/^\/proc\/(\d+)\//.exec(l)?.[1])).filter((p) => p && p !== process.pid);
}

/**
 * Stops a node's engine as an operator (or a dying host's init) would: SIGTERM to dockerd, which stops its
 * containers and containerd; after `graceS` whatever is left of it is killed (SIGKILL, by pid).
 */
export async function stopEngine(node, { graceS = 30 } = {}) {
  const pid = await pidOf(path.join(node.execRoot, 'dockerd.pid'));
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < graceS * 10 && alive(pid); i++) await sleep(100);
  }
  const left = [...(pid && alive(pid) ? [pid] : []), ...(await engineHelpers(node)), ...(await cgroupPids(node))];
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  if (left.length) await sleep(500);
}

/** Forms the swarm: mx1 initialises, mx2 and mx3 join as managers; each node gets its moat.node label. */
async function formSwarm() {
  const [first, ...rest] = NODES;
  await dockerAt(first, ['swarm', 'init', '--advertise-addr', first.ip, '--listen-addr', `${first.ip}:2377`]);
  const token = (await dockerAt(first, ['swarm', 'join-token', '-q', 'manager'])).stdout.trim();
  for (const n of rest) await dockerAt(n, ['swarm', 'join', '--token', token, '--advertise-addr', n.ip, '--listen-addr', `${n.ip}:2377`, `${first.ip}:2377`]);
  for (const n of NODES) {
    const id = (await dockerAt(n, ['info', '--format', '{{.Swarm.NodeID}}'])).stdout.trim();
    await dockerAt(first, ['node', 'update', '--label-add', `moat.node=${n.name}`, id]);
  }
}

/** Debian's distribution registry on the bridge, storage under SWARM_DIR (plain HTTP: the engines list it as insecure). */
async function startRegistry() {
  const dir = path.join(SWARM_DIR, 'registry');
  await fs.mkdirp(dir);
  const conf = path.join(dir, 'config.yml');
  await fs.writeFile(
    conf,
    [
      'version: 0.1',
      'log: { level: warn, fields: { service: registry } }',
      `storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }`,
      `http: { addr: "${REGISTRY}" }`,
      '',
    ].join('\n'),
  );
  const log = openSync(path.join(dir, 'registry.log'), 'a');
  const child = spawn('docker-registry', ['serve', conf], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  await fs.writeFile(path.join(dir, 'registry.pid'), `${child.pid}\n`);
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`swarm: the registry did not answer on ${REGISTRY}`);
}

/**
 * Pushes images built on the build engine (DOCKER_HOST: the private one) to the registry, as an admin pushes
 * from a build machine: one `docker save | docker load` into mx1's engine (the build engine cannot be told
 * the registry is insecure without restarting it), then `docker push REGISTRY/moat/NAME:tag` from there.
 * `images` maps a local image to its name in the registry ({ 'moat/mx:swarm': 'moat/mx:swarm-1' }).
 */
export async function pushImages(images, { buildHost = process.env.DOCKER_HOST } = {}) {
  const t0 = Date.now();
  const [first] = NODES;
  const local = Object.keys(images);
  await $({ quiet: true })`docker -H ${buildHost} save ${local} | docker -H ${first.host} load -q`;
  for (const [src, dst] of Object.entries(images)) {
    await dockerAt(first, ['tag', src, `${REGISTRY}/${dst}`]);
    await dockerAt(first, ['push', '-q', `${REGISTRY}/${dst}`]);
  }
  return (Date.now() - t0) / 1000;
}

/** The nodes' upstream resolver (scripts/swarm-dns.mjs) on the bridge address, port 53, UDP. */
async function startDns() {
  const dir = path.join(SWARM_DIR, 'dns');
  await fs.mkdirp(dir);
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'swarm-dns.mjs');
  const log = openSync(path.join(dir, 'dns.log'), 'a');
  const child = spawn(process.execPath, [script, `${NET}.1`, '53'], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  await fs.writeFile(path.join(dir, 'dns.pid'), `${child.pid}\n`);
}

/**
 * What the swarm has cost so far: CPU seconds of each node's containers (cgroup v1 cpuacct of the parent
 * msw-NAME, which keeps what removed containers used) and of its engine (dockerd + containerd + shims, alive
 * now), and the containers' resident memory now, per node.
 */
export async function usage() {
  const tick = Number((await q`getconf CLK_TCK`).stdout.trim()) || 100;
  const out = {};
  for (const n of NODES) {
    const read = async (f) => Number((await fs.readFile(f, 'utf8').catch(() => '0')).trim()) || 0;
    const containersCpuS = (await read(`/sys/fs/cgroup/cpuacct/${n.ns}/cpuacct.usage`)) / 1e9;
    // no memory cgroup under the parent here: the resident memory of the containers' processes, now
    let rssKB = 0;
    for (const p of await cgroupPids(n)) rssKB += Number(/VmRSS:\s+(\d+)/.exec(await fs.readFile(`/proc/${p}/status`, 'utf8').catch(() => ''))?.[1] ?? 0);
    let engineTicks = 0;
    const pid = await pidOf(path.join(n.execRoot, 'dockerd.pid'));
    for (const p of [pid, ...(await engineHelpers(n))].filter(Boolean)) {
      const stat = (await fs.readFile(`/proc/${p}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ') ?? [];
      engineTicks += Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
    }
    out[n.name] = { containersCpuS: Math.round(containersCpuS), engineCpuS: Math.round(engineTicks / tick), containersRssMB: Math.round(rssKB / 1024) };
  }
  return out;
}

/** What the swarm needs that is not on a fresh Debian machine: command -> Debian package (scripts/deps.mjs). */
const NEEDS = { dockerd: 'docker.io', 'docker-registry': 'docker-registry', ip: 'iproute2', iptables: 'iptables', nsenter: 'util-linux' };

/** Kernel answers that mean "this kernel has no such thing", as opposed to a refusal or a mistake. */
const KERNEL_LACKS = /Unknown device type|Operation not supported|Protocol not supported|not implemented|Address family not supported/i;

/**
 * Whether this kernel can run the swarm: network namespaces, veth pairs, a bridge, and VXLAN (Swarm's
 * overlay). Returns what it lacks, with the kernel's own words, or null when it can. Anything else that
 * stops a probe (not root, no `ip`, a name in use) is thrown: the tier must fail then, not skip.
 */
export async function kernelLacks() {
  if (process.getuid?.() !== 0) throw new Error('swarm: the Swarm tier needs root (network namespaces, iptables, three engines); MOAT_SKIP_SWARM=1 leaves it out');
  await ensureDebianPackages({ ip: 'iproute2' });
  const probes = [
    ['network namespaces', ['netns', 'add', 'msw-probe'], ['netns', 'del', 'msw-probe']],
    ['veth pairs', ['link', 'add', 'msw-probe0', 'type', 'veth', 'peer', 'name', 'msw-probe1'], ['link', 'del', 'msw-probe0']],
    ['bridges', ['link', 'add', 'msw-probe0', 'type', 'bridge'], ['link', 'del', 'msw-probe0']],
    ['VXLAN (the overlay network)', ['link', 'add', 'msw-probe0', 'type', 'vxlan', 'id', '4242', 'dstport', '4789', 'local', '127.0.0.1'], ['link', 'del', 'msw-probe0']],
  ];
  for (const [what, make, remove] of probes) {
    await q`ip ${remove}`; // a probe an interrupted run left
    const r = await q`ip ${make}`;
    if (r.exitCode === 0) {
      await q`ip ${remove}`;
      continue;
    }
    const said = `${r.stderr}${r.stdout}`.trim();
    if (KERNEL_LACKS.test(said)) return `this kernel (${(await q`uname -r`).stdout.trim()}) has no ${what}: \`ip ${make.join(' ')}\` says "${said}"`;
    throw new Error(`swarm: \`ip ${make.join(' ')}\` failed: ${said}`);
  }
  return null;
}

const WATCH_PID = path.join(SWARM_DIR, 'watch.pid');

/**
 * A detached process that runs down() when process `pid` (the test run) ends without having done it: a
 * run killed or interrupted still leaves no engines, namespaces, bridge or registry behind. down() ends it.
 */
function startWatchdog(pid) {
  const log = openSync(path.join(SWARM_DIR, 'watch.log'), 'a');
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'watch', String(pid)], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  // written here, not by the child: a down() right after up() must find it
  fs.writeFileSync(WATCH_PID, `${child.pid}\n`);
}

async function watch(pid) {
  while (alive(pid)) await sleep(1000);
  // down() of the run itself removes this file and ends this process first; still here: the run died
  if ((await pidOf(WATCH_PID)) !== process.pid) return;
  say(`the test run (pid ${pid}) ended without taking the swarm down: removing it`);
  await down();
}

/** Everything up() makes, in the order it was made. Returns the seconds it took. */
export async function up({ watch: watchPid = process.pid } = {}) {
  const t0 = Date.now();
  await ensureDebianPackages(NEEDS);
  await down();
  await fs.mkdirp(SWARM_DIR);
  // watch: the pid whose end takes the swarm down (0: none, the swarm is kept)
  if (watchPid) startWatchdog(watchPid);
  await makeNetwork();
  await startRegistry();
  await startDns();
  await Promise.all(NODES.map(startEngine));
  await formSwarm();
  const s = (Date.now() - t0) / 1000;
  say(`three managers (${NODES.map((n) => `${n.name} ${n.ip}`).join(', ')}) and the registry ${REGISTRY} up in ${s.toFixed(1)} s`);
  return s;
}

/** Removes what up() made and anything a crashed run left behind. Never touches what it did not name. */
export async function down() {
  const watcher = await pidOf(WATCH_PID);
  if (watcher && watcher !== process.pid && alive(watcher)) process.kill(watcher, 'SIGTERM');
  await fs.remove(WATCH_PID);
  await Promise.all(NODES.map((n) => stopEngine(n, { graceS: 20 })));
  const regPid = await pidOf(path.join(SWARM_DIR, 'registry', 'registry.pid'));
  if (regPid && alive(regPid)) process.kill(regPid, 'SIGTERM');
  const dnsPid = await pidOf(path.join(SWARM_DIR, 'dns', 'dns.pid'));
  if (dnsPid && alive(dnsPid)) process.kill(dnsPid, 'SIGTERM');
  // the engines ran in private mount namespaces; lazily unmount anything that still shows on the host
  const mounts = (await fs.readFile('/proc/self/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((m) => m.startsWith(`${SWARM_DIR}/`) || m.startsWith(`${RUN_DIR}/`)).reverse()) await q`umount -l ${m}`;
  for (const n of NODES) {
    await q`ip netns del ${n.ns}`;
    // the engine's cgroup parent in every hierarchy, children first
    await q`find /sys/fs/cgroup -depth -type d -path ${`*/${n.ns}*`} -exec rmdir {} ${';'}`;
  }
  await q`ip link del ${BRIDGE}`;
  for (;;) {
    const r = await q`iptables -D FORWARD -i ${BRIDGE} -o ${BRIDGE} -m comment --comment ${COMMENT} -j ACCEPT`;
    if (r.exitCode !== 0) break;
  }
  await q`rm -rf ${SWARM_DIR} ${RUN_DIR}`;
}

if (process.argv.some((a) => a.endsWith('scripts/swarm.mjs')) && import.meta.url.endsWith('scripts/swarm.mjs')) {
  const cmd = process.argv.slice(process.argv.findIndex((a) => a.endsWith('swarm.mjs')) + 1)[0] ?? 'up';
  if (cmd === 'up') await up({ watch: 0 });
  else if (cmd === 'down') await down();
  else if (cmd === 'watch') await watch(Number(process.argv.at(-1)));
  else if (cmd === 'probe') {
    const lacks = await kernelLacks();
    console.log(lacks ?? 'swarm: this kernel can run the swarm');
    process.exit(lacks ? 3 : 0);
  }
  else if (cmd === 'env') console.log(`export DOCKER_HOST=${NODES[0].host}`);
  else {
    console.error('usage: zx scripts/swarm.mjs up | down | env | probe');
    process.exit(2);
  }
}
