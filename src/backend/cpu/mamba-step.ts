/**
 * One Mamba layer's decode step on the CPU's WebAssembly kernels (Backend.mambaBlockStep):
 *
 *   n = RMSNorm(h);  x, z = in_proj(n);  x = silu(conv_step(x));  δ, B, C = x_proj(x)
 *   (Jamba: δ, B, C = dt_layernorm(δ), b_layernorm(B), c_layernorm(C))
 *   Δ = dt_proj(δ);  y = state_update(x, Δ, A, B, C, D, z, dt_bias);  out = h + out_proj(y)
 *
 * the same kernels as the unfused path (gemv, conv1d and scan with L = 1), but with the
 * intermediates in one scratch block of the heap and no tensors, views or tidy scopes between them:
 * at decode sizes those cost as much as the arithmetic. Results equal the unfused path's bit for
 * bit where the kernels are the same (the test checks that). Null where the kernels do not run or a
 * non-matmul input is not a float32 tensor in the heap (the model then takes the unfused path).
 */
import type { MambaBlockStepInputs } from '../backend.js';
import { isHalf } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { rmsNormKernel } from './layers.js';
import { heapScratch, type CpuMemory } from './memory.js';
import type { CpuStorage } from './storage.js';
import { addRowBias, rowsTimesWeight } from './step-products.js';
import { conv1dFits, conv1dOnPool, scanFits, scanOnPool } from './wasm/sequence.js';

export interface StepOutputs {
  out: CpuStorage; // (B, H)
  convState: CpuStorage; // (B, E, K-1)
  ssmState: CpuStorage; // (B, E, N)
}

const storage = (t: Tensor): CpuStorage => t.storage as CpuStorage;

/** Runs the step into `o`; false (nothing written) where the WebAssembly kernels cannot take these inputs. */
export function cpuMambaBlockStep(mem: CpuMemory, i: MambaBlockStepInputs, o: StepOutputs): boolean {
  const rt = mem.runtime;
  if (!rt) return false;
  const [B, H] = i.h.shape as [number, number];
  const [E, K] = i.convWeight.shape as [number, number];
  const N = i.A.shape[1]!;
  const R = i.dtProj.shape[1]!;
  if (!scanFits(N) || !conv1dFits(K)) return false;
  const norms = i.innerNorms;
  const f32Inputs = [i.h, i.normWeight, i.convWeight, i.convBias, i.convState, i.dtProjBias, i.A, i.D, i.ssmState, i.inProjBias, i.outProjBias, ...(norms ? [norms.dt, norms.b, norms.c] : [])];
  for (const t of f32Inputs) if (t && (t.dtype !== 'f32' || storage(t).heap !== rt.heap)) return false;
  for (const w of [i.inProj, i.xProj, i.dtProj, i.outProj]) if (storage(w).heap !== rt.heap || (w.dtype !== 'f32' && !isHalf(w.dtype))) return false;
  for (const s of [o.out, o.convState, o.ssmState]) if (s.heap !== rt.heap) return false;

  // Scratch, in floats: normed (B·H), xz (B·2E), x, z, xc, Δ, y (B·E each), x_proj's output (B·(R+2N)), δ (B·R), B and C (B·N each).
  const P = R + 2 * N;
  const sizes = [B * H, 2 * B * E, B * E, B * E, B * E, B * E, B * E, B * P, B * R, B * N, B * N, B * H];
  const block = heapScratch(mem, sizes);
  if (!block) return false;
  const { scratch, offsets } = block;
  try {
    const [nAt, xzAt, xAt, zAt, xcAt, dtAt, yAt, xdAt, dlAt, bAt, cAt, oAt] = offsets as [number, number, number, number, number, number, number, number, number, number, number, number];
    const addr = (floats: number) => scratch.ptr + 4 * floats;
    // Views after the last allocation (an unshared memory may have grown and detached older ones).
    const buf = scratch.data as Float32Array;
    const view = (from: number, n: number) => buf.subarray(from, from + n);
    const gemv = (x: number, w: Tensor, y: number, M: number, Nout: number, Kin: number) => rowsTimesWeight(rt.pool, x, w, y, M, Nout, Kin);
    const addBias = (y: Float32Array, bias: Tensor | null, n: number) => addRowBias(y, bias, B, n);

    rmsNormKernel(storage(i.h).data as Float32Array, storage(i.normWeight).data as Float32Array, i.eps, view(nAt, B * H));
    gemv(addr(nAt), i.inProj, addr(xzAt), B, 2 * E, H);
    const xz = view(xzAt, 2 * B * E);
    addBias(xz, i.inProjBias, 2 * E);
    for (let r = 0; r < B; r++) {
      buf.copyWithin(xAt + r * E, xzAt + r * 2 * E, xzAt + r * 2 * E + E);
      buf.copyWithin(zAt + r * E, xzAt + r * 2 * E + E, xzAt + (r + 1) * 2 * E);
    }
    conv1dOnPool(rt.pool, {
      x: addr(xAt), w: storage(i.convWeight).ptr, bias: i.convBias ? storage(i.convBias).ptr : 0, state: storage(i.convState).ptr,
      out: addr(xcAt), newState: o.convState.ptr, batch: B, L: 1, channels: E, K, silu: true,
    });
    gemv(addr(xcAt), i.xProj, addr(xdAt), B, P, E);
    for (let r = 0; r < B; r++) {
      buf.copyWithin(dlAt + r * R, xdAt + r * P, xdAt + r * P + R);
      buf.copyWithin(bAt + r * N, xdAt + r * P + R, xdAt + r * P + R + N);
      buf.copyWithin(cAt + r * N, xdAt + r * P + R + N, xdAt + (r + 1) * P);
    }
    if (norms) {
      // In place, the kernel the op-by-op RMSNorm runs (so the fused step stays equal to it bit for bit).
      const data = (t: Tensor) => storage(t).data as Float32Array;
      for (const [at, w, n] of [[dlAt, norms.dt, R], [bAt, norms.b, N], [cAt, norms.c, N]] as const) rmsNormKernel(view(at, B * n), data(w), norms.eps, view(at, B * n));
    }
    gemv(addr(dlAt), i.dtProj, addr(dtAt), B, E, R);
    scanOnPool(rt.pool, {
      u: addr(xcAt), delta: addr(dtAt), A: storage(i.A).ptr, B: addr(bAt), C: addr(cAt), D: storage(i.D).ptr, z: addr(zAt),
      deltaBias: storage(i.dtProjBias).ptr, initialState: storage(i.ssmState).ptr, out: addr(yAt), lastState: o.ssmState.ptr,
      batch: B, L: 1, channels: E, N, softplus: true,
    });
    gemv(addr(yAt), i.outProj, addr(oAt), B, H, E);
    const y = view(oAt, B * H);
    addBias(y, i.outProjBias, H);
    const h = storage(i.h).data as Float32Array;
    const out = o.out.data as Float32Array;
    for (let j = 0; j < B * H; j++) out[j] = h[j]! + y[j]!;
    return true;
  } finally {
    mem.free(scratch);
  }
}
