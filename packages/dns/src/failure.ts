// What a failed DNS question means, in one table: "no such record" is a fact, everything else is unknown.
// Trusts the error codes of node:dns (c-ares); anything it does not know is an `error`.

/**
 * `none`: NXDOMAIN or NODATA (the name or record does not exist: an answer). `timeout`, `servfail`, `refused`,
 * `error`: the question got no answer, so the caller does not know (it fails open or tries later).
 */
export type DnsFailureKind = 'none' | 'timeout' | 'servfail' | 'refused' | 'error';

export function dnsFailureKind(err: unknown): DnsFailureKind {
  switch ((err as { code?: string } | undefined)?.code ?? '') {
    case 'ENOTFOUND': // NXDOMAIN
    case 'ENODATA': // NOERROR without records of the type
    case 'ENONAME':
      return 'none';
    case 'ETIMEOUT':
      return 'timeout';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
    case 'ECONNREFUSED':
      return 'refused';
    default:
      return 'error';
  }
}

/** The name or record does not exist (NXDOMAIN / NODATA). */
export function isNotFound(err: unknown): boolean {
  return dnsFailureKind(err) === 'none';
}
