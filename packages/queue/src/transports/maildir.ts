// `maildir:/path` local delivery: tmp/ then new/, fsync file and directories, unique names (time.pid_counter_hosttag.host).
// Writes only below its root; recipient local parts and domains are untrusted and checked before use as path names.
import { hostname as osHostname } from 'node:os';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncPath } from '../fsync.ts';
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
  /**
   * The domains whose mailboxes live here (ours: mydestination, virtual mailbox/alias domains). A
   * recipient of any other domain is never written: it is deferred (451 4.3.5) with an alert, since
   * it means a routing mistake, not a missing mailbox. Undefined: every domain (tests, a bare maildir).
   */
  isLocal?: ((domain: string) => boolean) | undefined;
  /**
   * Postfix recipient_delimiter, for recipients the resolver did not split (v1 queue files): `user+tag`
   * is delivered to `user`'s mailbox. '' or undefined: no splitting here.
   */
  recipientDelimiter?: string | undefined;
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

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Split `user+tag` at the first delimiter character (Postfix 2.11+: any of several). */
function splitExtension(local: string, delims: string): { user: string; extension?: string } {
  let cut = -1;
  for (const ch of delims) {
    const i = local.indexOf(ch);
    if (i > 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut > 0 ? { user: local.slice(0, cut), extension: local.slice(cut + 1) } : { user: local };
}

/**
 * The Maildir++ folder for an extension (`<maildir>/.tag`), when it exists: the extension as given,
 * then lower-cased. Never created (a stranger's tags must not make folders); never `..` or a path.
 */
async function extensionFolder(dir: string, extension: string | undefined): Promise<string | undefined> {
  if (!extension || extension.startsWith('.') || !safeSegment(extension)) return undefined;
  for (const name of new Set([extension, extension.toLowerCase()])) {
    const folder = join(dir, `.${name}`);
    if (await isDir(join(folder, 'new'))) return folder;
  }
  return undefined;
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
    const full = at < 0 ? rcpt : rcpt.slice(0, at);
    const domain = at < 0 ? '' : rcpt.slice(at + 1);
    if (opts.isLocal && !opts.isLocal(domain.toLowerCase().replace(/\.$/, ''))) {
      // A remote address reached a mailbox transport: a routing mistake. Never write it; keep it queued.
      return {
        recipient: rcpt,
        status: 'deferred',
        code: 451,
        enhanced: '4.3.5',
        response: `451 4.3.5 mail system configuration error: ${domain || '(no domain)'} is not a local domain of ${relay}`,
        relay,
        alert: 'remote-domain-in-maildir',
      };
    }
    // user+tag@d: the user's mailbox. The resolver's split wins; else our own delimiter (v1 files).
    const given = req.extensions?.get(rcpt);
    let local = full;
    let extension: string | undefined;
    if (given && full.length > given.length + 1 && full.endsWith(given)) {
      local = full.slice(0, full.length - given.length - 1);
      extension = given;
    } else if (!given && opts.recipientDelimiter) {
      const split = splitExtension(full, opts.recipientDelimiter);
      local = split.user;
      extension = split.extension;
    }
    const rel = safeSegment(local) && (domain === '' || safeSegment(domain)) ? layout(local, domain) : null;
    if (rel === null || rel.split('/').some((seg) => seg === '..')) {
      return { recipient: rcpt, status: 'bounced', code: 550, enhanced: '5.1.1', response: '550 5.1.1 mailbox unavailable', relay };
    }
    const inbox = join(opts.root, rel);
    const dir = (await extensionFolder(inbox, extension)) ?? inbox;
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
