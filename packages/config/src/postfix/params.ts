// Parameter values as a Postfix daemon sees them: main.cf over the built-in defaults, expanded lazily
// (a value may name a parameter defined later in the file). Trusts the parsed file; every value is text.
import { defaultMydomain, defaultMyhostname, POSTFIX_DEFAULTS } from './defaults.ts';
import { ExpandError, expandValue } from './expand.ts';
import type { MainCf, MainCfEntry } from './main-cf.ts';

export interface PostfixParams {
  readonly mainCf: MainCf;
  /** The definition in main.cf, when the file sets it. */
  entry(name: string): MainCfEntry | undefined;
  /** main.cf's raw value, else the built-in default; undefined for a parameter Postfix does not know. */
  raw(name: string): string | undefined;
  /** The expanded value (raw() with every `$name` resolved). Throws ExpandError. */
  get(name: string): string | undefined;
  /** `$name`s met while expanding that have no value anywhere (expanded as empty, as Postfix does). */
  readonly undefinedNames: ReadonlySet<string>;
}

export interface ParamsOptions {
  /** Values that stand in for the built-in defaults (e.g. myhostname from moat.yaml, mynetworks computed). */
  defaults?: Readonly<Record<string, string>>;
  /** The machine's host name, for myhostname's default (os.hostname() otherwise). */
  host?: string;
}

/** Builds the lookup Postfix's mail_conf does: main.cf, else the default; expansion recursive and lazy. */
export function createParams(mainCf: MainCf, opts: ParamsOptions = {}): PostfixParams {
  const cache = new Map<string, string>();
  const undefinedNames = new Set<string>();
  const raw = (name: string): string | undefined => {
    const e = mainCf.entries.get(name);
    if (e !== undefined) return e.value;
    const d = opts.defaults?.[name];
    if (d !== undefined) return d;
    if (name === 'myhostname') return defaultMyhostname(mainCf.entries.get('mydomain')?.value, opts.host);
    if (name === 'mydomain') return defaultMydomain(get('myhostname') ?? '');
    return Object.hasOwn(POSTFIX_DEFAULTS, name) ? POSTFIX_DEFAULTS[name] : undefined;
  };
  const get = (name: string): string | undefined => {
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    const r = raw(name);
    if (r === undefined) return undefined;
    let value: string;
    try {
      const x = expandValue(r, raw);
      for (const n of x.undefinedNames) undefinedNames.add(n);
      value = x.value;
    } catch (e) {
      if (e instanceof ExpandError) throw new ExpandError(`${name}: ${e.message}`);
      throw e;
    }
    cache.set(name, value);
    return value;
  };
  return { mainCf, entry: (n) => mainCf.entries.get(n), raw, get, undefinedNames };
}

/** Postfix list syntax (whitespace and/or commas between items), as smtpd and match_list split them. */
export function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== '');
}

/** Postfix booleans: `yes` / `no`, case-insensitive (mail_conf_bool.c); anything else is an error. */
export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  return v === 'yes' ? true : v === 'no' ? false : undefined;
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Postfix time values (conv_time.c): a number with an optional s/m/h/d/w unit, else the parameter's default unit; milliseconds. */
export function parseTime(value: string, defaultUnit: 's' | 'm' | 'h' | 'd' | 'w'): number | undefined {
  const m = /^(\d+)([smhdw]?)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] || defaultUnit]!;
}

/** Postfix integers (mail_conf_int.c): decimal digits only. */
export function parseInteger(value: string): number | undefined {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}
