// The cluster's quarantine seen from one place (the CLI, the console): every node's /-/quarantine asked, the
// lists merged with the node named in each row, an action sent to the node that holds the id. Talks only to
// the targets it is given; an unreachable node is reported by name, never skipped in silence.
import { BY_HEADER, QUARANTINE_HEADER } from './quarantine-routes.ts';

export interface QuarantineTarget {
  /** The node's name as the operator knows it (mx1, mx2, ...). */
  name: string;
  /** Its metrics listener, e.g. http://10.0.0.11:9465 (any path is ignored). */
  url: string;
}

/** A node that could not answer, and why; `absent`: it answered, but serves no quarantine (not an mx). */
export interface NodeFailure {
  node: string;
  error: string;
  absent?: boolean;
}

export interface MergedList<T> {
  rows: Array<T & { node: string }>;
  failures: NodeFailure[];
}

export class QuarantineRemoteError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly node: string;
  constructor(node: string, status: number, message: string, code?: string) {
    super(message);
    this.node = node;
    this.status = status;
    this.code = code;
  }
}

export interface QuarantineClient {
  list<T extends { id: string }>(): Promise<MergedList<T>>;
  /** The message from the node that holds it; `where` lets the caller skip the search. */
  show<T>(id: string, where?: string): Promise<T & { node: string }>;
  act<T>(action: 'release' | 'delete', id: string, opts: { by: string; learn?: boolean; node?: string }): Promise<T & { node: string }>;
}

export function quarantineClient(targets: readonly QuarantineTarget[], opts: { timeoutMs?: number; token?: string | undefined } = {}): QuarantineClient {
  const timeoutMs = opts.timeoutMs ?? 15_000;

  async function call(t: QuarantineTarget, path: string, method = 'GET', by?: string): Promise<unknown> {
    const url = new URL(`/-/quarantine${path}`, t.url);
    let r: Response;
    try {
      r = await fetch(url, {
        method,
        headers: { [QUARANTINE_HEADER]: '1', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(by ? { [BY_HEADER]: encodeURIComponent(by) } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      throw new QuarantineRemoteError(t.name, 0, `${t.name} (${url.origin}) unreachable: ${err.cause?.code ?? err.name}: ${err.cause ? String(err.cause) : err.message}`);
    }
    const text = await r.text();
    let body: { error?: string; code?: string } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (r.ok && body !== undefined) return body;
    if (r.status === 404 && body === undefined) throw new QuarantineRemoteError(t.name, 404, `${t.name} (${url.origin}) serves no quarantine (not an mx, or a moat without one)`, 'ENOQUARANTINE');
    throw new QuarantineRemoteError(t.name, r.status, `${t.name}: ${body?.error ?? `HTTP ${r.status} ${text.slice(0, 200)}`}`, body?.code);
  }

  async function list<T extends { id: string }>(): Promise<MergedList<T>> {
    const answers = await Promise.all(
      targets.map(async (t) => {
        try {
          return { t, rows: (await call(t, '')) as T[] };
        } catch (e) {
          const err = e as QuarantineRemoteError;
          return { t, failure: { node: t.name, error: err.message, ...(err.code === 'ENOQUARANTINE' ? { absent: true } : {}) } };
        }
      }),
    );
    const rows: Array<T & { node: string }> = [];
    const failures: NodeFailure[] = [];
    for (const a of answers) {
      if ('failure' in a && a.failure) failures.push(a.failure);
      else for (const row of a.rows ?? []) rows.push({ ...row, node: a.t.name });
    }
    rows.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : x.node < y.node ? -1 : 1));
    return { rows, failures };
  }

  /** The node holding `id`: named, else found by listing every node (an unreachable one is named in the error). */
  async function locate(id: string, where?: string): Promise<QuarantineTarget> {
    if (where !== undefined) {
      const t = targets.find((x) => x.name === where);
      if (!t) throw new QuarantineRemoteError(where, 0, `no node named ${where} among the targets (${targets.map((x) => x.name).join(', ')})`);
      return t;
    }
    const { rows, failures } = await list<{ id: string }>();
    const holders = rows.filter((r) => r.id === id).map((r) => r.node);
    if (holders.length === 1) return targets.find((x) => x.name === holders[0])!;
    if (holders.length > 1) throw new QuarantineRemoteError(holders.join(','), 409, `${id} is held on several nodes (${holders.join(', ')}): name one`);
    const down = failures.filter((f) => !f.absent);
    if (down.length) {
      throw new QuarantineRemoteError(down.map((f) => f.node).join(','), 503, `${id} is not held on any reachable node; not asked: ${down.map((f) => f.error).join('; ')}`, 'EUNREACHABLE');
    }
    throw new QuarantineRemoteError('-', 404, `${id} is not in the quarantine of any node (${targets.map((x) => x.name).join(', ')})`, 'EQUEUE_NOTFOUND');
  }

  return {
    list,
    async show<T>(id: string, where?: string) {
      const t = await locate(id, where);
      return { ...((await call(t, `/${encodeURIComponent(id)}`)) as T), node: t.name };
    },
    async act<T>(action: 'release' | 'delete', id: string, o: { by: string; learn?: boolean; node?: string }) {
      const t = await locate(id, o.node);
      return { ...((await call(t, `/${encodeURIComponent(id)}/${action}${o.learn ? '?learn=1' : ''}`, 'POST', o.by)) as T), node: t.name };
    },
  };
}
