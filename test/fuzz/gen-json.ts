/**
 * Editing JSON documents for the fuzz properties: values are given as raw JSON text, so that
 * hostile keys (`__proto__`) and values that JavaScript cannot hold as written (`1e400`,
 * `9007199254740993`) reach the file exactly; and text-level corruption of a whole JSON file.
 */
import fc from 'fast-check';

export type JsonPath = (string | number)[];
export type JsonEdit = { path: JsonPath; valueText: string } | { path: JsonPath; remove: true };

/** Marks a file's contents: an error message that contains it quoted the file. */
export const CANARY = 'CANARY-7f3a9c-SECRET';

const marker = (i: number): string => `@@EDIT-${i}@@`;

/** `base` with `edits` applied, as JSON text. Edits whose parent does not exist are skipped. */
export function applyEdits(base: unknown, edits: readonly JsonEdit[]): string {
  const doc = JSON.parse(JSON.stringify(base)) as unknown;
  const raw = new Map<string, string>();
  edits.forEach((edit, i) => {
    let parent = doc as Record<string | number, unknown> | unknown[];
    for (const k of edit.path.slice(0, -1)) {
      const next = (parent as Record<string | number, unknown>)[k];
      if (typeof next !== 'object' || next === null || !Object.hasOwn(parent, k)) return;
      parent = next as Record<string | number, unknown>;
    }
    const key = edit.path[edit.path.length - 1]!;
    if ('remove' in edit) {
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete (parent as Record<string | number, unknown>)[key];
      return;
    }
    // defineProperty: an own key even for "__proto__", which assignment would turn into a prototype.
    Object.defineProperty(parent, key, { value: marker(i), enumerable: true, writable: true, configurable: true });
    raw.set(JSON.stringify(marker(i)), edit.valueText);
  });
  let text = JSON.stringify(doc, null, 1);
  for (const [m, v] of raw) text = text.replace(m, v);
  return text;
}

/** The edits that take effect: a later edit of the same path replaces an earlier one. */
export function lastPerPath(edits: readonly JsonEdit[]): JsonEdit[] {
  const byPath = new Map<string, JsonEdit>();
  for (const e of edits) {
    const key = JSON.stringify(e.path);
    byPath.delete(key);
    byPath.set(key, e);
  }
  return [...byPath.values()];
}

export function describeEdit(e: JsonEdit): string {
  const path = e.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  return 'remove' in e ? `delete ${path}` : `${path} = ${e.valueText.length > 100 ? `${e.valueText.slice(0, 97)}...` : e.valueText}`;
}

/** Numbers and other values a size or count field must be checked against. */
export const HOSTILE_VALUES = [
  '1e9', '1000000000', '2147483648', '9007199254740993', '1e15', '1e308', '1e400', '-1', '-64', '0', '-0', '0.5', '1.5',
  '64.5', '64.0', '1e-9', '"64"', '""', '"auto"', '"__proto__"', 'null', 'true', 'false', '[]', '[64]', '{}', '{"__proto__":1}',
];

export const hostileValueArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_VALUES),
  fc.integer({ min: -3, max: 600 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
);

/** Huge sizes: what must be refused before anything is allocated. */
export const hugeValueArb = fc.constantFrom('1e9', '1000000000', '1000000', '2147483647', '1e15', '100000');

export type TextCorruption = { text: string | Uint8Array; label: string };

/** Ways to make a JSON file unreadable; each must be an error naming the file that never quotes it. */
export const textCorruptionArb = fc.record({ kind: fc.nat({ max: 8 }), at: fc.nat(), depth: fc.constantFrom(600, 10_000, 200_000) });

export function corruptText(text: string, c: { kind: number; at: number; depth: number }): TextCorruption {
  switch (c.kind) {
    case 0:
      return { text: `${CANARY} ${text}`, label: 'text before the JSON' };
    case 1: {
      const colon = text.indexOf(':');
      return { text: `${text.slice(0, colon + 1)} ${CANARY}${text.slice(colon + 1)}`, label: 'a bare word inside the JSON' };
    }
    case 2: {
      const at = c.at % Math.max(1, text.trimEnd().length);
      return { text: text.slice(0, at), label: `truncated to ${at} characters` };
    }
    case 3: {
      const close = text.lastIndexOf('}');
      return { text: `${text.slice(0, close)},}`, label: 'a trailing comma' };
    }
    case 4:
      return { text: `${'['.repeat(c.depth)}${']'.repeat(c.depth)}`, label: `arrays nested ${c.depth} deep` };
    case 5:
      return { text: `{"${CANARY}": ${'{"a":'.repeat(c.depth)}1${'}'.repeat(c.depth)}}`, label: `objects nested ${c.depth} deep` };
    case 6:
      return { text: ['', '[]', '1', 'null', `"${CANARY}"`][c.at % 5]!, label: 'not an object' };
    case 7:
      return { text: new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x22, ...new TextEncoder().encode(CANARY), 0x80, 0x22, 0x7d]), label: 'binary junk' };
    default:
      return { text: `${text}\n${CANARY}`, label: 'text after the JSON' };
  }
}
