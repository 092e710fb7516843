// Postfix's `$name` expansion (mac_parse.c, mac_expand.c of Postfix 3.7): $name, ${name}, $(name),
// ${name?value}, ${name:value}, ${name?{a}:{b}}, ${{a} == {b}?..}, `<level`, $$. Pure; trusts no text.

/** Looks a parameter up: its raw value, or undefined when Postfix has no such parameter. */
export type Lookup = (name: string) => string | undefined;

export class ExpandError extends Error {
  readonly code = 'POSTFIX_EXPAND';
  constructor(message: string) {
    super(message);
    this.name = 'ExpandError';
  }
}

export interface ExpandResult {
  value: string;
  /** Names used as `$name` that have no value anywhere (Postfix: "undefined parameter"; expanded as empty). */
  undefinedNames: string[];
}

const WS = ' \t\n\v\f\r';
const isWs = (c: string | undefined) => c !== undefined && c !== '' && WS.includes(c);
const skipWs = (s: string, i: number) => {
  while (i < s.length && isWs(s[i])) i++;
  return i;
};
const isNameChar = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** compat_level.c: `major[.minor[.patch]]`, compared numerically. */
function compatLevel(s: string): number {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(s);
  if (!m) throw new ExpandError(`bad compatibility level syntax: ${JSON.stringify(s)}`);
  return Number(m[1]) * 1024 * 1024 + Number(m[2] ?? 0) * 1024 + Number(m[3] ?? 0);
}

const OPS = new Set(['==', '!=', '<', '<=', '>=', '>']);

function compare(left: string, op: string, right: string, suffix: string): boolean {
  let delta: number;
  if (suffix === 'level') delta = compatLevel(left) - compatLevel(right);
  else if (/^\d+$/.test(left) && /^\d+$/.test(right)) delta = Number(left) - Number(right);
  else delta = left < right ? -1 : left > right ? 1 : 0; // strcmp on bytes; JS compares UTF-16 units, the same for ASCII
  switch (op) {
    case '==':
      return delta === 0;
    case '!=':
      return delta !== 0;
    case '<':
      return delta < 0;
    case '<=':
      return delta <= 0;
    case '>=':
      return delta >= 0;
    default:
      return delta > 0;
  }
}

/** `{payload}` starting at s[i] === '{': balanced braces; returns the payload and the index after the trailing blanks. */
function curly(s: string, i: number, whole: string): { payload: string; next: number } {
  let level = 1;
  let j = i + 1;
  for (; ; j++) {
    if (j >= s.length) throw new ExpandError(`unbalanced {} in attribute expression: ${JSON.stringify(whole)}`);
    if (s[j] === '{') level++;
    else if (s[j] === '}' && --level <= 0) break;
  }
  return { payload: s.slice(i + 1, j), next: skipWs(s, j + 1) };
}

class Expander {
  private level = 0;
  readonly undefinedNames = new Set<string>();
  out = '';
  private readonly lookup: Lookup;
  constructor(lookup: Lookup) {
    this.lookup = lookup;
  }

  /** mac_parse(): literal text and `$` references, each reference handed to expr(). */
  parse(value: string): void {
    let i = 0;
    let lit = '';
    while (i < value.length) {
      const c = value[i]!;
      if (c !== '$') {
        lit += c;
        i++;
        continue;
      }
      if (value[i + 1] === '$') {
        lit += '$';
        i += 2;
        continue;
      }
      this.out += lit;
      lit = '';
      i++;
      let name: string;
      const open = value[i];
      if (open === '{' || open === '(') {
        const close = open === '{' ? '}' : ')';
        let level = 1;
        let j = i + 1;
        for (; level > 0; j++) {
          if (j >= value.length) throw new ExpandError(`truncated macro reference: ${JSON.stringify(value)}`);
          if (value[j] === open) level++;
          if (value[j] === close) level--;
        }
        name = value.slice(i + 1, j - 1);
        i = j;
      } else {
        let j = i;
        while (j < value.length && isNameChar(value[j])) j++;
        name = value.slice(i, j);
        i = j;
      }
      if (name === '') throw new ExpandError(`empty macro name: ${JSON.stringify(value)}`);
      this.expr(name);
    }
    this.out += lit;
  }

  /** mac_expand_callback() for one `${...}` body. */
  private expr(body: string): void {
    if (this.level++ > 100) throw new ExpandError(`unreasonable macro call nesting: ${JSON.stringify(body)}`);
    let i = skipWs(body, 0);
    let value: string | undefined;
    let op = '';
    if (body[i] === '{') {
      // relational expression: {left} op[suffix] {right}, then nothing, `?` or `:`
      const left = curly(body, i, body);
      i = left.next;
      let j = i;
      while (j < body.length && '<>!=?+-*/~&|%'.includes(body[j]!)) j++;
      const operator = body.slice(i, j);
      if (!OPS.has(operator)) throw new ExpandError(`"==" or "!=" or "<" or "<=" or ">=" or ">" expected at: "...${left.payload}}>>>${body.slice(i, i + 20)}"`);
      i = j;
      let suffix = '';
      while (i < body.length && /[A-Za-z0-9]/.test(body[i]!)) suffix += body[i++];
      if (suffix !== '' && suffix !== 'level') throw new ExpandError(`bad operator suffix at: "...${operator}>>>${suffix}"`);
      i = skipWs(body, i);
      if (body[i] !== '{') throw new ExpandError(`"{expression}" expected at: "...{${left.payload}} ${operator}>>>${body.slice(i, i + 20)}"`);
      const right = curly(body, i, body);
      i = right.next;
      value = compare(this.sub(left.payload), operator, this.sub(right.payload), suffix) ? 'true' : '';
      if (i < body.length) {
        op = body[i]!;
        if (op !== '?' && op !== ':') throw new ExpandError(`"?" or ":" expected at: "...}>>>${body.slice(i, i + 20)}"`);
        i++;
      }
    } else {
      const start = i;
      let end = -1;
      for (; ; i++) {
        const k = skipWs(body, i);
        if (k >= body.length) {
          end = i;
          break;
        }
        const ch = body[k]!;
        if (ch === '?' || ch === ':') {
          end = i;
          op = ch;
          i = k + 1;
          break;
        }
        if (!isNameChar(body[i])) throw new ExpandError(`attribute name syntax error at: "...${body.slice(0, i)}>>>${body.slice(i, i + 20)}"`);
      }
      const name = body.slice(start, end);
      value = this.lookup(name);
      if (value === undefined && op === '') this.undefinedNames.add(name);
    }
    const truthy = value !== undefined && value !== '';
    let rest = body.slice(i);
    if (op === '?') {
      let ifTrue: string;
      const k = skipWs(rest, 0);
      if (rest[k] === '{') {
        const c = curly(rest, k, body);
        ifTrue = c.payload;
        rest = rest.slice(c.next);
      } else {
        ifTrue = rest;
        rest = '';
      }
      if (truthy) this.parse(ifTrue);
      if (rest !== '') {
        if (rest[0] !== ':') throw new ExpandError(`":" expected at: "...${ifTrue}}>>>${rest.slice(0, 20)}"`);
        rest = rest.slice(1);
        op = ':';
      }
      if (op === ':') this.otherwise(rest, truthy, body);
    } else if (op === ':') {
      this.otherwise(rest, truthy, body);
    } else if (truthy) {
      this.parse(value!); // recursive: a value's own $names are expanded too
    }
    this.level--;
  }

  private otherwise(rest: string, truthy: boolean, body: string): void {
    let ifFalse: string;
    const k = skipWs(rest, 0);
    if (rest[k] === '{') {
      const c = curly(rest, k, body);
      ifFalse = c.payload;
      rest = rest.slice(c.next);
    } else {
      ifFalse = rest;
      rest = '';
    }
    if (!truthy) this.parse(ifFalse);
    if (rest !== '') throw new ExpandError(`unexpected input at: "...${ifFalse}}>>>${rest.slice(0, 20)}"`);
  }

  /** A relational operand: expanded on its own (mac_expand in a fresh context, as Postfix does). */
  private sub(text: string): string {
    const e = new Expander(this.lookup);
    e.parse(text);
    for (const n of e.undefinedNames) this.undefinedNames.add(n);
    return e.out;
  }
}

/** Expands a raw main.cf value recursively, as Postfix daemons and `postconf -x` do. Throws ExpandError. */
export function expandValue(value: string, lookup: Lookup): ExpandResult {
  const e = new Expander(lookup);
  e.parse(value);
  return { value: e.out, undefinedNames: [...e.undefinedNames] };
}
