// A small, strict option parser shared by the subcommands: `--name value`, `--name=value`, boolean flags.
// Trusts nothing: unknown options and missing values are usage errors (exit 2), never guessed.
import { parseResolver, ResolverConfigError } from '@moat/dns';

export class UsageError extends Error {}

/** `--help` / `-h`: print the usage and exit 0. */
export class HelpRequested extends Error {}

export interface ParsedArgs {
  /** Options that take a value, by name without dashes. */
  values: Record<string, string>;
  /** Boolean options given. */
  flags: Set<string>;
  positionals: string[];
}

export function parseArgs(args: readonly string[], spec: { values?: readonly string[]; flags?: readonly string[] }): ParsedArgs {
  const takes = new Set(spec.values ?? []);
  const bools = new Set(spec.flags ?? []);
  const out: ParsedArgs = { values: {}, flags: new Set(), positionals: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') throw new HelpRequested('help');
    if (a === '--') {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (takes.has(name)) {
      const v = eq === -1 ? args[++i] : a.slice(eq + 1);
      if (v === undefined) throw new UsageError(`option --${name} needs a value`);
      out.values[name] = v;
    } else if (bools.has(name) && eq === -1) {
      out.flags.add(name);
    } else {
      throw new UsageError(`unknown option ${a.slice(0, eq === -1 ? undefined : eq)}`);
    }
  }
  return out;
}

/** Untrusted text (HELO, addresses, reasons) made safe for a terminal: control characters escaped. */
export function safe(s: string | undefined): string {
  if (s === undefined || s === null) return '-';
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Whole table with padded columns (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function isoTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `75s`, `3m`, `2h`, `4d`: a short human duration from seconds. */
export function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/**
 * `--resolver`, read as `dns.resolver` is (@moat/dns parseResolver, the one reader): `IP`, `IP:port`, `[v6]`,
 * `[v6]:port` or a bare IPv6 address, port 53 when none is given. A host name is refused: resolving it would need
 * the machine's own DNS. Absent: the configured dns.resolver.
 */
export function resolverFlag(a: ParsedArgs, configured: string): string {
  const v = a.values.resolver;
  if (v === undefined) return configured;
  try {
    return parseResolver(v).server;
  } catch (e) {
    if (e instanceof ResolverConfigError) throw new UsageError(`--resolver: ${e.message}`);
    throw e;
  }
}
