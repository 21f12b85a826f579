/**
 * Reading weights that may be stored as bf16/f16 (two per 32-bit word; no shader-f16 feature
 * needed): a kernel declares the weight with `weightBinding` and reads element i with `<name>_at(i)`.
 */
import type { DType } from '../../../tensor/dtype.js';

export type WeightDType = 'f32' | 'bf16' | 'f16';

export function weightDType(d: DType): WeightDType {
  if (d === 'i32') throw new Error('webgpu: an int32 tensor cannot be a weight');
  return d;
}

/** The binding declaration and the accessor function for weight `name` at `binding`. */
export function weightBinding(name: string, binding: number, dt: WeightDType, comment = ''): string {
  const decl = `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${dt === 'f32' ? 'f32' : 'u32'}>; ${comment}`;
  const body =
    dt === 'f32'
      ? `return ${name}[i];`
      : dt === 'bf16'
        ? `let w = ${name}[i >> 1u]; return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));`
        : `return unpack2x16float(${name}[i >> 1u])[i & 1u];`;
  return `${decl}\nfn ${name}_at(i: u32) -> f32 { ${body} }`;
}

