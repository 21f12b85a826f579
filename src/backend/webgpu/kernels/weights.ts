/**
 * Reading weights that may be stored as bf16/f16 (two per 32-bit word; no shader-f16 feature
 * needed): a kernel declares the weight with `weightBinding` and reads element i with `<name>_at(i)`.
 */
import type { DType } from '../../../tensor/dtype.js';
import { cachedKernel, FLAT_INDEX, WG, type Kernel } from '../context.js';

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

/** y (f32) = the unpacked values of a bf16/f16 weight. */
export function unpackHalfKernel(wt: 'bf16' | 'f16'): Kernel {
  return cachedKernel(`unpackHalf_${wt}`, () => ({
    key: `unpack_half_${wt}`,
    code: () => /* wgsl */ `
struct P { n: u32 }
${weightBinding('W', 0, wt)}
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${FLAT_INDEX}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= p.n) { return; }
  y[i] = W_at(i);
}`,
  }));
}
