// What the quarantine's parts share: the spool directory, options with defaults, fsync switch, log and metrics.
// Trusts the options of the process that opened the quarantine.
import { join } from 'node:path';
import type { Logger } from '@moat/observe';
import type { Clock } from '../clock.ts';
import type { QuarantineMetrics } from '../quarantine-metrics.ts';

/** Teaches the spam filter a message (the bayes side implements it with spamd's learning; tests record). */
export type Learner = (message: Buffer, as: 'spam' | 'ham') => Promise<void>;

export interface QuarantineContext {
  readonly dir: string;
  readonly clock: Clock;
  /** How long a held message is kept, ms. */
  readonly retention: number;
  readonly logger: Logger;
  readonly metrics: QuarantineMetrics;
  readonly doSync: boolean;
  readonly learner: Learner | undefined;
  /** fsync a directory (nothing when fsync is off). */
  syncDir(d: string): Promise<void>;
  /** A held message's path. */
  held(id: string): string;
}

export const heldPath = (dir: string) => (id: string) => join(dir, 'hold', id);
