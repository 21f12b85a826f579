/**
 * Compute dtypes. Everything is computed in float32; int32 carries token ids and indices.
 * Files may store bf16/f16/f64/i64: io/ converts them on load (see io/safetensors.ts).
 */
export type DType = 'f32' | 'i32';

export type TypedArrayFor<D extends DType> = D extends 'f32' ? Float32Array : Int32Array;
export type DataArray = Float32Array | Int32Array;

export function allocArray(dtype: DType, size: number): DataArray {
  return dtype === 'f32' ? new Float32Array(size) : new Int32Array(size);
}
