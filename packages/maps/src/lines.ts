// Postfix's readllines(): a table file as logical lines, the way every file-based Postfix table reads it.
// Trusts nothing in the text: it only splits, and keeps each logical line's first line number.

/** One logical line: its text (continuations joined) and the 1-based number of its first physical line. */
export interface LogicalLine {
  text: string;
  line: number;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

/** True for Postfix's ISSPACE (the C locale's isspace). */
export { isSpace };

/**
 * Splits a table file as readllines() does: blank lines, all-whitespace lines and lines whose first
 * non-blank character is `#` are dropped (also between a line and its continuation); a line starting
 * with whitespace continues the previous logical line, joined as written (the newline is dropped, the
 * leading whitespace kept). A continuation with nothing before it is refused: Postfix warns and skips it.
 */
export function logicalLines(text: string, onOrphan?: (line: number) => void): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.split('\n');
  // a final newline ends the last line; it does not start an empty one
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  let current: LogicalLine | undefined;
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i]!;
    let j = 0;
    while (j < raw.length && isSpace(raw[j])) j++;
    if (j === raw.length || raw[j] === '#') continue;
    if (j > 0) {
      if (current) current.text += raw;
      else onOrphan?.(i + 1);
      continue;
    }
    current = { text: raw, line: i + 1 };
    out.push(current);
  }
  return out;
}

/** Postfix's trimblanks(): drops trailing whitespace. */
export function trimEnd(s: string): string {
  let e = s.length;
  while (e > 0 && isSpace(s[e - 1])) e--;
  return e === s.length ? s : s.slice(0, e);
}

/** Drops leading whitespace (Postfix's `while (ISSPACE(*p)) p++`). */
export function trimStart(s: string): string {
  let b = 0;
  while (b < s.length && isSpace(s[b])) b++;
  return b === 0 ? s : s.slice(b);
}
