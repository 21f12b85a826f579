/** Copies for slice, concat and transpose on flat row-major arrays. */
import type { DataArray } from '../../tensor/dtype.js';
import { stridesOf, type Shape } from '../../tensor/shape.js';

/** Viewing x as (outer, dim, inner) around `axis`: copies [start, start+len) of dim. */
export function sliceKernel(x: DataArray, shape: Shape, axis: number, start: number, len: number, out: DataArray): void {
  const dim = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1);
  for (let o = 0; o < outer; o++) {
    const src = (o * dim + start) * inner;
    out.set(x.subarray(src, src + len * inner), o * len * inner);
  }
}

export function concatKernel(xs: { data: DataArray; shape: Shape }[], axis: number, out: DataArray): void {
  const outer = xs[0]!.shape.slice(0, axis).reduce((p, q) => p * q, 1);
  const inner = xs[0]!.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const total = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  let at = 0;
  for (const x of xs) {
    const w = x.shape[axis]! * inner;
    for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * w, (o + 1) * w), o * total * inner + at);
    at += w;
  }
}

export function transposeKernel(x: DataArray, shape: Shape, perm: readonly number[], out: DataArray): void {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const strides = perm.map((p) => inStrides[p]!); // input stride for each output axis
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = x[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += strides[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= strides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** out[r, :] = Σ over j in [offsets[r], offsets[r+1]) of src[order[j], :], in that order. */
export function scatterAddRowsKernel(src: Float32Array, order: Int32Array, offsets: Int32Array, H: number, out: Float32Array): void {
  const rows = offsets.length - 1;
  for (let r = 0; r < rows; r++) {
    for (let j = offsets[r]!; j < offsets[r + 1]!; j++) {
      const s = order[j]! * H;
      for (let h = 0; h < H; h++) out[r * H + h] = out[r * H + h]! + src[s + h]!;
    }
  }
}

/** Viewing x as (outer, dim, inner) around `axis`: out[o, i, :] = x[o, dim-1-i, :]. */
export function flipKernel(x: DataArray, shape: Shape, axis: number, out: DataArray): void {
  const dim = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < dim; i++) {
      const src = (o * dim + dim - 1 - i) * inner;
      out.set(x.subarray(src, src + inner), (o * dim + i) * inner);
    }
  }
}
