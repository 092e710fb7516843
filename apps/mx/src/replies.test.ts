import { QueueError, QueueErrorCodes } from '@moat/queue';
import { expect, it } from 'vitest';
import { queueFailureReply } from './replies.ts';

it('a full spool is 452 4.3.1, any other queue failure 451 4.3.0 (also across the delivery thread, by code)', () => {
  const full = queueFailureReply(new QueueError(QueueErrorCodes.ENOSPACE, 'insufficient system storage'));
  expect([full.responseCode, full.message]).toEqual([452, '4.3.1 Insufficient system storage']);
  // the delivery thread hands errors back as plain Errors carrying the code
  expect(queueFailureReply(Object.assign(new Error('x'), { code: 'EQUEUE_NOSPACE' })).responseCode).toBe(452);
  const other = queueFailureReply(new Error('EIO'));
  expect([other.responseCode, other.message]).toEqual([451, '4.3.0 Queue unavailable, try again later']);
  expect(queueFailureReply(undefined).responseCode).toBe(451);
});
