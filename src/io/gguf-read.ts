/**
 * Reading GGUF files (versions 2 and 3): the metadata, the tensor table, and f32/f16/bf16 tensor
 * values. Quantized tensors are listed (with their ggml type code) but not decoded. Used to check
 * what the writer produced and to inspect files made by llama.cpp's converters.
 */
import { FormatError } from '../errors.js';
import { quoteForMessage } from '../quote.js';
import { bf16ToF32, f16ToF32 } from '../tensor/half.js';
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  TENSOR_TYPE_BYTES,
  TENSOR_TYPE_NAME,
  VALUE_TYPE_NAME,
  alignUp,
  type GgufScalar,
  type GgufScalarType,
  type GgufTensorType,
  type GgufValue,
} from './gguf-format.js';

export interface GgufTensorInfo {
  name: string;
  /** Row-major, outermost first (the reverse of the file's ggml order). */
  shape: number[];
  /** f32/f16/bf16, or null for a type this library does not decode (see typeCode). */
  type: GgufTensorType | null;
  /** The ggml_type code as stored. */
  typeCode: number;
  /** Byte offset of the tensor's data from the start of the file. */
  offset: number;
  /** Bytes of data, for the types this library decodes; null otherwise. */
  byteLength: number | null;
}

export interface GgufFile {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Where the data section starts (aligned). */
  dataOffset: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A bounds-checked little-endian cursor; running off the end is a FormatError naming what was being read. */
class ByteReader {
  private readonly view: DataView;
  pos = 0;
  /** Bytes not read yet. */
  get left(): number {
    return this.bytes.length - this.pos;
  }
  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): number {
    if (this.pos + n > this.bytes.length) {
      throw new FormatError(this.source, `the file ends inside ${what} (at byte ${this.pos}, ${n} more needed, ${this.bytes.length} in the file)`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(what: string): number {
    return this.view.getUint8(this.need(1, what));
  }
  i8(what: string): number {
    return this.view.getInt8(this.need(1, what));
  }
  u16(what: string): number {
    return this.view.getUint16(this.need(2, what), true);
  }
  i16(what: string): number {
    return this.view.getInt16(this.need(2, what), true);
  }
  u32(what: string): number {
    return this.view.getUint32(this.need(4, what), true);
  }
  i32(what: string): number {
    return this.view.getInt32(this.need(4, what), true);
  }
  u64(what: string): bigint {
    return this.view.getBigUint64(this.need(8, what), true);
  }
  i64(what: string): bigint {
    return this.view.getBigInt64(this.need(8, what), true);
  }
  f32(what: string): number {
    return this.view.getFloat32(this.need(4, what), true);
  }
  f64(what: string): number {
    return this.view.getFloat64(this.need(8, what), true);
  }
  /** A u64 that must fit a JS number (counts, sizes, offsets). */
  size(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(this.source, `${what} is ${v}, beyond any real file`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.size(`the length of ${what}`);
    const at = this.need(n, what);
    try {
      return utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new FormatError(this.source, `${what} is not valid UTF-8`);
    }
  }
}

/** A u64/i64 as a number where that is exact, else a bigint. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readScalar(r: ByteReader, type: GgufScalarType, what: string, source: string): GgufScalar {
  switch (type) {
    case 'u8':
      return r.u8(what);
    case 'i8':
      return r.i8(what);
    case 'u16':
      return r.u16(what);
    case 'i16':
      return r.i16(what);
    case 'u32':
      return r.u32(what);
    case 'i32':
      return r.i32(what);
    case 'u64':
      return narrow(r.u64(what));
    case 'i64':
      return narrow(r.i64(what));
    case 'f32':
      return r.f32(what);
    case 'f64':
      return r.f64(what);
    case 'bool': {
      const b = r.u8(what);
      if (b > 1) throw new FormatError(source, `${what}: a bool byte is 0 or 1, got ${b}`);
      return b === 1;
    }
    case 'string':
      return r.string(what);
  }
}

function valueType(r: ByteReader, what: string, source: string): GgufScalarType | 'array' {
  const code = r.u32(`the type of ${what}`);
  const name = VALUE_TYPE_NAME.get(code);
  if (name === undefined) throw new FormatError(source, `${what}: unknown value type ${code}`);
  return name;
}

function readValue(r: ByteReader, key: string, source: string): GgufValue {
  const what = `metadata ${quoteForMessage(key)}`;
  const type = valueType(r, what, source);
  if (type !== 'array') return { type, value: readScalar(r, type, what, source) } as GgufValue;
  const itemType = valueType(r, `${what}'s items`, source);
  if (itemType === 'array') throw new FormatError(source, `${what}: arrays of arrays are not read by this library`);
  const n = r.size(`the length of ${what}`);
  // Every item takes at least a byte: a longer array cannot be in the file (and new Array would throw).
  if (n > r.left) throw new FormatError(source, `${what}: ${n} items announced, but only ${r.left} bytes are left in the file`);
  const value: GgufScalar[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = readScalar(r, itemType, `${what}[${i}]`, source);
  return { type: 'array', itemType, value };
}

/** Parses a GGUF file's header, metadata and tensor table; `source` names the file in errors. */
export function parseGguf(bytes: Uint8Array, source = 'GGUF file'): GgufFile {
  const r = new ByteReader(bytes, source);
  const magic = r.u32('the magic number');
  if (magic !== GGUF_MAGIC) throw new FormatError(source, 'not a GGUF file (it does not start with "GGUF")');
  const version = r.u32('the version');
  if (version < 2 || version > 3) throw new FormatError(source, `GGUF version ${version} is not read here (versions 2 and 3 are)`);
  const tensorCount = r.size('the tensor count');
  const kvCount = r.size('the metadata count');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    if (metadata.has(key)) throw new FormatError(source, `metadata ${quoteForMessage(key)} appears twice`);
    metadata.set(key, readValue(r, key, source));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const declared = metadata.get(GGUF_ALIGNMENT_KEY);
  if (declared !== undefined) {
    const a = declared.type === 'u32' ? declared.value : NaN;
    if (typeof a !== 'number' || a < 1 || (a & (a - 1)) !== 0) throw new FormatError(source, `${GGUF_ALIGNMENT_KEY} must be a u32 power of two`);
    alignment = a;
  }

  const raw: { name: string; shape: number[]; typeCode: number; rel: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(`tensor name ${i}`);
    const quoted = quoteForMessage(name); // a name from the file: cut, control characters escaped
    if (names.has(name)) throw new FormatError(source, `tensor ${quoted} appears twice`);
    names.add(name);
    const nDims = r.u32(`tensor ${quoted}'s rank`);
    if (nDims < 1 || nDims > GGUF_MAX_DIMS) throw new FormatError(source, `tensor ${quoted}: rank ${nDims}, expected 1 to ${GGUF_MAX_DIMS}`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(r.size(`tensor ${quoted}'s dimension ${d}`));
    const typeCode = r.u32(`tensor ${quoted}'s type`);
    const rel = r.size(`tensor ${quoted}'s offset`);
    if (rel % alignment !== 0) throw new FormatError(source, `tensor ${quoted}: offset ${rel} is not a multiple of the alignment ${alignment}`);
    raw.push({ name, shape: ne.reverse(), typeCode, rel });
  }
  const dataOffset = alignUp(r.pos, alignment);

  const tensors = raw.map(({ name, shape, typeCode, rel }): GgufTensorInfo => {
    const type = TENSOR_TYPE_NAME.get(typeCode) ?? null;
    const byteLength = type === null ? null : shape.reduce((a, b) => a * b, 1) * TENSOR_TYPE_BYTES[type];
    const offset = dataOffset + rel;
    if (offset + (byteLength ?? 0) > bytes.length) {
      throw new FormatError(source, `tensor ${quoteForMessage(name)}: its data (${byteLength ?? '?'} bytes at ${offset}) runs past the end of the file (${bytes.length} bytes)`);
    }
    return { name, shape, type, typeCode, offset, byteLength };
  });
  return { version, alignment, metadata, tensors, dataOffset };
}

/** A tensor's values as float32 (f16/bf16 widened); a FormatError for types this library does not decode. */
export function ggufTensorValues(bytes: Uint8Array, t: GgufTensorInfo, source = 'GGUF file'): Float32Array {
  if (t.type === null || t.byteLength === null) {
    throw new FormatError(source, `tensor ${quoteForMessage(t.name)}: ggml type ${t.typeCode} is not decoded here (f32, f16 and bf16 are)`);
  }
  const copy = bytes.slice(t.offset, t.offset + t.byteLength); // aligned, and little-endian on every real host
  if (t.type === 'f32') return new Float32Array(copy.buffer);
  const bits = new Uint16Array(copy.buffer);
  return t.type === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
}
