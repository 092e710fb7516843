// The console's settings: its typed view of the config plus the admin password hash, checked present and
// well-formed before anything listens. Trusts the validated config; the hash comes from the environment.
import { type ConsoleView, type loadConfig, views } from '@moat/config';
import { parseHash } from '@moat/auth';

/** The console's view of the config, with the admin password's hash checked present (main.ts refuses otherwise). */
export type ConsoleSettings = ConsoleView & { passwordHash: string };

/** The console cannot start with these settings (said to the operator, not a crash). */
export class SettingsError extends Error {}

/** The console's view of the config; without a well-formed admin password hash the console refuses to start. */
export function consoleSettings(config: ReturnType<typeof loadConfig>): ConsoleSettings {
  const view = views.console(config);
  const hash = view.passwordHash;
  if (!hash) throw new SettingsError('no admin password: set MOAT_CONSOLE_PASSWORD_HASH (or _FILE) to the output of `moat-console hash-password`');
  if (!parseHash(hash)) throw new SettingsError('MOAT_CONSOLE_PASSWORD_HASH is not a scrypt hash written by `moat-console hash-password`');
  return { ...view, passwordHash: hash };
}
