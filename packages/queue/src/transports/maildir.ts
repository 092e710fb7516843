// `maildir:/path` local delivery: tmp/ then new/, fsync file and directories, unique names (time.pid_counter_hosttag.host).
// Writes only below its root; recipient local parts and domains are untrusted and checked before use as path names.
import { hostname as osHostname } from 'node:os';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HOST_TAG, sweepTmp } from '../tmp-files.ts';
import type { DeliveryRequest, RecipientResult, Transport } from './types.ts';

export interface MaildirOptions {
  /** Root of all mailboxes. */
  root: string;
  /**
   * Where a recipient's maildir lives, relative to root. Default `%d/%n`: `<domain>/<localpart>`, lower-cased.
   * A template (Dovecot's letters: `%d` domain, `%n` local part, `%u` whole address, all lower-cased) or a
   * function; a function returning null means "no such mailbox" (bounced 5.1.1).
   */
  layout?: string | ((local: string, domain: string) => string | null);
  /** Our host name in file names (default os.hostname()). */
  hostname?: string;
  fsync?: boolean;
}

let counter = 0;

/** The writer of a tmp/ name we made (`<sec>.M<usec>P<pid>_<n>_<hosttag>.<host>`); other names: undefined. */
export function maildirWriter(name: string): { host: string; pid: number } | undefined {
  const m = /^\d+\.M\d+P(\d+)_\d+_([A-Za-z0-9-]+)\./.exec(name);
  return m ? { host: m[2]!, pid: Number(m[1]) } : undefined;
}

/** A path segment we are willing to create: no separators, no dot-dot, no control characters. */
function safeSegment(s: string): boolean {
  return s.length > 0 && s.length <= 255 && s !== '.' && s !== '..' && !/[/\\\0-\x1f\x7f]/.test(s);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function ensureMaildir(root: string, dir: string, doSync: boolean): Promise<void> {
  try {
    await stat(join(dir, 'new'));
    return;
  } catch {
    /* create below */
  }
  // mkdir -p returns the first directory it created: every directory from its parent down gained an entry.
  const first = await mkdir(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  for (const sub of ['new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  if (doSync) {
    // dir gained tmp/new/cur; each directory up to the parent of the first one created gained one entry.
    const top = first ? dirname(first) : dir;
    for (let d = dir; ; d = dirname(d)) {
      await fsyncPath(d);
      if (d === top || !d.startsWith(root) || d === dirname(d)) break;
    }
  }
}

export function maildirTransport(opts: MaildirOptions): Transport {
  const host = (opts.hostname ?? osHostname()).replace(/[/:]/g, '_');
  const doSync = opts.fsync !== false;
  const template = typeof opts.layout === 'string' ? opts.layout : '%d/%n';
  const layout =
    typeof opts.layout === 'function'
      ? opts.layout
      : (local: string, domain: string) => {
          const l = local.toLowerCase();
          const d = domain.toLowerCase();
          if (!safeSegment(l) || !safeSegment(d)) return null;
          return template.replace(/%([dnu%])/g, (_m, c: string) => (c === 'd' ? d : c === 'n' ? l : c === 'u' ? `${l}@${d}` : '%'));
        };
  const relay = `maildir:${opts.root}`;
  // A delivery killed between create and link leaves its file in tmp/ (the queue file stays and is delivered
  // again under a new name): the first delivery of this process into a maildir removes dead writers' files.
  // Others' names (Dovecot's, another host's) go only after 36 hours, Dovecot's own rule for tmp/.
  const swept = new Set<string>();
  const sweep = async (dir: string) => {
    if (swept.has(dir)) return;
    swept.add(dir);
    await sweepTmp(join(dir, 'tmp'), { writer: maildirWriter, maxAgeMs: 36 * 3600_000 });
  };

  async function one(req: DeliveryRequest, rcpt: string): Promise<RecipientResult> {
    const at = rcpt.lastIndexOf('@');
    const local = at < 0 ? rcpt : rcpt.slice(0, at);
    const domain = at < 0 ? '' : rcpt.slice(at + 1);
    const rel = safeSegment(local) && (domain === '' || safeSegment(domain)) ? layout(local, domain) : null;
    if (rel === null || rel.split('/').some((seg) => seg === '..')) {
      return { recipient: rcpt, status: 'bounced', code: 550, enhanced: '5.1.1', response: '550 5.1.1 mailbox unavailable', relay };
    }
    const dir = join(opts.root, rel);
    // Like Postfix local(8) and Dovecot LDA: who sent it and for whom it was delivered, then the bytes as queued.
    const head = Buffer.from(`Return-Path: <${req.sender}>\r\nDelivered-To: ${rcpt}\r\n`, 'utf8');
    try {
      await ensureMaildir(opts.root, dir, doSync);
      await sweep(dir);
      let name = '';
      for (let tries = 0; ; tries++) {
        const now = Date.now();
        name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}_${++counter}_${HOST_TAG}.${host}`;
        const tmp = join(dir, 'tmp', name);
        let created = false;
        try {
          const fh = await open(tmp, 'wx', 0o600);
          created = true;
          try {
            await fh.writeFile(Buffer.concat([head, req.message]));
            if (doSync) await fh.sync();
          } finally {
            await fh.close();
          }
          // link+unlink (qmail's way): never overwrites an existing name in new/.
          await link(tmp, join(dir, 'new', name));
          await unlink(tmp);
          break;
        } catch (e) {
          // A name left by an earlier process with our pid (restart in the same second): take the next one.
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 5) throw e;
          if (created) await unlink(tmp).catch(() => undefined);
        }
      }
      if (doSync) await fsyncPath(join(dir, 'new'));
      return { recipient: rcpt, status: 'sent', code: 250, enhanced: '2.0.0', response: `250 2.0.0 delivered to maildir as ${name}`, relay };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      return { recipient: rcpt, status: 'deferred', code: 451, enhanced: '4.3.0', response: `451 4.3.0 maildir delivery failed: ${code}`, relay };
    }
  }

  return {
    name: 'maildir',
    destination: () => relay,
    async deliver(req) {
      const out: RecipientResult[] = [];
      for (const r of req.recipients) out.push(await one(req, r));
      return out;
    },
  };
}
