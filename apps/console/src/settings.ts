// The console's own settings, from the environment (moat.yaml holds the mail side; the admin login lives here).
// The password is only ever a scrypt hash (MOAT_CONSOLE_PASSWORD_HASH or _FILE); without one the console refuses to start.
import { readFileSync } from 'node:fs';
import { parseHash } from '@moat/auth';
import type { Config } from '@moat/config';

export interface ConsoleSettings {
  host: string;
  port: number;
  user: string;
  passwordHash: string;
  /** Prometheus endpoints of the apps, scraped for the live counters. */
  metricsUrls: string[];
  /** Add `Secure` to the session cookie (set when a TLS proxy fronts the console). */
  secureCookie: boolean;
  /** How often the page polls, ms. */
  pollMs: number;
  /** Where to serve the console's own /metrics, when asked for (MOAT_CONSOLE_METRICS_LISTEN). */
  metricsListen?: { host: string; port: number } | undefined;
}

export class SettingsError extends Error {}

/** Splits `host:port`, `[v6]:port` or a bare port (then 127.0.0.1). */
export function splitListen(s: string, name = 'MOAT_CONSOLE_LISTEN'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) throw new SettingsError(`${name}: expected host:port, found ${JSON.stringify(s)}`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export function consoleSettings(config: Config, env: Readonly<Record<string, string | undefined>> = process.env): ConsoleSettings {
  const { host, port } = splitListen(env.MOAT_CONSOLE_LISTEN || '127.0.0.1:9480');
  let hash = env.MOAT_CONSOLE_PASSWORD_HASH;
  if (!hash && env.MOAT_CONSOLE_PASSWORD_HASH_FILE) {
    try {
      hash = readFileSync(env.MOAT_CONSOLE_PASSWORD_HASH_FILE, 'utf8').trim();
    } catch (e) {
      throw new SettingsError(`MOAT_CONSOLE_PASSWORD_HASH_FILE: ${(e as Error).message}`);
    }
  }
  if (!hash) throw new SettingsError('no admin password: set MOAT_CONSOLE_PASSWORD_HASH (or _FILE) to the output of `moat-console hash-password`');
  if (!parseHash(hash)) throw new SettingsError('MOAT_CONSOLE_PASSWORD_HASH is not a scrypt hash written by `moat-console hash-password`');
  const defaultMetrics = config.metrics.enabled ? [`http://${config.metrics.listen}/metrics`] : [];
  const metricsUrls = env.MOAT_CONSOLE_METRICS !== undefined ? env.MOAT_CONSOLE_METRICS.split(/[,\s]+/).filter(Boolean) : defaultMetrics;
  for (const u of metricsUrls) {
    if (!/^https?:\/\/[^/\s]+\/\S*$/.test(u)) throw new SettingsError(`MOAT_CONSOLE_METRICS: not an http(s) URL: ${JSON.stringify(u)}`);
  }
  const poll = Number(env.MOAT_CONSOLE_POLL_MS ?? 2000);
  return {
    host,
    port,
    user: env.MOAT_CONSOLE_USER || 'admin',
    passwordHash: hash,
    metricsUrls,
    secureCookie: /^(1|true|yes)$/i.test(env.MOAT_CONSOLE_SECURE_COOKIE ?? ''),
    pollMs: Number.isFinite(poll) && poll >= 250 ? poll : 2000,
    metricsListen: env.MOAT_CONSOLE_METRICS_LISTEN ? splitListen(env.MOAT_CONSOLE_METRICS_LISTEN, 'MOAT_CONSOLE_METRICS_LISTEN') : undefined,
  };
}
