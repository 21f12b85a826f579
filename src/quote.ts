/**
 * Quoting a value that came from a file in an error message. A message must say which value is
 * wrong without becoming a way to print the file: a tokenizer.json linked to a password file, or a
 * megabyte-long "shard name", must not end up on a terminal or in a log. So strings are cut, control
 * and bidirectional-override characters are escaped (a terminal would act on them), and arrays and
 * objects are described by kind instead of printed.
 */

/** How many characters of a string a message quotes before cutting it. */
export const QUOTE_MAX_CHARS = 80;

/**
 * Characters JSON.stringify leaves as they are but a terminal or log viewer would act on: DEL, the C1
 * controls, line and paragraph separators, and the bidirectional marks, embeddings and isolates.
 */
const UNSAFE_FOR_TERMINALS = '\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069';
const UNSAFE_EVERYWHERE = new RegExp(`[${UNSAFE_FOR_TERMINALS}]`, 'g');
/** What a name may not hold to be shown unquoted: also C0 controls, spaces, quotes, backslashes. */
const NEEDS_QUOTES = new RegExp(`[\\s"'\\\\\u0000-\u001f${UNSAFE_FOR_TERMINALS}]`);

function escapeUnsafe(quoted: string): string {
  return quoted.replace(UNSAFE_EVERYWHERE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value for an error message: a string quoted with its control characters escaped and cut after
 * `maxChars` characters (saying how long it was), a number, boolean or null as written in JSON, and
 * an array or object only by kind ("an array of 3 items", "an object"), never its contents.
 */
export function quoteForMessage(value: unknown, maxChars = QUOTE_MAX_CHARS): string {
  if (typeof value === 'string') {
    if (value.length <= maxChars) return escapeUnsafe(JSON.stringify(value));
    // Cutting between the two halves of a surrogate pair would leave a lone half: step back one.
    let cut = maxChars;
    const last = value.charCodeAt(cut - 1);
    if (last >= 0xd800 && last <= 0xdbff) cut--;
    return `${escapeUnsafe(JSON.stringify(value.slice(0, cut)))}… (${value.length.toLocaleString('en-US')} characters)`;
  }
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length.toLocaleString('en-US')} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * A name from a file (a tensor name, a shard name) for an error message: as it is when it is short
 * and printable, so messages stay readable (`backbone.norm_f.weight: …`), else as quoteForMessage
 * quotes it.
 */
export function nameForMessage(name: string, maxChars = QUOTE_MAX_CHARS): string {
  const plain = name.length > 0 && name.length <= maxChars && !NEEDS_QUOTES.test(name);
  return plain ? name : quoteForMessage(name, maxChars);
}
