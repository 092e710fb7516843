// The hand-off of an accepted message to the queue: one queue file per next hop (or per route), its meta
// (client, login, DKIM signability) and the enqueue. Trusts the queue's fsync; the envelope is client input.
import type { NextHop } from '@moat/address';
import { DKIM_META_KEY, DKIM_SIGN, type EnqueueInput, type QueueWriter, type RecipientInfo } from '@moat/queue';
import { SmtpReply } from './hook.ts';
import type { Route, Tx } from './session-state.ts';

export interface QueueFile {
  route: Route;
  nextHop?: NextHop;
  recipients: string[];
  info: Map<string, RecipientInfo>;
}

/**
 * One queue file per next hop (resolved recipients) or per route (without a resolver); an address reached by
 * two RCPTs (or two aliases) is queued once.
 */
export function queueFiles(tx: Tx, rcpts: readonly string[]): QueueFile[] {
  const files = new Map<string, QueueFile>();
  const queued = new Set<string>();
  for (const r of rcpts) {
    const finals = tx.finals.get(r);
    const each = finals ?? [{ address: r, info: {} as RecipientInfo }];
    for (const f of each) {
      if (queued.has(f.address.toLowerCase())) continue;
      queued.add(f.address.toLowerCase());
      const route: Route = finals ? (f.info.class === 'remote' ? 'relay' : 'local') : (tx.routes.get(r) ?? 'local');
      const key = f.info.nextHop ? JSON.stringify(f.info.nextHop) : `route:${route}`;
      let file = files.get(key);
      if (!file) {
        file = { route, ...(f.info.nextHop ? { nextHop: f.info.nextHop } : {}), recipients: [], info: new Map() };
        files.set(key, file);
      }
      file.recipients.push(f.address);
      if (finals) file.info.set(f.address, f.info);
    }
  }
  return [...files.values()];
}

/** What every queue file of one message shares (the envelope sender, headers, body, meta, quarantine). */
export type Shared = Omit<EnqueueInput, 'recipients' | 'route' | 'nextHop' | 'recipientInfo'>;

/** The meta of each queue file: the client, its login, and whether the mail is ours to DKIM-sign. */
export function queueMeta(m: { client: string; helo: string; session: string; user?: string | undefined; clientName?: string | undefined; signable: boolean }): Record<string, string> {
  const meta: Record<string, string> = { client: m.client, helo: m.helo, session: m.session };
  if (m.user) meta.saslUser = m.user;
  if (m.signable) meta[DKIM_META_KEY] = DKIM_SIGN;
  if (m.clientName) meta.clientName = m.clientName;
  return meta;
}

/**
 * Enqueue every file, each id pushed to `ids` as its file is queued (so they are known when it throws). A
 * partial enqueue is delivered and the client retries the whole message (duplicates beat loss).
 */
export async function enqueueAll(queue: QueueWriter, files: readonly QueueFile[], shared: Shared, answered: AbortSignal, ids: string[], queued: (id: string) => void): Promise<void> {
  const { sender, prepend, message, meta, hold } = shared;
  for (const { route, nextHop, recipients, info } of files) {
    // answered 451 already (the end-of-data budget ran out): queueing now would deliver a message the
    // client will send again; what was queued before the timeout stays (duplicates beat loss)
    if (answered.aborted) throw new SmtpReply(451, '4.3.0 Timed out, try again later');
    const q = await queue.enqueue({ sender, recipients, prepend, message, meta, route, ...(nextHop ? { nextHop } : {}), ...(info.size ? { recipientInfo: info } : {}), ...(hold ? { hold } : {}) });
    ids.push(q.id);
    queued(q.id);
  }
}
