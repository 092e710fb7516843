// What SIGKILL cannot show (the page cache survives a killed process): the order of the system calls.
// Under strace, for every acknowledged message: the file is fsync'ed before its rename into incoming/, and
// incoming/ is fsync'ed after the rename and before the ack is written (the moment the MX would say 250).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { createRegistry } from '@moat/observe';
import { openQueue } from '../src/index.ts';
import { memoryLogger, message, waitFor } from './helpers.ts';

// strace present and allowed to trace here (containers without CAP_SYS_PTRACE cannot): else skipped.
const hasStrace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true']).status === 0;

interface Call {
  name: string;
  args: string;
  ret: string;
  /** Line numbers where the call started and where it returned. */
  start: number;
  end: number;
}

/** strace -f output to completed calls in completion order ("unfinished"/"resumed" pairs joined). */
function parse(text: string): Call[] {
  const pending = new Map<string, { name: string; args: string; start: number }>();
  const out: Call[] = [];
  text.split('\n').forEach((line, n) => {
    let m = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (m) {
      pending.set(`${m[1]}:${m[2]}`, { name: m[2]!, args: m[3]!, start: n });
      return;
    }
    m = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+= (.*)$/.exec(line);
    if (m) {
      const p = pending.get(`${m[1]}:${m[2]}`);
      pending.delete(`${m[1]}:${m[2]}`);
      if (p) out.push({ name: p.name, args: p.args + m[3], ret: m[4]!, start: p.start, end: n });
      return;
    }
    m = /^(\d+)\s+(\w+)\((.*)\)\s+= (.*)$/.exec(line);
    if (m) out.push({ name: m[2]!, args: m[3]!, ret: m[4]!, start: n, end: n });
  });
  // completion order, as the process saw the results
  return out.sort((a, b) => a.end - b.end);
}

interface Event {
  kind: 'fsync' | 'rename' | 'link' | 'unlink' | 'ack';
  path: string;
  /** Where the call returned and where it started, in trace order. */
  at: number;
  start: number;
}

/** Calls to events: fsync by path (fds tracked through openat/close), renames, links, unlinks, acks on fd 1. */
function eventsOf(calls: Call[]): Event[] {
  const fds = new Map<string, string>();
  const events: Event[] = [];
  // A closed fd number is free (and may be handed out again) as soon as close() runs: place closes at their
  // start, everything else at its return.
  const ordered = [...calls].sort((a, b) => (a.name === 'close' ? a.start : a.end) - (b.name === 'close' ? b.start : b.end));
  for (const c of ordered) {
    const at = c.end;
    const start = c.start;
    const paths = [...c.args.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
    if (c.name === 'openat' && /^\d+$/.test(c.ret)) {
      if (paths[0]) fds.set(c.ret, paths[0]);
    } else if (c.name === 'close') {
      fds.delete(c.args.trim());
    } else if ((c.name === 'fsync' || c.name === 'fdatasync') && c.ret === '0') {
      const path = fds.get(c.args.trim());
      if (path) events.push({ kind: 'fsync', path, at, start });
    } else if (c.name.startsWith('rename') && c.ret === '0' && paths.length === 2) {
      events.push({ kind: 'rename', path: `${paths[0]} -> ${paths[1]}`, at, start });
    } else if (c.name.startsWith('link') && c.ret === '0' && paths.length === 2) {
      events.push({ kind: 'link', path: `${paths[0]} -> ${paths[1]}`, at, start });
    } else if (c.name.startsWith('unlink') && c.ret === '0' && paths[0]) {
      events.push({ kind: 'unlink', path: paths[0], at, start });
    } else if (c.name === 'write' && c.args.startsWith('1, "ack ')) {
      events.push({ kind: 'ack', path: /ack \d+ (\w+)/.exec(c.args)![1]!, at, start });
    }
  }
  return events;
}

/** Kill the traced process (not strace): strace then writes out its trace and exits by itself. */
function killKids(strace: ChildProcess): void {
  let kids: string[] = [];
  try {
    kids = readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    /* strace is gone already */
  }
  for (const k of kids) process.kill(Number(k), 'SIGKILL');
}

async function killTraced(strace: ChildProcess, exited: Promise<unknown>): Promise<void> {
  killKids(strace);
  await exited;
}

const straces = new Set<ChildProcess>();
afterEach(() => {
  for (const s of straces) {
    killKids(s);
    s.kill('SIGKILL');
  }
  straces.clear();
});

const TRACE = 'trace=openat,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,write,close';

it.skipIf(!hasStrace).each([
  ['par', 'rename'],
  ['draft', 'link'],
] as const)('%s: fsync(file) < %s into incoming/ < fsync(incoming/) < ack, for every message', async (mode, into) => {
  const dir = await tmpDir('fsync-order');
  const spool = join(dir.path, 'spool');
  const trace = join(dir.path, 'trace.txt');
  const child = join(import.meta.dirname, 'crash-child.ts');
  const p = spawn(
    'strace',
    ['-f', '-qq', '-s', '200', '-o', trace, '-e', TRACE, process.execPath, child, spool, mode],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  straces.add(p);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => p.once('exit', r));
  await waitFor(() => out.includes('ready\n'), 60_000);
  const N = 12;
  for (let i = 0; i < N; i++) p.stdin.write(`${i}\n`);
  await waitFor(() => (out.match(/^ack /gm) ?? []).length === N, 60_000);
  await killTraced(p, exited);

  const calls = parse(await readFile(trace, 'utf8'));
  const events = eventsOf(calls);
  const acks = events.filter((e) => e.kind === 'ack');
  expect(acks).toHaveLength(N);
  for (const ack of acks) {
    const id = ack.path;
    // tmp/ names carry the writer (`<id>.<host>.<pid>`, for the start-up sweep); a draft adopted as the queue
    // file is linked (its tmp/ name goes when the gateway discards it), a queue file written afresh is renamed
    const rename = events.find(
      (e) => e.kind === into && e.path.startsWith(`${spool}/tmp/${mode === 'draft' ? 'd' : `${id}.`}`) && e.path.endsWith(` -> ${spool}/incoming/${id}`),
    );
    const tmpFile = rename?.path.split(' -> ')[0];
    const fileSync = events.find((e) => e.kind === 'fsync' && e.path === tmpFile);
    // the directory fsync must have *started* after the rename returned (an earlier one does not cover it)
    const dirSync = events.find((e) => e.kind === 'fsync' && e.path === `${spool}/incoming` && rename && e.start > rename.at);
    expect(fileSync, `fsync of tmp/${id}`).toBeDefined();
    expect(rename, `rename of ${id}`).toBeDefined();
    expect(dirSync, `fsync of incoming/ after ${id}`).toBeDefined();
    expect(fileSync!.at).toBeLessThan(rename!.start);
    expect(dirSync!.at).toBeLessThan(ack.start);
  }
  console.log(`fsync order: ${N} acks, ${events.filter((e) => e.kind === 'fsync' && e.path.endsWith('/incoming')).length} directory fsyncs (group commit), ${calls.length} traced calls`);
  await dir.remove();
});

it.skipIf(!hasStrace)('delivery: maildir file fsync < link into new/ < fsync(new/) < queue file removed', async () => {
  const dir = await tmpDir('fsync-order-deliver');
  const spool = join(dir.path, 'spool');
  const root = join(dir.path, 'mail');
  const trace = join(dir.path, 'trace.txt');
  const writer = await openQueue({ dir: spool, logger: memoryLogger().logger, registry: createRegistry() });
  const N = 10;
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    ids.push((await writer.enqueue({ sender: 'a@sender.test', recipients: ['box@example.test'], message: message(`o${i}`, 'x') })).id);
  }
  const p = spawn('strace', ['-f', '-qq', '-s', '200', '-o', trace, '-e', TRACE, process.execPath, join(import.meta.dirname, 'runner-child.ts'), spool, `maildir:${root}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  straces.add(p);
  const exited = new Promise((r) => p.once('exit', r));
  await waitFor(async () => (await writer.names('incoming')).length === 0 && (await writer.names('active')).length === 0, 60_000);
  await killTraced(p, exited);
  const events = eventsOf(parse(await readFile(trace, 'utf8')));
  const box = join(root, 'example.test', 'box');
  const links = events.filter((e) => e.kind === 'link' && e.path.startsWith(`${box}/tmp/`));
  expect(links).toHaveLength(N);
  for (const id of ids) {
    // the queue file leaves active/ only after its mail is durable in the maildir
    const gone = events.find((e) => e.kind === 'unlink' && e.path.startsWith(`${spool}/active/${id}.`));
    expect(gone, `queue file of ${id} removed`).toBeDefined();
    const mine = links.filter((l) => l.at < gone!.start);
    expect(mine.length, `a maildir link before ${id} was removed`).toBeGreaterThan(0);
  }
  for (const l of links) {
    const tmpFile = l.path.split(' -> ')[0]!;
    const fileSync = events.find((e) => e.kind === 'fsync' && e.path === tmpFile);
    const dirSync = events.find((e) => e.kind === 'fsync' && e.path === `${box}/new` && e.start > l.at);
    expect(fileSync && fileSync.at < l.start, `fsync of ${tmpFile} before its link`).toBe(true);
    expect(dirSync, `fsync of new/ after ${tmpFile}`).toBeDefined();
    // and the queue file this mail came from is unlinked only after new/ was fsync'ed
    const name = tmpFile.slice(tmpFile.lastIndexOf('/') + 1);
    const n = Number(/Subject: o(\d+)/.exec(await readFile(join(box, 'new', name), 'utf8'))![1]);
    const gone = events.find((e) => e.kind === 'unlink' && e.path.startsWith(`${spool}/active/${ids[n]}.`))!;
    expect(dirSync!.at, `new/ fsync'ed before queue file ${ids[n]} was removed`).toBeLessThan(gone.start);
  }
  console.log(`fsync order (delivery): ${N} messages, ${links.length} maildir links, each fsync'ed before the queue let go`);
  await dir.remove();
});
