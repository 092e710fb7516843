#!/usr/bin/env zx
// Shows, on a swarm of its own, what this kernel cannot do for compose/stack.swarm.yml and packages/e2e-swarm
// replaces (an encrypted overlay, virtual IPs), with dockerd's own words; docs/rollout.md quotes its output.
// Trusts what scripts/swarm.mjs trusts; pushes the base image to the swarm's registry; removes all of it.
//
//   zx scripts/swarm-limits.mjs      (root; DOCKER_HOST: the engine that has moat/debian:bookworm)
import { $, sleep } from 'zx';
import { ensureDocker } from './docker.mjs';
import * as s from './swarm.mjs';

$.verbose = false;
const [n1, n2] = s.NODES;
const d = (n) => $({ nothrow: true, env: { ...process.env, DOCKER_HOST: n.host } });
const { env } = await ensureDocker({ composeV2: false });
/** A listener on port 7000 that says hello (perl-base is in every Debian image). */
const listen = "perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>7000,Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){print $c \"hello\\n\"; close $c}'";
try {
  await s.up({ watch: process.pid });
  await s.pushImages({ 'moat/debian:bookworm': 'moat/debian:probe' }, { buildHost: env.DOCKER_HOST });
  const img = `${s.REGISTRY}/moat/debian:probe`;
  for (const [net, opts] of [['enc', ['--opt', 'encrypted']], ['plain', []]]) {
    console.log((await d(n1)`docker network create -d overlay --attachable ${opts} ${net}`).stderr);
    const srv = `srv-${net}`;
    console.log((await d(n1)`docker service create -d --name ${srv} --network ${net} --constraint node.labels.moat.node==mx2 --endpoint-mode dnsrr ${img} sh -c ${listen}`).stderr);
    for (let i = 0; i < 60; i++) { if ((await d(n2)`docker ps -q --filter name=${srv}`).stdout.trim()) break; await sleep(1000); }
    await sleep(3000);
    const r = await d(n1)`docker run --rm --network ${net} ${img} timeout 10 bash -c ${`exec 3<>/dev/tcp/${srv}/7000; head -1 <&3`}`;
    console.log(`${net}: connect mx1 -> ${srv} on mx2: exit ${r.exitCode} ${r.stdout.trim()} ${r.stderr.trim()}`);
  }
  // a VIP service (the stack file's default endpoint mode)
  console.log((await d(n1)`docker service create -d --name vip --network plain --constraint node.labels.moat.node==mx2 ${img} sh -c ${listen}`).stderr);
  await sleep(15000);
  const v = await d(n1)`docker run --rm --network plain ${img} timeout 10 bash -c ${'exec 3<>/dev/tcp/vip/7000; head -1 <&3'}`;
  console.log(`vip: connect mx1 -> vip (virtual IP): exit ${v.exitCode} ${v.stdout.trim()} ${v.stderr.trim()}`);
  const v2 = await d(n1)`docker run --rm --network plain ${img} timeout 10 bash -c ${'exec 3<>/dev/tcp/tasks.vip/7000; head -1 <&3'}`;
  console.log(`vip: connect mx1 -> tasks.vip (task address): exit ${v2.exitCode} ${v2.stdout.trim()} ${v2.stderr.trim()}`);
  console.log((await $({ nothrow: true })`grep -h -i -E 'ipvs|rSA|esp|xfrm|not implemented' ${s.NODES.map((n) => `${n.dir}/dockerd.log`)}`).stdout.split('\n').map((l) => l.slice(0, 600)).filter((l, i, a) => l && a.findIndex((x) => x.slice(40, 200) === l.slice(40, 200)) === i).join('\n'));
  console.log((await $({ nothrow: true })`uname -r; zcat /proc/config.gz 2>/dev/null | grep -E 'IP_VS=|INET_ESP=|CRYPTO_GCM=|XFRM_USER='`).stdout);
} finally {
  await s.down();
}
