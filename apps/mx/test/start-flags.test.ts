// The entry's start-flags restart, end to end: `node main.ts` bare (as the image's `node main.js`) starts itself
// again once, with the young-generation cap and the malloc tunable, before any of the gateway's modules is loaded.
// A preload (--import, kept across the restart) writes down each image's flags and the modules of ours it loads.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '../src/main.ts');
let dir: Awaited<ReturnType<typeof tmpDir>>;
let preload: string;

beforeAll(async () => {
  dir = await tmpDir('mx-start-flags');
  preload = join(dir.path, 'preload.mjs');
  writeFileSync(
    preload,
    `import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const out = process.env.TRACE_FILE;
const image = process.env.MOAT_MX_NODE_FLAGS ? 'second' : 'first';
appendFileSync(out, JSON.stringify({ image, pid: process.pid, execArgv: process.execArgv, tunables: process.env.GLIBC_TUNABLES ?? null }) + '\\n');
registerHooks({
  load(url, context, next) {
    if (url.includes('/apps/mx/src/')) appendFileSync(out, JSON.stringify({ image, module: url.slice(url.lastIndexOf('/') + 1) }) + '\\n');
    return next(url, context);
  },
});
`,
  );
});
afterAll(() => dir.remove());

interface Trace {
  starts: { image: string; pid: number; execArgv: string[]; tunables: string | null }[];
  modules: { image: string; module: string }[];
}

/** Runs `node [nodeArgs] main.ts --help` (usage, exit 0: no config needed) and reads the preload's trace. */
function start(name: string, nodeArgs: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; trace: Trace } {
  const file = join(dir.path, `${name}.jsonl`);
  writeFileSync(file, '');
  const clean = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'GLIBC_TUNABLES', 'MALLOC_ARENA_MAX', 'MOAT_MX_NODE_FLAGS']) delete clean[k];
  const r = spawnSync(process.execPath, [...nodeArgs, MAIN, '--help'], { env: { ...clean, TRACE_FILE: file, ...env }, encoding: 'utf8', timeout: 60_000 });
  const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, trace: { starts: lines.filter((l) => 'pid' in l), modules: lines.filter((l) => 'module' in l) } };
}

describe('main.ts: the node flags before the gateway loads', () => {
  it('a bare start starts again once, in place, with the flag and the tunable, having loaded only the launcher', () => {
    const { status, trace } = start('bare', ['--import', preload]);
    expect(status).toBe(0);
    expect(trace.starts.map((s) => s.image)).toEqual(['first', 'second']);
    const [first, second] = trace.starts;
    expect(second!.pid).toBe(first!.pid); // execve: same process
    expect(first!.execArgv).not.toContain('--max-semi-space-size=4');
    expect(second!.execArgv.filter((a) => a.startsWith('--max-semi-space-size'))).toEqual(['--max-semi-space-size=4']);
    expect(second!.execArgv).toContain('--import'); // the operator's own flags are kept
    expect(second!.tunables).toBe('glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=32768');
    // before the restart: the launcher and start-flags.ts only; the gateway's modules once, after it
    expect(trace.modules.filter((m) => m.image === 'first').map((m) => m.module)).toEqual(['main.ts', 'start-flags.ts']);
    const later = trace.modules.filter((m) => m.image === 'second').map((m) => m.module);
    expect(later).toContain('run-mx.ts');
    expect(later.filter((m) => m === 'run-mx.ts')).toHaveLength(1);
  });

  it('the flag in NODE_OPTIONS with an --import (bench/smtp.ts): started again for the tunable only, the flag not doubled', () => {
    const { status, trace } = start('node-options', [], { NODE_OPTIONS: `--import ${preload} --max-semi-space-size=4` });
    expect(status).toBe(0);
    expect(trace.starts.map((s) => s.image)).toEqual(['first', 'second']);
    expect(trace.starts[1]!.execArgv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect(trace.starts[1]!.tunables).toBe('glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=32768');
  });

  it('flag and tunable already given, or MOAT_MX_NODE_FLAGS set (the opt-out): one start', () => {
    const given = start('given', ['--import', preload, '--max-semi-space-size=8'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536' });
    expect(given.status).toBe(0);
    expect(given.trace.starts).toHaveLength(1);
    expect(given.trace.modules.map((m) => m.module)).toContain('run-mx.ts');
    const off = start('off', ['--import', preload], { MOAT_MX_NODE_FLAGS: 'off' });
    expect(off.status).toBe(0);
    expect(off.trace.starts).toHaveLength(1);
  });
});
