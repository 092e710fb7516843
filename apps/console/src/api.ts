// The console's JSON API behind login: the overview, sessions and decisions ("why"), greylist, rate limits, queue,
// zones, quarantine and Bayes learning. Trusts the session (and its CSRF token on POST); every input is checked here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type JournalEntry, summarize } from '@moat/journal';
import type { Logger } from '@moat/observe';
import { parseCidr } from '@moat/policy';
import { checkMessage, isSpamdError } from '@moat/spamd';
import { body, HttpError, json, MAX_BODY } from './http.ts';
import { groupSessions } from './mail-sessions.ts';
import { QuarantineInputError, quarantineApi } from './quarantine-api.ts';
import { decisionCounters, scrape, zoneCounters } from './scrape.ts';
import type { ConsoleSettings } from './console-settings.ts';
import type { ConsoleServices } from './services.ts';
import { type Session, sameToken } from './sessions.ts';
import { withResolution } from './why.ts';
import { zoneView } from './zone-view.ts';

const QUEUE_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** How many recent journal entries the overview and the session list read. */
const WINDOW = 500;

type Audit = (action: string, result: string, detail: Record<string, unknown>) => void;

/** Decisions per minute by action over the last `minutes` (from the journal window). */
function perMinute(entries: readonly JournalEntry[], now: number, minutes = 30): { t: number; counts: Record<string, number> }[] {
  const start = Math.floor(now / 60_000) - minutes + 1;
  const buckets = Array.from({ length: minutes }, (_, i) => ({ t: (start + i) * 60_000, counts: {} as Record<string, number> }));
  for (const e of entries) {
    const b = buckets[Math.floor(e.time / 60_000) - start];
    if (b) b.counts[e.verdict.action] = (b.counts[e.verdict.action] ?? 0) + 1;
  }
  return buckets;
}

export interface ApiOptions {
  settings: ConsoleSettings;
  services: ConsoleServices;
  logger: Logger;
  /** moat_console_actions_total. */
  actions: { inc(labels: { action: string; result: string }): void };
}

/** The /api/ router: answers the request or throws HttpError. */
export function createApi(o: ApiOptions): (req: IncomingMessage, res: ServerResponse, s: Session, path: string, query: URLSearchParams) => Promise<void> {
  const { settings, services, logger, actions } = o;
  return async function api(req: IncomingMessage, res: ServerResponse, s: Session, path: string, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'POST') {
      if (!sameToken(req.headers['x-csrf-token'] as string | undefined, s.csrf)) throw new HttpError(403, 'missing or wrong CSRF token');
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'expected application/json');
    }
    // /api/learn carries a whole message (base64: 4/3 of spamd.max_size, and the JSON around it)
    const limit = path === '/api/learn' && services.learn ? Math.ceil((services.learn.maxBytes * 4) / 3) + 1024 : MAX_BODY;
    const parsed: unknown = method === 'POST' ? JSON.parse((await body(req, limit)) || '{}') : {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'expected a JSON object');
    const input = parsed as Record<string, unknown>;
    const audit = (action: string, result: string, detail: Record<string, unknown>) => {
      actions.inc({ action, result });
      logger.info({ event: 'console-action', user: s.user, action, result, ...detail }, `console ${action}`);
    };

    if (method === 'GET' && path === '/api/overview') {
      const [entries, scraped] = await Promise.all([services.journal.recent({ count: WINDOW }), scrape(settings.metricsUrls)]);
      const now = Date.now();
      const summary = summarize(entries);
      return json(res, 200, {
        now,
        journal: { ...summary, perMinute: perMinute(entries, now) },
        metrics: { sources: scraped.sources, decisions: decisionCounters(scraped.samples) },
        // both zone tables read this one view (journal, nodes' counters, health check), so they agree
        zones: zoneView(summary.byZone, zoneCounters(scraped.samples), services.dnslist?.health() ?? []),
      });
    }
    if (method === 'GET' && path === '/api/sessions') {
      // the recent list: one row per SMTP session with its final outcome, its steps for the expanded view
      const count = Math.min(200, Math.max(1, Number(query.get('count') ?? 50) || 50));
      return json(res, 200, groupSessions(withResolution(await services.journal.recent({ count: WINDOW }), services.explainAddress), count));
    }
    if (method === 'GET' && path === '/api/decisions') {
      // "Why was this deferred?": one session's or one queued message's decisions, oldest first.
      const session = query.get('session');
      const queueId = query.get('queueId');
      // Each with its recipient's address resolution (class, rewrites, next hop) beside the trace.
      const explain = (entries: readonly JournalEntry[]) => json(res, 200, withResolution(entries, services.explainAddress));
      if (session) return explain(await services.journal.bySession(session.slice(0, 128)));
      if (queueId) return explain(await services.journal.byQueueId(queueId.slice(0, 128)));
      const count = Math.min(200, Math.max(1, Number(query.get('count') ?? 50) || 50));
      return explain(await services.journal.recent({ count }));
    }
    if (method === 'GET' && path === '/api/greylist/stuck') {
      if (!services.greylist) return json(res, 200, { enabled: false, stuck: [] });
      const now = Math.floor(Date.now() / 1000);
      const rows = await services.greylist.listStuck(100);
      return json(res, 200, {
        enabled: true,
        stuck: rows.map((t) => ({ ...t, network: t.client ? services.networkOf(t.client) : undefined, sinceLast: now - t.lastSeen, meanGap: t.attempts > 1 ? (t.lastSeen - t.firstSeen) / (t.attempts - 1) : undefined })),
      });
    }
    if (method === 'GET' && path === '/api/ratelimits') {
      // who the shared rate limits refuse now (every MX counts in the same Redis)
      return json(res, 200, { active: [...services.rateLimits.active], limited: await services.rateLimits.list({ limit: 100 }), now: Math.floor(Date.now() / 1000) });
    }
    if (method === 'POST' && path === '/api/greylist/whitelist') {
      if (!services.greylist) throw new HttpError(409, 'greylisting is not in the policy');
      const cidr = typeof input.cidr === 'string' ? input.cidr.trim() : '';
      if (!parseCidr(cidr) || !cidr.includes('/')) throw new HttpError(400, 'expected a network such as 192.0.2.0/24');
      const days = typeof input.days === 'number' && input.days > 0 && input.days <= 3650 ? input.days : 365;
      await services.greylist.whitelistClient(cidr, Math.round(days * 86400));
      audit('greylist-whitelist', 'ok', { cidr, days });
      return json(res, 200, { whitelisted: cidr, days });
    }
    if (method === 'GET' && path === '/api/queue') return json(res, 200, await services.queue.list());
    if (method === 'POST' && path === '/api/queue') {
      const action = input.action;
      const ids = Array.isArray(input.ids) ? input.ids.filter((i): i is string => typeof i === 'string') : [];
      if (ids.some((i) => !QUEUE_ID.test(i)) || ids.length > 1000) throw new HttpError(400, 'bad queue id');
      if (action === 'flush') {
        const n = await services.queue.flush(ids.length ? ids : undefined);
        audit('queue-flush', 'ok', { ids, flushed: n });
        return json(res, 200, { flushed: n });
      }
      if (action !== 'hold' && action !== 'release' && action !== 'delete') throw new HttpError(400, 'action must be flush, hold, release or delete');
      if (ids.length === 0) throw new HttpError(400, 'no queue ids');
      const done = await services.queue[action](ids);
      audit(`queue-${action}`, done.length === ids.length ? 'ok' : 'partial', { ids, done });
      return json(res, 200, { action, done, missing: ids.filter((i) => !done.includes(i)) });
    }
    if (method === 'GET' && path === '/api/zones') return json(res, 200, services.dnslist?.health() ?? []);
    if (path.startsWith('/api/quarantine')) {
      try {
        const a = await quarantineApi(services.quarantine, { method, path, query, input, user: s.user }, audit);
        if (a) return json(res, a.status, a.body);
      } catch (e) {
        if (e instanceof QuarantineInputError) throw new HttpError(400, e.message);
        throw e;
      }
    }
    if (method === 'POST' && path === '/api/learn') return learn(services, res, input, audit);
    throw new HttpError(404, 'no such endpoint');
  };
}

/** POST /api/learn {as: spam|ham, message: base64}: teach spamd's Bayes; what is not a message is 422. */
async function learn(services: ConsoleServices, res: ServerResponse, input: Record<string, unknown>, audit: Audit): Promise<void> {
  if (!services.learn) throw new HttpError(409, 'spamd is not enabled (spamd.enabled: false)');
  const as = input.as;
  if (as !== 'spam' && as !== 'ham') throw new HttpError(400, 'as must be spam or ham');
  const b64 = typeof input.message === 'string' ? input.message.replace(/\s+/g, '') : '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new HttpError(400, 'message must be base64');
  const message = Buffer.from(b64, 'base64');
  const check = checkMessage(message, services.learn.maxBytes);
  if (!check.ok) {
    audit('learn', 'refused', { as, bytes: message.length, reason: check.reason });
    return json(res, 422, { error: `not a mail message (${check.reason}): ${check.detail}`, reason: check.reason });
  }
  try {
    const { outcome } = await services.learn.run(message, as);
    audit('learn', outcome, { as, bytes: message.length });
    return json(res, 200, { as, outcome });
  } catch (e) {
    if (!isSpamdError(e)) throw e;
    audit('learn', 'failed', { as, bytes: message.length, code: e.code });
    return json(res, 502, { error: e.message, code: e.code });
  }
}
