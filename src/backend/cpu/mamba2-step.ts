/**
 * One Mamba-2 layer's decode step on the CPU (Backend.mamba2BlockStep), models/mamba2/mixer.ts's
 * step without tensors between its parts:
 *
 *   n = RMSNorm(h);  z, xBC, dt = in_proj(n);  xBC = silu(conv_step(xBC));  x, B, C = xBC
 *   dt = clamp(softplus(dt + dt_bias));  S = exp(dt·A)·S + (dt·x) ⊗ B;  y = S·C + D·x
 *   out = h + out_proj(gatedNorm(y · silu(z)))
 *
 * The products (in_proj, out_proj, S·C) and the conv run on the same WebAssembly kernels as the
 * op-by-op step, the state update on a kernel of its own (assembly/ssd-step.ts); the other
 * elementwise parts are TypeScript loops that round to float32 where each op
 * of the op-by-op step stores its result, in the same order, so the two agree bit for bit (the
 * test checks that). Intermediates live in one scratch block: at decode sizes the op-by-op step's
 * few dozen tensors and tidy scopes per layer cost more than the arithmetic. Null (false) where the
 * kernels do not run or an input is not where they can read it; the model then goes op by op.
 */
import type { Mamba2BlockStepInputs } from '../backend.js';
import { isHalf } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { silu, softplus } from './elementwise.js';
import { rmsNormKernel } from './layers.js';
import { heapScratch, type CpuMemory } from './memory.js';
import type { CpuStorage } from './storage.js';
import { matmulOnPool } from './wasm/linear.js';
import { addRowBias, rowsTimesWeight } from './step-products.js';
import { conv1dFits, conv1dOnPool, ssdStepOnPool } from './wasm/sequence.js';

const storage = (t: Tensor): CpuStorage => t.storage as CpuStorage;
const f32 = Math.fround;

/** Runs the step, `out` (B, D) written and the states updated in place; false (nothing written) where it cannot. */
export function cpuMamba2BlockStep(mem: CpuMemory, i: Mamba2BlockStepInputs, out: CpuStorage): boolean {
  const rt = mem.runtime;
  if (!rt) return false;
  const [Bt, Dm] = i.h.shape as [number, number];
  const [CD, K] = i.convWeight.shape as [number, number];
  const [, NH, P, N] = i.ssmState.shape as [number, number, number, number];
  const G = i.groups;
  const E = NH * P;
  const NP = E + CD + NH;
  if (!conv1dFits(K) || K < 2) return false;
  const f32Inputs = [i.h, i.normWeight, i.inProjBias, i.convWeight, i.convBias, i.convState, i.dtBias, i.ALog, i.D, i.gatedNormWeight, i.outProjBias, i.ssmState];
  for (const t of f32Inputs) if (t && (t.dtype !== 'f32' || storage(t).heap !== rt.heap)) return false;
  for (const w of [i.inProj, i.outProj]) if (storage(w).heap !== rt.heap || (w.dtype !== 'f32' && !isHalf(w.dtype))) return false;
  if (out.heap !== rt.heap) return false;

  // Scratch, in floats: normed (B·D), in_proj's output (B·NP), xBC (B·CD), its conv (B·CD), the new
  // conv state (B·CD·(K−1)), C (B·G·N), S·C (B·E), the gated norm's output (B·E), out_proj's output
  // (B·D), Δ and exp(Δ·A) (B·NH each).
  const sizes = [Bt * Dm, Bt * NP, Bt * CD, Bt * CD, Bt * CD * (K - 1), Bt * G * N, Bt * E, Bt * E, Bt * Dm, Bt * NH, Bt * NH];
  const block = heapScratch(mem, sizes);
  if (!block) return false;
  const { scratch, offsets } = block;
  try {
    const [nAt, pAt, xbcAt, xcAt, csAt, cAt, yAt, gAt, oAt, dtAt, decayAt] = offsets as [
      number, number, number, number, number, number, number, number, number, number, number,
    ];
    const addr = (floats: number) => scratch.ptr + 4 * floats;
    // Views after the last allocation (an unshared memory may have grown and detached older ones).
    const buf = scratch.data as Float32Array;
    const view = (from: number, n: number) => buf.subarray(from, from + n);
    const data = (t: Tensor) => storage(t).data as Float32Array;
    const gemv = (x: number, w: Tensor, y: number, Nout: number, Kin: number) => rowsTimesWeight(rt.pool, x, w, y, Bt, Nout, Kin);
    const addBias = (from: number, bias: Tensor | null, n: number) => addRowBias(view(from, Bt * n), bias, Bt, n);

    // Norm and in_proj: z, xBC, dt per row.
    rmsNormKernel(data(i.h), data(i.normWeight), i.eps, view(nAt, Bt * Dm));
    gemv(addr(nAt), i.inProj, addr(pAt), NP, Dm);
    addBias(pAt, i.inProjBias, NP);
    for (let r = 0; r < Bt; r++) buf.copyWithin(xbcAt + r * CD, pAt + r * NP + E, pAt + r * NP + E + CD);
    // The conv reads the old state as it writes the new one: the new one goes to scratch first.
    conv1dOnPool(rt.pool, {
      x: addr(xbcAt), w: storage(i.convWeight).ptr, bias: i.convBias ? storage(i.convBias).ptr : 0, state: storage(i.convState).ptr,
      out: addr(xcAt), newState: addr(csAt), batch: Bt, L: 1, channels: CD, K, silu: true,
    });
    data(i.convState).set(view(csAt, Bt * CD * (K - 1)));

    // dt = clamp(softplus(dt + dt_bias)), A = −exp(A_log), decay = exp(dt·A): each rounded as its op stores it.
    const [lo, hi] = i.dtLimit;
    const loF = f32(lo);
    const hiF = f32(hi);
    const dtBias = data(i.dtBias);
    const aLog = data(i.ALog);
    const Dh = data(i.D);
    const dts = view(dtAt, Bt * NH);
    const decays = view(decayAt, Bt * NH);
    for (let r = 0; r < Bt; r++) {
      for (let hh = 0; hh < NH; hh++) {
        let dt = f32(softplus(f32(buf[pAt + r * NP + E + CD + hh]! + dtBias[hh]!)));
        if (lo > 0) dt = dt > loF || Number.isNaN(dt) ? dt : loF;
        if (Number.isFinite(hi)) dt = dt < hiF || Number.isNaN(dt) ? dt : hiF;
        const A = -f32(Math.exp(aLog[hh]!));
        dts[r * NH + hh] = dt;
        decays[r * NH + hh] = Math.exp(f32(dt * A));
      }
    }

    // The state, in place: S = S·decay + (x·dt)·B, per head with its group's B (a WebAssembly
    // tile per (row, head), each product and sum rounded as the op-by-op step's ops round them).
    const perGroup = NH / G;
    ssdStepOnPool(rt.pool, {
      state: storage(i.ssmState).ptr, xb: addr(xcAt), rowStride: CD, bOffset: E, dt: addr(dtAt), decay: addr(decayAt),
      batch: Bt, heads: NH, headDim: P, N, headsPerGroup: perGroup,
    });
    // C of each group, contiguous for the product below.
    for (let r = 0; r < Bt; r++) buf.copyWithin(cAt + r * G * N, xcAt + r * CD + E + G * N, xcAt + r * CD + E + 2 * G * N);
    // y = S·C: the op-by-op step's batched product ((B·G) × (heads per group · P, N) · (N, 1)), on the same kernel.
    matmulOnPool(rt.pool, {
      a: storage(i.ssmState).ptr, b: addr(cAt), c: addr(yAt), batch: Bt * G, M: perGroup * P, N: 1, K: N, transA: false, transB: false,
      batchStrideA: perGroup * P * N, batchStrideB: N, bType: 'f32',
    });

    // y += D·x; then gated = y · silu(z), normed over groups of E/G channels, times the weight.
    const gw = data(i.gatedNormWeight);
    const size = E / G;
    const ones = G === 1 ? null : new Float32Array(size).fill(1);
    for (let r = 0; r < Bt; r++) {
      const xc = xcAt + r * CD;
      for (let hh = 0; hh < NH; hh++) {
        for (let p = 0; p < P; p++) {
          const j = r * E + hh * P + p;
          const y = f32(buf[yAt + j]! + f32(buf[xc + hh * P + p]! * Dh[hh]!));
          buf[gAt + j] = y * f32(silu(buf[pAt + r * NP + hh * P + p]!));
        }
      }
    }
    const gated = view(gAt, Bt * E);
    if (!ones) rmsNormKernel(gated, gw, i.gatedNormEps, gated);
    else {
      rmsNormKernel(gated, ones, i.gatedNormEps, gated);
      for (let r = 0; r < Bt; r++) for (let j = 0; j < E; j++) gated[r * E + j] *= gw[j]!;
    }

    gemv(addr(gAt), i.outProj, addr(oAt), Dm, E);
    addBias(oAt, i.outProjBias, Dm);
    const h = data(i.h);
    const o = out.data as Float32Array;
    for (let j = 0; j < Bt * Dm; j++) o[j] = h[j]! + buf[oAt + j]!;
    return true;
  } finally {
    mem.free(scratch);
  }
}
