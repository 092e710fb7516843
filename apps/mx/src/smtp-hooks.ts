// The few places smtp-server gives no hook for, patched once on its connection class and active only
// for servers registered here: our enhanced status codes in replies, a per-session command limit,
// VRFY/EXPN as 502 5.5.1, AUTH before STARTTLS as 530 5.7.0, untrusted XCLIENT as 550 5.7.0,
// an overlong command line as 500 5.5.2, a configurable greeting pause (smtp-server: fixed 100 ms),
// a HELO hook, an error limit (421 after N error replies, like Postfix's smtpd_hard_error_limit), idle
// timeouts chosen per connection (command, DATA, stress), and, at the connection limit, room made by dropping
// the oldest client that has not said HELO/EHLO yet (when the server asks for it); and a socket accepted elsewhere
// handed to smtp-server (serveSocket). Trusts smtp-server's internals of the pinned version (3.21.6).
import type { Socket } from 'node:net';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/**
 * Return a reply to refuse the command before smtp-server sees it, or undefined to let it run. `line` is
 * the command line as the client wrote it (smtp-server keeps only what it parsed out of it).
 */
export type CommandGate = (conn: ConnectionView, commandName: string, line: string) => { code: number; text: string } | undefined;

/** The parts of an SMTPConnection the gate may read. */
export interface ConnectionView {
  readonly id: string;
  readonly secure: boolean;
  readonly session: import('smtp-server').SMTPServerSession;
}

/** The parts of an SMTPConnection the timeout and eviction policies read. */
export interface LiveConnection extends ConnectionView {
  /** The HELO/EHLO name, false before the client said one (and again after STARTTLS). */
  readonly hostNameAppearsAs: string | false;
  /** performance.now() when the connection was set up. */
  readonly openedAt: number;
  /** Reply and close (smtp-server's send + close). */
  drop(code: number, text: string): void;
}

export interface ConnectionPolicy {
  /** The idle timeout for this connection now (smtp-server: one socketTimeout for all). */
  idleTimeoutMs(conn: LiveConnection): number;
  /** The error limit now (Postfix smtpd_hard_error_limit, stress-dependent). */
  errorLimit?(): number;
  /** At the connection limit: a connection to drop to make room for a new one, or undefined to refuse the new one. */
  evict?(conns: Iterable<LiveConnection>): LiveConnection | undefined;
}

/** Async check of a HELO/EHLO argument before smtp-server answers it; a reply refuses the command. */
export type HeloCheck = (conn: ConnectionView, helo: string) => Promise<{ code: number; text: string } | undefined>;

const gates = new WeakMap<object, CommandGate>();
const errorLimits = new WeakMap<object, number>();
const errorCounts = new WeakMap<object, number>();
const heloChecks = new WeakMap<object, HeloCheck>();
const greetPauses = new WeakMap<object, number>();
const policies = new WeakMap<object, ConnectionPolicy>();
const live = new WeakMap<object, Map<string, Internals>>();
const enhanced = /^[245]\.\d{1,3}\.\d{1,3} /;

interface Internals {
  _server: object & { options: { maxClients?: number }; connections: Set<unknown> };
  name: string;
  id: string;
  secure: boolean;
  session: import('smtp-server').SMTPServerSession;
  hostNameAppearsAs: string | false;
  openedAt?: number;
  _socket: { setTimeout(ms: number): void; destroyed?: boolean };
  _onTimeout(): void;
  _closing?: boolean;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  _upgrading?: boolean;
  _ready?: boolean;
  _nextHandler?: unknown;
  _whenWritable?: (cb: () => void) => void;
  send(code: number, data?: string | string[] | null, context?: string | false): void;
  close(): void;
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as Internals & {
    _onCommand(this: Internals, command: Buffer, callback?: () => void): void;
  };
  const origSend = proto.send;
  const origInit = (proto as unknown as { init(this: Internals): void }).init;

  // smtp-server waits a fixed 100 ms before every greeting; ours is configurable (0 by default),
  // which is what lets one process greet hundreds of clients per second
  (proto as unknown as { init(this: Internals): void }).init = function (this: Internals) {
    const pause = greetPauses.get(this._server);
    if (pause === undefined) return origInit.call(this);
    this.openedAt = performance.now();
    const mine = live.get(this._server);
    mine?.set(this.id, this);
    this._setListeners(() => {
      const max = this._server.options.maxClients;
      if (max && this._server.connections.size > max) {
        const policy = policies.get(this._server);
        // only greeted ones: a connection still being set up has not had its chance to speak
        const others = [...(mine?.values() ?? [])].filter((c) => c !== this && c._ready && !c._closing).map(view);
        const victim = policy?.evict?.(others);
        if (!victim) return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        victim.drop(421, '4.7.0 Error: server busy, closing sessions that have not said EHLO');
      }
      if (pause > 0) setTimeout(() => this.connectionReady(), pause).unref();
      else setImmediate(() => this.connectionReady());
    });
  };
  const origOnCommand = proto._onCommand;
  const origArm = (proto as unknown as { _armTimeout(this: Internals, socket?: unknown): void })._armTimeout;
  (proto as unknown as { _armTimeout(this: Internals, socket?: Internals['_socket']): void })._armTimeout = function (this: Internals, socket = this._socket) {
    const policy = policies.get(this._server);
    if (!policy) return origArm.call(this, socket);
    (socket as unknown as { setTimeout(ms: number, cb: () => void): void }).setTimeout(policy.idleTimeoutMs(view(this)), () => this._onTimeout());
  };
  const origOnClose = (proto as unknown as { _onClose(this: Internals): void })._onClose;
  (proto as unknown as { _onClose(this: Internals): void })._onClose = function (this: Internals) {
    live.get(this._server)?.delete(this.id);
    return origOnClose.call(this);
  };

  proto.send = function (this: Internals, code, data, context) {
    if (!gates.has(this._server) || typeof data !== 'string') return origSend.call(this, code, data, context);
    if (code === 421 && data === 'Error: Command line too long') {
      origSend.call(this, 500, '5.5.2 Error: command line too long', false);
      this.close();
      return;
    }
    // text that already carries its RFC 3463 code (our verdicts) must not get smtp-server's guess too
    if (enhanced.test(data)) origSend.call(this, code, data, false);
    else origSend.call(this, code, data, context);
    // Postfix's smtpd_hard_error_limit: a client that keeps failing is cut off
    const limit = policies.get(this._server)?.errorLimit?.() ?? errorLimits.get(this._server);
    if (limit && code >= 400 && code !== 421) {
      const n = (errorCounts.get(this) ?? 0) + 1;
      errorCounts.set(this, n);
      if (n >= limit) origSend.call(this, 421, '4.7.0 Error: too many errors', false);
    }
  };

  proto._onCommand = function (this: Internals, command, callback) {
    const gate = gates.get(this._server);
    if (!gate || this._upgrading || !this._ready || this._nextHandler) return origOnCommand.call(this, command, callback);
    const line = (command || '').toString();
    const name = line.split(' ').shift()?.toUpperCase() ?? '';
    const next = callback ?? (() => {});
    const refuse = (refusal: { code: number; text: string }) => {
      this.send(refusal.code, refusal.text);
      if (refusal.code === 421) return;
      if (this._whenWritable) this._whenWritable(next);
      else setImmediate(next);
    };
    const refusal = gate(this as unknown as ConnectionView, name, line);
    if (refusal) return refuse(refusal);
    const helo = heloChecks.get(this._server);
    const parts = line.trim().split(/\s+/);
    // only well-formed HELO/EHLO: smtp-server answers the malformed ones itself
    if (helo && (name === 'HELO' || name === 'EHLO') && parts.length === 2 && parts[1]) {
      helo(this as unknown as ConnectionView, parts[1]).then(
        (r) => (r ? refuse(r) : origOnCommand.call(this, command, callback)),
        () => refuse({ code: 451, text: '4.3.0 Temporary server error, try again later' }),
      );
      return;
    }
    return origOnCommand.call(this, command, callback);
  };
}

const views = new WeakMap<Internals, LiveConnection>();
function view(c: Internals): LiveConnection {
  let v = views.get(c);
  if (!v) {
    v = {
      get id() {
        return c.id;
      },
      get secure() {
        return c.secure;
      },
      get session() {
        return c.session;
      },
      get hostNameAppearsAs() {
        return c.hostNameAppearsAs;
      },
      get openedAt() {
        return c.openedAt ?? 0;
      },
      drop(code, text) {
        c.send(code, text, false);
        c.close();
      },
    };
    views.set(c, v);
  }
  return v;
}

/** A connection as smtp-server holds it: its session (absent before set-up) and its reply. */
export interface ServerConnection {
  readonly id: string;
  readonly session?: Partial<import('smtp-server').SMTPServerSession>;
  send(code: number, text: string): void;
}

/** Every connection smtp-server holds for `server` (its private `connections` set; registered or not): the one cast. */
export function serverConnections(server: object): Iterable<ServerConnection> {
  return (server as { connections?: Set<ServerConnection> }).connections ?? [];
}

/** `server`'s open connections (those set up since registerServer). */
export function connections(server: object): LiveConnection[] {
  return [...(live.get(server)?.values() ?? [])].map(view);
}

/** Apply the policy's idle timeout to a connection now (after its state or the stress state changed). */
export function rearm(server: object, id: string): void {
  const c = live.get(server)?.get(id);
  const policy = policies.get(server);
  if (!c || !policy || c._socket.destroyed) return;
  // without a callback: the listener _armTimeout added stays, only the duration (and the idle clock) changes
  c._socket.setTimeout(policy.idleTimeoutMs(view(c)));
}

/** Route `server`'s commands through `gate` (and its replies through the enhanced-code fix). */
export function registerServer(
  server: object,
  gate: CommandGate,
  opts: { greetPauseMs?: number; heloCheck?: HeloCheck | undefined; errorLimit?: number | undefined; policy?: ConnectionPolicy | undefined } = {},
): void {
  install();
  gates.set(server, gate);
  live.set(server, new Map());
  if (opts.policy) policies.set(server, opts.policy);
  if (opts.errorLimit) errorLimits.set(server, opts.errorLimit);
  if (opts.heloCheck) heloChecks.set(server, opts.heloCheck);
  greetPauses.set(server, Math.max(0, opts.greetPauseMs ?? 0));
}

/**
 * Serve a client socket accepted elsewhere (a listener shared by config generations): smtp-server's connection
 * handler is its net.Server's 'connection' listener (proxy, limits, greeting); it offers no public entry for this.
 */
export function serveSocket(server: { server: { emit(event: 'connection', socket: Socket): boolean } }, socket: Socket): void {
  server.server.emit('connection', socket);
}

/** `MAIL FROM:` / `RCPT TO:` at the start of a command line (compiled once: this runs per command). */
const ENVELOPE_VERB = { FROM: /^\s*[A-Za-z]+\s+FROM\s*:/i, TO: /^\s*[A-Za-z]+\s+TO\s*:/i } as const;

/**
 * The path of `MAIL FROM:<a@b> SIZE=1` or `RCPT TO:<a@b>` exactly as written, ESMTP parameters cut (for the
 * engine's strict_rfc821_envelopes check): from `<` to the `>` that closes it (a quoted local part may hold
 * spaces or `>`), else the first word. Undefined when the line has no `FROM:` / `TO:`.
 */
export function envelopePath(line: string, keyword: 'FROM' | 'TO'): string | undefined {
  const m = ENVELOPE_VERB[keyword].exec(line);
  if (!m) return undefined;
  const rest = line.slice(m[0].length).replace(/^[ \t]+/, '').replace(/[\r\n]+$/, '');
  if (!rest.startsWith('<')) return rest.split(/[ \t]/)[0] ?? '';
  let quoted = false;
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) return rest.slice(0, i + 1);
  }
  return rest.trimEnd(); // never closed: as written, and the check refuses it
}
