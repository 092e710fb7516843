// The node flags (and glibc malloc tunable) the MX runs with, however it was started (the shebang, `node main.js`
// in the image, a test): without them the process starts itself again with them, in place (same PID). Trusts its
// own argv and env.
// V8 sizes the young generation when the heap is made, so a flag set later (v8.setFlagsFromString) has no
// effect; the image runs `node main.js`, which skips the shebang, and Node 24 then lets the young generation
// grow to 128 MB under load (measured) where the shebang's flag keeps it at 8 MB.

import { accessSync, constants } from 'node:fs';

/** Node flags the SMTP thread needs, by name and the value used when the operator gave none. */
export const MX_NODE_FLAGS: ReadonlyArray<readonly [name: string, value: string]> = [['--max-semi-space-size', '4']];

/**
 * glibc malloc tunables, each with the environment variable that also sets it (an operator's value of either wins):
 * - one arena: each thread's own arena (V8's compiler threads, libuv's, the delivery thread) keeps the peak its
 *   frees left behind; one arena keeps 10 MB less at start (docs/bench-memory.md).
 * - blocks of 32 KiB and more in their own mappings, returned to the system when freed: such blocks (node's 64 KiB
 *   socket read buffers, shrunk to what was read and freed when V8 collects them, among them) otherwise spread the
 *   main arena, whose free pages between live blocks free() never gives back (only malloc_trim does, which node
 *   does not call): after a load the arena kept ~37 MB where a fresh MX uses ~12; with this, ~20 (measured).
 */
export const MX_GLIBC_TUNABLES: ReadonlyArray<readonly [tunable: string, value: string, env: string]> = [
  ['glibc.malloc.arena_max', '1', 'MALLOC_ARENA_MAX'],
  ['glibc.malloc.mmap_threshold', '32768', 'MALLOC_MMAP_THRESHOLD_'],
];

/** The GLIBC_TUNABLES the MX wants, or undefined when the environment already says (an operator's value wins). */
export function wantedTunables(env: NodeJS.ProcessEnv): string | undefined {
  const tunables = env.GLIBC_TUNABLES ?? '';
  // glibc's syntax: name=value pairs separated by ':'
  const named = new Set(tunables.split(':').map((t) => t.split('=')[0]!.trim()));
  const missing = MX_GLIBC_TUNABLES.filter(([name, , envName]) => env[envName] === undefined && !named.has(name)).map(([name, value]) => `${name}=${value}`);
  if (missing.length === 0) return undefined;
  return [...(tunables ? [tunables] : []), ...missing].join(':');
}

/** Set in the environment of the process started again: never a second time (and an operator's opt-out). */
export const STARTED_ENV = 'MOAT_MX_NODE_FLAGS';

/** The flags missing from both the command line and NODE_OPTIONS (an operator's own value wins). */
export function missingFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  // node and V8 accept --a-b and --a_b alike
  const norm = (a: string) => a.split('=')[0]!.replace(/^--/, '').replace(/_/g, '-');
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map(norm));
  const has = (name: string) => given.has(norm(name));
  return MX_NODE_FLAGS.filter(([name]) => !has(name)).map(([name, value]) => `${name}=${value}`);
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** Starts this process again with the missing flags (process.execve: same PID, same stdio); else carries on. */
export function ensureNodeFlags(): void {
  if (process.env[STARTED_ENV]) return;
  const missing = missingFlags(process.execArgv, process.env.NODE_OPTIONS);
  const tunables = wantedTunables(process.env);
  const execve = (process as unknown as { execve?: Execve }).execve;
  if ((missing.length === 0 && !tunables) || typeof execve !== 'function' || !process.argv[1]) return;
  const env: NodeJS.ProcessEnv = { ...process.env, [STARTED_ENV]: [...missing, ...(tunables ? [`GLIBC_TUNABLES=${tunables}`] : [])].join(' ') };
  if (tunables) env.GLIBC_TUNABLES = tunables;
  try {
    // Node 24 aborts the process when execve(2) itself fails (only Node 26 throws): ask first whether the binary
    // can be run again, so a missing or unexecutable node leaves the MX running with V8's defaults instead.
    // Where execve is forbidden outright (a seccomp filter), set MOAT_MX_NODE_FLAGS=off or give the flags yourself.
    accessSync(process.execPath, constants.X_OK);
    execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)], env);
  } catch (e) {
    // not fatal: the MX runs, with V8's defaults (more memory after a load)
    console.error(`mx: could not start again with ${missing.join(' ')}: ${String(e)}`);
  }
}
