/** Writing safetensors files (in memory; io/hf-folder.ts writes them to disk atomically). */
import { ArgumentError } from '../errors.js';
import { HOST_LITTLE_ENDIAN, ITEM_SIZE, KNOWN_DTYPES, METADATA_KEY, compareNames, describe, isNonNegativeInt, isSafetensorsDtype, product, shapeString, swapBytes, type SafetensorsDtype } from './safetensors-format.js';

export type TensorData =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigInt64Array
  | BigUint64Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

/**
 * A tensor to serialize. `data` is the typed array matching the dtype (Uint16Array holding the raw
 * bits for F16/BF16, Uint8Array for U8/BOOL), or a Uint8Array of raw little-endian bytes for any dtype.
 */
export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

type TypedArrayCtor = { new (n: number): TensorData; readonly name: string };
const ARRAY_FOR: Readonly<Record<SafetensorsDtype, TypedArrayCtor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** Validates a tensor to write and returns its byte length; throws ArgumentError naming it. */
export function tensorByteLength(name: string, t: TensorToWrite): number {
  const bad = (message: string): never => {
    throw new ArgumentError(`${name}: ${message}`);
  };
  if (name === METADATA_KEY) bad(`"${METADATA_KEY}" is reserved for the header metadata, not a tensor name`);
  if (typeof t.dtype !== 'string' || !isSafetensorsDtype(t.dtype)) {
    bad(`unknown dtype ${describe(t.dtype)}; known dtypes: ${KNOWN_DTYPES.join(', ')}`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every(isNonNegativeInt)) {
    bad(`shape must be an array of non-negative integers, got ${describe(t.shape)}`);
  }
  const ctor = ARRAY_FOR[t.dtype];
  if (!(t.data instanceof ctor) && !(t.data instanceof Uint8Array)) {
    bad(`dtype ${t.dtype} needs a ${ctor.name} (or raw bytes in a Uint8Array), got ${t.data?.constructor?.name}`);
  }
  const expected = product(t.shape) * ITEM_SIZE[t.dtype];
  if (t.data.byteLength !== expected) {
    bad(`${t.dtype} ${shapeString(t.shape)} needs ${expected} bytes, data has ${t.data.byteLength}`);
  }
  return expected;
}


/**
 * Serializes tensors to safetensors bytes. Tensors are laid out in sorted name order and the header
 * is padded with spaces so that the data buffer starts 8-byte aligned, as the Rust library does; the
 * output depends only on the contents, not on the insertion order of `tensors`.
 */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort(compareNames);
  // The header is assembled by hand: a JS object would reorder integer-like keys.
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ArgumentError(`metadata "${k}" must be a string, got ${describe(v)}`);
    }
    const meta = Object.keys(metadata)
      .sort(compareNames)
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const len = tensorByteLength(name, t);
    const entry = `{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + len}]}`;
    parts.push(`${JSON.stringify(name)}:${entry}`);
    offset += len;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen); // spaces: JSON whitespace, so readers ignore them
  let pos = 8 + headerLen;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    // Raw Uint8Array input is already little-endian; typed arrays are in host order.
    if (!HOST_LITTLE_ENDIAN && !(t.data instanceof Uint8Array)) {
      swapBytes(out.subarray(pos, pos + bytes.length), ITEM_SIZE[t.dtype]);
    }
    pos += bytes.length;
  }
  return out;
}
