// The console's HTTP plumbing: security headers on every answer, the static files, cookies, bounded request
// bodies and HttpError (a status for the client). Request bytes are untrusted; bodies are capped.
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const STATIC_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/**
 * Every .js and .css file of `dir` (the pages' ES modules, the style sheet) by its URL path `/static/NAME`,
 * read once. Dotfiles (an editor's swap, a stray `.x.js`) and anything not a plain file are not served.
 */
export function loadStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const table = new Map<string, { type: string; body: Buffer }>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = entry.name;
    if (name.startsWith('.') || !entry.isFile()) continue;
    const type = STATIC_TYPES[name.slice(name.lastIndexOf('.') + 1)];
    // keyed as a request's URL path spells it (`a#b.js` is asked for as `/static/a%23b.js`)
    if (type) table.set(`/static/${encodeURIComponent(name)}`, { type, body: readFileSync(join(dir, name)) });
  }
  return table;
}

/** The console's own static/ directory, read at start. */
export const STATIC = loadStatic(fileURLToPath(new URL('./static/', import.meta.url)));

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export const MAX_BODY = 64 * 1024;

/** A failure the client is answered with: its status and message as `{ error }`. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export async function body(req: IncomingMessage, limit = MAX_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, 'request too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const send = (res: ServerResponse, status: number, type: string, payload: string | Buffer, extra: Record<string, string | string[]> = {}): void => {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
  res.end(payload);
};
export const json = (res: ServerResponse, status: number, value: unknown): void => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
export const redirect = (res: ServerResponse, to: string, extra: Record<string, string | string[]> = {}): void => send(res, 303, 'text/plain', '', { location: to, ...extra });
