// SPF, DKIM and DMARC for an accepted message with mailauth, through the configured resolver only.
// Trusts the resolver; the message and envelope are untrusted (mailauth parses them).
import { Readable } from 'node:stream';
import { unmapIPv4 } from '@moat/policy';
import { withTimeout } from '@moat/redis';
import type { DmarcFacts } from './dmarc-policy.ts';
import type { MxResolver } from './dns.ts';

/**
 * mailauth (with its DMARC, ARC and BIMI code, an HTTP client and an XML parser) is loaded at the first
 * message, not at start: a process holding only idle sessions never needs it (issue 21's idle-memory target).
 */
let mailauth: Promise<typeof import('mailauth')> | undefined;
// CommonJS: its module.exports is the default export (a bundle split into chunks gives nothing else)
const loadMailauth = () => (mailauth ??= import('mailauth').then((m) => m.default));

export interface AuthResultsInput {
  /**
   * The message as received: in memory, or its header block (with the empty line after it) plus a way to read
   * all of it (a spooled message: the whole is read, from the file, only when a signature needs the body).
   */
  message: Buffer | { head: Buffer; whole: () => AsyncIterable<Buffer> };
  clientAddress: string;
  helo: string;
  sender: string;
  /** This node's name: SPF's %{r} macro and Received-SPF name it. */
  hostname: string;
  /** The id Authentication-Results names (mx.auth_results.authserv_id); the host name when absent. */
  authservId?: string | undefined;
}

export interface AuthResultsOutput {
  /** Header lines to prepend (`Received-SPF: ...`, `Authentication-Results: ...`), without CRLF. */
  headers: string[];
  spf?: string | undefined;
  dkim?: string | undefined;
  dmarc?: string | undefined;
  /** What DMARC enforcement needs: the policy mailauth applied, the From domain, the ARC chain's state. */
  dmarcFacts?: DmarcFacts | undefined;
}

/**
 * The part of the message mailauth needs: all of it when it carries a DKIM or ARC signature, else the
 * header block only (SPF and DMARC read no body, and DKIM has nothing to verify): parsing and hashing
 * a body nobody signed is the largest cost of the check.
 */
export function authInput(message: Buffer): Buffer {
  return signed(message) ? message : message.subarray(0, Math.min(message.length, headerBytes(message) + 4));
}

function headerBytes(message: Buffer): number {
  const end = message.indexOf('\r\n\r\n');
  return end < 0 ? message.length : end;
}

function signed(head: Buffer): boolean {
  return /^(dkim-signature|arc-seal|arc-message-signature):/im.test(head.toString('latin1', 0, headerBytes(head)));
}

function inputOf(message: AuthResultsInput['message']): Buffer | Readable {
  if (Buffer.isBuffer(message)) return authInput(message);
  return signed(message.head) ? Readable.from(message.whole(), { objectMode: false }) : authInput(message.head);
}

/** Never throws: a failure or timeout gives no headers (the message is still accepted). */
export async function authResults(input: AuthResultsInput, resolver: MxResolver, timeoutMs: number): Promise<AuthResultsOutput | { error: string }> {
  let source: Buffer | Readable | undefined;
  try {
    const { authenticate } = await loadMailauth();
    source = inputOf(input.message);
    const run = authenticate(source, {
      ip: unmapIPv4(input.clientAddress),
      helo: input.helo,
      sender: input.sender,
      mta: input.hostname,
      resolver: (name: string, rrtype: string) => resolver.resolve(name, rrtype) as never,
      disableBimi: true,
    });
    const res = await withTimeout(run, timeoutMs, () => new Error(`timed out after ${timeoutMs} ms`));
    const id = input.authservId;
    const headers = res.headers
      .split(/\r\n(?![ \t])/)
      .map((h) => h.trimEnd())
      .filter((h) => h.length > 0)
      .map((h) => (id && id !== input.hostname ? h.replace(/^(Authentication-Results:\s*)[^;\s]+/i, (_, p: string) => `${p}${id}`) : h));
    const r = res as unknown as MailauthResult;
    return {
      headers,
      spf: r.spf ? r.spf.status?.result : undefined,
      dkim: r.dkim?.results?.[0]?.status?.result ?? 'none',
      dmarc: r.dmarc ? r.dmarc.status?.result : undefined,
      dmarcFacts: dmarcFacts(r),
    };
  } catch (e) {
    return { error: String((e as Error)?.message ?? e) };
  } finally {
    // a timed-out check must not keep reading the spooled file (nor keep it open)
    if (source instanceof Readable) source.destroy();
  }
}

/** The parts of mailauth's answer read here (its own typings leave the ARC chain and the parsed AAR loose). */
interface MailauthResult {
  spf?: { status?: { result?: string } } | false;
  dkim?: { results?: Array<{ status?: { result?: string } }> };
  dmarc?: { status?: { result?: string; header?: { from?: string } }; policy?: string; policyDomain?: string; rr?: string; error?: string } | false;
  arc?: {
    status?: { result?: string };
    i?: number | false;
    authenticationResults?: { dmarc?: { result?: string; header?: { from?: string } } };
    chain?: Array<{ 'arc-seal'?: { parsed?: { d?: { value?: unknown } } } }>;
  } | false;
}

const lower = (v: unknown) => (typeof v === 'string' && v ? v.toLowerCase().replace(/\.$/, '') : undefined);

/** mailauth's DMARC and ARC results as DmarcFacts; undefined when DMARC was not evaluated (no usable From). */
export function dmarcFacts(r: MailauthResult): DmarcFacts | undefined {
  const d = r.dmarc;
  if (!d) return undefined;
  const pct = /(?:^|;)\s*pct\s*=\s*(\d+)/i.exec(d.rr ?? '')?.[1];
  const arc = r.arc || undefined;
  // the newest ARC set's seal (mailauth keeps the chain oldest first, and only when it is well-formed)
  const chain: unknown = arc ? Object.getOwnPropertyDescriptor(arc, 'chain')?.value : undefined;
  const newest = Array.isArray(chain) ? (chain.at(-1) as NonNullable<NonNullable<typeof arc>['chain']>[number] | undefined) : undefined;
  const aar = arc?.authenticationResults?.dmarc;
  return {
    result: d.status?.result ?? 'none',
    domain: lower(d.status?.header?.from),
    policyDomain: lower(d.policyDomain),
    policy: d.policy === 'reject' || d.policy === 'quarantine' || d.policy === 'none' ? d.policy : undefined,
    pct: pct === undefined ? undefined : Math.min(100, Number(pct)),
    error: d.error,
    arc: arc
      ? {
          result: arc.status?.result ?? 'none',
          instance: typeof arc.i === 'number' ? arc.i : undefined,
          sealer: lower(newest?.['arc-seal']?.parsed?.d?.value),
          aarDmarc: lower(aar?.result),
          aarFrom: lower(aar?.header?.from),
        }
      : undefined,
  };
}
