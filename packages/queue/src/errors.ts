// One registry of the queue's error codes (nodemailer's errors.js style): every thrown error carries one.
// Trusts nothing; plain data.
export const QueueErrorCodes = {
  EINVAL: 'EQUEUE_INVAL', // bad envelope from the caller
  ECORRUPT: 'EQUEUE_CORRUPT', // a queue file failed to parse
  ENOTFOUND: 'EQUEUE_NOTFOUND', // no such queue id
  EBUSY: 'EQUEUE_BUSY', // the message is being delivered right now
  ECLOSED: 'EQUEUE_CLOSED', // the queue handle was closed
  ENOSPACE: 'EQUEUE_NOSPACE', // less free disk than minFreeBytes: refuse new mail (452 4.3.1 at the edge)
  ENOSPOOL: 'EQUEUE_NOSPOOL', // no readable spool at the path an operator named (read-only opens never create one)
} as const;

export type QueueErrorCode = (typeof QueueErrorCodes)[keyof typeof QueueErrorCodes];

export class QueueError extends Error {
  readonly code: QueueErrorCode;
  constructor(code: QueueErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'QueueError';
  }
}
