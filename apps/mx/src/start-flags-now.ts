// Imported first by main.ts, so the MX starts itself again with its node flags before anything else runs.
// Trusts nothing beyond start-flags.ts. (Kept apart so tests can import start-flags.ts without a restart.)
import { ensureNodeFlags } from './start-flags.ts';

ensureNodeFlags();
