// Loads moat.yaml once: YAML with source positions, environment overrides, schema, deep freeze.
// Trusts nothing in the file or the environment; every error names the file, path, expected and found.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides, ENV_OVERRIDES } from './env.ts';
import { applyMainCf } from './postfix/report.ts';
import { type Config, configSchema } from './schema.ts';

/** One problem found in a config: where, what was expected, what was found. */
export interface ConfigIssue {
  /** The file (or `environment variable MOAT_X` when the value came from there). */
  file: string;
  /** Path inside the document, e.g. `['greylist', 'delay']`; [] for the whole document. */
  path: ReadonlyArray<string | number>;
  /** 1-based line and column of the offending node, when known. */
  line?: number | undefined;
  column?: number | undefined;
  expected: string;
  found: string;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly file: string;
  readonly issues: readonly ConfigIssue[];
  constructor(file: string, issues: readonly ConfigIssue[]) {
    super(`invalid configuration ${file}:\n${formatConfigErrors(issues)}`);
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

/** `a.b[2].c` */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(document)' : s;
}

/** One line per issue: `moat.yaml:12:3: greylist.delay: expected ..., found ...`. */
export function formatConfigErrors(issues: readonly ConfigIssue[] | ConfigError): string {
  const list = issues instanceof ConfigError ? issues.issues : issues;
  return list
    .map((i) => {
      const where = i.line !== undefined ? `${i.file}:${i.line}:${i.column ?? 1}` : i.file;
      return `${where}: ${formatPath(i.path)}: ${i.expected}; found ${i.found}`;
    })
    .join('\n');
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (typeof v === 'string') return JSON.stringify(v.length > 120 ? `${v.slice(0, 117)}...` : v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    return keys.length ? `a mapping with keys ${keys.slice(0, 8).join(', ')}` : 'an empty mapping';
  }
  return `${typeof v} ${String(v)}`;
}

/** Keys whose values are secrets (greylist.redis.password, ...): an error about one never shows the value. */
const SECRET_KEY = /password|secret/;
/** Variables that hold secrets (MOAT_REDIS_URL, MOAT_REDIS_PASSWORD_FILE, ...): never shown either. */
const SECRET_VARS = new Set(ENV_OVERRIDES.filter((o) => o.secret).flatMap((o) => [o.env, `${o.env}_FILE`]));
/** A URL's `user:password@`: everything between the scheme and the last `@` (passwords may hold `/` or `@`). */
const URL_LOGIN = /^([a-z][a-z0-9+.-]*:\/\/).*@/i;

/**
 * `found` for an issue: the value as written, with secrets withheld and a URL's credentials masked. A URL
 * field's value that is no URL is withheld (a password put where the URL belongs), and so is anything from
 * a secret variable.
 */
function foundAt(data: unknown, path: ReadonlyArray<PropertyKey>, envVar: string | undefined): string {
  const v = valueAt(data, path);
  const key = path.findLast((k) => typeof k === 'string');
  if (key === 'url' && typeof v === 'string') {
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? describe(v.replace(URL_LOGIN, '$1***@')) : 'a value that is not a URL (not shown: it may be a secret)';
  }
  const secretKey = typeof key === 'string' && SECRET_KEY.test(key);
  if ((secretKey || (envVar !== undefined && SECRET_VARS.has(envVar))) && v !== undefined && v !== null && typeof v !== 'object') {
    return typeof v === 'string' ? 'a value (not shown)' : `a YAML ${typeof v} (not shown; quote it to make it text)`;
  }
  return describe(typeof v === 'string' ? v.replace(URL_LOGIN, '$1***@') : v);
}

function valueAt(data: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

interface Located {
  node: Node | undefined;
  /** False when the path stops short (the key is missing): the node is then its nearest parent. */
  exact?: boolean;
  /** The key node when the path's last element is a mapping key (for unknown keys). */
  keyNode?: Node | undefined;
}

/** Finds the deepest YAML node along `path` (the whole path when it exists). */
function locate(doc: Document, path: ReadonlyArray<PropertyKey>, wantKey = false): Located {
  let node: Node | undefined = doc.contents ?? undefined;
  let keyNode: Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const k = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) return { node };
      if (i === path.length - 1 && wantKey) keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k] as Node | undefined;
      if (!item) return { node };
      node = item;
    } else return { node };
  }
  return { node, keyNode, exact: true };
}

function position(lc: LineCounter, node: Node | undefined): { line?: number; column?: number } {
  const start = node?.range?.[0];
  if (start === undefined) return {};
  const p = lc.linePos(start);
  return { line: p.line, column: p.col };
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'text',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const what = TYPE_WORDS[issue.expected] ?? issue.expected;
      return issue.input === undefined ? `expected ${what} (required)` : `expected ${what}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return issue.message === 'Invalid input' ? 'expected a value of another form' : issue.message;
    default:
      return issue.message.startsWith('Invalid input: ') ? issue.message.slice(15) : issue.message;
  }
}

/** Walks the schema along a path to list the keys an object there accepts (for unknown-key errors). */
function knownKeys(path: ReadonlyArray<PropertyKey>): string[] | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: zod internals are walked structurally
  let s: any = configSchema;
  const unwrap = () => {
    for (let n = 0; n < 10 && s && !s._zod?.def?.shape; n++) s = s._zod?.def?.innerType ?? s._zod?.def?.in ?? s._zod?.def?.schema;
  };
  unwrap();
  for (const k of path) {
    if (typeof k !== 'string' || !s?._zod?.def?.shape) return undefined;
    s = s._zod.def.shape[k];
    unwrap();
  }
  const shape = s?._zod?.def?.shape;
  return shape ? Object.keys(shape) : undefined;
}

/** Parses config text (YAML) with the environment applied. Throws ConfigError. */
export function parseConfig(
  text: string,
  opts: { file?: string; env?: Readonly<Record<string, string | undefined>>; readFile?: (path: string) => string } = {},
): Config {
  const file = opts.file ?? 'moat.yaml';
  const env = opts.env ?? {};
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const p = e.linePos?.[0];
        return { file, path: [], line: p?.line, column: p?.col, expected: 'valid YAML', found: (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '') };
      }),
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ file, path: [], ...position(lc, doc.contents ?? undefined), expected: 'a mapping of sections (policy:, recipients:, ...)', found: describe(raw) }]);
  }
  const data = raw as Record<string, unknown>;
  const { applied: fromEnv, problems } = applyEnvOverrides(data, env);
  if (problems.length > 0) {
    throw new ConfigError(
      file,
      problems.map((p) => ({ file: `environment variable ${p.env}`, path: [...p.path], expected: p.expected, found: p.found })),
    );
  }
  // postfix.main_cf: the admin's main.cf, laid under what moat.yaml and the environment say
  const mainCf = applyMainCf(data, file, { ...(opts.readFile ? { readFile: opts.readFile } : {}), routingSection: knownKeys([])?.includes('routing') ?? false });
  if (mainCf.issues.length > 0) {
    throw new ConfigError(
      file,
      mainCf.issues.map((i) => ({ file: i.file, path: [i.name], line: i.line, column: i.line === undefined ? undefined : 1, expected: i.expected, found: i.found })),
    );
  }
  const fromMainCf = (path: ReadonlyArray<string | number>) => {
    for (let n = path.length; n > 0; n--) {
      const o = mainCf.origin[path.slice(0, n).join('.')];
      if (o) return o;
    }
    return undefined;
  };
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    const issues: ConfigIssue[] = [];
    for (const issue of result.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const envVar = fromEnv[path.filter((p) => typeof p === 'string').join('.')];
      const cf = envVar ? undefined : fromMainCf(path);
      if (cf !== undefined) {
        issues.push({ file: cf.file, path, line: cf.line, column: cf.line === undefined ? undefined : 1, expected: `${expectedOf(issue)} (from main.cf ${cf.name})`, found: foundAt(data, path, undefined) });
        continue;
      }
      const issueFile = envVar ? `environment variable ${envVar}` : file;
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeys(path);
        for (const key of issue.keys) {
          const loc = locate(doc, [...path, key], true);
          issues.push({
            file,
            path: [...path, key],
            ...position(lc, loc.keyNode ?? loc.node),
            expected: `a known key${known ? ` (${known.join(', ')})` : ''}`,
            found: `unknown key ${JSON.stringify(key)}`,
          });
        }
        continue;
      }
      const loc = locate(doc, path);
      let pos = envVar || !loc.exact ? {} : position(lc, loc.node);
      let expected = expectedOf(issue);
      const params = (issue as { params?: { item?: string; textLine?: number; textColumn?: number; index?: number } }).params;
      if (params?.item !== undefined) {
        expected = `${params.item}: ${expected}`;
        // Errors inside Postfix text: point at the item's own line when the text is a YAML block scalar.
        if (params.textLine !== undefined && isScalar(loc.node) && (loc.node.type === 'BLOCK_LITERAL' || loc.node.type === 'BLOCK_FOLDED') && pos.line !== undefined) {
          const line = pos.line + params.textLine;
          const srcLine = text.split(/\r?\n/)[line - 1] ?? '';
          const indent = /^\s*/.exec(srcLine)?.[0].length ?? 0;
          pos = { line, column: indent + (params.textColumn ?? 1) };
        } else if (params.textLine !== undefined) {
          expected = `${expected} (line ${params.textLine} of the list)`;
        }
      }
      const found = params?.item !== undefined ? JSON.stringify(params.item) : foundAt(data, path, envVar);
      issues.push({ file: issueFile, path, ...pos, expected, found });
    }
    throw new ConfigError(file, issues);
  }
  const config = { ...result.data, source: { file, env: fromEnv, postfix: mainCf.report } };
  return deepFreeze(config) as unknown as Config;
}

/**
 * Loads the configuration from `path`, else `$MOAT_CONFIG`, else `./moat.yaml`. Parses once and
 * returns a deep-frozen, fully defaulted object. Throws ConfigError (never exits).
 */
export function loadConfig(path?: string, opts: { env?: Readonly<Record<string, string | undefined>> } = {}): Config {
  const env = opts.env ?? process.env;
  const file = resolve(path ?? env.MOAT_CONFIG ?? 'moat.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(file, [{ file, path: [], expected: 'a readable YAML file', found: err.code === 'ENOENT' ? 'no such file' : `${err.code ?? 'error'}: ${err.message}` }]);
  }
  return parseConfig(text, { file, env });
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !ArrayBuffer.isView(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
