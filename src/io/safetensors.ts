/**
 * The safetensors format (https://github.com/huggingface/safetensors), read here and written by
 * safetensors-write.ts, over bytes in memory. No I/O here: callers hand in the file's bytes and a
 * `source` (the file's path or URL) that every error message names.
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {key: string}}`, then the data
 * buffer; data_offsets are relative to the start of the data buffer. All numbers are little-endian.
 *
 * The format's rules are enforced, since a file that breaks one would otherwise load with silently
 * wrong weights: the header's framing and unique names (safetensors-header.ts), known dtypes, sizes
 * that match the shapes, and data ranges that tile the data section exactly (checkLayout).
 */

import { FormatError } from '../errors.js';
import { ITEM_SIZE, KNOWN_DTYPES, MAX_HEADER_BYTES, METADATA_KEY, alignedCopy, compareNames, describe, isNonNegativeInt, isPlainObject, isSafetensorsDtype, kindOf, product, shapeString, type SafetensorsDtype } from './safetensors-format.js';
import { parseHeader } from './safetensors-header.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../tensor/half.js';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 };
export { dtypeItemSize, isSafetensorsDtype, type SafetensorsDtype } from './safetensors-format.js';
export { serializeSafetensors, tensorByteLength, type TensorData, type TensorToWrite } from './safetensors-write.js';

/** One tensor of a parsed file; byteOffset is absolute within the file's bytes. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

/** Numeric typed arrays whose elements are JS numbers. */
type NumberArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;
type BigArray = BigInt64Array | BigUint64Array;

export class SafetensorsFile {
  private constructor(
    readonly source: string,
    readonly metadata: Record<string, string>,
    private readonly bytes: Uint8Array,
    private readonly entries: Map<string, SafetensorsEntry>,
  ) {}

  /** Parses and validates the header; the data stays in `bytes` (which must not be modified later). */
  static parse(bytes: Uint8Array, source: string): SafetensorsFile {
    const fail = (message: string): never => {
      throw new FormatError(source, message);
    };
    if (bytes.length < 8) {
      fail(`file is ${bytes.length} bytes, too short for a safetensors file (needs an 8-byte header length)`);
    }
    const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      fail(`header length ${headerLen} is absurd (limit ${MAX_HEADER_BYTES} bytes); not a safetensors file?`);
    }
    const n = Number(headerLen);
    if (n > bytes.length - 8) {
      fail(`header length ${n} is larger than the file (${bytes.length - 8} bytes after the length); truncated?`);
    }
    const header = parseHeader(bytes.subarray(8, 8 + n), source, fail);
    const dataStart = 8 + n;
    const dataLength = bytes.length - dataStart;

    let metadata: Record<string, string> = {};
    const list: SafetensorsEntry[] = [];
    // The header object came from JSON.parse, so a name such as "__proto__" is an own key like any other.
    for (const [name, value] of Object.entries(header)) {
      if (name === METADATA_KEY) {
        metadata = parseMetadata(value, fail);
        continue;
      }
      list.push(parseEntry(name, value, dataStart, dataLength, fail));
    }
    // Layout order, not header order: JSON.parse moves integer-like keys ("10") to the front.
    list.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength || compareNames(a.name, b.name));
    checkLayout(list, dataStart, dataLength, fail);
    const entries = new Map(list.map((e) => [e.name, e]));
    return new SafetensorsFile(source, metadata, bytes, entries);
  }

  /** Tensor names in the order of their data (which is sorted name order for files this module writes). */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (e === undefined) {
      throw new FormatError(this.source, `no tensor named "${name}" (the file has ${this.entries.size} tensors)`);
    }
    return e;
  }

  /** The tensor's bytes as a view into the file (no copy; little-endian; may be unaligned). */
  raw(name: string): Uint8Array {
    const e = this.entry(name);
    return this.bytes.subarray(e.byteOffset, e.byteOffset + e.byteLength);
  }

  /** Values as float32. F16/BF16 convert exactly; F64 and 64-bit integers round to nearest. */
  toFloat32(name: string): Float32Array {
    const v = this.values(name);
    if (v instanceof Float32Array) return v;
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) return bigToFloat(v, new Float32Array(v.length));
    return new Float32Array(v);
  }

  /** Values as float64 (exact for every dtype but 64-bit integers beyond 2^53). */
  toFloat64(name: string): Float64Array {
    const v = this.values(name);
    if (v instanceof Float64Array) return v;
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) return bigToFloat(v, new Float64Array(v.length));
    return new Float64Array(v);
  }

  /**
   * Values as int32. Any dtype is accepted as long as every value is an integer within int32 range
   * (token ids are often stored as I64 or F64); anything else is an error naming the first bad value.
   */
  toInt32(name: string): Int32Array {
    const e = this.entry(name);
    const v = this.values(name);
    if (v instanceof Int32Array) return v;
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      const ok =
        typeof x === 'bigint' ? x >= -2147483648n && x <= 2147483647n : Number.isInteger(x) && x === (x | 0);
      if (!ok) {
        throw new FormatError(
          this.source,
          `${name}: value ${x} at index ${i} is not a 32-bit integer (dtype ${e.dtype}, expected integers in [-2^31, 2^31))`,
        );
      }
      out[i] = Number(x);
    }
    return out;
  }

  /** The values in a fresh, aligned typed array of the dtype's natural type (F16/BF16 widened to f32). */
  private values(name: string): NumberArray | BigArray {
    const e = this.entry(name);
    const buf = alignedCopy(this.raw(name), ITEM_SIZE[e.dtype]);
    switch (e.dtype) {
      case 'F64':
        return new Float64Array(buf);
      case 'F32':
        return new Float32Array(buf);
      case 'F16':
        return f16ToF32(new Uint16Array(buf));
      case 'BF16':
        return bf16ToF32(new Uint16Array(buf));
      case 'I64':
        return new BigInt64Array(buf);
      case 'I32':
        return new Int32Array(buf);
      case 'I16':
        return new Int16Array(buf);
      case 'I8':
        return new Int8Array(buf);
      case 'U64':
        return new BigUint64Array(buf);
      case 'U32':
        return new Uint32Array(buf);
      case 'U16':
        return new Uint16Array(buf);
      case 'U8':
      case 'BOOL':
        return new Uint8Array(buf);
    }
  }
}

function bigToFloat<T extends Float32Array | Float64Array>(v: BigArray, out: T): T {
  for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!);
  return out;
}

type Fail = (message: string) => never;

/**
 * The format's layout rule: the tensors' byte ranges, in order, tile the data section exactly, from
 * its first byte to its last, with no gap, no overlap and nothing after the last one (`list` is
 * sorted by offset). A header length off by one, bytes appended to the file, or a hand-edited
 * offset all break it, where otherwise they would load as silently shifted or shared data.
 */
function checkLayout(list: readonly SafetensorsEntry[], dataStart: number, dataLength: number, fail: Fail): void {
  let cursor = 0;
  let previous: SafetensorsEntry | undefined;
  const range = (e: SafetensorsEntry): string => `[${e.byteOffset - dataStart}, ${e.byteOffset - dataStart + e.byteLength}]`;
  for (const e of list) {
    const begin = e.byteOffset - dataStart;
    if (begin < cursor) {
      fail(`${e.name}: data_offsets ${range(e)} overlap those of "${previous!.name}" ${range(previous!)}; each tensor needs its own bytes`);
    }
    if (begin > cursor) {
      const after = previous ? `the previous tensor ("${previous.name}") ends at ${cursor}` : 'the data section starts at 0';
      fail(`${e.name}: data_offsets ${range(e)} leave a gap: ${after}, so ${begin - cursor} bytes belong to no tensor`);
    }
    cursor = begin + e.byteLength;
    previous = e;
  }
  if (cursor !== dataLength) {
    const last = previous ? `the last tensor ("${previous.name}") ends at ${cursor}` : 'the file has no tensors';
    fail(`${dataLength - cursor} bytes after the tensors' data: the data section is ${dataLength} bytes but ${last}; is the header length wrong, or were bytes appended?`);
  }
}

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (!isPlainObject(value)) return fail(`${METADATA_KEY} must be an object of strings, got ${kindOf(value)}`);
  const pairs = Object.entries(value);
  for (const [k, v] of pairs) {
    if (typeof v !== 'string') fail(`${METADATA_KEY}: value of "${k}" must be a string, got ${describe(v)}`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays a key, not a prototype.
  return Object.fromEntries(pairs) as Record<string, string>;
}

function parseEntry(name: string, value: unknown, dataStart: number, dataLength: number, fail: Fail): SafetensorsEntry {
  const at = (message: string): never => fail(`${name}: ${message}`);
  if (!isPlainObject(value)) return at(`entry must be an object with dtype, shape and data_offsets, got ${kindOf(value)}`);
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, key)) at(`entry is missing "${key}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return at(`"dtype" must be a string, got ${describe(dtype)}`);
  if (!isSafetensorsDtype(dtype)) return at(`unknown dtype "${dtype}"; known dtypes: ${KNOWN_DTYPES.join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    return at(`"shape" must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt) || offsets[0] > offsets[1]) {
    return at(`"data_offsets" must be [begin, end] with integers 0 <= begin <= end, got ${describe(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    at(`data_offsets [${begin}, ${end}] run past the end of the data buffer (${dataLength} bytes); truncated file, or a wrong header length?`);
  }
  const expected = product(shape) * ITEM_SIZE[dtype];
  if (expected !== end - begin) {
    at(`${dtype} ${shapeString(shape)} needs ${expected} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: end - begin };
}
