// pino with moat's conventions: JSON lines, `component` bound, secrets redacted.
import { pino, type Logger } from 'pino';

export type { Logger };

// Explicit paths only: wildcard paths make pino's redaction cost grow with every logged object.
const redact = ['password', 'pass', 'secret', 'auth.password', 'auth.pass', 'auth.secret', 'redis.password', 'sentinelPassword'];

/**
 * The root logger for one app. Level from `MOAT_LOG_LEVEL` (default `info`); tests pass
 * `{ level: 'silent' }` or their own destination.
 */
export function createLogger(
  component: string,
  options: { level?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = options.level ?? process.env.MOAT_LOG_LEVEL ?? 'info';
  const opts = { level, base: { component }, redact, timestamp: pino.stdTimeFunctions.isoTime };
  return options.destination ? pino(opts, options.destination as never) : pino(opts);
}
