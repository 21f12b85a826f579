/**
 * Dtypes. Everything is computed in float32; int32 carries token ids and indices. bf16 and f16
 * exist only as storage for weights on backends that unpack them inside kernels (WebGPU, the CPU's
 * WebAssembly kernels): two values per 32-bit word, read back as float32. Files may also store f64/i64: io/ converts them.
 */
export type DType = 'f32' | 'i32' | 'bf16' | 'f16';
export type HalfDType = 'bf16' | 'f16';

export type DataArray = Float32Array | Int32Array;

export function isHalf(d: DType): d is HalfDType {
  return d === 'bf16' || d === 'f16';
}

/** Bytes a buffer of `size` elements of `dtype` takes (halves are packed two to a word). */
export function storageBytes(dtype: DType, size: number): number {
  return isHalf(dtype) ? Math.ceil(size / 2) * 4 : size * 4;
}

export function allocArray(dtype: DType, size: number): DataArray {
  if (dtype === 'f32') return new Float32Array(size);
  if (dtype === 'i32') return new Int32Array(size);
  throw new Error(`${dtype} is a storage-only dtype: no array of it is allocated`);
}
