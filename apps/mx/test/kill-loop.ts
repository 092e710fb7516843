// The SIGKILL harness of the kill tests: the real moat-mx, clients sending until it is killed, again and
// again; then one more start that must sweep tmp/. What the spool must hold afterwards is each test's own.
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, SmtpClient } from '@moat/testkit';
import { expect } from 'vitest';
import { spawnMain } from './spawn-main.ts';

/** One transaction a@sender.example -> rcpt@example.org: the queue id of a 250, or undefined (refused, or killed under it). */
export async function sendForId(port: number, message: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const c = await SmtpClient.connect(port, { timeoutMs });
    await c.read();
    await c.cmd('EHLO client.example');
    if ((await c.cmd('MAIL FROM:<a@sender.example>')).code !== 250) return undefined;
    if ((await c.cmd('RCPT TO:<rcpt@example.org>')).code !== 250) return undefined;
    const r = await c.data(message, timeoutMs);
    c.destroy();
    return r.code === 250 ? /queued as (\S+)/.exec(r.text)?.[1] : undefined;
  } catch {
    return undefined; // killed under it: the client would retry
  }
}

export interface KillRounds {
  cfg: string;
  rounds: number;
  /** Clients at once, each sending message after message until the kill. */
  clients: number;
  /** Message n (built the same way again when the test checks the spool). */
  message(n: number): string;
  /** Per SMTP client step. */
  timeoutMs: number;
  /** How long a start may take. */
  startMs: number;
  /** Killed processes are kept here while they run (the test's afterAll kills what a failure left). */
  live: Set<ChildProcess>;
  /** Resolves when this round's MX should die (the clients are sending by then). */
  untilKill(acked: ReadonlyMap<string, number>): Promise<void>;
}

/** Runs the rounds: returns every acknowledged message (queue id -> n) and how many were tried. */
export async function killRounds(o: KillRounds): Promise<{ acked: Map<string, number>; tried: number }> {
  const acked = new Map<string, number>();
  let n = 0;
  for (let round = 0; round < o.rounds; round++) {
    const port = await freePort();
    const mx = await spawnMain(o.cfg, port, [], { logLevel: 'warn', waitMs: o.startMs, live: o.live });
    let killed = false;
    const clients = Array.from({ length: o.clients }, async () => {
      while (!killed) {
        const k = n++;
        const id = await sendForId(port, o.message(k), o.timeoutMs);
        if (id) acked.set(id, k);
      }
    });
    await o.untilKill(acked);
    killed = true;
    await mx.kill();
    await Promise.all(clients);
  }
  return { acked, tried: n };
}

/**
 * One more start, without delivery: the sweep removes the killed runs' tmp/ files (drafts, half-written
 * queue files) before the port answers. Returns how many there were.
 */
export async function restartSwept(o: Pick<KillRounds, 'cfg' | 'startMs' | 'live'>, spool: string): Promise<number> {
  const leftovers = (await readdir(join(spool, 'tmp'))).length;
  const mx = await spawnMain(o.cfg, await freePort(), ['--no-delivery'], { logLevel: 'warn', waitMs: o.startMs, live: o.live });
  expect(await readdir(join(spool, 'tmp'))).toEqual([]);
  await mx.stop();
  return leftovers;
}
