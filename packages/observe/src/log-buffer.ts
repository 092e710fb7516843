// A batching stdout for the one-line-per-decision logs (policyd, both MX threads): one write(2) per 64 Ki characters or per
// 200 ms, not per line. Trusts only that its caller hands it whole lines; at thousands a second a syscall per line
// costs more than the decision itself.
//
// The event loop never waits for stdout: writes go out asynchronously (fs.write, one in flight, on a libuv pool
// thread), so a reader that stops reading (a blocking pipe that fills: docker, journald, a shell pipe) stalls at
// most that one pool thread, never mail. What waits is bounded (`maxPending`): past it the oldest pieces are
// dropped and counted (moat_log_lines_dropped_total). What a stop can lose: nothing when the app awaits
// `flush(ms)` before exiting, or exits (its 'exit' hook writes what is left without blocking), and the reader keeps
// up; a stalled reader, SIGKILL or a thread terminated from outside lose what was not written (at most `intervalMs`
// of lines plus the pending bound). Writes never block: stdout is made non-blocking (see nonBlocking), since a pool
// thread stuck in write(2) would hang the process's exit. Mail is never in this buffer: the queue is durable on its
// own, only its log lines can go.
import { constants, fstatSync, openSync, write, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { metricOnce } from './metric-once.ts';
import { Counter, type Registry } from './metrics.ts';

/** What pino needs from a destination: `write(line)`. A plain object: no stream machinery per line. */
export interface BufferedOut {
  write(chunk: string): boolean;
  /** Hand what is buffered now to the writer (also done every intervalMs); never blocks, never waits. */
  flushSync(): void;
  /** Hand everything over and wait until it is written, or `ms` have passed (a stalled reader): for exits. */
  flush(ms: number): Promise<void>;
  /** Lines dropped so far because the reader did not keep up (or stdout is gone). */
  dropped(): number;
}

/** Linux's PIPE_BUF: a write(2) of at most this many bytes to a pipe is never interleaved with another's. */
export const PIPE_BUF = 4096;

/**
 * Where to cut `buf` (whole lines) into writes of at most `max` bytes: the end offset of each piece.
 * Each piece ends at a line end; a line longer than `max` is a piece of its own (it cannot be atomic,
 * but it never carries the start or end of another line with it).
 */
export function cutPoints(buf: Uint8Array, max: number): number[] {
  const ends: number[] = [];
  const len = buf.length;
  let start = 0;
  while (len - start > max) {
    const nl = buf.lastIndexOf(10, start + max - 1);
    let end: number;
    if (nl >= start) end = nl + 1;
    else {
      const next = buf.indexOf(10, start + max);
      end = next < 0 ? len : next + 1;
    }
    ends.push(end);
    start = end;
  }
  if (start < len) ends.push(len);
  return ends;
}

/**
 * `pieceBytes` (e.g. PIPE_BUF): write the buffer in pieces of at most that many bytes, cut at line ends,
 * so writers sharing one stdout pipe (policyd's worker processes, the MX's two threads) never interleave
 * inside a line. Unset: one write per flush (a single writer needs no cuts).
 */
/** Sockets kept open for the non-blocking mode they set on a stdout socket (closing one would close fd 1). */
const keep: Socket[] = [];

/**
 * A descriptor for `fd` on which a write never blocks (EAGAIN instead): the async writes run on libuv's pool, and a
 * pool thread blocked in write(2) for ever would also hang the process's exit (libuv joins its threads at exit).
 * A pipe is reopened through /proc/self/fd with O_NONBLOCK: a description of its own, so the flag reaches no one
 * else sharing the pipe. A socket (journald), or a pipe that cannot be reopened (another owner's FIFO), is
 * set non-blocking in place, as libuv does for a Node stdout pipe. A regular file or a tty is left as it is.
 */
function nonBlocking(fd: number): { fd: number; syncSafe: boolean } {
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) return { fd, syncSafe: st.isFile() || st.isCharacterDevice() };
    if (st.isFIFO()) {
      try {
        return { fd: openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK), syncSafe: true };
      } catch {
        // not reopenable: set in place below
      }
    }
    const sock = new Socket({ fd, readable: false, writable: true });
    sock.unref();
    keep.push(sock);
    return { fd, syncSafe: true };
  } catch {
    // left as it is: the writes may block a pool thread, never the event loop
    return { fd, syncSafe: false };
  }
}

const countLines = (b: Uint8Array): number => {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n || 1;
};

export interface BufferedStdoutOptions {
  fd?: number;
  /**
   * Buffered characters (JavaScript string length, UTF-16 units) that make a flush at once (default 64 Ki). For
   * ASCII lines that is bytes; in UTF-8 a unit is at most 3 bytes, so a flush holds at most 3 x maxChars bytes
   * (192 KiB by default) plus one line. Counted in characters: measuring each line's UTF-8 length cost more than
   * the rest of the buffering.
   */
  maxChars?: number;
  intervalMs?: number;
  pieceBytes?: number;
  /** Bytes handed over but not yet written that may wait (default 1 MiB); past it the oldest pieces go. */
  maxPending?: number;
  /** Where moat_log_lines_dropped_total is counted (none: only `dropped()`). */
  registry?: Registry;
}

/** Characters of lines kept as strings before they are encoded into a Buffer (see `encode`). */
const ENCODE_CHARS = 8192;

/** How long the exit hook waits, at most, for a full stdout to take the last lines. */
const EXIT_WAIT_MS = 1000;

export function bufferedStdout(opts: BufferedStdoutOptions = {}): BufferedOut {
  /** syncSafe: a synchronous write cannot block for ever (a file, a tty, or EAGAIN instead of blocking). */
  const { fd, syncSafe } = nonBlocking(opts.fd ?? 1);
  const maxChars = opts.maxChars ?? 64 * 1024;
  const pieceBytes = opts.pieceBytes ?? 0;
  const maxPending = opts.maxPending ?? 1024 * 1024;
  const counter: InstanceType<typeof Counter> | undefined = opts.registry
    ? metricOnce(opts.registry, 'moat_log_lines_dropped_total', () => new Counter({ name: 'moat_log_lines_dropped_total', help: 'Log lines dropped because stdout did not take them (a stalled reader, or stdout gone)', registers: [opts.registry as Registry] }))
    : undefined;
  let parts: string[] = [];
  /** Characters written since the last take (encoded or not). */
  let chars = 0;
  /** Pieces waiting, each whole lines (cut at PIPE_BUF when pieceBytes is set): the writer takes them in order. */
  const queue: Buffer[] = [];
  let queued = 0;
  let inFlight = false;
  /** The piece in flight while it waits for a retry (EAGAIN), and how much of it is written: no pool write runs then. */
  let retrying: { buf: Buffer; at: number } | undefined;
  /** A piece was cut short (stdout failed mid-piece): the next piece starts on a line of its own. */
  let torn = false;
  let droppedLines = 0;
  let waiters: (() => void)[] = [];
  const drop = (b: Uint8Array) => {
    const n = countLines(b);
    droppedLines += n;
    counter?.inc(n);
  };
  const idle = () => !inFlight && queue.length === 0 && chars === 0;
  const wake = () => {
    if (!idle()) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const pump = () => {
    if (inFlight) return;
    const piece = queue.shift();
    if (!piece) return wake();
    queued -= piece.length;
    const buf = torn ? Buffer.concat([Buffer.from('\n'), piece]) : piece;
    torn = false;
    inFlight = true;
    const go = (at: number) => {
      retrying = undefined;
      write(fd, buf, at, buf.length - at, null, (err, n) => {
        if (err) {
          if (err.code === 'EAGAIN') {
            // a non-blocking stdout is full: try again shortly (the loop runs meanwhile)
            retrying = { buf, at };
            setTimeout(() => go(at), 10).unref();
            return;
          }
          // stdout gone (EPIPE) or failing: this piece's rest is lost, logging must never stop mail
          if (at > 0) torn = true;
          drop(buf.subarray(at));
          inFlight = false;
          return pump();
        }
        if (at + n < buf.length) return go(at + n);
        inFlight = false;
        pump();
      });
    };
    go(0);
  };
  /**
   * Lines are encoded (off the V8 heap) every ENCODE_CHARS characters, not held as strings until the flush:
   * strings kept for up to intervalMs survived the young generation's collections (each one copied them, and
   * promoted them to the old generation), which was the larger part of policyd's scavenge pauses.
   */
  let encoded: Buffer[] = [];
  let partChars = 0;
  const encode = () => {
    if (parts.length === 0) return;
    encoded.push(Buffer.from(parts.length === 1 ? parts[0]! : parts.join(''), 'utf8'));
    parts = [];
    partChars = 0;
  };
  /** Moves the buffered lines into the queue of pieces (bounded). */
  const take = () => {
    if (chars > 0) {
      // cut points found with memchr-like scans
      encode();
      const buf = encoded.length === 1 ? encoded[0]! : Buffer.concat(encoded);
      encoded = [];
      chars = 0;
      let start = 0;
      for (const end of pieceBytes > 0 ? cutPoints(buf, pieceBytes) : [buf.length]) {
        queue.push(buf.subarray(start, end));
        queued += end - start;
        start = end;
      }
      // bounded: a reader that does not keep up loses the oldest lines, counted
      while (queued > maxPending && queue.length > 1) {
        const old = queue.shift() as Buffer;
        queued -= old.length;
        drop(old);
      }
    }
  };
  const flushSync = () => {
    take();
    pump();
  };
  const timer = setInterval(flushSync, opts.intervalMs ?? 200);
  timer.unref();
  // in a worker thread this is the thread's own exit (its process.exit), not the process's. What is left is written
  // synchronously where that cannot block (see nonBlocking), until stdout is full: also on a crash (an uncaught
  // exception exits here too), so the lines that tell of it are kept. A piece waiting for its retry is finished
  // first; a piece whose write runs in the pool is left to it (whole lines of at most PIPE_BUF: at worst that one
  // piece lands after the ones written here, never cut).
  process.once('exit', () => {
    if (!syncSafe) return;
    take();
    const rest = retrying ? [retrying.buf.subarray(retrying.at)] : [];
    retrying = undefined;
    // a full pipe (EAGAIN) is waited for, 1 ms at a time, EXIT_WAIT_MS in all: a reader that keeps up gets every
    // line, a stalled one holds the exit no longer than that
    const until = Date.now() + EXIT_WAIT_MS;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (const piece of [...rest, ...queue.splice(0)]) {
      const buf = torn ? Buffer.concat([Buffer.from('\n'), piece]) : piece;
      torn = false;
      for (let at = 0; at < buf.length; ) {
        try {
          at += writeSync(fd, buf, at, buf.length - at);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= until) return; // gone, or stalled: the rest is lost
          Atomics.wait(nap, 0, 0, 1);
        }
      }
    }
  });
  return {
    write(chunk: string) {
      parts.push(chunk);
      chars += chunk.length;
      partChars += chunk.length;
      if (partChars >= ENCODE_CHARS) encode();
      if (chars >= maxChars) flushSync();
      return true;
    },
    flushSync,
    flush(ms: number) {
      flushSync();
      if (idle()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    dropped: () => droppedLines,
  };
}
