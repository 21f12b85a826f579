/**
 * An independent reading of the safetensors rules, written for the fuzz oracle and deliberately
 * structured differently from src/io/safetensors*.ts: a recursive-descent JSON parser that keeps
 * every key (so duplicates are visible), then the layout rules as the spec states them. A mutated
 * file must load in the library exactly when this says it is valid, with the same tensors.
 */
import { MAX_JSON_DEPTH } from '../../src/io/json.js';

const SIZES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 };

export interface RefTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export type RefResult = { ok: true; metadata: [string, string][]; tensors: RefTensor[] } | { ok: false; why: string };

/** A JSON value with objects as ordered key/value lists. */
type J = null | boolean | number | string | J[] | { pairs: [string, J][] };

class Invalid extends Error {}

function parseJsonKeepingKeys(text: string): J {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (depth: number): J => {
    if (depth >= MAX_JSON_DEPTH) throw new Invalid('too deep'); // the root is depth 0, as json.ts counts its first bracket as 1
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const pairs: [string, J][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { pairs };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Invalid('key');
        const k = str();
        ws();
        if (text[i++] !== ':') throw new Invalid('colon');
        pairs.push([k, value(depth + 1)]);
        ws();
        const sep = text[i++];
        if (sep === '}') return { pairs };
        if (sep !== ',') throw new Invalid('comma');
      }
    }
    if (c === '[') {
      i++;
      const items: J[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const sep = text[i++];
        if (sep === ']') return items;
        if (sep !== ',') throw new Invalid('comma');
      }
    }
    if (c === '"') return str();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) throw new Invalid('value');
    i += m[0].length;
    return Number(m[0]);
  };
  const str = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) throw new Invalid('control character in string');
      i++;
    }
    if (i >= text.length) throw new Invalid('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string; // escapes, as JSON defines them
    } catch {
      throw new Invalid('bad escape');
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) throw new Invalid('trailing text');
  return v;
}

function hasDuplicateKeys(v: J): boolean {
  if (Array.isArray(v)) return v.some(hasDuplicateKeys);
  if (v === null || typeof v !== 'object') return false;
  const keys = v.pairs.map(([k]) => k);
  return new Set(keys).size !== keys.length || v.pairs.some(([, x]) => hasDuplicateKeys(x));
}

const isCount = (x: J): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const field = (o: { pairs: [string, J][] }, k: string): J | undefined => o.pairs.find(([key]) => key === k)?.[1];
const isObj = (x: J | undefined): x is { pairs: [string, J][] } => typeof x === 'object' && x !== null && !Array.isArray(x);

export function referenceRead(file: Uint8Array): RefResult {
  const no = (why: string): RefResult => ({ ok: false, why });
  if (file.length < 8) return no('shorter than 8 bytes');
  let n = 0;
  for (let b = 7; b >= 0; b--) n = n * 256 + file[b]!;
  if (n > 100_000_000 || n > file.length - 8) return no('header length');
  const header = file.subarray(8, 8 + n);
  if (header[0] !== 0x7b) return no('header does not start with {');
  let end = n;
  while (end > 0 && header[end - 1] === 0x20) end--;
  if (header[end - 1] !== 0x7d) return no('header does not end with } and spaces');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header.subarray(0, end));
  } catch {
    return no('not UTF-8');
  }
  let root: J;
  try {
    root = parseJsonKeepingKeys(text);
  } catch (e) {
    return no(`JSON: ${(e as Error).message}`);
  }
  if (!isObj(root)) return no('not an object');
  if (hasDuplicateKeys(root)) return no('duplicate keys');
  const data = file.subarray(8 + n);
  let metadata: [string, string][] = [];
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of root.pairs) {
    if (name === '__metadata__') {
      if (!isObj(v) || v.pairs.some(([, s]) => typeof s !== 'string')) return no('metadata');
      metadata = v.pairs as [string, string][];
      continue;
    }
    if (!isObj(v)) return no(`${name}: entry`);
    const dtype = field(v, 'dtype');
    const shape = field(v, 'shape');
    const offsets = field(v, 'data_offsets');
    if (typeof dtype !== 'string' || !Object.hasOwn(SIZES, dtype)) return no(`${name}: dtype`);
    if (!Array.isArray(shape) || !shape.every(isCount)) return no(`${name}: shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) return no(`${name}: offsets`);
    const [begin, stop] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * SIZES[dtype]! !== stop - begin) return no(`${name}: size`);
    if (stop > data.length) return no(`${name}: past the end`);
    entries.push({ name, dtype, shape: shape as number[], begin, end: stop });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) return no(`${e.name}: not contiguous`);
    at = e.end;
  }
  if (at !== data.length) return no('data not covered exactly');
  return { ok: true, metadata, tensors: entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: data.slice(e.begin, e.end) })) };
}
