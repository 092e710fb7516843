// The right-hand side of a Postfix access map (`OK`, `REJECT text`, `DUNNO`, `450 text`...), parsed.
// Shared by the engine (to act on a lookup) and the cidr table parser (to refuse bad tables early).

export type AccessAction =
  | { kind: 'permit' }
  | { kind: 'dunno' }
  | { kind: 'reject' | 'defer'; text?: string | undefined; code?: number | undefined; status?: string | undefined }
  | { kind: 'prepend'; header: string }
  | { kind: 'warn'; text: string };

const STATUS_RE = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/;

function splitStatus(text: string | undefined): { status?: string | undefined; text?: string | undefined } {
  if (text === undefined) return {};
  const m = STATUS_RE.exec(text);
  if (!m) return { text };
  const rest = text.slice(m[0].length);
  return { status: `${m[1]}.${m[2]}.${m[3]}`, text: rest === '' ? undefined : rest };
}

/**
 * Parses an access-map right-hand side. Returns undefined when the action is not one moat
 * implements (Postfix's HOLD, DISCARD, FILTER, REDIRECT... are refused rather than ignored).
 */
export function parseAccessAction(rhs: string): AccessAction | undefined {
  const s = rhs.trim();
  const sp = s.search(/\s/);
  const word = (sp < 0 ? s : s.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? undefined : s.slice(sp).trim() || undefined;
  if (word === 'OK' || word === 'PERMIT') return rest === undefined ? { kind: 'permit' } : undefined;
  if (/^\d+$/.test(word) && rest === undefined) return { kind: 'permit' }; // Postfix: all-numeric = OK
  if (word === 'DUNNO') return rest === undefined ? { kind: 'dunno' } : undefined;
  if (word === 'REJECT') return { kind: 'reject', ...splitStatus(rest) };
  if (word === 'DEFER') return { kind: 'defer', ...splitStatus(rest) };
  if (/^[45]\d\d$/.test(word)) {
    const code = Number(word);
    const st = splitStatus(rest);
    if (st.status !== undefined && st.status[0] !== word[0]) return undefined; // 450 5.7.1: inconsistent
    return { kind: word[0] === '4' ? 'defer' : 'reject', code, ...st };
  }
  if (word === 'PREPEND') return rest !== undefined && /^[!-9;-~]+:/.test(rest) ? { kind: 'prepend', header: rest } : undefined;
  if (word === 'WARN') return { kind: 'warn', text: rest ?? '' };
  return undefined;
}
