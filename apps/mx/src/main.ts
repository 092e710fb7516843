#!/usr/bin/env -S node --max-semi-space-size=4
// moat-mx's entry, kept small: makes sure the process runs with its node flags and malloc tunable (start-flags.ts,
// which may start the process again in place) before the gateway's code is loaded, then runs it (run-mx.ts).
// Trusts its own argv and environment only.
// The shebang caps V8's young generation (4 MB semi-spaces): under load the default lets the heap grow to ~165 MB
// of which ~25 MB is live, and V8 keeps it. `node main.js` (the image) skips the shebang: start-flags.ts then
// starts the process again with the flag. Nothing else is imported statically, so that restart happens before
// the bundle's chunks are read and evaluated (they would be evaluated twice, and thrown away once).
import { ensureNodeFlags } from './start-flags.ts';

ensureNodeFlags();
// resolved here, in the entry module: in the bundle, run-mx.ts sits in dist/chunks/ and the worker beside main.js
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './delivery.worker.ts' : './delivery.worker.js', import.meta.url);
try {
  const { runMx } = await import('./run-mx.ts');
  await runMx(workerUrl);
} catch (e) {
  console.error(`mx: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
}
