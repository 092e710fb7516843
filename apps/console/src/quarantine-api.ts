// The console's quarantine endpoints: every node's held messages, one shown (headers + escaped text preview,
// never the HTML), release / delete with the console user as `by`. Trusts the session and CSRF checks server.ts made.
import type { QuarantineClient } from '@moat/observe';

const ID = /^[0-9A-Z]{1,64}$/;
const NODE = /^[A-Za-z0-9.:[\]_-]{1,128}$/;

export class QuarantineInputError extends Error {}

export interface QuarantineAnswer {
  status: number;
  body: unknown;
}

/** GET /api/quarantine, GET /api/quarantine/show?id=&node=, POST /api/quarantine {action, id, node, learn}. */
export async function quarantineApi(
  client: QuarantineClient,
  req: { method: string; path: string; query: URLSearchParams; input: Record<string, unknown>; user: string },
  audit: (action: string, result: string, detail: Record<string, unknown>) => void,
): Promise<QuarantineAnswer | undefined> {
  const { method, path } = req;
  if (method === 'GET' && path === '/api/quarantine') return { status: 200, body: await client.list() };
  if (method === 'GET' && path === '/api/quarantine/show') {
    const id = req.query.get('id') ?? '';
    const node = req.query.get('node') ?? undefined;
    if (!ID.test(id) || (node !== undefined && !NODE.test(node))) throw new QuarantineInputError('bad id or node');
    return answer(() => client.show(id, node));
  }
  if (method === 'POST' && path === '/api/quarantine') {
    const { action, id, node, learn } = req.input;
    if (action !== 'release' && action !== 'delete') throw new QuarantineInputError('action must be release or delete');
    if (typeof id !== 'string' || !ID.test(id) || (node !== undefined && (typeof node !== 'string' || !NODE.test(node)))) throw new QuarantineInputError('bad id or node');
    const by = `console:${req.user}`;
    const a = await answer(() => client.act(action, id, { by, learn: learn === true, ...(node ? { node } : {}) }));
    audit(`quarantine-${action}`, a.status === 200 ? 'ok' : 'error', { id, node, learn: learn === true, by });
    return a;
  }
  return undefined;
}

/** A node's refusal (not found, damaged, no learner, unreachable) is the admin's answer, with its status. */
async function answer(fn: () => Promise<unknown>): Promise<QuarantineAnswer> {
  try {
    return { status: 200, body: await fn() };
  } catch (e) {
    const err = e as Error & { status?: number; code?: string; node?: string };
    if (err.status === undefined) throw e;
    return { status: err.status === 0 ? 502 : err.status, body: { error: err.message, code: err.code, node: err.node } };
  }
}
