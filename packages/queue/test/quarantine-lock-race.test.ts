// The quarantine lock's stale-lock takeover under contention: child processes (each its own pid, as the mx and
// a CLI on one spool are) all try to take one stale lock at the same moment; exactly one may win each round, the
// lock then names the winner, and nothing (lock, takeover claim, tmp file) is left behind once it lets go.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocks } from '../src/quarantine/lock.ts';
import { HOST_TAG } from '../src/tmp-files.ts';

const CHILDREN = 8;
const child = join(import.meta.dirname, 'quarantine-lock-child.ts');
const DEAD_PID = 999_999_999; // above any pid_max: never alive

interface Kid {
  p: ChildProcess;
  lines: string[];
}
let spool: { path: string; remove(): Promise<void> };
const kids: Kid[] = [];

beforeAll(async () => {
  spool = await tmpDir('quarantine-lock-race');
  await mkdir(join(spool.path, 'hold'));
  await mkdir(join(spool.path, 'tmp'));
  for (let i = 0; i < CHILDREN; i++) {
    const p = spawn(process.execPath, [child, spool.path], { stdio: ['pipe', 'pipe', 'inherit'] });
    const k: Kid = { p, lines: [] };
    let buf = '';
    p.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      k.lines.push(...parts);
    });
    kids.push(k);
  }
  await until(() => kids.every((k) => k.lines.includes('ready')), 'children ready');
}, 60_000);

afterAll(async () => {
  for (const k of kids) if (k.p.exitCode === null) k.p.kill('SIGKILL');
  await spool?.remove();
});

async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(kids.map((k) => k.lines))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The answer each child gave for `id` (won, busy, done, err ...). */
const answers = (id: string) => kids.map((k) => k.lines.filter((l) => l.split(' ')[1] === id).map((l) => l.split(' ')[0]));

/** Every child tries `id`'s (stale) lock at one moment; returns the winner's index after checking there is one. */
async function race(id: string): Promise<number> {
  const at = Date.now() + 300;
  for (const k of kids) k.p.stdin?.write(`go ${id} ${at}\n`);
  await until(() => answers(id).every((a) => a.length > 0), `every child's answer for ${id}`);
  const first = answers(id).map((a) => a[0]);
  expect(first.filter((a) => a === 'err'), JSON.stringify(kids.map((k) => k.lines))).toEqual([]);
  expect(first.filter((a) => a === 'won').length, JSON.stringify(first)).toBe(1);
  expect(first.filter((a) => a === 'busy').length).toBe(CHILDREN - 1);
  const w = first.indexOf('won');
  // the lock on disk names the winner
  const [host, pid] = (await readFile(join(spool.path, 'hold', `.${id}.lock`), 'utf8')).trim().split(' ');
  expect([host, Number(pid)]).toEqual([HOST_TAG, kids[w]?.p.pid]);
  kids[w]?.p.stdin?.write(`release ${id}\n`);
  await until(() => answers(id)[w]?.includes('done') === true, `${id} released`);
  return w;
}

const nonce = () => randomBytes(8).toString('hex');

it('of many processes taking one stale lock at once, exactly one wins (each kind of stale lock, many rounds)', async () => {
  const hold = (n: string) => join(spool.path, 'hold', n);
  const kinds = [
    // a dead writer on this host
    async (id: string) => writeFile(hold(`.${id}.lock`), `${HOST_TAG} ${DEAD_PID} ${nonce()}\n`),
    // an older moat's lock (no nonce) of a dead writer
    async (id: string) => writeFile(hold(`.${id}.lock`), `${HOST_TAG} ${DEAD_PID}\n`),
    // another host's lock older than any action
    async (id: string) => {
      await writeFile(hold(`.${id}.lock`), `other-host 1 ${nonce()}\n`);
      const old = new Date(Date.now() - 11 * 60_000);
      await utimes(hold(`.${id}.lock`), old, old);
    },
    // a dead writer's lock whose first takeover claim was left by a taker killed mid-takeover
    async (id: string) => {
      const key = nonce();
      await writeFile(hold(`.${id}.lock`), `${HOST_TAG} ${DEAD_PID} ${key}\n`);
      await writeFile(hold(`.${id}.lock.${key}.0.claim`), `${HOST_TAG} ${DEAD_PID} ${nonce()}\n`);
    },
  ];
  for (let round = 0; round < 12; round++) {
    const id = `race${round}`;
    await kinds[round % kinds.length]?.(id);
    await race(id);
  }
  // the dead claims are left (never removed while their lock was there); the listing's sweep removes them now
  const locks = createLocks(spool.path);
  await locks.sweepLocks(await readdir(join(spool.path, 'hold')));
  expect(await readdir(join(spool.path, 'hold'))).toEqual([]);
  expect(await readdir(join(spool.path, 'tmp'))).toEqual([]);
}, 180_000);

it('a live lock is never taken over, and the sweep leaves it alone', async () => {
  await writeFile(join(spool.path, 'hold', '.live.lock'), `${HOST_TAG} ${process.pid} ${nonce()}\n`);
  // this test process is alive but holds nothing under that nonce: only to its own Locks is the lock stale
  const at = Date.now() + 200;
  for (const k of kids) k.p.stdin?.write(`go live ${at}\n`);
  await until(() => answers('live').every((a) => a.length > 0), 'answers for the live lock');
  expect(answers('live').map((a) => a[0])).toEqual(Array(CHILDREN).fill('busy'));
  expect(await readdir(join(spool.path, 'hold'))).toEqual(['.live.lock']);
}, 60_000);
