// The `console:` section: the web console's listener, admin login and what it polls (usually set by MOAT_CONSOLE_*).
// The password is only ever a scrypt hash; the console checks its format and refuses to start without one.
import { z } from 'zod';
import { duration, listenAddress } from './common.ts';

export const consoleSection = z.strictObject({
  /** Where the console listens: keep it on loopback or the admin network. */
  listen: listenAddress.default('127.0.0.1:9480'),
  user: z.string().min(1).default('admin'),
  /** The admin password's scrypt hash (`moat-console hash-password`); unset: the console refuses to start. */
  password_hash: z.string().optional(),
  /** The apps' Prometheus endpoints scraped for the live counters; unset: `http://<metrics.listen>/metrics`. */
  metrics: z.array(z.string().regex(/^https?:\/\/[^/\s]+\/\S*$/, 'expected an http(s) URL')).optional(),
  /** Add `Secure` to the session cookie (behind a TLS proxy). */
  secure_cookie: z.boolean().default(false),
  /** How often the page polls (at least 250ms: faster would hammer the apps). */
  poll: duration.pipe(z.number().min(250, 'expected at least 250ms')).default(2000),
  /** Serve the console's own /metrics (logins, actions) here; unset: not served. */
  metrics_listen: listenAddress.optional(),
});

export type ConsoleSection = z.infer<typeof consoleSection>;
