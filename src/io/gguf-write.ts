/**
 * Writing GGUF files (version 3), in memory: `encodeGguf` returns the file as a list of byte chunks
 * (the header, then each tensor's bytes and padding), so a caller writes a large model chunk by
 * chunk without one contiguous copy. Node callers write the chunks with a file handle; browsers can
 * make a Blob of them.
 */
import { ArgumentError } from '../errors.js';
import { f32ToBf16, f32ToF16 } from '../tensor/half.js';
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_MAX_TENSOR_NAME_BYTES,
  GGUF_VERSION,
  TENSOR_TYPE_BYTES,
  TENSOR_TYPE_CODE,
  VALUE_TYPE_CODE,
  alignUp,
  type GgufScalar,
  type GgufScalarType,
  type GgufTensorType,
  type GgufValue,
} from './gguf-format.js';
import { HOST_LITTLE_ENDIAN } from './safetensors-format.js';

/**
 * A tensor to write. `shape` is row-major, outermost first (PyTorch's order). `data` holds float32
 * values (converted to f16/bf16 with round-to-nearest-even when `type` asks for them), or, for
 * f16/bf16, a Uint16Array of the bits as they are.
 */
export interface GgufTensorToWrite {
  name: string;
  shape: readonly number[];
  type: GgufTensorType;
  data: Float32Array | Uint16Array;
}

export interface GgufToWrite {
  /** Key → typed value, written in this order. `general.architecture` is required by llama.cpp. */
  metadata: Readonly<Record<string, GgufValue>>;
  tensors: readonly GgufTensorToWrite[];
  /** Alignment of the data section and of each tensor (a power of two; default 32, written as `general.alignment` otherwise). */
  alignment?: number;
}

const utf8 = new TextEncoder();

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  string(s: string): void {
    const bytes = utf8.encode(s);
    this.u64(BigInt(bytes.length));
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  padTo(alignment: number): void {
    const n = alignUp(this.length, alignment) - this.length;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGE: Readonly<Partial<Record<GgufScalarType, [number, number]>>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};
const BIG_RANGE: Readonly<Partial<Record<GgufScalarType, [bigint, bigint]>>> = {
  u64: [0n, (1n << 64n) - 1n],
  i64: [-(1n << 63n), (1n << 63n) - 1n],
};

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : (v.constructor?.name ?? 'an object');
}

/** Writes one scalar of `type`, or throws ArgumentError naming `where` and the expectation. */
function writeScalar(w: ByteWriter, type: GgufScalarType, v: GgufScalar, where: string): void {
  const bad = (expected: string): never => {
    throw new ArgumentError(`${where}: a ${type} value must be ${expected}, got ${describe(v)}`);
  };
  const intRange = INT_RANGE[type];
  if (intRange) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < intRange[0] || v > intRange[1]) bad(`an integer in [${intRange[0]}, ${intRange[1]}]`);
    const n = v as number;
    if (type === 'u8') w.u8(n);
    else if (type === 'i8') w.i8(n);
    else if (type === 'u16') w.u16(n);
    else if (type === 'i16') w.i16(n);
    else if (type === 'u32') w.u32(n);
    else w.i32(n);
    return;
  }
  const bigRange = BIG_RANGE[type];
  if (bigRange) {
    let b: bigint | null = null;
    if (typeof v === 'bigint') b = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
    if (b === null || b < bigRange[0] || b > bigRange[1]) bad(`a bigint or safe integer in [${bigRange[0]}, ${bigRange[1]}]`);
    if (type === 'u64') w.u64(b!);
    else w.i64(b!);
    return;
  }
  switch (type) {
    case 'f32':
    case 'f64':
      if (typeof v !== 'number') bad('a number');
      if (type === 'f32') w.f32(v as number);
      else w.f64(v as number);
      return;
    case 'bool':
      if (typeof v !== 'boolean') bad('true or false');
      w.u8(v ? 1 : 0);
      return;
    case 'string':
      if (typeof v !== 'string') bad('a string');
      w.string(v as string);
      return;
    default:
      throw new ArgumentError(`${where}: unknown GGUF value type ${describe(type)}; known: ${Object.keys(VALUE_TYPE_CODE).join(', ')}`);
  }
}

function writeValue(w: ByteWriter, key: string, value: GgufValue): void {
  const where = `GGUF metadata "${key}"`;
  if (value === null || typeof value !== 'object' || !Object.hasOwn(VALUE_TYPE_CODE, value.type)) {
    throw new ArgumentError(`${where}: expected { type, value } with type one of ${Object.keys(VALUE_TYPE_CODE).join(', ')}, got ${describe(value)}`);
  }
  w.u32(VALUE_TYPE_CODE[value.type]);
  if (value.type !== 'array') {
    writeScalar(w, value.type, value.value, where);
    return;
  }
  if (!Object.hasOwn(VALUE_TYPE_CODE, value.itemType) || (value.itemType as string) === 'array') {
    throw new ArgumentError(`${where}: an array's itemType must be a scalar GGUF type, got ${describe(value.itemType)}`);
  }
  if (!Array.isArray(value.value)) throw new ArgumentError(`${where}: an array value must be an array, got ${describe(value.value)}`);
  w.u32(VALUE_TYPE_CODE[value.itemType]);
  w.u64(BigInt(value.value.length));
  for (let i = 0; i < value.value.length; i++) writeScalar(w, value.itemType, value.value[i]!, `${where}[${i}]`);
}

/** The tensor's bytes in its file type, validated against its shape. */
function tensorBytes(t: GgufTensorToWrite, count: number): Uint8Array {
  const where = `GGUF tensor "${t.name}"`;
  if (!Object.hasOwn(TENSOR_TYPE_CODE, t.type)) {
    throw new ArgumentError(`${where}: type must be one of ${Object.keys(TENSOR_TYPE_CODE).join(', ')}, got ${describe(t.type)}`);
  }
  if (!(t.data instanceof Float32Array) && !(t.data instanceof Uint16Array)) {
    throw new ArgumentError(`${where}: data must be a Float32Array (or a Uint16Array of f16/bf16 bits), got ${describe(t.data)}`);
  }
  if (t.data.length !== count) {
    throw new ArgumentError(`${where}: shape [${t.shape.join(', ')}] holds ${count} values, data has ${t.data.length}`);
  }
  if (t.data instanceof Uint16Array && t.type === 'f32') {
    throw new ArgumentError(`${where}: an f32 tensor takes a Float32Array, got 16-bit bits (a Uint16Array)`);
  }
  const values = t.data instanceof Float32Array && t.type !== 'f32' ? (t.type === 'f16' ? f32ToF16(t.data) : f32ToBf16(t.data)) : t.data;
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (HOST_LITTLE_ENDIAN) return bytes;
  const swapped = bytes.slice();
  const size = TENSOR_TYPE_BYTES[t.type];
  for (let i = 0; i < swapped.length; i += size) swapped.subarray(i, i + size).reverse();
  return swapped;
}

/**
 * Serializes a GGUF file. Returns its chunks in order: the header (padded to the alignment), then
 * each tensor's bytes followed by zero padding. f32 tensor data is not copied on little-endian hosts:
 * do not modify it until the chunks are written.
 */
export function encodeGguf(file: GgufToWrite): Uint8Array[] {
  const alignment = file.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    throw new ArgumentError(`encodeGguf: alignment must be a power of two, got ${describe(alignment)}`);
  }
  const metadata: Record<string, GgufValue> = { ...file.metadata };
  const declared = metadata[GGUF_ALIGNMENT_KEY];
  if (declared !== undefined && (declared.type !== 'u32' || Number(declared.value) !== alignment)) {
    throw new ArgumentError(`GGUF metadata "${GGUF_ALIGNMENT_KEY}": must be { type: 'u32', value: ${alignment} } to match the alignment option, got ${describe(declared.type)} ${describe(declared.value)}`);
  }
  if (declared === undefined && alignment !== GGUF_DEFAULT_ALIGNMENT) metadata[GGUF_ALIGNMENT_KEY] = { type: 'u32', value: alignment };

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(BigInt(file.tensors.length));
  const keys = Object.keys(metadata);
  w.u64(BigInt(keys.length));
  for (const key of keys) {
    if (key.length === 0 || !/^[\x20-\x7e]+$/.test(key)) throw new ArgumentError(`GGUF metadata key ${describe(key)}: keys are non-empty printable ASCII`);
    w.string(key);
    writeValue(w, key, metadata[key]!);
  }

  const names = new Set<string>();
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const t of file.tensors) {
    const where = `GGUF tensor "${t.name}"`;
    if (typeof t.name !== 'string' || t.name.length === 0 || utf8.encode(t.name).length > GGUF_MAX_TENSOR_NAME_BYTES) {
      throw new ArgumentError(`${where}: a tensor name is 1 to ${GGUF_MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (names.has(t.name)) throw new ArgumentError(`${where}: written twice`);
    names.add(t.name);
    if (!Array.isArray(t.shape) || t.shape.length < 1 || t.shape.length > GGUF_MAX_DIMS || !t.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new ArgumentError(`${where}: shape must list 1 to ${GGUF_MAX_DIMS} positive integers, got ${describe(t.shape)} [${String(t.shape)}]`);
    }
    const bytes = tensorBytes(t, t.shape.reduce((a, b) => a * b, 1));
    w.string(t.name);
    w.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) w.u64(BigInt(t.shape[d]!)); // ggml order: innermost first
    w.u32(TENSOR_TYPE_CODE[t.type]);
    w.u64(BigInt(offset));
    datas.push(bytes);
    offset = alignUp(offset + bytes.length, alignment);
  }
  w.padTo(alignment);

  const chunks: Uint8Array[] = [w.bytes()];
  for (const bytes of datas) {
    chunks.push(bytes);
    const pad = alignUp(bytes.length, alignment) - bytes.length;
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  return chunks;
}
