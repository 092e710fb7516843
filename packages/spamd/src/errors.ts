// The spamd client's failure codes, one registry: callers branch on `code`, never on message text.
// A SpamdError is an infrastructure failure (spamd down, slow, or talking nonsense), never a verdict.

export const spamdErrorCodes = {
  /** TCP connect failed (refused, unreachable). spamd is down. */
  ESPAMD_CONNECT: 'cannot connect to spamd',
  /** The whole call (queue wait, connect, send, answer) took longer than its timeout. */
  ESPAMD_TIMEOUT: 'spamd did not answer in time',
  /** The reply did not parse as SPAMD/1.x. */
  ESPAMD_PROTOCOL: 'spamd sent a reply that does not parse',
  /** spamd answered with an EX_* code other than EX_OK (e.g. 76 EX_PROTOCOL, 74 EX_IOERR). */
  ESPAMD_REFUSED: 'spamd refused the request',
  /** The connection closed or failed while talking. */
  ESPAMD_IO: 'connection to spamd failed mid-request',
  /** TELL answered 69 EX_UNAVAILABLE: spamd runs without --allow-tell, so it cannot learn. */
  ESPAMD_TELL_DISABLED: 'spamd does not accept learning (start it with --allow-tell)',
  /** The client was closed. */
  ESPAMD_CLOSED: 'spamd client is closed',
} as const;

export type SpamdErrorCode = keyof typeof spamdErrorCodes;

export class SpamdError extends Error {
  readonly code: SpamdErrorCode;
  /** The spamd EX_* status number, for ESPAMD_REFUSED. */
  readonly status: number | undefined;

  constructor(code: SpamdErrorCode, detail?: string, options?: { cause?: unknown; status?: number }) {
    super(detail ? `${spamdErrorCodes[code]}: ${detail}` : spamdErrorCodes[code], { cause: options?.cause });
    this.name = 'SpamdError';
    this.code = code;
    this.status = options?.status;
  }
}

export function isSpamdError(e: unknown): e is SpamdError {
  return e instanceof SpamdError;
}
