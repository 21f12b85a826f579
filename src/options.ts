/**
 * Checking the keys of options objects. A misspelt or snake_case option (`max_new_tokens` for
 * `maxNewTokens`, as HF's Python API spells it) would otherwise be ignored without a word and the
 * call would silently run with the default. Each options interface lists its keys once with
 * `optionKeys<Interface>({...})`, which TypeScript checks against the interface in both directions
 * (a key missing from the list or not in the interface is a compile error).
 */
import { ArgumentError } from './errors.js';

/** Every key of T, each mapped to true: an object literal of this type must name them all, and only them. */
export type KeyRecord<T> = { readonly [K in keyof T]-?: true };

/** The keys of an options interface, as a list checked against the interface at compile time. */
export function optionKeys<T>(keys: KeyRecord<T>): readonly (keyof T & string)[] {
  return Object.keys(keys) as (keyof T & string)[];
}

/** snake_case (or kebab-case) → camelCase: `max_new_tokens` → `maxNewTokens`. */
export function camelCase(key: string): string {
  return key.replace(/[_-]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Levenshtein distance, case-insensitive (so `maxnewtokens` is close to `maxNewTokens`). */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[t.length]!;
}

/**
 * The allowed key a user most likely meant by `key`: the same words in the allowed case style
 * (snake_case ↔ camelCase) when there is one, else the closest allowed key within a third of its length in edits; undefined when none is close.
 */
export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  // Same words in another case style (max_new_tokens, MaxNewTokens; hiddenSize for hidden_size).
  const plain = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  const same = allowed.find((k) => plain(k) === plain(key));
  if (same !== undefined) return same;
  const camel = camelCase(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of allowed) {
    const d = Math.min(editDistance(key, k), editDistance(camel, k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** `unknown option 'max_new_tokens' — did you mean 'maxNewTokens'?`, or the list of known ones when nothing is close. */
export function unknownKeyMessage(key: string, allowed: readonly string[], noun = 'option'): string {
  const hint = suggestKey(key, allowed);
  return hint !== undefined
    ? `unknown ${noun} '${key}' — did you mean '${hint}'?`
    : `unknown ${noun} '${key}' (known: ${allowed.join(', ')})`;
}

/**
 * Throws ArgumentError `where: unknown option 'k' — did you mean 'K'?` for the first key of `options`
 * that `allowed` lacks; also when `options` is not an object. `undefined` (no options) passes.
 */
export function checkOptionKeys(where: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : `a ${typeof options}`;
    throw new ArgumentError(`${where}: expected an options object ({ ${allowed.slice(0, 3).join(', ')}, … }), got ${got}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new ArgumentError(`${where}: ${unknownKeyMessage(key, allowed)}`);
  }
}

/**
 * For config files: `unknown field(s) stpes (did you mean "steps"?), foo; known: steps, lr, …`.
 * `prefix` names a nested object (`data.`).
 */
export function unknownFieldsMessage(keys: readonly string[], allowed: readonly string[], prefix = ''): string {
  const named = keys.map((k) => {
    const hint = suggestKey(k, allowed);
    return hint !== undefined ? `${prefix}${k} (did you mean "${prefix}${hint}"?)` : `${prefix}${k}`;
  });
  return `unknown field(s) ${named.join(', ')}; known: ${allowed.join(', ')}`;
}
