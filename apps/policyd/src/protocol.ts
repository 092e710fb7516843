// Incremental reader for Postfix's policy delegation protocol: `name=value` lines, a blank line ends a request.
// Trusts nothing it reads: lines and requests are size-capped, so a client can never grow memory unboundedly.

/**
 * One policy request: attribute name -> value (last one wins, as in Postfix's attr_scan); a name Postfix did not
 * send reads undefined (Partial: so the type never promises an inherited name such as `toString` is a string).
 * One class's objects (below); a `__proto__` line is dropped (never a prototype).
 */
export type Attributes = Partial<Record<string, string>>;

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
const NAME = /^[a-z0-9_]+$/i;
const NON_ASCII = /[\x80-\xff]/;
/** The attributes Postfix sends (SMTPD_POLICY_README): accepted without the name check. */
const knownNames = new Set([
  'request', 'protocol_state', 'protocol_name', 'helo_name', 'queue_id', 'sender', 'recipient', 'recipient_count',
  'client_address', 'client_name', 'reverse_client_name', 'instance', 'sasl_method', 'sasl_username', 'sasl_sender',
  'size', 'ccert_subject', 'ccert_issuer', 'ccert_fingerprint', 'ccert_pubkey_fingerprint', 'encryption_protocol',
  'encryption_cipher', 'encryption_keysize', 'etrn_domain', 'stress', 'client_port', 'policy_context',
  'server_address', 'server_port', 'compatibility_level', 'mail_version',
]);

/**
 * A request's attributes: every name Postfix sends is a field from the start, so each request is one object of
 * one V8 shape, all in-object (no property-store growth per request); other names are added as they come.
 */
class PostfixAttributes {
  request: string | undefined = undefined;
  protocol_state: string | undefined = undefined;
  protocol_name: string | undefined = undefined;
  helo_name: string | undefined = undefined;
  queue_id: string | undefined = undefined;
  sender: string | undefined = undefined;
  recipient: string | undefined = undefined;
  recipient_count: string | undefined = undefined;
  client_address: string | undefined = undefined;
  client_name: string | undefined = undefined;
  reverse_client_name: string | undefined = undefined;
  instance: string | undefined = undefined;
  sasl_method: string | undefined = undefined;
  sasl_username: string | undefined = undefined;
  sasl_sender: string | undefined = undefined;
  size: string | undefined = undefined;
  ccert_subject: string | undefined = undefined;
  ccert_issuer: string | undefined = undefined;
  ccert_fingerprint: string | undefined = undefined;
  ccert_pubkey_fingerprint: string | undefined = undefined;
  encryption_protocol: string | undefined = undefined;
  encryption_cipher: string | undefined = undefined;
  encryption_keysize: string | undefined = undefined;
  etrn_domain: string | undefined = undefined;
  stress: string | undefined = undefined;
  client_port: string | undefined = undefined;
  policy_context: string | undefined = undefined;
  server_address: string | undefined = undefined;
  server_port: string | undefined = undefined;
  compatibility_level: string | undefined = undefined;
  mail_version: string | undefined = undefined;
}
const newAttributes = (): Attributes => new PostfixAttributes() as unknown as Attributes;

/** The known names by length: a line's name is matched in place (no slice, no hashing of a new string). */
const knownByLength: string[][] = [];
for (const n of knownNames) (knownByLength[n.length] ??= []).push(n);

/** The known name spelt at text[from, from + len), else undefined. */
function knownAt(text: string, from: number, len: number): string | undefined {
  const candidates = knownByLength[len];
  if (candidates === undefined) return undefined;
  for (const c of candidates) if (text.startsWith(c, from)) return c;
  return undefined;
}

/**
 * Feed it chunks as they arrive; it returns the complete requests (and at most one error, last).
 * After an error the reader is poisoned: the stream is out of step and must be closed, as Postfix's
 * SMTPD_POLICY_README asks ("log a warning and disconnect").
 */
export class RequestReader {
  readonly limits: ReaderLimits;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #attrs: Attributes = newAttributes();
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
    if (this.#pendingBytes > 0) {
      // Finish the line begun in an earlier chunk first (rare: Postfix writes a request at once).
      const nl = chunk.indexOf(NL);
      if (nl < 0) return this.#keep(chunk, 0, out);
      this.#pending.push(chunk.subarray(0, nl));
      const line = Buffer.concat(this.#pending, this.#pendingBytes + nl);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = nl + 1;
      const text = line.toString('latin1');
      const r = this.#line(text, 0, text.length, line, 0, !NON_ASCII.test(text));
      if (r) {
        out.push(r);
        if (r.kind === 'error') return out;
      }
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= start) {
      // One decode for every whole line in the chunk: latin1 keeps one char per byte, so string
      // offsets are byte offsets (limits stay in bytes) and values with non-ASCII bytes are re-read as UTF-8.
      const text = chunk.toString('latin1', start, last + 1);
      // one scan for the whole chunk: Postfix's requests are ASCII unless a client said SMTPUTF8
      const ascii = !NON_ASCII.test(text);
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        if (nl < 0) break;
        const r = this.#line(text, from, nl, chunk, start, ascii);
        from = nl + 1;
        if (r) {
          out.push(r);
          if (r.kind === 'error') return out;
        }
      }
      start = last + 1;
    }
    return this.#keep(chunk, start, out);
  }

  /** Hold an unfinished line (bytes from `start`), within maxLine. */
  #keep(chunk: Buffer, start: number, out: ReadResult[]): ReadResult[] {
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
    this.#attrs = newAttributes();
    return { kind: 'error', error, detail };
  }

  /**
   * One line: `text[from, end)` as latin1 (one char per byte, newline excluded); `bytes` from `at` holds
   * `text` for UTF-8 decoding of a value; `ascii`: `text` has no byte above 0x7f (no value needs decoding).
   */
  #line(text: string, from: number, end: number, bytes: Buffer, at: number, ascii: boolean): ReadResult | undefined {
    const stop = end > from && text.charCodeAt(end - 1) === CR ? end - 1 : end;
    const len = stop - from;
    if (len > this.limits.maxLine) return this.#fail('line-too-long', `line longer than ${this.limits.maxLine} bytes`);
    if (len === 0) {
      if (this.#count === 0) return undefined; // stray blank lines between requests are harmless
      const attrs = this.#attrs;
      this.#attrs = newAttributes();
      this.#count = 0;
      this.#requestBytes = 0;
      return { kind: 'request', attrs };
    }
    this.#requestBytes += len + 1;
    if (this.#requestBytes > this.limits.maxRequest)
      return this.#fail('request-too-large', `request larger than ${this.limits.maxRequest} bytes`);
    if (++this.#count > this.limits.maxAttributes)
      return this.#fail('too-many-attributes', `more than ${this.limits.maxAttributes} attributes`);
    const eq = text.indexOf('=', from);
    if (eq <= from || eq >= stop) return this.#fail('malformed-line', 'a line without name=value');
    let name = knownAt(text, from, eq - from);
    if (name === undefined) {
      name = text.slice(from, eq);
      if (!NAME.test(name)) return this.#fail('malformed-line', 'an attribute name with odd characters');
      if (name === '__proto__') return undefined; // counted, never stored: Postfix sends no such attribute
    }
    const value = text.slice(eq + 1, stop);
    // Values are UTF-8 (SMTPUTF8); invalid sequences become U+FFFD, never an exception.
    this.#attrs[name] = ascii || !NON_ASCII.test(value) ? value : bytes.toString('utf8', at + eq + 1, at + stop);
    return undefined;
  }
}
