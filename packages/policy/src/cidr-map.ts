// Postfix `cidr:` access tables (first matching network wins) parsed from text, served as an AccessMapPort.
// Trusts the table text only after parsing it here; reading the file is the caller's job (config).
import { parseAccessAction } from './access-action.ts';
import { POLICY_ERROR_CODES, PolicyError } from './errors.ts';
import { type Cidr, cidrContains, parseCidr, parseIpShared } from './ip.ts';
import type { AccessMapPort } from './types.ts';
import { syncAccessMap } from './sync-access-map.ts';

export interface CidrEntry {
  network: Cidr;
  /** The right-hand side as written (`OK`, `REJECT text`, `DUNNO`...). */
  action: string;
  line: number;
}

export interface CidrTable {
  entries: readonly CidrEntry[];
}

/**
 * Parses a Postfix cidr table: `network  action` lines, `#` comments, blank lines, and lines
 * starting with whitespace continuing the previous one. Throws PolicyError naming the line.
 */
export function parseCidrTable(text: string, source = 'cidr table'): CidrTable {
  const logical: Array<{ text: string; line: number }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (/^\s*(#|$)/.test(raw)) continue;
    if (/^\s/.test(raw) && logical.length > 0) logical[logical.length - 1]!.text += ` ${raw.trim()}`;
    else logical.push({ text: raw.trim(), line: i + 1 });
  }
  const entries: CidrEntry[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\S+)\s+(.+)$/.exec(l);
    if (!m) throw new PolicyError(POLICY_ERROR_CODES.BAD_ACCESS_ACTION, l, `${source}: expected "network action"`, { line });
    const network = parseCidr(m[1]!);
    if (!network) throw new PolicyError(POLICY_ERROR_CODES.BAD_CIDR, m[1]!, `${source}: not a network (address/prefix with no host bits set)`, { line });
    const action = m[2]!.trim();
    if (!parseAccessAction(action)) {
      throw new PolicyError(POLICY_ERROR_CODES.BAD_ACCESS_ACTION, action, `${source}: unsupported action (expected OK, PERMIT, DUNNO, REJECT [text], DEFER [text], 4NN text, 5NN text, PREPEND header, WARN text)`, { line });
    }
    entries.push({ network, action, line });
  }
  return { entries };
}

/**
 * An AccessMapPort over parsed cidr tables, keyed by map name as written in the restriction
 * (`cidr:/etc/moat/rbl_override`) or by the bare path. An unknown map is a lookup failure
 * (the engine defers with 451, as Postfix does), never a silent "not found".
 */
export function createCidrAccessMap(tables: Readonly<Record<string, CidrTable>> | ReadonlyMap<string, CidrTable>): AccessMapPort & {
  lookupSync(map: string, key: string): string | undefined;
} {
  const byName = new Map<string, CidrTable>(tables instanceof Map ? tables : Object.entries(tables as Record<string, CidrTable>));
  const lookupSync = (map: string, key: string): string | undefined => {
    const t = byName.get(map) ?? byName.get(map.replace(/^cidr:/, ''));
    if (!t) throw new Error(`access map ${map} is not loaded`);
    const ip = parseIpShared(key).ip;
    if (!ip) return undefined;
    for (const e of t.entries) if (cidrContains(e.network, ip)) return e.action;
    return undefined;
  };
  return syncAccessMap(lookupSync);
}
