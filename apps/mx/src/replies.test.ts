import { QueueError, QueueErrorCodes } from '@moat/queue';
import { expect, it } from 'vitest';
import { queueFailureReply, verdictReply } from './replies.ts';

it('a full spool is 452 4.3.1, any other queue failure 451 4.3.0 (also across the delivery thread, by code)', () => {
  const full = queueFailureReply(new QueueError(QueueErrorCodes.ENOSPACE, 'insufficient system storage'));
  expect([full.responseCode, full.message]).toEqual([452, '4.3.1 Insufficient system storage']);
  // the delivery thread hands errors back as plain Errors carrying the code
  expect(queueFailureReply(Object.assign(new Error('x'), { code: 'EQUEUE_NOSPACE' })).responseCode).toBe(452);
  const other = queueFailureReply(new Error('EIO'));
  expect([other.responseCode, other.message]).toEqual([451, '4.3.0 Queue unavailable, try again later']);
  expect(queueFailureReply(undefined).responseCode).toBe(451);
});

it('a verdict is said once, here: subject in front of the words, the code from the engine package', () => {
  const base = { prepend: [], trace: [] };
  const r = verdictReply({
    ...base,
    action: 'reject',
    status: '5.7.1',
    text: '<bob@example.org>: Recipient address rejected: Access denied',
    subject: { name: 'bob@example.org', context: 'Recipient address rejected' },
    message: 'Access denied',
    decidedByType: 'check_recipient_access',
  });
  expect([r.responseCode, r.message]).toEqual([554, '5.7.1 <bob@example.org>: Recipient address rejected: Access denied']);
  const rbl = verdictReply({ ...base, action: 'reject', status: '5.7.1', text: 'Service unavailable; Client host [192.0.2.1] blocked using zen.test', decidedByType: 'reject_rbl_client' });
  expect([rbl.responseCode, rbl.message]).toEqual([554, '5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.test']);
});
