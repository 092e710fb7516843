// Login sessions held in memory (one console process per appliance): random ids, idle and absolute expiry,
// one CSRF token per session, and a per-address limit on failed logins. Trusts only what it generated itself.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  user: string;
  csrf: string;
  created: number;
  seen: number;
}

export interface SessionOptions {
  idleMs?: number;
  maxAgeMs?: number;
  /** Failed logins per address within `failureWindowMs` before logins from it are refused. */
  maxFailures?: number;
  failureWindowMs?: number;
  now?: () => number;
}

export const token = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSessions(opts: SessionOptions = {}) {
  const idleMs = opts.idleMs ?? 3_600_000;
  const maxAgeMs = opts.maxAgeMs ?? 12 * 3_600_000;
  const maxFailures = opts.maxFailures ?? 10;
  const windowMs = opts.failureWindowMs ?? 15 * 60_000;
  const now = opts.now ?? Date.now;
  const sessions = new Map<string, Session>();
  const failures = new Map<string, number[]>();

  const sweep = () => {
    const t = now();
    for (const [id, s] of sessions) if (t - s.seen > idleMs || t - s.created > maxAgeMs) sessions.delete(id);
    for (const [ip, list] of failures) {
      const kept = list.filter((x) => t - x < windowMs);
      if (kept.length) failures.set(ip, kept);
      else failures.delete(ip);
    }
  };
  const timer = setInterval(sweep, 60_000);
  timer.unref();

  return {
    create(user: string): Session {
      const t = now();
      const s: Session = { id: token(), user, csrf: token(), created: t, seen: t };
      sessions.set(s.id, s);
      return s;
    },
    get(id: string | undefined): Session | undefined {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      const t = now();
      if (t - s.seen > idleMs || t - s.created > maxAgeMs) {
        sessions.delete(id);
        return undefined;
      }
      s.seen = t;
      return s;
    },
    destroy(id: string | undefined) {
      if (id) sessions.delete(id);
    },
    /** True while this address may still try to log in. */
    mayTry(ip: string): boolean {
      const t = now();
      return (failures.get(ip) ?? []).filter((x) => t - x < windowMs).length < maxFailures;
    },
    failed(ip: string) {
      const list = failures.get(ip) ?? [];
      list.push(now());
      failures.set(ip, list.slice(-maxFailures));
    },
    close() {
      clearInterval(timer);
      sessions.clear();
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
