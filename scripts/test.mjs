#!/usr/bin/env zx
// The README's test command: installs what a fresh machine lacks, then runs every test tier.
// Unit and real-daemon tests (loopback only), then the integration tier (containers we build).
import { $ } from 'zx';
import { ensureDebianPackages } from './deps.mjs';

process.env.TURBO_TELEMETRY_DISABLED = '1';
process.env.DO_NOT_TRACK = '1';
$.verbose = true;

await ensureDebianPackages();
await $`turbo run typecheck lint --output-logs=errors-only`;
await $`turbo run test --concurrency=1`;

// Integration tier: the compose stack in containers (packages/e2e). docker.mjs makes sure an engine runs.
if (!process.env.MOAT_SKIP_INTEGRATION) {
  const { cleanup, ensureDocker, stopPrivateDockerd } = await import('./docker.mjs');
  const { started } = await ensureDocker();
  try {
    await $`turbo run test:integration --concurrency=1`;
  } finally {
    await cleanup();
    if (started && process.env.CI) await stopPrivateDockerd();
  }
}
