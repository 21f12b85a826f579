/**
 * Refusing regular expressions from tokenizer.json that a backtracking engine (V8's, which runs
 * every `Split`/`Replace` pattern) can take exponential time on. `(a+)+$` against 26 a's and a b
 * took 12 s and doubles with each further character; JavaScript has no way to stop a regular
 * expression once it runs, and V8's linear-time engine needs a command-line flag, so the only
 * defence a library has is not to run such a pattern at all.
 *
 * Exponential backtracking needs a repeated part that can match the same text in more than one way.
 * The check is syntactic and conservative: a group repeated more than once (`*`, `+`, `{n,}`,
 * `{n,m}` with m ≥ 2) whose body itself holds a quantifier or an alternation (`(a+)+`, `(a|aa)*`,
 * `(\w+\s?)*`, `(a?){30}`) is refused, even where its alternatives happen not to overlap. Real
 * tokenizers' patterns (GPT-2, Llama 3, Qwen, GPT-4o, DeepSeek, Bloom) repeat only characters and
 * classes (`\p{L}+`, `[\r\n]*`) and pass. Patterns whose backtracking is polynomial (`\s+$` on a
 * long run of spaces) are not detected: no pattern analysis can tell those from the real ones,
 * which are themselves polynomial on paper.
 *
 * The syntax read is Oniguruma's (what the Rust tokenizers library uses): escapes, nested character
 * classes, group prefixes `(?:`, `(?=`, `(?<name>`, `(?i:`, inline options `(?i)`, comments `(?#…)`.
 */

/** What is wrong with a pattern, or undefined when it is accepted. */
export interface UnsafePattern {
  /** Offset (in UTF-16 units) of the repeated group's opening parenthesis. */
  at: number;
  reason: string;
}

interface Group {
  start: number;
  /** The body holds a quantifier or an alternation, at any depth. */
  variable: boolean;
}

/** The atom a following quantifier applies to. */
interface Atom {
  /** Start offset of a group atom, or -1 for a character, class or escape. */
  groupStart: number;
  variable: boolean;
}

const GROUP_PREFIX = /^\(\?(?:[:=!>]|<[=!]|<[A-Za-z_][A-Za-z0-9_]*>|'[A-Za-z_][A-Za-z0-9_]*'|[A-Za-z]*(?:-[A-Za-z]*)?:)/;
const INLINE_OPTIONS = /^\(\?[A-Za-z]*(?:-[A-Za-z]*)?\)/;
const BRACE_QUANTIFIER = /^\{(\d*)(,?)(\d*)\}/;

/** Index just past the character class that opens at `start` (`[`), following nested classes. */
function skipClass(p: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < p.length) {
    const c = p[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '[') {
      depth++;
      i++;
      if (p[i] === '^') i++;
      if (p[i] === ']') i++; // a ']' first in a class is a literal
      continue;
    }
    if (c === ']') {
      depth--;
      i++;
      if (depth === 0) return i;
      continue;
    }
    i++;
  }
  return p.length; // unterminated: the regex compiler reports it
}

/** Index just past the escape at `start` (`\`), including a braced argument (`\p{L}`, `\x{41}`). */
function skipEscape(p: string, start: number): number {
  const next = p[start + 1];
  if (next !== undefined && 'pPxuok'.includes(next) && (p[start + 2] === '{' || p[start + 2] === '<')) {
    const close = p.indexOf(p[start + 2] === '{' ? '}' : '>', start + 3);
    return close < 0 ? p.length : close + 1;
  }
  return Math.min(p.length, start + 2);
}

/** The quantifier at `i`, if one starts there: its largest repeat count and where it ends. */
function quantifierAt(p: string, i: number): { max: number; end: number } | undefined {
  const c = p[i];
  let max: number;
  let end: number;
  if (c === '*' || c === '+') {
    max = Infinity;
    end = i + 1;
  } else if (c === '?') {
    max = 1;
    end = i + 1;
  } else if (c === '{') {
    const m = BRACE_QUANTIFIER.exec(p.slice(i, i + 32));
    if (!m || (m[1] === '' && m[3] === '')) return undefined; // a literal '{'
    max = m[2] === '' ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    end = i + m[0].length;
    return { max, end }; // after {n,m}, a '?' is lazy and a '+' is another quantifier (Oniguruma)
  } else return undefined;
  // Lazy (`*?`) and possessive (`*+`) forms are the same quantifier for this purpose.
  if (p[end] === '?' || p[end] === '+') end++;
  return { max, end };
}

/** Checks one pattern; see the file comment for what is refused. */
export function checkPatternSafety(pattern: string): UnsafePattern | undefined {
  const stack: Group[] = [{ start: -1, variable: false }];
  let atom: Atom | undefined;
  let i = 0;
  while (i < pattern.length) {
    const top = stack[stack.length - 1]!;
    const q = quantifierAt(pattern, i);
    if (q) {
      if (atom && atom.groupStart >= 0 && atom.variable && q.max >= 2) {
        return {
          at: atom.groupStart,
          reason: 'a group that repeats and itself holds a quantifier or an alternation (like "(a+)+" or "(a|ab)*") can take exponential time',
        };
      }
      top.variable = true;
      // A second quantifier (Oniguruma's `a{2}{3}`, `a+{2,}`) repeats something variable.
      atom = atom ? { groupStart: atom.groupStart >= 0 ? atom.groupStart : i, variable: true } : undefined;
      i = q.end;
      continue;
    }
    const c = pattern[i];
    if (c === '\\') {
      atom = { groupStart: -1, variable: false };
      i = skipEscape(pattern, i);
    } else if (c === '[') {
      atom = { groupStart: -1, variable: false };
      i = skipClass(pattern, i);
    } else if (c === '(') {
      const rest = pattern.slice(i, i + 64);
      if (rest.startsWith('(?#')) {
        const close = pattern.indexOf(')', i);
        i = close < 0 ? pattern.length : close + 1;
        continue;
      }
      const options = INLINE_OPTIONS.exec(rest);
      if (options) {
        i += options[0].length;
        continue;
      }
      const prefix = GROUP_PREFIX.exec(rest);
      stack.push({ start: i, variable: false });
      atom = undefined;
      i += prefix ? prefix[0].length : 1;
    } else if (c === ')') {
      if (stack.length > 1) {
        const group = stack.pop()!;
        const parent = stack[stack.length - 1]!;
        parent.variable ||= group.variable;
        atom = { groupStart: group.start, variable: group.variable };
      }
      i++;
    } else if (c === '|') {
      top.variable = true;
      atom = undefined;
      i++;
    } else {
      atom = { groupStart: -1, variable: false };
      i++;
    }
  }
  return undefined;
}
