// Pattern translation for regexp: (POSIX extended, as glibc regcomp reads it) and pcre: tables into
// JavaScript RegExp source. Trusts nothing: constructs JavaScript would read differently are refused.

/**
 * A literal character outside a class. Postfix's i flag folds ASCII only (glibc in the C/UTF-8 locale
 * Postfix runs in, and PCRE without UTF mode): JavaScript's i folds Unicode, so a non-ASCII literal is
 * pinned case-sensitive with a modifier group (`Ü` never matches `ü`, as in Postfix).
 */
const literal = (c: string, icase: boolean): string => (icase && c.charCodeAt(0) > 0x7f ? `(?-i:${c})` : c);

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: '0-9a-zA-Z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

/** The other case of an ASCII letter, or '' (Postfix's i folds ASCII only). */
const swapCase = (c: string): string => {
  const k = c.charCodeAt(0);
  return k >= 65 && k <= 90 ? String.fromCharCode(k + 32) : k >= 97 && k <= 122 ? String.fromCharCode(k - 32) : '';
};

/** Escapes one literal character for use inside a JavaScript character class. */
const classChar = (c: string): string => (/[\\\]^[-]/.test(c) ? `\\${c}` : c);

/**
 * POSIX ERE (glibc) to JavaScript. Brackets: `]` first is literal, a backslash is literal, `[:class:]`
 * expands; outside brackets `\w \W \s \S \b \B` and back-references keep their GNU meaning, `\<` `\>`
 * become word-boundary look-arounds; any other escaped letter or digit is refused (glibc reads `\d` as `d`, or
 * matches nothing with the default i flag). Case-insensitivity (Postfix's default) is written into the
 * pattern, ASCII letters only, as glibc folds them: `a` becomes `[aA]`, `[a-c]` also takes `A-C`. The
 * pattern then needs no JavaScript `i` flag, which keeps V8's linear-time fallback available. `(?` has no meaning in ERE and is refused rather than read as a JavaScript group.
 */
export function posixToJs(re: string, icase = false): string | { error: string } {
  let out = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\') {
      const n = re[i + 1];
      if (n === undefined) return { error: 'trailing backslash' };
      i++;
      if ('wWsSbB'.includes(n) || (n >= '1' && n <= '9')) out += `\\${n}`;
      else if (n === '<') out += '\\b(?=\\w)';
      else if (n === '>') out += '\\b(?<=\\w)';
      else if (n === '`') out += '(?<![\\s\\S])';
      else if (n === "'") out += '(?![\\s\\S])';
      else if (/[A-Za-z0-9]/.test(n)) {
        // glibc reads `\d` as `d` without the i flag and as matching nothing with it (the default)
        return { error: `\\${n} has no meaning in a POSIX regular expression (for a digit write [0-9] or [[:digit:]])` };
      } else out += `\\${n}`;
    } else if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (re[j] === '^') {
        cls += '^';
        j++;
      }
      let first = true;
      // with i: the other case of every ASCII letter the class names (singly or in a range)
      let other = '';
      let last: string | undefined;
      let rangeFrom: string | undefined;
      const addChar = (d: string) => {
        cls += classChar(d);
        if (icase) {
          if (rangeFrom !== undefined) {
            for (let k = rangeFrom.charCodeAt(0); k <= d.charCodeAt(0) && k < 128; k++) other += swapCase(String.fromCharCode(k));
          } else other += swapCase(d);
        }
        rangeFrom = undefined;
        last = d;
      };
      for (;;) {
        const d = re[j];
        if (d === undefined) return { error: "unbalanced '['" };
        if (d === ']' && !first) break;
        if (d === '[' && (re[j + 1] === ':' || re[j + 1] === '=' || re[j + 1] === '.')) {
          const kind = re[j + 1]!;
          const end = re.indexOf(`${kind}]`, j + 2);
          if (end < 0) return { error: "unbalanced '['" };
          const name = re.slice(j + 2, end);
          if (kind === ':') {
            // glibc: with REG_ICASE, [:upper:] and [:lower:] match both cases
            const expansion = icase && (name === 'upper' || name === 'lower') ? POSIX_CLASSES.alpha : POSIX_CLASSES[name];
            if (expansion === undefined) return { error: `unknown character class [:${name}:]` };
            cls += expansion;
            rangeFrom = undefined;
            last = undefined;
          } else if (name.length === 1) addChar(name);
          else return { error: `unsupported collating element [${kind}${name}${kind}]` };
          j = end + 2;
        } else if (d === '-' && !first && re[j + 1] !== ']' && last !== undefined) {
          cls += '-';
          rangeFrom = last;
          j++;
        } else {
          addChar(d);
          j++;
        }
        first = false;
      }
      out += `${cls}${[...new Set(other)].map(classChar).join('')}]`;
      i = j;
    } else if (c === '(' && re[i + 1] === '?') {
      return { error: "'(?' is not a POSIX regular expression" };
    } else if ((c === '*' || c === '+' || c === '?') && (re[i + 1] === '*' || re[i + 1] === '+' || re[i + 1] === '?')) {
      // POSIX reads `a+?` as `(a+)?` (greedy); JavaScript as a lazy `a+`: the same matches, other $n
      return { error: `'${c}${re[i + 1]}': a quantifier on a quantifier (POSIX reads it as an optional repetition, not a lazy one; write (a${c})${re[i + 1]} if that is meant)` };
    } else if (c === '{' && re[i + 1] === ',') {
      out += '{0'; // glibc reads {,n} as {0,n}; JavaScript would read it as text
    } else out += icase && swapCase(c) !== '' ? `[${c}${swapCase(c)}]` : c;
  }
  return out;
}

/**
 * PCRE to JavaScript: most syntax is shared. `\A`, `\z`, `\Z` and `(?P<name>` are rewritten; constructs
 * JavaScript lacks or reads differently (possessive quantifiers, atomic groups, `\Q...\E`, recursion,
 * conditionals, inline option settings like `(?i)`, `\G`, `\K`, `\h`, `\R`, `\p{...}`, `\x{...}`) are refused.
 */
export function pcreToJs(re: string, extended: boolean, icase = false): string | { error: string } {
  let out = '';
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\') {
      const n = re[i + 1];
      if (n === undefined) return { error: 'trailing backslash' };
      i++;
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if (!inClass && n === 'Z') out += '(?=\\n?(?![\\s\\S]))';
      else if ('QEGKhHRXCNoepPg'.includes(n) || (n === 'x' && re[i + 1] === '{')) {
        return { error: `\\${n} is not supported by JavaScript regular expressions` };
      } else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === '[' && re[i + 1] === ':') {
        const end = re.indexOf(':]', i + 2);
        const expansion = end < 0 ? undefined : POSIX_CLASSES[re.slice(i + 2, end)];
        if (expansion === undefined) return { error: 'unsupported POSIX class in a character class' };
        out += expansion;
        i = end + 1;
        continue;
      }
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (re[i + 1] === '^') out += re[++i];
      if (re[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (extended && (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v')) continue;
    if (extended && c === '#') break;
    if (c === '(' && re[i + 1] === '?') {
      const rest = re.slice(i + 2);
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 3;
        continue;
      }
      if (/^(?::|=|!|<=|<!|<[A-Za-z_]|[ims]*(?:-[ims]+)?:)/.test(rest)) {
        out += c;
        continue;
      }
      return { error: `'(?${rest.slice(0, 2)}' is not supported by JavaScript regular expressions` };
    }
    if ((c === '+' || c === '?' || c === '*' || c === '}') && re[i + 1] === '+') {
      return { error: 'possessive quantifiers are not supported by JavaScript regular expressions' };
    }
    out += literal(c, icase);
  }
  return out;
}

/**
 * Writes ASCII case-insensitivity into a JavaScript pattern source (`a` to `[aA]`, classes take the other
 * case of the letters and ranges they name), so it runs without the `i` flag: Postfix folds ASCII only,
 * and only i-free patterns can fall back to V8's linear-time engine. Returns undefined for sources this
 * walk does not understand (escapes that take operands, named groups, modifier groups): those keep `i`.
 */
export function foldAsciiCase(src: string): string | undefined {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined || 'xucpPk'.includes(n) || (n >= '1' && n <= '9')) return undefined;
      out += `\\${n}`;
      i++;
    } else if (c === '(' && src[i + 1] === '?') {
      const m = /^\(\?(?::|=|!|<=|<!)/.exec(src.slice(i));
      if (!m) return undefined;
      out += m[0];
      i += m[0].length - 1;
    } else if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (src[j] === '^') {
        cls += '^';
        j++;
      }
      let other = '';
      let last: number | undefined;
      let ranged = false;
      for (; j < src.length && src[j] !== ']'; j++) {
        const d = src[j]!;
        if (d === '\\') {
          const n = src[j + 1];
          if (n === undefined || 'xucpPk'.includes(n)) return undefined;
          cls += `\\${n}`;
          j++;
          last = /[A-Za-z0-9]/.test(n) ? undefined : n.charCodeAt(0); // \w, \d... are no range ends
          ranged = false;
          continue;
        }
        if (d === '-' && last !== undefined && src[j + 1] !== ']') {
          cls += '-';
          ranged = true;
          continue;
        }
        cls += d;
        const code = d.charCodeAt(0);
        if (ranged && last !== undefined) {
          for (let k = last; k <= code && k < 128; k++) other += swapCase(String.fromCharCode(k));
        } else other += swapCase(d);
        last = code;
        ranged = false;
      }
      if (j >= src.length) return undefined;
      out += `${cls}${[...new Set(other)].map(classChar).join('')}]`;
      i = j;
    } else {
      const s = swapCase(c);
      out += s === '' ? c : `[${c}${s}]`;
    }
  }
  return out;
}
