#!/usr/bin/env zx
// The README's test command: installs what a fresh machine lacks, then runs every test tier.
// Unit and real-daemon tests (loopback only), then the integration tier (containers we build).
import { $ } from 'zx';
import { ensureDebianPackages } from './deps.mjs';

process.env.TURBO_TELEMETRY_DISABLED = '1';
process.env.DO_NOT_TRACK = '1';
$.verbose = true;

// vitest prints `Tests  3 failed | 85 passed (88)` per package; the closing line adds them up.
const tally = { passed: 0, failed: 0, skipped: 0 };
async function counted(run) {
  let out;
  try {
    out = await run();
  } catch (e) {
    out = e;
    throw e;
  } finally {
    const text = String(out?.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, '');
    for (const m of text.matchAll(/^\S*\s*Tests\s+([^\n(]*)\(\d+\)/gm)) {
      for (const [, n, kind] of m[1].matchAll(/(\d+) (passed|failed|skipped)/g)) tally[kind] += Number(n);
    }
  }
  return out;
}
process.on('exit', () => console.log(`moat: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`));

await ensureDebianPackages();
await $`turbo run typecheck lint --output-logs=errors-only`;
await counted(() => $`turbo run test --concurrency=1`);

// Integration tier: the compose stack in containers (packages/e2e). docker.mjs makes sure an engine runs.
// Then the Swarm tier (packages/e2e-swarm): three engines in network namespaces on this machine, a registry,
// compose/stack.swarm.yml deployed, broken and upgraded; 14-23 minutes on a shared 2-core machine. It skips,
// saying why, only on a kernel that cannot run it (no network namespaces, veth, bridge or VXLAN);
// MOAT_SKIP_SWARM=1 leaves it out.
if (!process.env.MOAT_SKIP_INTEGRATION) {
  const { cleanup, ensureDocker, stopPrivateDockerd } = await import('./docker.mjs');
  const { started } = await ensureDocker();
  let failed;
  try {
    await counted(() => $`turbo run test:integration --concurrency=1`).catch((e) => {
      failed = e;
    });
    // its own engines, sockets and bridge: the integration tier's engine only builds its images
    if (failed) console.error(`integration tier failed: ${failed.message ?? failed}`);
    // bounded: vitest does not time out globalSetup (image builds, push, deploy); `timeout` ends a stuck run
    // and the suite's watchdog and the down() below take the swarm away
    if (!process.env.MOAT_SKIP_SWARM) await counted(() => $`timeout -k 60 45m turbo run test:swarm --concurrency=1`);
    if (failed) throw failed;
  } finally {
    // the suite takes its swarm down itself (and a watchdog does if it is killed); this is the last net
    if (!process.env.MOAT_E2E_KEEP && !process.env.MOAT_SKIP_SWARM) {
      await (await import('./swarm.mjs')).down().catch((e) => console.error(`swarm teardown: ${e.message ?? e}`));
    }
    await cleanup();
    if (started && process.env.CI) await stopPrivateDockerd();
  }
}
