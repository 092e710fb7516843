// A SPAMC/1.5 client for SpamAssassin's spamd: one TCP connection per request, streamed message,
// a whole-call timeout and a small connection limit. Talks only to the configured spamd address.
import { Counter, Histogram, type Logger, type Registry } from '@moat/observe';
import { SpamdError, isSpamdError } from './errors.ts';
import { exchange, messageLength } from './exchange.ts';
import { didLearn, type LearnClass, parseHeaderBlock, parseSpamHeader, parseSymbols, type SpamdCommand, type SpamdReply } from './protocol.ts';
import { createSemaphore } from './semaphore.ts';

export interface SpamdClientOptions {
  host: string;
  port: number;
  /** Whole-call budget: waiting for a slot, connect, send, answer. Default 10 s. */
  timeoutMs?: number | undefined;
  /** Budget of the TCP connect alone (spamd.connect_timeout), within the whole-call one. Default 2 s. */
  connectTimeoutMs?: number | undefined;
  /** Concurrent connections to spamd (spamd's own children are few). Default 4. */
  maxConnections?: number | undefined;
  /** spamd `User:` header (per-user prefs/Bayes); omitted by default. */
  user?: string | undefined;
  registry?: Registry | undefined;
  logger?: Logger | undefined;
}

/** The message as received: a Buffer, a list of chunks, or a stream with its length known. */
export type SpamdMessage = Buffer | readonly Buffer[] | { length: number; chunks: AsyncIterable<Buffer> | Iterable<Buffer> };

export interface CallOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface SpamdResult {
  isSpam: boolean;
  score: number;
  threshold: number;
  /** Milliseconds the call took. */
  ms: number;
}

export interface SpamdSymbolsResult extends SpamdResult {
  symbols: string[];
}
export interface SpamdReportResult extends SpamdResult {
  report: string;
}
export interface SpamdHeadersResult extends SpamdResult {
  /** The header block as spamd would rewrite it (X-Spam-* added), unfolded into name/value pairs. */
  headers: Array<{ name: string; value: string }>;
  raw: string;
}

/** What a TELL did: `learned`, or `already-learned` when Bayes changed nothing (see didLearn). */
export type LearnOutcome = 'learned' | 'already-learned';

export interface SpamdLearnResult {
  outcome: LearnOutcome;
  /** Milliseconds the call took. */
  ms: number;
}

export interface SpamdClient {
  check(message: SpamdMessage, opts?: CallOptions): Promise<SpamdResult>;
  symbols(message: SpamdMessage, opts?: CallOptions): Promise<SpamdSymbolsResult>;
  report(message: SpamdMessage, opts?: CallOptions): Promise<SpamdReportResult>;
  headers(message: SpamdMessage, opts?: CallOptions): Promise<SpamdHeadersResult>;
  /** TELL (spamc -L spam|ham): teach spamd's Bayes store. spamd must run with --allow-tell. */
  learn(input: { message: SpamdMessage; as: LearnClass }, opts?: CallOptions): Promise<SpamdLearnResult>;
  /** PING -> true when spamd answers PONG. Never throws. */
  ping(opts?: CallOptions): Promise<boolean>;
  /** Refuse new calls; calls in flight finish. */
  close(): void;
}

interface SpamdMetrics {
  calls: InstanceType<typeof Counter<'command' | 'outcome'>>;
  latency: InstanceType<typeof Histogram<'command'>>;
  learned: InstanceType<typeof Counter<'class' | 'outcome'>>;
  learnFailures: InstanceType<typeof Counter<'class' | 'code'>>;
}
const metricsByRegistry = new WeakMap<Registry, SpamdMetrics>();
function makeMetrics(registry: Registry): SpamdMetrics {
  const known = metricsByRegistry.get(registry);
  if (known) return known;
  const m: SpamdMetrics = {
    calls: new Counter({
      name: 'moat_spamd_calls_total',
      help: 'spamd requests by command and outcome (ok or error code)',
      labelNames: ['command', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'moat_spamd_call_duration_seconds',
      help: 'Wall time of one spamd request, queue wait included',
      labelNames: ['command'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    learned: new Counter({
      name: 'moat_spamd_learned_total',
      help: 'Messages taught to spamd Bayes (TELL) by class and outcome (learned, already-learned)',
      labelNames: ['class', 'outcome'] as const,
      registers: [registry],
    }),
    learnFailures: new Counter({
      name: 'moat_spamd_learn_failures_total',
      help: 'TELL requests that failed, by class and error code',
      labelNames: ['class', 'code'] as const,
      registers: [registry],
    }),
  };
  metricsByRegistry.set(registry, m);
  return m;
}

export function createSpamdClient(options: SpamdClientOptions): SpamdClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const slots = createSemaphore(options.maxConnections ?? 4);
  const metrics = options.registry ? makeMetrics(options.registry) : undefined;
  let closed = false;

  async function call(command: SpamdCommand, message: SpamdMessage | undefined, opts: CallOptions = {}, learn?: LearnClass): Promise<SpamdReply> {
    if (closed) throw new SpamdError('ESPAMD_CLOSED');
    const started = performance.now();
    const budget = opts.timeoutMs ?? timeoutMs;
    const timer = AbortSignal.timeout(budget);
    const signal = opts.signal ? AbortSignal.any([timer, opts.signal]) : timer;
    let outcome = 'ok';
    try {
      const release = await slots.acquire(signal).catch(() => {
        throw new SpamdError('ESPAMD_TIMEOUT', `no free spamd connection within ${budget} ms`);
      });
      try {
        const reply = await exchange(options, command, message, signal, budget, learn);
        if (command === 'TELL' && reply.status === 69) throw new SpamdError('ESPAMD_TELL_DISABLED', `${reply.status} ${reply.message}`, { status: 69 });
        if (reply.status !== 0) {
          throw new SpamdError('ESPAMD_REFUSED', `${reply.status} ${reply.message}`, { status: reply.status });
        }
        return reply;
      } finally {
        release();
      }
    } catch (e) {
      const err = isSpamdError(e) ? e : new SpamdError('ESPAMD_IO', String((e as Error)?.message ?? e), { cause: e });
      outcome = err.code;
      throw err;
    } finally {
      metrics?.calls.inc({ command, outcome });
      metrics?.latency.observe({ command }, (performance.now() - started) / 1000);
    }
  }

  const verdictOf = (reply: SpamdReply, started: number) => ({
    ...parseSpamHeader(reply.headers.get('spam')),
    ms: performance.now() - started,
  });

  return {
    async check(message, opts) {
      const t = performance.now();
      return verdictOf(await call('CHECK', message, opts), t);
    },
    async symbols(message, opts) {
      const t = performance.now();
      const reply = await call('SYMBOLS', message, opts);
      return { ...verdictOf(reply, t), symbols: parseSymbols(reply.body) };
    },
    async report(message, opts) {
      const t = performance.now();
      const reply = await call('REPORT', message, opts);
      return { ...verdictOf(reply, t), report: reply.body };
    },
    async headers(message, opts) {
      const t = performance.now();
      const reply = await call('HEADERS', message, opts);
      return { ...verdictOf(reply, t), headers: parseHeaderBlock(reply.body), raw: reply.body };
    },
    async learn({ message, as }, opts) {
      if (as !== 'spam' && as !== 'ham') throw new TypeError(`learn as spam or ham, not ${JSON.stringify(as)}`);
      const t = performance.now();
      try {
        const reply = await call('TELL', message, opts, as);
        const outcome: LearnOutcome = didLearn(reply) ? 'learned' : 'already-learned';
        const ms = performance.now() - t;
        metrics?.learned.inc({ class: as, outcome });
        options.logger?.info({ decided: 'spamd-bayes', as, outcome, bytes: messageLength(message), ms: Math.round(ms) }, 'spamd learn');
        return { outcome, ms };
      } catch (e) {
        const code = isSpamdError(e) ? e.code : 'ESPAMD_IO';
        metrics?.learnFailures.inc({ class: as, code });
        options.logger?.warn({ decided: 'spamd-bayes', as, outcome: 'failed', code, err: String((e as Error)?.message ?? e) }, 'spamd learn failed');
        throw e;
      }
    },
    async ping(opts) {
      try {
        const reply = await call('PING', undefined, opts);
        return reply.message === 'PONG';
      } catch {
        return false;
      }
    },
    close() {
      closed = true;
    },
  };
}
