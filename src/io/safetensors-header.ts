/**
 * The safetensors header's framing rules, checked on the raw bytes before and after JSON parsing:
 * - the header starts with `{` (no byte-order mark, no leading whitespace);
 * - after the JSON object only spaces (0x20) may follow, as padding;
 * - no object in it has a key twice (JSON.parse would silently keep the last one, so a file with two
 *   tensors of the same name would load one of them).
 * A header length that is off by one breaks the first or second rule (or, when the byte it takes or
 * gives is a padding space, the data layout check in safetensors.ts), instead of shifting the data.
 */
import { parseJson } from './json.js';
import { METADATA_KEY } from './safetensors-format.js';

type Fail = (message: string) => never;

const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

/**
 * Parses the header bytes (the N bytes after the length) into its JSON object, enforcing the
 * framing rules above; `source` names the file in errors.
 */
export function parseHeader(headerBytes: Uint8Array, source: string, fail: Fail): Record<string, unknown> {
  const n = headerBytes.length;
  if (n === 0) return fail('header is empty (length 0); a safetensors header is a JSON object starting with "{"');
  if (headerBytes[0] === 0xef && headerBytes[1] === 0xbb && headerBytes[2] === 0xbf) {
    return fail('header starts with a UTF-8 byte-order mark; a safetensors header must start with "{" (0x7b)');
  }
  if (headerBytes[0] !== OPEN_BRACE) {
    return fail(`header must start with "{" (0x7b), but its first byte is ${hex(headerBytes[0]!)}; not a safetensors file, or a wrong header length?`);
  }
  let end = n;
  while (end > 0 && headerBytes[end - 1] === SPACE) end--;
  if (headerBytes[end - 1] !== CLOSE_BRACE) {
    return fail(
      `header must end with its JSON object's "}" followed only by spaces (0x20), but byte ${end - 1} of the ${n}-byte header is ` +
        `${hex(headerBytes[end - 1]!)}; is the header length (${n}) wrong?`,
    );
  }
  let text: string;
  try {
    // fatal: invalid UTF-8 is corruption, not something to paper over with U+FFFD.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes.subarray(0, end));
  } catch {
    return fail('header is not valid UTF-8');
  }
  // parseJson names the file, never quotes it, and refuses absurd nesting before JSON.parse recurses.
  // Valid JSON that starts with "{" and ends with "}" is one object.
  const header = parseJson(text, source) as Record<string, unknown>;
  rejectDuplicateKeys(text, fail);
  return header;
}

/** One object or array being scanned: the keys seen so far (objects only) and whose value it is. */
interface Frame {
  keys: Set<string> | null;
  owner: string;
  expectKey: boolean;
}

/**
 * Fails on the first key that appears twice in one object, at any depth. `text` must be valid JSON
 * (JSON.parse accepted it), so a flat left-to-right scan that skips strings and tracks the
 * enclosing objects sees every key exactly once: linear time, no recursion.
 */
export function rejectDuplicateKeys(text: string, fail: Fail): void {
  const stack: Frame[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) {
        if (text.charCodeAt(i) === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        // "a" and "\u0061" are the same key: decode escapes before comparing.
        const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
        if (top.keys.has(key)) failDuplicate(key, top, stack.length, fail);
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      stack.push({ keys: c === OPEN_BRACE ? new Set() : null, owner: lastKey, expectKey: c === OPEN_BRACE });
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
}

function failDuplicate(key: string, frame: Frame, depth: number, fail: Fail): never {
  if (depth > 1) return fail(`${frame.owner}: key "${key}" appears twice in the same object; the header is ambiguous`);
  if (key === METADATA_KEY) return fail(`"${METADATA_KEY}" appears twice in the header; the header is ambiguous`);
  return fail(`${key}: tensor name appears twice in the header (JSON parsers keep only one of them); the file is ambiguous`);
}
