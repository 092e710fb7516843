// What SIGKILL cannot show (the page cache survives a killed process): the order of the system calls.
// Under strace, for every acknowledged message: the file is fsync'ed before its rename into incoming/, and
// incoming/ is fsync'ed after the rename and before the ack is written (the moment the MX would say 250).
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import { waitFor } from './helpers.ts';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

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

it.skipIf(!hasStrace)('fsync(file) < rename into incoming/ < fsync(incoming/) < ack, for every message', async () => {
  const dir = await tmpDir('fsync-order');
  const spool = join(dir.path, 'spool');
  const trace = join(dir.path, 'trace.txt');
  const child = join(import.meta.dirname, 'crash-child.ts');
  const p = spawn(
    'strace',
    ['-f', '-qq', '-s', '200', '-o', trace, '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2,write,close', process.execPath, child, spool, 'par'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => p.once('exit', r));
  await waitFor(() => out.includes('ready\n'), 60_000);
  const N = 12;
  for (let i = 0; i < N; i++) p.stdin.write(`${i}\n`);
  await waitFor(() => (out.match(/^ack /gm) ?? []).length === N, 60_000);
  p.kill('SIGKILL');
  await exited;
  await new Promise((r) => setTimeout(r, 200)); // strace flushes its output

  const calls = parse(await readFile(trace, 'utf8'));
  const fds = new Map<string, string>(); // fd -> path, while open
  const events: { kind: string; path: string; at: number; start: number }[] = [];
  calls.forEach((c) => {
    const at = c.end;
    const start = c.start;
    if (c.name === 'openat' && /^\d+$/.test(c.ret)) {
      const path = /"([^"]+)"/.exec(c.args)?.[1];
      if (path) fds.set(c.ret, path);
    } else if (c.name === 'close') {
      fds.delete(c.args.trim());
    } else if ((c.name === 'fsync' || c.name === 'fdatasync') && c.ret === '0') {
      const path = fds.get(c.args.trim());
      if (path) events.push({ kind: 'fsync', path, at, start });
    } else if (c.name.startsWith('rename') && c.ret === '0') {
      const paths = [...c.args.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
      if (paths.length === 2) events.push({ kind: 'rename', path: `${paths[0]} -> ${paths[1]}`, at, start });
    } else if (c.name === 'write' && c.args.startsWith('1, "ack ')) {
      events.push({ kind: 'ack', path: /ack \d+ (\w+)/.exec(c.args)![1]!, at, start });
    }
  });
  const acks = events.filter((e) => e.kind === 'ack');
  expect(acks).toHaveLength(N);
  for (const ack of acks) {
    const id = ack.path;
    const rename = events.find((e) => e.kind === 'rename' && e.path === `${spool}/tmp/${id} -> ${spool}/incoming/${id}`);
    const fileSync = events.find((e) => e.kind === 'fsync' && e.path === `${spool}/tmp/${id}`);
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
