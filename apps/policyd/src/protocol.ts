// Incremental reader for Postfix's policy delegation protocol: `name=value` lines, a blank line ends a request.
// Trusts nothing it reads: lines and requests are size-capped, so a client can never grow memory unboundedly.

/** One policy request: attribute name -> value (last one wins, as in Postfix's attr_scan). */
export type Attributes = Record<string, string>;

export interface ReaderLimits {
  /** Longest accepted line in bytes, newline excluded (Postfix's own lines are far shorter). */
  maxLine: number;
  /** Largest accepted request in bytes, all lines together. */
  maxRequest: number;
  /** Most attributes in one request. */
  maxAttributes: number;
}

export const defaultLimits: ReaderLimits = { maxLine: 4096, maxRequest: 65_536, maxAttributes: 256 };

/** Why a stream cannot be read further; the connection is closed after it. */
export type ProtocolError = 'line-too-long' | 'request-too-large' | 'too-many-attributes' | 'malformed-line';

export type ReadResult = { kind: 'request'; attrs: Attributes } | { kind: 'error'; error: ProtocolError; detail: string };

const NL = 0x0a;
const CR = 0x0d;

/**
 * Feed it chunks as they arrive; it returns the complete requests (and at most one error, last).
 * After an error the reader is poisoned: the stream is out of step and must be closed, as Postfix's
 * SMTPD_POLICY_README asks ("log a warning and disconnect").
 */
export class RequestReader {
  readonly limits: ReaderLimits;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #attrs: Attributes = Object.create(null);
  #count = 0;
  #requestBytes = 0;
  #error: ProtocolError | undefined;

  constructor(limits: Partial<ReaderLimits> = {}) {
    this.limits = { ...defaultLimits, ...limits };
  }

  /** Bytes of an unfinished request held right now (0 between requests). */
  get buffered(): number {
    return this.#requestBytes + this.#pendingBytes;
  }

  /** True when part of a request has been received but not its blank line. */
  get midRequest(): boolean {
    return this.buffered > 0;
  }

  push(chunk: Buffer): ReadResult[] {
    const out: ReadResult[] = [];
    if (this.#error) return out;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) break;
      let line: Buffer;
      if (this.#pendingBytes > 0) {
        this.#pending.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.#pending, this.#pendingBytes + nl - start);
        this.#pending = [];
        this.#pendingBytes = 0;
      } else {
        line = chunk.subarray(start, nl);
      }
      start = nl + 1;
      const r = this.#line(line);
      if (r) {
        out.push(r);
        if (r.kind === 'error') return out;
      }
    }
    const rest = chunk.length - start;
    if (rest > 0) {
      if (this.#pendingBytes + rest > this.limits.maxLine + 1) {
        out.push(this.#fail('line-too-long', `line longer than ${this.limits.maxLine} bytes`));
        return out;
      }
      // Copy: the socket may reuse its buffer, and a slice would pin the whole chunk.
      this.#pending.push(Buffer.from(chunk.subarray(start)));
      this.#pendingBytes += rest;
    }
    return out;
  }

  #fail(error: ProtocolError, detail: string): ReadResult {
    this.#error = error;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#attrs = Object.create(null);
    return { kind: 'error', error, detail };
  }

  #line(raw: Buffer): ReadResult | undefined {
    const len = raw.length > 0 && raw[raw.length - 1] === CR ? raw.length - 1 : raw.length;
    if (len > this.limits.maxLine) return this.#fail('line-too-long', `line longer than ${this.limits.maxLine} bytes`);
    if (len === 0) {
      if (this.#count === 0) return undefined; // stray blank lines between requests are harmless
      const attrs = this.#attrs;
      this.#attrs = Object.create(null);
      this.#count = 0;
      this.#requestBytes = 0;
      return { kind: 'request', attrs };
    }
    this.#requestBytes += len + 1;
    if (this.#requestBytes > this.limits.maxRequest)
      return this.#fail('request-too-large', `request larger than ${this.limits.maxRequest} bytes`);
    if (++this.#count > this.limits.maxAttributes)
      return this.#fail('too-many-attributes', `more than ${this.limits.maxAttributes} attributes`);
    const eq = raw.indexOf(0x3d); // '='
    if (eq <= 0) return this.#fail('malformed-line', 'a line without name=value');
    const name = raw.toString('latin1', 0, eq);
    if (!/^[a-z0-9_]+$/i.test(name)) return this.#fail('malformed-line', 'an attribute name with odd characters');
    // Values are UTF-8 (SMTPUTF8); invalid sequences become U+FFFD, never an exception.
    this.#attrs[name] = raw.toString('utf8', eq + 1, len);
    return undefined;
  }
}
