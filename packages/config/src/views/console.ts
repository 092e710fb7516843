// The web console's view of the config: its listener, login and polling (the `console:` section, MOAT_CONSOLE_*).
// Trusts the parsed config; the password hash's format is checked by the console (it owns @moat/auth's reader).
import { parseHostPort } from '../host-port.ts';
import type { Config } from '../schema.ts';

export interface ConsoleView {
  host: string;
  port: number;
  user: string;
  /** Undefined: none configured (the console refuses to start). */
  passwordHash?: string | undefined;
  /** Prometheus endpoints of the apps, scraped for the live counters. */
  metricsUrls: string[];
  /** Add `Secure` to the session cookie (set when a TLS proxy fronts the console). */
  secureCookie: boolean;
  /** How often the page polls, ms. */
  pollMs: number;
  /** Where to serve the console's own /metrics, when asked for. */
  metricsListen?: { host: string; port: number } | undefined;
}

export function consoleView(config: Config): ConsoleView {
  const c = config.console;
  const { host, port } = parseHostPort(c.listen, { defaultHost: '127.0.0.1', what: 'console.listen' });
  const defaultMetrics = config.metrics.enabled ? [`http://${config.metrics.listen}/metrics`] : [];
  return {
    host,
    port,
    user: c.user,
    passwordHash: c.password_hash,
    metricsUrls: c.metrics ? [...c.metrics] : defaultMetrics,
    secureCookie: c.secure_cookie,
    pollMs: c.poll,
    metricsListen: c.metrics_listen ? parseHostPort(c.metrics_listen, { defaultHost: '127.0.0.1', what: 'console.metrics_listen' }) : undefined,
  };
}
