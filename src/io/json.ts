/**
 * Parsing JSON that came from a file or a user. Every JSON file the library reads (config.json,
 * tokenizer.json, the shard index, trainer_state.json, scalers, training configs) goes through here,
 * so each gets the same three guarantees:
 * - an error names the file and never quotes its contents (V8's own SyntaxError quotes the start of
 *   the text, which for a tokenizer.json linked to /etc/passwd printed a password line);
 * - nesting deeper than MAX_JSON_DEPTH is refused before JSON.parse recurses into a stack overflow;
 * - the result is checked to be an object where an object is expected.
 */
import { FormatError } from '../errors.js';
import { readText } from './platform.js';
import type { ReadOptions } from './read-options.js';

const MiB = 1024 * 1024;

/**
 * Caps on the size of JSON files, checked before a byte is read (readJson), so that a config.json
 * linked to /dev/zero or a multi-gigabyte "index" cannot fill memory. Each is far above real files.
 */
export const JSON_MAX_BYTES = {
  /** config.json, generation_config.json, tokenizer_config.json, training configs, scalers (real ones: a few KiB). */
  config: 16 * MiB,
  /** model.safetensors.index.json (real ones: up to a few MiB for models with tens of thousands of tensors). */
  shardIndex: 64 * MiB,
  /** tokenizer.json (real ones: 2-20 MB, vocabularies of up to a few hundred thousand tokens). */
  tokenizer: 256 * MiB,
} as const;

/** Deeper than any real config or tokenizer (HF's tokenizer.json nests about 6 levels). */
export const MAX_JSON_DEPTH = 512;

/**
 * The deepest nesting of arrays and objects in `text`, scanning once and skipping strings; stops
 * counting at `limit + 1`. Linear in the text's length, with no recursion.
 */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Line and column (1-based) of a character offset, for error messages that point without quoting. */
function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/**
 * Where V8's SyntaxError says the problem is, if it says (Node 20: "... in JSON at position 12";
 * newer V8: "... (line 1 column 13)"), as our own words; the message itself is never passed on.
 */
function syntaxErrorPlace(message: string, text: string): string {
  const pos = /position (\d+)/.exec(message);
  if (pos) return ` (at ${lineAndColumn(text, Number(pos[1]))})`;
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return ` (at line ${lc[1]}, column ${lc[2]})`;
  if (/end of JSON input|Unterminated/i.test(message)) return ' (it ends too early)';
  return '';
}

/**
 * Parses JSON text read from `source` (a path or URL, named in errors). A leading byte-order mark
 * is refused like any other stray character, as JSON.parse does, but with a message that says so.
 */
export function parseJson(text: string, source: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) throw new FormatError(source, 'not valid JSON: it starts with a byte-order mark (save it as UTF-8 without BOM)');
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new FormatError(source, `not valid JSON for this library: nested more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const message = e instanceof Error ? e.message : '';
    throw new FormatError(source, `not valid JSON${syntaxErrorPlace(message, text)}`);
  }
}

/** How a JSON value is called in messages: "an array", "null", "a string". */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Parses JSON text that must hold an object (config.json, tokenizer.json, an index). */
export function parseJsonObject(text: string, source: string): Record<string, unknown> {
  const value = parseJson(text, source);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(source, `expected a JSON object, got ${jsonKind(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads and parses a JSON file (a path, URL or in-memory file), refusing it unread when it is larger
 * than `maxBytes` and not a regular file; every error names the file and none quotes it.
 */
export async function readJson(path: string, o: ReadOptions): Promise<unknown> {
  return parseJson(await readText(path, o), path);
}

/** Reads a JSON file that must hold an object (config.json, an index, a training config), as readJson. */
export async function readJsonObject(path: string, o: ReadOptions): Promise<Record<string, unknown>> {
  return parseJsonObject(await readText(path, o), path);
}

/**
 * Python's json module writes float('inf') and float('nan') as the bare words Infinity, -Infinity
 * and NaN, which are not JSON: transformers 4.x config.json files carry them (Mamba-2's
 * `"time_step_limit": [0.0, Infinity]`). Outside strings, each becomes transformers 5's spelling
 * {"__float__": "Infinity"} (or "-Infinity", "NaN"), which the configs that allow it read.
 * Returns null when the text has none of them.
 */
export function pythonNonFiniteToJson(text: string): string | null {
  let out = '';
  let from = 0;
  let inString = false;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const word = text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : text.startsWith('NaN', i) ? 'NaN' : null;
    if (word === null) continue;
    out += `${text.slice(from, i)}{"__float__": "${word}"}`;
    i += word.length - 1;
    from = i + 1;
    found = true;
  }
  return found ? out + text.slice(from) : null;
}

/**
 * A config.json: a JSON object, where Python's bare Infinity / NaN (not JSON, but written by
 * transformers 4.x) are read as {"__float__": …} (see pythonNonFiniteToJson).
 */
export function parseConfigJson(text: string, source: string): Record<string, unknown> {
  try {
    return parseJsonObject(text, source);
  } catch (e) {
    const rewritten = e instanceof FormatError ? pythonNonFiniteToJson(text) : null;
    if (rewritten === null) throw e;
    return parseJsonObject(rewritten, source);
  }
}
