// The crash tests' harness: spawn a child that writes the spool (crash-child.ts, quarantine-crash-child.ts),
// SIGKILL it after a random number of acknowledgements, then deliver what survived and check it byte for byte.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '@moat/observe';
import { expect } from 'vitest';
import { maildirTransport, type Queue, startDelivery } from '../src/index.ts';
import { crashMessage } from './crash-message.ts';

/** One life of a child: what it printed so far, whether it said `ready`, and a SIGKILL that waits for the exit. */
export interface CrashChild {
  proc: ChildProcess;
  /** Its stdout so far (`ready`, then one `ack ...` / `released ...` / `err ...` line each). */
  out(): string;
  /** Its stderr so far. */
  err(): string;
  /** true once it printed `ready`, false if it exited before. */
  ready: Promise<boolean>;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
}

/** Runs `node <script> ...args` with piped stdio; `live` collects it for the file's afterEach. */
export function spawnCrashChild(live: Set<ChildProcess>, script: string, args: readonly string[]): CrashChild {
  const p = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(p);
  let out = '';
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  const ready = new Promise<boolean>((resolve) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) resolve(true);
    });
    exited.then(() => resolve(false));
  });
  return {
    proc: p,
    out: () => out,
    err: () => err,
    ready,
    async kill() {
      p.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Writes `lines` to a ready child and SIGKILLs it somewhere between "nothing written yet" and "all
 * acknowledged": after a random number of `ack` lines (so the spread does not depend on how loaded the
 * machine is), plus a little jitter. Returns its output; a child that printed `err` fails the test.
 */
export async function feedAndKill(child: CrashChild, lines: readonly string[], ack: RegExp): Promise<string> {
  expect(await child.ready, child.err()).toBe(true);
  for (const l of lines) child.proc.stdin?.write(`${l}\n`);
  const k = Math.floor(Math.random() * lines.length);
  const acks = () => (child.out().match(ack) ?? []).length;
  const until = Date.now() + 3000;
  while (acks() < k && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, Math.random() * 4));
  await child.kill();
  expect(child.out()).not.toMatch(/^err /m);
  return child.out();
}

/** `ack <n> <id>` lines: message n acknowledged under queue id. */
export function acknowledged(out: string, into: Map<number, string>): void {
  for (const m of out.matchAll(/^ack (\d+) (\S+)$/gm)) into.set(Number(m[1]), m[2]!);
}

/**
 * One runner delivers whatever the queue holds into a maildir under `root`; every delivered file must be
 * crashMessage(n) byte for byte behind the maildir's two header lines. Returns n -> times delivered.
 * `accept` vets each n first (a file that is no message of the test).
 */
export async function deliverAndRead(queue: Queue, registry: Registry, root: string, accept?: (n: number) => boolean): Promise<Map<number, number>> {
  const runner = await startDelivery({ queue, transports: { local: maildirTransport({ root, hostname: 'mx.test' }) }, registry });
  await runner.idle();
  await runner.stop();
  const box = join(root, 'example.test', 'box', 'new');
  const head = Buffer.from('Return-Path: <crash@sender.test>\r\nDelivered-To: box@example.test\r\n');
  const delivered = new Map<number, number>();
  for (const f of await readdir(box).catch(() => [] as string[])) {
    const data = await readFile(join(box, f));
    const n = Number(/X-Crash-N: (\d+)/.exec(data.toString('latin1'))?.[1]);
    if (accept) expect(accept(n), `unexpected file ${f}`).toBe(true);
    expect(data.equals(Buffer.concat([head, crashMessage(n)])), `message ${n} differs`).toBe(true);
    delivered.set(n, (delivered.get(n) ?? 0) + 1);
  }
  return delivered;
}
