// DATA as it arrives: the bytes go to a draft file in the spool, only the header block stays in memory, and the
// size limit and line lengths are watched on the way. Trusts the spool's file system; the bytes are untrusted.
import type { Draft, QueueWriter } from '@moat/queue';
import type { SMTPServerDataStream } from 'smtp-server';
import { MAX_HEADER_BYTES } from './vouched-headers.ts';

/** Bytes kept in memory: the largest header block we accept plus its empty line (`\r\n`), and a margin. */
export const PREFIX_BYTES = MAX_HEADER_BYTES + 4;
/** Unwritten bytes a session may hold before its DATA stream is paused (smtp-server then stops reading the socket). */
const MAX_BACKLOG = 512 * 1024;
/**
 * RFC 5321 section 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. Longer DATA lines are accepted
 * unchanged, as Postfix accepts them (line_length_limit = 2048 only chops them into continuation records in
 * its queue file and rebuilds them at delivery; smtpd refuses nothing for it). Refusing would bounce mail real
 * senders emit (unwrapped HTML, long base64-less lines), and wrapping would break DKIM signatures. Memory is not
 * at stake: no line is ever buffered whole. They are counted and logged (`longestLine`), and mx.limits.line_length
 * bounds command lines only.
 */
export const RFC_LINE = 1000;

export interface Received {
  /** Every byte the client sent, also beyond the size limit. */
  size: number;
  /** More than maxSize bytes: nothing is kept (the draft is gone). */
  tooBig: boolean;
  /**
   * The message's first bytes up to and with the empty line after the header block, at most PREFIX_BYTES: the
   * whole header block when it is one we accept (headerBlockProblem decides).
   */
  prefix: Buffer;
  /** The longest line, CRLF included. */
  longestLine: number;
  /** The draft holding all `size` bytes (undefined when tooBig). The caller discards it. */
  draft?: Draft | undefined;
}

/** The client went away (or smtp-server gave up on it) before the end of DATA. */
export class DataAborted extends Error {}

/**
 * Reads `stream` to its end. Rejects with DataAborted when the stream errors or closes early, and with the
 * draft's I/O error when the spool cannot take the bytes (disk full): the caller answers 451. In both cases the
 * draft is already discarded.
 */
export function receive(stream: SMTPServerDataStream, queue: QueueWriter, maxSize: number): Promise<Received> {
  return new Promise<Received>((resolve, reject) => {
    let size = 0;
    let line = 0;
    let longestLine = 0;
    let tooBig = false;
    const head: Buffer[] = [];
    let headBytes = 0;
    let headDone = false;
    /** Bytes of the current header line so far, and whether its first byte was a CR. */
    let headLine = 0;
    let headCr = false;
    let draft: Draft | undefined;
    let dropped: Promise<void> | undefined;
    let failed: Error | undefined;
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      stream.resume(); // let smtp-server finish the transaction (or the close) whatever happens here
      void opened.then((d) => d?.discard());
      reject(e);
    };
    const opened = queue.draft().then(
      (d) => {
        draft = d;
        if (settled || tooBig) dropped = d.discard();
        return d;
      },
      (e: Error) => {
        failed = e;
        return undefined;
      },
    );
    stream.pause();
    void opened.then(() => stream.resume());
    stream.on('data', (c: Buffer) => {
      size += c.length;
      for (let at = 0; ; ) {
        const lf = c.indexOf(0x0a, at);
        if (lf < 0) {
          line += c.length - at;
          break;
        }
        line += lf + 1 - at;
        if (line > longestLine) longestLine = line;
        line = 0;
        at = lf + 1;
      }
      if (line > longestLine) longestLine = line;
      if (!headDone) {
        // up to and with the empty line that ends the header block (`\n\n` or `\n\r\n`), at most PREFIX_BYTES
        let end = Math.min(c.length, PREFIX_BYTES - headBytes);
        for (let i = 0; i < end; i++) {
          const b = c[i]!;
          if (b === 0x0a) {
            if (headLine === 0 || (headLine === 1 && headCr)) {
              end = i + 1;
              headDone = true;
              break;
            }
            headLine = 0;
            headCr = false;
          } else {
            headCr = b === 0x0d && headLine === 0;
            headLine++;
          }
        }
        // a copy: a slice would keep the socket's whole read buffer alive
        head.push(Buffer.from(c.subarray(0, end)));
        headBytes += end;
        if (headBytes >= PREFIX_BYTES) headDone = true;
      }
      if (tooBig || settled || failed) return;
      if (size > maxSize) {
        // a too-big message leaves no file: it is read to its end (to answer 552) and dropped
        tooBig = true;
        dropped = draft?.discard();
        return;
      }
      if (!draft) return;
      const written = draft.append(c);
      if (draft.backlog > MAX_BACKLOG && !stream.isPaused()) {
        stream.pause();
        void written.then(() => {
          if (!settled) stream.resume();
        });
      }
    });
    stream.once('error', (e: Error) => fail(new DataAborted(e.message)));
    stream.once('close', () => {
      if (!stream.readableEnded) fail(new DataAborted('closed before the end of DATA'));
    });
    stream.once('end', () => {
      void (async () => {
        const d = await opened;
        if (settled) return;
        const prefix = head.length === 1 ? head[0]! : Buffer.concat(head, headBytes);
        if (tooBig) {
          await dropped;
          settled = true;
          return resolve({ size, tooBig, prefix, longestLine });
        }
        try {
          if (!d) throw failed ?? new Error('no draft');
          await d.flushed();
        } catch (e) {
          return fail(e as Error);
        }
        settled = true;
        resolve({ size, tooBig, prefix, longestLine, draft: d });
      })();
    });
  });
}
