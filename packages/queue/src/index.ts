export type { EnqueueInput, QueuedMessage, QueueWriter } from './types.ts';
