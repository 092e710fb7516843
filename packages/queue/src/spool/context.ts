// What the spool's parts share: its directory and paths, options with defaults, the fsync switch, log and metrics.
// Trusts the options of the process that opened the spool.
import { join } from 'node:path';
import type { Logger } from '@moat/observe';
import type { Clock } from '../clock.ts';
import type { QueueMetrics } from '../metrics.ts';
import type { QueueState } from '../types.ts';
import type { FreshFiles } from './fresh.ts';

export interface SpoolContext {
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: QueueMetrics;
  /** fsync files and directories (the benchmark alone turns it off). */
  readonly doSync: boolean;
  /** Largest message accepted, bytes. */
  readonly maxSize: number;
  /** Refuse new mail below this much free space (0: never). */
  readonly minFreeBytes: number | undefined;
  /** This node's name in hold records. */
  readonly node: string;
  /** A state directory, or a file in it. */
  p(state: QueueState | 'tmp', name?: string): string;
  /** fsync a directory (nothing when fsync is off). */
  syncDir(d: string): Promise<void>;
  /** Ids in one state directory. */
  names(state: QueueState): Promise<string[]>;
  /** Queue files just adopted into incoming/, for their first claim without a re-read (fresh.ts). */
  readonly fresh: FreshFiles;
}

export function spoolPath(dir: string): SpoolContext['p'] {
  return (state, name) => (name ? join(dir, state, name) : join(dir, state));
}
