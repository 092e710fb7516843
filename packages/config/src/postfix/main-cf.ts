// Reads a Postfix main.cf exactly as Postfix does (readlline.c, split_nameval.c): logical lines,
// `#` comment lines, continuation lines, `name = value`, later definitions win. Trusts nothing in the text.

/** One `name = value` definition as written: the raw (unexpanded) value and where it starts. */
export interface MainCfEntry {
  name: string;
  /** The value as Postfix stores it: continuation lines joined as they are, outer whitespace trimmed. */
  value: string;
  /** 1-based line of the definition's first line. */
  line: number;
  /** The last line of the logical line (continuations included). */
  lastLine: number;
}

/** Something Postfix warns about (it keeps going) or refuses (`fatal`, a line without `=`). */
export interface MainCfProblem {
  line: number;
  /** The parameter concerned, when the line names one. */
  name?: string | undefined;
  severity: 'warning' | 'fatal';
  message: string;
}

export interface MainCf {
  file: string;
  /** The definition that wins for each name (the last one in the file). */
  entries: ReadonlyMap<string, MainCfEntry>;
  /** Every definition in file order, overridden ones included. */
  all: readonly MainCfEntry[];
  problems: readonly MainCfProblem[];
}

const SPACE = /[ \t\n\v\f\r]/;
const isSpace = (c: string | undefined) => c !== undefined && SPACE.test(c);

/**
 * Splits main.cf text into logical lines as readllines() does: comment lines (first non-blank `#`),
 * empty and all-blank lines are dropped, a line starting with whitespace (or `#`) continues the
 * logical line, whose physical lines are joined with nothing between them (each keeps its own
 * leading whitespace). A logical line that starts with whitespace is dropped with a warning.
 */
function logicalLines(text: string, problems: MainCfProblem[]): Array<{ text: string; first: number; last: number }> {
  const physical = text.split('\n');
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const out: Array<{ text: string; first: number; last: number }> = [];
  let cur: { text: string; first: number; last: number } | undefined;
  const flush = () => {
    if (cur === undefined) return;
    if (isSpace(cur.text[0])) {
      problems.push({ line: cur.first, severity: 'warning', message: `logical line must not start with whitespace: ${JSON.stringify(cur.text.slice(0, 30))}; Postfix ignores it` });
    } else out.push(cur);
    cur = undefined;
  };
  physical.forEach((raw, i) => {
    const line = raw; // a CR stays: Postfix treats it as whitespace (trimmed at the value's end)
    const lineNo = i + 1;
    const firstNonSpace = /^[ \t\n\v\f\r]*(.?)/.exec(line)?.[1] ?? '';
    if (firstNonSpace === '' || firstNonSpace === '#') return; // blank or comment: dropped, never ends a logical line
    if (cur !== undefined && isSpace(line[0])) {
      cur.text += line;
      cur.last = lineNo;
      return;
    }
    flush();
    cur = { text: line, first: lineNo, last: lineNo };
  });
  flush();
  return out;
}

/** Postfix's split_nameval(): name up to blank or `=`, blanks, `=`, the value trimmed on both sides. */
function splitNameValue(s: string): { name: string; value: string } | string {
  const m = /^[ \t\n\v\f\r]*([^ \t\n\v\f\r=]*)[ \t\n\v\f\r]*(=?)([\s\S]*)$/.exec(s);
  if (!m || m[1] === '') return 'missing attribute name';
  if (m[2] !== '=') return "missing '=' after attribute name";
  return { name: m[1]!, value: m[3]!.replace(/^[ \t\n\v\f\r]+/, '').replace(/[ \t\n\v\f\r]+$/, '') };
}

/**
 * Parses main.cf text. Never throws: a line Postfix refuses (no `=`) is a `fatal` problem with its
 * line number, and callers decide (the importer turns it into a ConfigError naming file:line).
 */
export function parseMainCf(text: string, file = 'main.cf'): MainCf {
  const problems: MainCfProblem[] = [];
  const entries = new Map<string, MainCfEntry>();
  const all: MainCfEntry[] = [];
  for (const l of logicalLines(text, problems)) {
    const nv = splitNameValue(l.text);
    if (typeof nv === 'string') {
      problems.push({ line: l.first, severity: 'fatal', message: `${nv}: ${JSON.stringify(l.text.length > 60 ? `${l.text.slice(0, 57)}...` : l.text)}` });
      continue;
    }
    const e: MainCfEntry = { name: nv.name, value: nv.value, line: l.first, lastLine: l.last };
    const earlier = entries.get(nv.name);
    if (earlier !== undefined) problems.push({ line: l.first, name: nv.name, severity: 'warning', message: `overrides the definition on line ${earlier.line} (the later one wins, as in Postfix)` });
    entries.set(nv.name, e);
    all.push(e);
  }
  return { file, entries, all, problems };
}
