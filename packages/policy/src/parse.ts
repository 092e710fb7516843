// Postfix restriction lists as admins write them in main.cf, parsed into Restriction data.
// Trusts nothing in the text: every name, argument and return-code pattern is checked here.
import { parseCodeFilter } from './code-filter.ts';
import { POLICY_ERROR_CODES, PolicyError, type PolicyErrorPosition } from './errors.ts';
import type { ArgKind, RestrictionDef } from './restrictions/define.ts';
import { BY_NAME, RESTRICTIONS } from './restrictions/table.ts';
import type { Restriction, RestrictionType } from './types.ts';

/** The restriction names moat knows, in the table's order (for error messages and config docs). */
export const RESTRICTION_NAMES: readonly RestrictionType[] = RESTRICTIONS.map((d) => d.name);

function definition(name: string): RestrictionDef | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function isRestrictionName(name: string): boolean {
  return definition(name) !== undefined;
}

/** The argument a restriction takes (`dns`: a DNS-list zone), or undefined for a name moat does not know. */
export function restrictionArgument(name: string): ArgKind | undefined {
  return definition(name)?.arg;
}

/** Whether a restriction name needs an argument (`reject_rbl_client` does, `permit` does not). */
export function restrictionTakesArgument(name: string): boolean {
  const d = definition(name);
  return d !== undefined && d.arg !== 'none';
}

const ZONE_RE = /^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)+\.?$/;

/**
 * Builds one Restriction from a name and its argument as written. Used by the text parser and by
 * the structured (YAML) form in @moat/config, so both give the same errors.
 */
export function makeRestriction(name: string, arg: string | undefined, position: PolicyErrorPosition = {}): Restriction {
  const def = definition(name);
  if (def === undefined) {
    throw new PolicyError(POLICY_ERROR_CODES.UNKNOWN_RESTRICTION, name, `unknown restriction (known: ${RESTRICTION_NAMES.join(', ')})`, position);
  }
  const type = def.name as RestrictionType;
  const kind: ArgKind = def.arg;
  if (kind === 'none') {
    if (arg !== undefined && arg !== '') {
      throw new PolicyError(POLICY_ERROR_CODES.BAD_ARGUMENT, `${name} ${arg}`, `${type} takes no argument`, position);
    }
    return { type } as Restriction;
  }
  if (arg === undefined || arg === '') {
    const what = kind === 'dns' ? 'a DNS list zone (zone or zone=d.d.d.d)' : kind === 'map' ? 'a map (type:name, e.g. cidr:/etc/moat/rbl_override)' : 'a service (inet:host:port or unix:path)';
    throw new PolicyError(POLICY_ERROR_CODES.MISSING_ARGUMENT, name, `missing argument: ${type} needs ${what}`, position);
  }
  if (kind === 'dns') {
    const eq = arg.indexOf('=');
    const zone = eq >= 0 ? arg.slice(0, eq) : arg;
    const filter = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (!ZONE_RE.test(zone)) {
      throw new PolicyError(POLICY_ERROR_CODES.BAD_ARGUMENT, `${name} ${arg}`, `${JSON.stringify(zone)} is not a DNS zone name`, position);
    }
    if (filter !== undefined) {
      try {
        parseCodeFilter(filter);
      } catch (e) {
        if (e instanceof PolicyError) throw new PolicyError(e.code, `${name} ${arg}`, e.reason, position);
        throw e;
      }
    }
    return { type, zone: zone.toLowerCase().replace(/\.$/, ''), filter } as Restriction;
  }
  if (kind === 'map') {
    const colon = arg.indexOf(':');
    if (colon <= 0 || colon === arg.length - 1 || !/^[a-z0-9_]+$/.test(arg.slice(0, colon))) {
      throw new PolicyError(POLICY_ERROR_CODES.BAD_ARGUMENT, `${name} ${arg}`, 'expected a map as type:name (e.g. cidr:/etc/moat/rbl_override)', position);
    }
    return { type, map: arg } as Restriction;
  }
  // service: moat routes it to its greylist whatever it says; only require the Postfix shape.
  if (!/^(inet|unix|[a-z]+):/.test(arg)) {
    throw new PolicyError(POLICY_ERROR_CODES.BAD_ARGUMENT, `${name} ${arg}`, 'expected a policy service as inet:host:port or unix:path', position);
  }
  return { type, service: arg } as Restriction;
}

interface Token {
  text: string;
  line: number;
  column: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    // main.cf comments are whole lines whose first non-blank character is '#'
    if (/^\s*#/.test(line)) continue;
    const re = /[^,\s]+/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line))) tokens.push({ text: m[0], line: li + 1, column: m.index + 1 });
  }
  return tokens;
}

/**
 * Parses a restriction list in Postfix main.cf syntax: items separated by commas and/or
 * whitespace, continuation lines, `#` comment lines; `name arg` pairs for restrictions that take
 * one. A leading `smtpd_recipient_restrictions =` (any parameter name) is accepted, so a block can
 * be pasted from main.cf unchanged. Throws PolicyError naming the item and its position.
 */
export function parseRestrictions(text: string): Restriction[] {
  let tokens = tokenize(text);
  // `param = ...` or `param=...` header as copied from main.cf
  const first = tokens[0];
  if (first && /^[a-z_][a-z0-9_]*(=.*)?$/.test(first.text) && !isRestrictionName(first.text.split('=')[0]!)) {
    if (first.text.endsWith('=')) tokens = tokens.slice(1);
    else if (first.text.includes('=')) {
      const rest = first.text.slice(first.text.indexOf('=') + 1);
      tokens = [{ text: rest, line: first.line, column: first.column + first.text.indexOf('=') + 1 }, ...tokens.slice(1)];
    } else if (tokens[1]?.text === '=') tokens = tokens.slice(2);
    else if (tokens[1]?.text.startsWith('=')) {
      const t1 = tokens[1];
      tokens = [{ text: t1.text.slice(1), line: t1.line, column: t1.column + 1 }, ...tokens.slice(2)].filter((t) => t.text !== '');
    }
  }
  const out: Restriction[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const position: PolicyErrorPosition = { index: out.length + 1, line: tok.line, column: tok.column };
    const def = definition(tok.text);
    if (def === undefined) {
      throw new PolicyError(POLICY_ERROR_CODES.UNKNOWN_RESTRICTION, tok.text, `unknown restriction (known: ${RESTRICTION_NAMES.join(', ')})`, position);
    }
    let arg: string | undefined;
    if (def.arg !== 'none') {
      const next = tokens[i + 1];
      if (next && !isRestrictionName(next.text)) {
        arg = next.text;
        i++;
      }
    }
    out.push(makeRestriction(tok.text, arg, position));
  }
  return out;
}

/** The admin-facing text of a restriction, as in main.cf (used in traces, logs and metrics). */
export function formatRestriction(r: Restriction): string {
  const f = r as { type: string; zone?: string; filter?: string; map?: string; service?: string };
  switch (BY_NAME.get(r.type)?.arg) {
    case 'dns':
      return f.filter === undefined ? `${r.type} ${f.zone}` : `${r.type} ${f.zone}=${f.filter}`;
    case 'map':
      return `${r.type} ${f.map}`;
    case 'service':
      return f.service ? `${r.type} ${f.service}` : r.type;
    default:
      return r.type;
  }
}

/** A whole list as Postfix text (one item a line, comma-separated), e.g. for `moat config check`. */
export function formatRestrictions(list: readonly Restriction[]): string {
  return list.map(formatRestriction).join(',\n');
}
