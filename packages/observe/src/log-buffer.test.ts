import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferedStdout, cutPoints, PIPE_BUF } from './log-buffer.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const pieces = (s: string, max: number) => {
  const buf = bytes(s);
  let start = 0;
  return cutPoints(buf, max).map((end) => {
    const p = buf.subarray(start, end).toString();
    start = end;
    return p;
  });
};

describe('cutPoints', () => {
  it('keeps a buffer that fits in one piece', () => {
    expect(cutPoints(bytes(''), 16)).toEqual([]);
    expect(cutPoints(bytes('aaa\nbbb\n'), 16)).toEqual([8]);
    expect(cutPoints(bytes('x'.repeat(15) + '\n'), 16)).toEqual([16]);
  });

  it('cuts after the last line end that fits', () => {
    expect(pieces('aaaa\nbbbb\ncccc\ndddd\n', 10)).toEqual(['aaaa\nbbbb\n', 'cccc\ndddd\n']);
    expect(pieces('aaaa\nbbbb\ncccc\ndddd\n', 12)).toEqual(['aaaa\nbbbb\n', 'cccc\ndddd\n']);
    expect(pieces('aaaa\nbbbb\ncccc\ndddd\n', 9)).toEqual(['aaaa\n', 'bbbb\n', 'cccc\n', 'dddd\n']);
  });

  it('writes a line longer than a piece on its own, whole', () => {
    const long = `${'L'.repeat(30)}\n`;
    expect(pieces(`ab\n${long}cd\n`, 10)).toEqual(['ab\n', long, 'cd\n']);
    expect(pieces(`${long}${long}`, 10)).toEqual([long, long]);
    expect(pieces('L'.repeat(30), 10)).toEqual(['L'.repeat(30)]); // no line end at all: one piece
    expect(pieces(`ab\n${'L'.repeat(30)}`, 10)).toEqual(['ab\n', 'L'.repeat(30)]);
  });

  it('counts bytes, not characters (multi-byte UTF-8 stays inside its line)', () => {
    const line = `${'é'.repeat(4)}\n`; // 9 bytes
    expect(pieces(`${line}${line}`, 10)).toEqual([line, line]);
    expect(pieces(`${line}${line}`, 18)).toEqual([`${line}${line}`]);
  });

  it('never makes a piece over the limit unless it is one line, and loses nothing', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat((i * 37) % 700)}"}\n`);
    lines[500] = `{"long":"${'y'.repeat(9000)}"}\n`;
    const text = lines.join('');
    const out = pieces(text, PIPE_BUF);
    expect(out.join('')).toBe(text);
    for (const p of out) {
      expect(p.endsWith('\n')).toBe(true);
      if (bytes(p).length > PIPE_BUF) expect(p.indexOf('\n')).toBe(p.length - 1);
    }
    expect(out.length).toBeLessThan(Math.ceil(bytes(text).length / (PIPE_BUF - 800)) + 2); // pieces are well filled
  });
});

describe('bufferedStdout', () => {
  it('writes everything it was given, in pieces, on flush', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-log-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    const out = bufferedStdout({ fd, maxChars: 20_000, intervalMs: 60_000, pieceBytes: PIPE_BUF });
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"ü":"${'z'.repeat(i % 300)}"}\n`);
    for (const l of lines) out.write(l);
    await out.flush(10_000);
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe(lines.join(''));
    rmSync(dir, { recursive: true });
  });

  it('keeps non-ASCII lines whole across the 8 Ki-character encode steps and the maxChars flushes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-log-'));
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    // maxChars counts UTF-16 units: 10,000 of them are up to 30,000 bytes here (3-byte CJK, 4-byte emoji as 2 units)
    const out = bufferedStdout({ fd, maxChars: 10_000, intervalMs: 60_000, pieceBytes: PIPE_BUF, maxPending: 64 * 1024 * 1024 });
    const lines = Array.from({ length: 3000 }, (_, i) => `{"n":${i},"名":"${'漢字'.repeat(i % 97)}","e":"${'😀'.repeat(i % 13)}","ü":"${'ä'.repeat(i % 31)}"}\n`);
    const total = lines.reduce((n, l) => n + l.length, 0);
    expect(total).toBeGreaterThan(20 * 8192); // many encode steps, each ending mid-way through no line
    for (const l of lines) out.write(l);
    await out.flush(10_000);
    closeSync(fd);
    const written = readFileSync(file);
    expect(written.toString('utf8')).toBe(lines.join(''));
    expect(written.length).toBe(Buffer.byteLength(lines.join('')));
    expect(out.dropped()).toBe(0);
    rmSync(dir, { recursive: true });
  });

  it('keeps two processes writing to one pipe from splitting each other\'s lines', async () => {
    const url = new URL('./log-buffer.ts', import.meta.url).href;
    const script = `import { bufferedStdout } from ${JSON.stringify(url)};
const out = bufferedStdout({ pieceBytes: 4096, maxPending: 64 * 1024 * 1024 });
const tag = process.argv[1];
for (let i = 0; i < 20000; i++) out.write('{"w":"' + tag + '","i":' + i + ',"pad":"' + 'p'.repeat(i % 250) + '"}\\n');
await out.flush(60000);`;
    const sh = spawn(
      'sh',
      ['-c', `"$0" --input-type=module -e "$1" a & "$0" --input-type=module -e "$1" b & wait`, process.execPath, script],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const chunks: Buffer[] = [];
    sh.stdout.on('data', (b: Buffer) => chunks.push(b));
    // A slow reader: the pipe fills and both writers block inside their writes, where big ones get split.
    sh.stdout.pause();
    const slow = setInterval(() => {
      sh.stdout.resume();
      setTimeout(() => sh.stdout.pause(), 2);
    }, 10);
    await new Promise((r) => sh.once('close', r));
    clearInterval(slow);
    const lines = Buffer.concat(chunks).toString().split('\n').filter((l) => l !== '');
    const seen = { a: 0, b: 0 };
    for (const l of lines) {
      const rec = JSON.parse(l) as { w: 'a' | 'b'; i: number };
      expect(rec.i).toBe(seen[rec.w]++); // in order per writer, none lost, none torn
    }
    expect(seen).toEqual({ a: 20000, b: 20000 });
  });

  it('keeps two threads of one process apart on one pipe, each flushed before its exit', async () => {
    const url = new URL('./log-buffer.ts', import.meta.url).href;
    // the MX's shape: the SMTP thread and the delivery thread, each with its own buffer on fd 1; both end by exiting
    const script = `import { Worker, isMainThread } from 'node:worker_threads';
import { bufferedStdout } from ${JSON.stringify(url)};
const out = bufferedStdout({ pieceBytes: 4096, intervalMs: 60000, maxPending: 64 * 1024 * 1024 });
const tag = isMainThread ? 'a' : 'b';
const worker = isMainThread ? new Worker(process.argv[1], { eval: true }) : undefined;
for (let i = 0; i < 20000; i++) out.write('{"w":"' + tag + '","i":' + i + ',"pad":"' + 'p'.repeat(i % 250) + '"}\\n');
await out.flush(60000);
if (worker) worker.once('exit', () => process.exit(0));
else process.exit(0);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    await new Promise((r) => child.once('close', r));
    const seen = { a: 0, b: 0 };
    for (const l of Buffer.concat(chunks).toString().split('\n').filter((x) => x !== '')) {
      const rec = JSON.parse(l) as { w: 'a' | 'b'; i: number };
      expect(rec.i).toBe(seen[rec.w]++);
    }
    expect(seen).toEqual({ a: 20000, b: 20000 });
  });

  it('keeps the lines written just before a crash, even with a write in flight', async () => {
    const url = new URL('./log-buffer.ts', import.meta.url).href;
    // 100 KiB of lines pass maxChars (64 Ki): a flush starts a write in the pool; the last line and the throw come
    // in the same turn, so the exit hook runs with that write still in flight (before: it gave up, LAST was lost)
    const script = `import { bufferedStdout } from ${JSON.stringify(url)};
const out = bufferedStdout({ pieceBytes: 4096, intervalMs: 60000 });
for (let i = 0; i < 200; i++) out.write('{"i":' + i + ',"pad":"' + 'p'.repeat(500) + '"}\\n');
out.write('{"LAST":true}\\n');
throw new Error('boom');`;
    const child = spawn('sh', ['-c', '"$0" --input-type=module -e "$1" | cat', process.execPath, script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    await new Promise((r) => child.once('close', r));
    const lines = Buffer.concat(chunks).toString().split('\n').filter((x) => x !== '');
    for (const l of lines) JSON.parse(l); // whole lines only
    expect(lines).toContain('{"LAST":true}');
  });

  // fd 1 a pipe (sh's, reopened non-blocking) or a socket (Node's stdio 'pipe': set non-blocking in place); the
  // reader (sleep, or a paused stream) never reads: the pipe fills and would block every write
  it.each([
    ['a pipe into sleep', 'pipe'],
    ['a socket nobody reads', 'socket'],
  ])('never stops the event loop for %s: timers run, the oldest lines are dropped, the process exits', async (_name, kind) => {
    const url = new URL('./log-buffer.ts', import.meta.url).href;
    const murl = new URL('./metrics.ts', import.meta.url).href;
    const script = `import { bufferedStdout } from ${JSON.stringify(url)};
import { createRegistry } from ${JSON.stringify(murl)};
const registry = createRegistry();
const out = bufferedStdout({ pieceBytes: 4096, intervalMs: 20, maxPending: 256 * 1024, registry });
let ticks = 0;
setInterval(() => ticks++, 5);
let rounds = 0;
const line = '{"pad":"' + 'x'.repeat(200) + '"}\\n';
await new Promise((done) => {
  const t = setInterval(() => {
    for (let i = 0; i < 200; i++) out.write(line);
    if (++rounds === 40) { clearInterval(t); done(); }
  }, 10);
});
await out.flush(300);
const metric = (await registry.getSingleMetricAsString('moat_log_lines_dropped_total')).split('\\n').pop();
process.stderr.write(JSON.stringify({ ticks, rounds, dropped: out.dropped(), metric }) + '\\n');
process.exit(0);`;
    const child =
      kind === 'pipe'
        ? spawn('sh', ['-c', `{ "$0" --input-type=module -e "$1"; echo "exit $?" >&2; } | sleep 60`, process.execPath, script], {
            stdio: ['ignore', 'ignore', 'pipe'],
            detached: true,
          })
        : spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout?.pause();
    let err = '';
    const exited = kind === 'pipe' ? /exit (\d+)\n/ : null;
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr?.on('data', (b: Buffer) => {
          err += b.toString();
          if (exited ? exited.test(err) : false) resolve();
        });
        child.once('exit', () => (exited ? reject(new Error(`sh exited early: ${err}`)) : resolve()));
        setTimeout(() => reject(new Error(`no exit: the child is blocked (${err})`)), 20_000).unref(); // a hang guard
      });
    } finally {
      try {
        process.kill(-(child.pid as number), 'SIGKILL'); // the group this test started (sh and its sleep)
      } catch {
        // gone already (the socket case: the child exited on its own)
      }
    }
    expect(err).toMatch(kind === 'pipe' ? /exit 0\n/ : /dropped/);
    const r = JSON.parse(err.split('\n')[0] as string) as { ticks: number; rounds: number; dropped: number; metric: string };
    expect(r.rounds).toBe(40);
    expect(r.ticks).toBeGreaterThan(40); // the 5 ms timer ran all along (a blocked loop would never have reported)
    expect(r.dropped).toBeGreaterThan(0);
    expect(r.metric).toBe(`moat_log_lines_dropped_total ${r.dropped}`);
  }, 30_000);
});
