// Lays an imported main.cf under moat.yaml's data (moat.yaml and the environment win) and keeps the
// report `moat config check` prints. Reads the main.cf the config names; trusts none of its text.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { importMainCf, type ImportOptions, type KeyReport } from './import.ts';

/** What the import did, kept on config.source.postfix. */
export interface PostfixReport {
  file: string;
  used: readonly KeyReport[];
  ignored: readonly KeyReport[];
  warnings: readonly KeyReport[];
  /** Config paths main.cf would set that moat.yaml (or the environment) sets: moat.yaml wins. */
  overridden: ReadonlyArray<{ name: string; line?: number | undefined; path: string }>;
}

export interface MainCfIssue {
  file: string;
  name: string;
  line?: number | undefined;
  expected: string;
  found: string;
}

export interface AppliedMainCf {
  report?: PostfixReport | undefined;
  issues: MainCfIssue[];
  /** Dotted config path -> the main.cf file, key and line it came from (for schema errors). */
  origin: Record<string, { file: string; name: string; line?: number | undefined }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function has(data: Record<string, unknown>, path: string): boolean {
  let cur: unknown = data;
  for (const k of path.split('.')) {
    if (!isObject(cur) || !(k in cur)) return false;
    cur = cur[k];
  }
  return cur !== undefined;
}

/** Copies `from` into `into` where `into` has nothing (objects merged key by key; lists and values whole). */
function layUnder(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (cur === undefined || cur === null) into[k] = v;
    else if (isObject(cur) && isObject(v)) layUnder(cur, v);
  }
}

/**
 * When `data.postfix.main_cf` names a file, imports it and lays it under `data` (mutated). The path is
 * relative to the config file. Problems come back as issues naming main.cf and the line.
 */
export function applyMainCf(
  data: Record<string, unknown>,
  configFile: string,
  opts: Omit<ImportOptions, 'hostname'> & { readFile?: (path: string) => string } = {},
): AppliedMainCf {
  const section = data.postfix;
  const rel = isObject(section) ? section.main_cf : undefined;
  if (typeof rel !== 'string' || rel === '') return { issues: [], origin: {} };
  const file = isAbsolute(rel) ? rel : resolve(dirname(configFile), rel);
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let text: string;
  try {
    text = read(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { issues: [{ file, name: 'postfix.main_cf', expected: 'a readable Postfix main.cf', found: err.code === 'ENOENT' ? 'no such file' : `${err.code ?? 'error'}: ${err.message}` }], origin: {} };
  }
  const policy = data.policy;
  const hostname = isObject(policy) && typeof policy.hostname === 'string' ? policy.hostname : undefined;
  const imp = importMainCf(text, file, { ...opts, readFile: read, hostname, authUsersFile: has(data, 'mx.auth.users_file') });
  const issues = imp.errors.map((e) => ({ file, name: e.name, line: e.line, expected: e.expected, found: e.found }));
  const overridden: Array<{ name: string; line?: number | undefined; path: string }> = [];
  const origin: AppliedMainCf['origin'] = {};
  for (const [path, o] of Object.entries(imp.origin)) {
    if (has(data, path)) {
      if (o.line !== undefined) overridden.push({ name: o.name, line: o.line, path });
    } else origin[path] = { file, ...o };
  }
  layUnder(data, imp.input);
  return { report: { file, used: imp.used, ignored: imp.ignored, warnings: imp.warnings, overridden }, issues, origin };
}
