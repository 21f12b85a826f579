/**
 * Generators of safetensors files for the fuzz properties: random valid files (written by the
 * library's own writer), and mutations of a valid file, each knowing what the reader must do with
 * the result: load the same tensors ('same': an equivalent header), refuse it ('fail': a broken
 * rule), or agree with the reference reader ('any': random damage that may or may not be valid).
 */
import fc from 'fast-check';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import type { SafetensorsDtype } from '../../src/io/safetensors.js';
import { prng } from './property.js';

const DTYPES: SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'];
const SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1 };

export interface StEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A safetensors file taken apart: entries in data order, metadata, the data section. */
export interface StFile {
  entries: StEntry[];
  metadata: [string, string][] | undefined;
  data: Uint8Array;
}

export type Expect = 'same' | 'fail' | 'any';

export interface Mutated {
  bytes: Uint8Array;
  label: string;
  expect: Expect;
}

/** The stored header length. */
export function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

export function takeApart(bytes: Uint8Array): StFile {
  const f = SafetensorsFile.parse(bytes, 'base');
  const dataStart = 8 + headerLength(bytes);
  const entries = f.names().map((name) => {
    const e = f.entry(name);
    return { name, dtype: e.dtype, shape: e.shape, begin: e.byteOffset - dataStart, end: e.byteOffset - dataStart + e.byteLength };
  });
  const meta = Object.entries(f.metadata);
  return { entries, metadata: meta.length ? meta : undefined, data: bytes.slice(dataStart) };
}

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '10', '9', '0', 'a.b.0.weight', 'ü', 'emoji😀', '', ' ', '"q"', 'back\\slash', 'nl\n'];

const nameArb = fc.oneof(
  fc.constantFrom(...NAMES),
  fc.string({ maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.stringMatching(/^[a-z]{1,4}(\.[0-9]{1,2}){0,3}$/),
);

/** Random valid files, from the library's writer (which must produce files its reader accepts). */
export const stFileArb: fc.Arbitrary<{ bytes: Uint8Array; tensors: number; metadata: number }> = fc
  .record({
    tensors: fc.uniqueArray(
      fc.record({ name: nameArb.filter((n) => n !== '__metadata__'), dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), seed: fc.nat() }),
      { selector: (t) => t.name, maxLength: 6 },
    ),
    metadata: fc.option(fc.uniqueArray(fc.tuple(nameArb, fc.string({ maxLength: 8 })), { selector: (p) => p[0], maxLength: 3 }), { nil: undefined }),
  })
  .map(({ tensors, metadata }) => {
    const toWrite: [string, TensorToWrite][] = tensors.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1) * SIZE[t.dtype]!;
      const next = prng(t.seed);
      const data = new Uint8Array(n).map(() => next() & 0xff);
      return [t.name, { dtype: t.dtype, shape: t.shape, data }];
    });
    const bytes = serializeSafetensors(Object.fromEntries(toWrite), metadata && Object.fromEntries(metadata));
    return { bytes, tensors: tensors.length, metadata: metadata?.length ?? -1 };
  });

/** How the header text is laid out; every choice is equivalent JSON. */
interface Style {
  /** Sort keys of the entries (the metadata is one more). */
  order?: number[];
  /** Seeds the whitespace between tokens; undefined: none. */
  ws?: number;
  /** Seeds which characters of names are written as \uXXXX; undefined: none. */
  escape?: number;
  padding?: number;
  /** Extra "key": value texts to put among the entries. */
  extra?: string[];
  /** Entries' fields rendered from these instead (for size-changing mutations). */
  entries?: StEntry[];
}

function jsonString(s: string, escapeSeed: number | undefined): string {
  const next = escapeSeed === undefined ? undefined : prng(escapeSeed);
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const chosen = next !== undefined && next() % 3 === 0;
    if (chosen || c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

const WS = ['', ' ', '\n', '\t', '\r\n', '  '];

export function headerText(f: StFile, style: Style = {}): string {
  const next = style.ws === undefined ? () => 0 : prng(style.ws);
  const w = (): string => WS[next() % WS.length]!;
  const key = (s: string): string => jsonString(s, style.escape);
  const entries = style.entries ?? f.entries;
  const parts = entries.map(
    (e) =>
      `${w()}${key(e.name)}${w()}:${w()}{${w()}"dtype"${w()}:${w()}${JSON.stringify(e.dtype)}${w()},${w()}"shape"${w()}:${w()}[${w()}${e.shape.join(`${w()},${w()}`)}${w()}]${w()},` +
      `${w()}"data_offsets"${w()}:${w()}[${w()}${e.begin}${w()},${w()}${e.end}${w()}]${w()}}${w()}`,
  );
  if (f.metadata) parts.push(`${w()}"__metadata__"${w()}:${w()}{${f.metadata.map(([k, v]) => `${w()}${key(k)}${w()}:${w()}${jsonString(v, undefined)}${w()}`).join(',')}}${w()}`);
  parts.push(...(style.extra ?? []));
  if (style.order) {
    const order = style.order;
    const keyed = parts.map((p, i) => [order[i % Math.max(order.length, 1)] ?? i, i, p] as const);
    keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    parts.splice(0, parts.length, ...keyed.map((k) => k[2]));
  }
  return `{${parts.join(',')}${w()}}${' '.repeat(style.padding ?? 0)}`;
}

/** length (u64 LE, plus `lengthDelta`) + header + data. */
export function assemble(header: string | Uint8Array, data: Uint8Array, lengthDelta = 0): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, h.length + lengthDelta)), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const MUTATIONS = [
  'none',
  'equivalent-header',
  'duplicate-name',
  'duplicate-field',
  'overlap',
  'gap',
  'trailing-bytes',
  'header-length-off',
  'bom',
  'leading-whitespace',
  'bad-padding',
  'truncate',
  'huge-header-length',
  'shape-changed',
  'dtype-unknown',
  'dtype-size-changed',
  'dtype-same-size',
  'byte-flips',
  'header-byte-flips',
  'random-entries',
] as const;
export type MutationKind = (typeof MUTATIONS)[number];

export const mutationArb = fc.record({
  kind: fc.constantFrom(...MUTATIONS),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
});
export type MutationParams = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

const SAME_SIZE: Record<number, string[]> = { 8: ['F64', 'I64', 'U64'], 4: ['F32', 'I32', 'U32'], 2: ['F16', 'BF16', 'I16', 'U16'], 1: ['I8', 'U8', 'BOOL'] };

/** Applies mutation `m` to `f` (whose canonical bytes are `bytes`). */
export function mutate(f: StFile, bytes: Uint8Array, m: MutationParams): Mutated {
  const { a, b, c } = m;
  const n = f.entries.length;
  const pick = (k: number): StEntry | undefined => (n ? f.entries[k % n] : undefined);
  const nonEmpty = f.entries.filter((e) => e.end > e.begin);
  const withCount = f.entries.filter((e) => e.shape.every((d) => d > 0));
  const plain = headerText(f);
  const fail = (bytes: Uint8Array, label: string): Mutated => ({ bytes, label, expect: 'fail' });
  const entriesWith = (target: StEntry, change: Partial<StEntry>): StEntry[] => f.entries.map((e) => (e === target ? { ...e, ...change } : e));
  switch (m.kind) {
    case 'none':
      return { bytes, label: 'unchanged', expect: 'same' };
    case 'equivalent-header': {
      const order = Array.from({ length: n + 1 }, (_, i) => prng(a + i)() % 1000);
      return {
        bytes: assemble(headerText(f, { order, ws: b, escape: c % 2 ? c : undefined, padding: c % 17 }), f.data),
        label: `equivalent header (order seed ${a}, whitespace seed ${b}, escapes/padding ${c})`,
        expect: 'same',
      };
    }
    case 'duplicate-name': {
      const e = pick(a);
      if (!e) return fail(assemble('{"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}', f.data), 'two empty tensors "x" in a file with no tensors');
      const copy = `${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":[${e.shape.join(',')}],"data_offsets":[${e.begin},${e.end}]}`;
      return fail(assemble(headerText(f, { extra: [copy], order: [b % (n + 2), c % (n + 2)] }), f.data), `tensor ${JSON.stringify(e.name)} given twice`);
    }
    case 'duplicate-field': {
      const e = pick(a);
      if (!e) return fail(assemble('{"__metadata__":{"k":"v","k":"v"}}', f.data), 'a metadata key given twice');
      const text = headerText(f).replace(`${jsonString(e.name, undefined)}:{"dtype":${JSON.stringify(e.dtype)}`, `${jsonString(e.name, undefined)}:{"dtype":${JSON.stringify(e.dtype)},"dtype":${JSON.stringify(e.dtype)}`);
      return fail(assemble(text, f.data), `"dtype" given twice in ${JSON.stringify(e.name)}`);
    }
    case 'overlap': {
      if (nonEmpty.length === 0 || n < 2) return fail(assemble(plain, concat(f.data, new Uint8Array([1]))), 'one trailing byte (no tensors to overlap)');
      const host = nonEmpty[a % nonEmpty.length]!;
      const others = f.entries.filter((e) => e !== host);
      const mover = others[b % others.length]!;
      const size = mover.end - mover.begin;
      const hostSize = host.end - host.begin;
      // An empty tensor overlaps only strictly inside another (at its first byte it is legal).
      if (size === 0 && hostSize < 2) return fail(assemble(plain, concat(f.data, new Uint8Array([1]))), 'one trailing byte (no room to overlap)');
      const k = size === 0 ? 1 + (c % (hostSize - 1)) : c % hostSize;
      const begin = host.begin + k;
      return fail(assemble(headerText(f, { entries: entriesWith(mover, { begin, end: begin + size }) }), f.data), `${JSON.stringify(mover.name)} moved to overlap ${JSON.stringify(host.name)} at +${k}`);
    }
    case 'gap': {
      const total = f.data.length;
      const at = n ? pick(a)!.begin : total;
      const g = 1 + (b % 16);
      const entries = f.entries.map((e) => (e.begin >= at ? { ...e, begin: e.begin + g, end: e.end + g } : e));
      const data = concat(f.data.subarray(0, at), new Uint8Array(g).fill(c & 0xff), f.data.subarray(at));
      return fail(assemble(headerText(f, { entries }), data), `${g} unused bytes inserted at data offset ${at}`);
    }
    case 'trailing-bytes': {
      const g = 1 + (a % 64);
      return fail(concat(bytes, new Uint8Array(g).fill(b & 0xff)), `${g} bytes appended`);
    }
    case 'header-length-off': {
      const delta = (a % 2 ? 1 : -1) * (1 + (b % 9));
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      view.setBigUint64(0, view.getBigUint64(0, true) + BigInt(delta), true);
      return fail(out, `header length ${delta > 0 ? '+' : ''}${delta}`);
    }
    case 'bom':
      return fail(assemble(concat(new Uint8Array([0xef, 0xbb, 0xbf]), new TextEncoder().encode(plain)), f.data), 'a byte-order mark before the header');
    case 'leading-whitespace':
      return fail(assemble([' ', '\n', '\t', '\r'][a % 4]! + plain, f.data), `whitespace 0x${[0x20, 0x0a, 0x09, 0x0d][a % 4]!.toString(16)} before the header`);
    case 'bad-padding': {
      const junk = ['\n', '\t', '\r', '\u0000', 'x', '}', ',', '\u00a0'][a % 8]!;
      return fail(assemble(plain + ' '.repeat(b % 4) + junk + ' '.repeat(c % 8), f.data), `padding with ${JSON.stringify(junk)} after the header`);
    }
    case 'truncate': {
      const at = a % bytes.length;
      return fail(bytes.slice(0, at), `truncated to ${at} of ${bytes.length} bytes`);
    }
    case 'huge-header-length': {
      const out = bytes.slice();
      const values = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 100_000_001n, BigInt(bytes.length - 7), BigInt(bytes.length) + BigInt(a % 1000)];
      const v = values[b % values.length]!;
      new DataView(out.buffer).setBigUint64(0, v, true);
      return fail(out, `header length ${v}`);
    }
    case 'shape-changed': {
      if (withCount.length === 0) return fail(bytes.slice(0, Math.max(0, bytes.length - 1)), 'last byte cut (no tensor with elements)');
      const e = withCount[a % withCount.length]!;
      const shape = [...e.shape];
      const how = b % 3;
      if (how === 0 && shape.length) shape[c % shape.length] = shape[c % shape.length]! + 1;
      else if (how === 1) shape.push(2 + (c % 3));
      else if (shape.length && shape.some((d) => d > 1)) shape.splice(shape.findIndex((d) => d > 1), 1);
      else shape.push(2);
      return fail(assemble(headerText(f, { entries: entriesWith(e, { shape }) }), f.data), `${JSON.stringify(e.name)}'s shape [${e.shape}] → [${shape}]`);
    }
    case 'dtype-unknown': {
      const e = pick(a);
      const dtype = ['F8_E4M3', 'f32', 'Q4_0', '', 'F32 ', 'FLOAT', '__proto__', 'constructor'][b % 8]!;
      if (!e) return fail(assemble(`{"w":{"dtype":${JSON.stringify(dtype)},"shape":[0],"data_offsets":[0,0]}}`, f.data), `dtype ${JSON.stringify(dtype)}`);
      return fail(assemble(headerText(f, { entries: entriesWith(e, { dtype }) }), f.data), `${JSON.stringify(e.name)}'s dtype → ${JSON.stringify(dtype)}`);
    }
    case 'dtype-size-changed': {
      const sized = withCount.filter((e) => e.end > e.begin);
      if (sized.length === 0) return fail(concat(bytes, new Uint8Array([0])), 'one byte appended (no tensor with bytes)');
      const e = sized[a % sized.length]!;
      const others = DTYPES.filter((d) => SIZE[d] !== SIZE[e.dtype]);
      const dtype = others[b % others.length]!;
      return fail(assemble(headerText(f, { entries: entriesWith(e, { dtype }) }), f.data), `${JSON.stringify(e.name)}'s dtype ${e.dtype} → ${dtype}`);
    }
    case 'dtype-same-size': {
      const e = pick(a);
      if (!e) return { bytes, label: 'unchanged (no tensors)', expect: 'same' };
      const same = SAME_SIZE[SIZE[e.dtype]!]!;
      const dtype = same[b % same.length]!;
      // A valid file either way: the format has no checksum that could tell the difference.
      return { bytes: assemble(headerText(f, { entries: entriesWith(e, { dtype }) }), f.data), label: `${JSON.stringify(e.name)}'s dtype ${e.dtype} → ${dtype}`, expect: dtype === e.dtype ? 'same' : 'any' };
    }
    case 'byte-flips': {
      const out = bytes.slice();
      for (const [pos, x] of m.flips) out[pos % out.length]! ^= x;
      return { bytes: out, label: `bytes flipped: ${m.flips.map(([p, x]) => `${p % out.length}^0x${x.toString(16)}`).join(', ')}`, expect: 'any' };
    }
    case 'header-byte-flips': {
      const out = bytes.slice();
      const headerEnd = Math.min(out.length, 8 + headerLength(bytes));
      for (const [pos, x] of m.flips) out[pos % headerEnd]! ^= x;
      return { bytes: out, label: `header bytes flipped: ${m.flips.map(([p, x]) => `${p % headerEnd}^0x${x.toString(16)}`).join(', ')}`, expect: 'any' };
    }
    case 'random-entries': {
      // Entries with small random offsets over a small random data section; in "tidy" mode laid
      // out one after another, so that about half of them are valid files.
      const next = prng(a);
      const tidy = next() % 2 === 0;
      const count = next() % 4;
      const entries: StEntry[] = [];
      let cursor = 0;
      for (let i = 0; i < count; i++) {
        const dtype = ['U8', 'I16', 'F32', 'F64', 'BOOL', tidy ? 'U8' : 'X'][next() % 6]!;
        const shape = Array.from({ length: next() % 3 }, () => next() % 4);
        const begin = tidy ? cursor : next() % 24;
        const len = !tidy && next() % 3 === 0 ? next() % 16 : shape.reduce((p, d) => p * d, 1) * (SIZE[dtype] ?? 1);
        const names = tidy ? ['a', 'b', 'c', '__proto__'] : ['a', 'b', 'c', '__proto__', 'a'];
        entries.push({ name: tidy ? names[i]! : names[next() % names.length]!, dtype, shape, begin, end: begin + len });
        cursor = begin + len;
      }
      const data = new Uint8Array(tidy && next() % 4 !== 0 ? cursor : next() % 40).fill(b & 0xff);
      return { bytes: assemble(headerText({ entries, metadata: undefined, data }, { padding: next() % 3 }), data), label: `random entries ${JSON.stringify(entries)} over ${data.length} data bytes`, expect: 'any' };
    }
  }
}
