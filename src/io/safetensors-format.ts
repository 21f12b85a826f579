/** What the safetensors reader and writer share: dtypes, limits, and small checks for messages. */

export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype; also the list of dtypes this module knows. */
export const ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};
export const KNOWN_DTYPES = Object.keys(ITEM_SIZE) as SafetensorsDtype[];

export function isSafetensorsDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(ITEM_SIZE, s);
}

export function dtypeItemSize(dtype: SafetensorsDtype): number {
  return ITEM_SIZE[dtype];
}

/** A header larger than this is certainly corrupt (the Rust library's limit is 100 MB too). */
export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = '__metadata__';

/** Typed arrays are host-endian; the format is little-endian. Every realistic host is LE, but stay correct. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `itemSize`-byte group in place (little-endian <-> big-endian). */
export function swapBytes(bytes: Uint8Array, itemSize: number): void {
  for (let i = 0; i + itemSize <= bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Copies little-endian element bytes into a fresh buffer in host order. A copy because the data may
 * sit at any offset (typed arrays need aligned offsets) and because callers may keep the result.
 */
export function alignedCopy(raw: Uint8Array, itemSize: number): ArrayBuffer {
  const buf = new ArrayBuffer(raw.byteLength);
  const bytes = new Uint8Array(buf);
  bytes.set(raw);
  if (!HOST_LITTLE_ENDIAN && itemSize > 1) swapBytes(bytes, itemSize);
  return buf;
}

/** A short rendering of a JSON value for error messages (never the whole of a huge value). */
export function describe(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Code-unit order, as Rust's (byte-wise) sort gives for the ASCII names real checkpoints use. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
