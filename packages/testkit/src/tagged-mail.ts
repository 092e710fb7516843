// Messages the multi-node suites (e2e-cluster, e2e-swarm) send and count: a unique X-Moat-Tag per message,
// fresh senders, and the primary's mailstore read through whatever runs a command in its container.
// Trusts the mailstore's files as text; a tag is only counted, never interpreted.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs a command in the container that holds the mailstore (docker exec on one engine or another). */
export type ExecInMailstore = (...cmd: string[]) => Promise<string>;

/** Where the primary's maildir is in the mx image (compose/app/Dockerfile). */
export const MAILSTORE_DIR = '/var/lib/moat/maildir';

/**
 * The `sh -c` script and its $0 that run redis-cli logged in with the redis_password secret, read inside the
 * container, so the password never appears on a command line: `exec(..., 'sh', '-c', ...REDIS_CLI, ...args)`.
 */
export const REDIS_CLI = ['REDISCLI_AUTH="$(cat "$MOAT_REDIS_PASSWORD_FILE")" exec redis-cli "$@"', 'redis-cli'] as const;

/** A sender no earlier test used (letters only, so greylist normalisation keeps it distinct). */
export function freshSender(prefix: string, domain = 'sender.example'): string {
  const letters = Array.from({ length: 10 }, () => String.fromCharCode(97 + randomInt(26))).join('');
  return `${prefix}.${letters}@${domain}`;
}

/** A unique tag for one message (X-Moat-Tag and Message-ID). */
export function freshTag(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomInt(1 << 30).toString(36)}`;
}

export interface TaggedMessage {
  from: string;
  to: string;
  tag: string;
  /** The whole Subject (the tag is in it only if the caller puts it there). */
  subject: string;
  /** The Message-ID's domain: `<tag@idDomain>`. */
  idDomain: string;
  /** The body's lines (CRLF-joined, one empty line after them). */
  body: readonly string[];
}

/** A small text message carrying its tag in X-Moat-Tag, so a test can count its copies in the mailstore. */
export function taggedMessage(m: TaggedMessage): string {
  return [
    `From: <${m.from}>`,
    `To: <${m.to}>`,
    `Subject: ${m.subject}`,
    `Message-ID: <${m.tag}@${m.idDomain}>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `X-Moat-Tag: ${m.tag}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...m.body,
    '',
  ].join('\r\n');
}

export interface WaitDeliveredOptions {
  timeoutMs: number;
  /** Between two reads of the mailstore. */
  pollMs: number;
  /** Treat a failed read as an empty mailstore and read again (the primary's node may be coming back). */
  retryErrors?: boolean;
  /** How many missing tags the timeout error names (all by default). */
  listMissing?: number;
}

export interface Mailstore {
  /** How many copies of each X-Moat-Tag the mailstore holds. */
  tags(): Promise<Map<string, number>>;
  /** The text of the mailstore's copy of a message (the first, if there are several). */
  message(tag: string): Promise<string>;
  /** Waits until every tag is in the mailstore; returns the counts then. */
  waitDelivered(tags: readonly string[], o: WaitDeliveredOptions): Promise<Map<string, number>>;
}

/** The primary's mailstore, read with `exec` in its container. */
export function mailstore(exec: ExecInMailstore): Mailstore {
  const tags = async () => {
    const out = await exec('sh', '-c', `grep -rh '^X-Moat-Tag: ' ${MAILSTORE_DIR} 2>/dev/null || true`);
    const counts = new Map<string, number>();
    for (const line of out.split('\n')) {
      const tag = line.slice('X-Moat-Tag: '.length).trim();
      if (tag) counts.set(tag, (counts.get(tag) ?? 0) + 1);
    }
    return counts;
  };
  const message = async (tag: string) => {
    const file = (await exec('sh', '-c', `grep -rl -F 'X-Moat-Tag: ${tag}' ${MAILSTORE_DIR} | head -1`)).trim();
    if (!file) throw new Error(`${tag} is not in the mailstore`);
    return exec('cat', file);
  };
  const waitDelivered = async (want: readonly string[], o: WaitDeliveredOptions) => {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      const counts = o.retryErrors ? await tags().catch(() => new Map<string, number>()) : await tags();
      const missing = want.filter((t) => !counts.has(t));
      if (missing.length === 0) return counts;
      if (Date.now() > deadline) {
        const named = o.listMissing === undefined ? missing.join(', ') : `${missing.slice(0, o.listMissing).join(', ')} (${missing.length})`;
        throw new Error(`not in the mailstore after ${o.timeoutMs} ms: ${named}`);
      }
      await sleep(o.pollMs);
    }
  };
  return { tags, message, waitDelivered };
}
