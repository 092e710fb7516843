// A held message read back: verified (END record and checksum) or moved to corrupt/, and its listing entry.
// Trusts a held file only after decode() verified it; its Subject is decoded and escaped before it is shown.
import { randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { decodeWords, escapeControls } from '../preview.ts';
import { CorruptQueueFile, decode, type Envelope, type HoldRecord } from '../record.ts';
import type { QuarantineContext } from './context.ts';

/** One held message as listed: its envelope facts and hold record (no body read). */
export interface HeldEntry {
  id: string;
  size: number;
  arrival?: number | undefined;
  sender?: string | undefined;
  recipients: string[];
  /** The Subject header (decoded, escaped, bounded), from the message's first 16 KiB. */
  subject?: string | undefined;
  /** Why it is held; undefined for a file whose envelope cannot be read (release/show will move it to corrupt/). */
  hold?: HoldRecord | undefined;
  /** When expire() removes it (hold time + retention). */
  expires?: number | undefined;
  /** A release was interrupted (crash between its two steps): release it again. */
  releasePending?: boolean;
  damaged?: boolean;
}

/** The Subject of a message's header block, decoded and made safe (the preview's rules), or undefined. */
export function subjectOf(head: Buffer): string | undefined {
  const m = /(?:^|\r?\n)Subject:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i.exec(head.toString('utf8'));
  if (!m) return undefined;
  return escapeControls(decodeWords(m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim()), false).slice(0, 200);
}

export const notFound = (id: string) => new QueueError(QueueErrorCodes.ENOTFOUND, `${id} is not in the quarantine`);

/** The verified held file, or: not found; damaged (moved to corrupt/, counted, logged, then thrown). */
export async function loadHeld(ctx: QuarantineContext, id: string, action: string, by?: string): Promise<{ envelope: Envelope; message: Buffer }> {
  const { dir, held, syncDir, metrics, logger } = ctx;
  let buf: Buffer;
  try {
    buf = await readFile(held(id));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
    throw e;
  }
  try {
    const d = decode(buf);
    if (d.envelope.id !== id) throw new CorruptQueueFile('id does not match file name');
    return d;
  } catch (e) {
    if (!(e instanceof CorruptQueueFile)) throw e;
    const to = `${id}.${randomBytes(3).toString('hex')}`;
    await rename(held(id), join(dir, 'corrupt', to));
    await syncDir(join(dir, 'corrupt'));
    await syncDir(join(dir, 'hold'));
    metrics.corrupt.inc();
    metrics.actions.inc({ action, result: 'corrupt' });
    logger.error({ event: 'quarantine-corrupt', queueId: id, action, by, reason: e.message, movedTo: `corrupt/${to}` }, 'held message failed its checksum: moved to corrupt/, not released');
    throw new QueueError(QueueErrorCodes.ECORRUPT, `${id} failed its checksum (${e.message}): moved to corrupt/${to}, not ${action === 'release' ? 'released' : 'used'}`);
  }
}

export function entryOf(id: string, size: number, env: Envelope | undefined, retention: number): HeldEntry {
  if (!env) return { id, size, recipients: [], damaged: true };
  return {
    id,
    size,
    arrival: env.arrival,
    sender: env.sender,
    recipients: env.recipients.map((r) => r.address),
    hold: env.hold,
    ...(env.hold ? { expires: env.hold.time + retention } : {}),
    ...(env.released ? { releasePending: true } : {}),
  };
}
