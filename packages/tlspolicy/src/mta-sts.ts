// MTA-STS (RFC 8461) text formats: the `_mta-sts` TXT record and the policy file, and MX pattern matching.
// Pure: everything it reads came from the network and is untrusted; anything malformed is "no policy".

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  mode: StsMode;
  /** `mail.example.com` or `*.example.net` (one leftmost label). */
  mx: string[];
  /** Seconds the policy may be cached (at most a year). */
  maxAge: number;
}

/** The policy id from the TXT records at `_mta-sts.DOMAIN`; undefined when none or several say v=STSv1 (RFC 8461 3.1). */
export function parseStsTxt(records: string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1(;|$)/.test(r.trim()));
  if (sts.length !== 1) return undefined;
  const fields = new Map<string, string>();
  for (const part of sts[0]!.split(';')) {
    const m = /^\s*([A-Za-z0-9_.-]+)=([\x21-\x3a\x3c\x3e-\x7e]*)\s*$/.exec(part);
    if (m) fields.set(m[1]!, m[2]!);
  }
  const id = fields.get('id');
  return id && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : undefined;
}

export class StsPolicyError extends Error {
  readonly code = 'sts-policy-invalid';
}

/** Parse the policy file (RFC 8461 3.2); throws StsPolicyError naming the first problem. */
export function parseStsPolicy(text: string): StsPolicy {
  const fields = new Map<string, string[]>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([A-Za-z0-9_]+):[ \t]*(.*)$/.exec(line);
    if (!m) throw new StsPolicyError(`bad line ${JSON.stringify(line.slice(0, 80))}`);
    const key = m[1]!;
    fields.set(key, [...(fields.get(key) ?? []), m[2]!.trim()]);
  }
  const one = (k: string) => fields.get(k)?.[0];
  if (one('version') !== 'STSv1') throw new StsPolicyError('version is not STSv1');
  const mode = one('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new StsPolicyError(`bad mode ${JSON.stringify(mode ?? '')}`);
  const ageText = one('max_age') ?? '';
  if (!/^\d{1,10}$/.test(ageText)) throw new StsPolicyError('max_age missing or not a number');
  const maxAge = Math.min(Number(ageText), 31_557_600);
  const mx = (fields.get('mx') ?? []).map((p) => p.toLowerCase().replace(/\.$/, ''));
  for (const p of mx) {
    if (!/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$/.test(p)) throw new StsPolicyError(`bad mx pattern ${JSON.stringify(p.slice(0, 80))}`);
  }
  if (mode !== 'none' && mx.length === 0) throw new StsPolicyError('no mx patterns');
  return { mode, mx, maxAge };
}

/** RFC 8461 4.1: an MX host matches a pattern exactly, or `*.` matches exactly one leftmost label. */
export function mxMatches(policy: StsPolicy, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((p) => (p.startsWith('*.') ? h.endsWith(p.slice(1)) && !h.slice(0, h.length - p.length + 1).includes('.') : h === p));
}

/** The policy file a domain publishes (for `moat tls policy`). */
export function formatStsPolicy(p: StsPolicy): string {
  return [`version: STSv1`, `mode: ${p.mode}`, ...p.mx.map((m) => `mx: ${m}`), `max_age: ${p.maxAge}`, ''].join('\r\n');
}
