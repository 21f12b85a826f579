/**
 * Where the CPU backend's selective scan, state update, causal conv (and its backward), Mamba-2's
 * SSD (and its backward) and attention run: the WebAssembly
 * kernels (wasm/sequence.ts) when they are on and every buffer lives in their memory; the callers
 * fall back to the TypeScript kernels (scan-reference.ts, state-update.ts, layers.ts) when these
 * return false.
 */
import type { CpuStorage } from './storage.js';
import { conv1dBackwardFits, conv1dBackwardOnPool, conv1dFits, conv1dOnPool, scanFits, scanOnPool, ssdScanOnPool, type SsdScanDims } from './wasm/sequence.js';
import type { WasmRuntime } from './wasm/runtime.js';
import type { AttentionDimsCpu } from './attention.js';
import { attentionFits, attentionOnPool } from './wasm/attention.js';
import { ssdScanBackwardOnPool, type SsdScanBackwardStorages } from './wasm/ssd-scan-backward.js';

/** The heap address of each storage (0 for null), or null when one lies outside the runtime's heap. */
function addresses(rt: WasmRuntime, xs: readonly (CpuStorage | null)[]): number[] | null {
  const out: number[] = [];
  for (const x of xs) {
    if (x === null) out.push(0);
    else if (x.heap !== rt.heap || x.kind !== 'f32') return null;
    else out.push(x.ptr);
  }
  return out;
}

export interface ScanStorages {
  u: CpuStorage;
  delta: CpuStorage;
  A: CpuStorage;
  B: CpuStorage;
  C: CpuStorage;
  D: CpuStorage | null;
  z: CpuStorage | null;
  deltaBias: CpuStorage | null;
  initialState: CpuStorage | null;
  out: CpuStorage;
  lastState: CpuStorage;
}

/** The scan (or, with L = 1, a decode step) on the WebAssembly kernels; false where they cannot run it. */
export function wasmScan(
  rt: WasmRuntime | null,
  s: ScanStorages,
  dims: { batch: number; L: number; D: number; N: number },
  softplus: boolean,
): boolean {
  if (!rt || !scanFits(dims.N)) return false;
  const p = addresses(rt, [s.u, s.delta, s.A, s.B, s.C, s.D, s.z, s.deltaBias, s.initialState, s.out, s.lastState]);
  if (!p) return false;
  const [u, delta, A, B, C, D, z, deltaBias, initialState, out, lastState] = p as [number, number, number, number, number, number, number, number, number, number, number];
  scanOnPool(rt.pool, { u, delta, A, B, C, D, z, deltaBias, initialState, out, lastState, batch: dims.batch, L: dims.L, channels: dims.D, N: dims.N, softplus });
  return true;
}

/** The causal depthwise conv on the WebAssembly kernels; false where they cannot run it. */
export function wasmConv1d(
  rt: WasmRuntime | null,
  s: { x: CpuStorage; w: CpuStorage; bias: CpuStorage | null; state: CpuStorage | null; out: CpuStorage; newState: CpuStorage },
  dims: { batch: number; L: number; D: number; K: number },
  silu: boolean,
): boolean {
  if (!rt || !conv1dFits(dims.K)) return false;
  const p = addresses(rt, [s.x, s.w, s.bias, s.state, s.out, s.newState]);
  if (!p) return false;
  const [x, w, bias, state, out, newState] = p as [number, number, number, number, number, number];
  conv1dOnPool(rt.pool, { x, w, bias, state, out, newState, batch: dims.batch, L: dims.L, channels: dims.D, K: dims.K, silu });
  return true;
}

/** Mamba-2's state space layer over a sequence (ops/ssd.ts) on the WebAssembly kernels; false where they cannot run it. */
export function wasmSsdScan(
  rt: WasmRuntime | null,
  s: { x: CpuStorage; dt: CpuStorage; A: CpuStorage; D: CpuStorage | null; B: CpuStorage; C: CpuStorage; initialState: CpuStorage | null; out: CpuStorage; lastState: CpuStorage },
  dims: SsdScanDims,
): boolean {
  if (!rt) return false;
  const p = addresses(rt, [s.x, s.dt, s.A, s.D, s.B, s.C, s.initialState, s.out, s.lastState]);
  if (!p) return false;
  const [x, dt, A, D, B, C, initialState, out, lastState] = p as [number, number, number, number, number, number, number, number, number];
  ssdScanOnPool(rt.pool, { x, dt, A, D, B, C, initialState, out, lastState, ...dims });
  return true;
}

/** The causal conv's backward on the WebAssembly kernels; false where they cannot run it. */
export function wasmConv1dBackward(
  rt: WasmRuntime | null,
  s: {
    x: CpuStorage; w: CpuStorage; bias: CpuStorage | null; state: CpuStorage | null; gOut: CpuStorage; gState: CpuStorage | null;
    dx: CpuStorage; dw: CpuStorage; dbias: CpuStorage | null; dstate: CpuStorage | null;
  },
  dims: { batch: number; L: number; D: number; K: number },
  silu: boolean,
): boolean {
  if (!rt || !conv1dBackwardFits(dims.K)) return false;
  const p = addresses(rt, [s.x, s.w, s.bias, s.state, s.gOut, s.gState, s.dx, s.dw, s.dbias, s.dstate]);
  if (!p) return false;
  const [x, w, bias, state, gOut, gState, dx, dw, dbias, dstate] = p as [number, number, number, number, number, number, number, number, number, number];
  conv1dBackwardOnPool(rt.pool, { x, w, bias, state, gOut, gState, dx, dw, dbias, dstate, batch: dims.batch, L: dims.L, channels: dims.D, K: dims.K, silu });
  return true;
}

/** Mamba-2's SSD backward on the WebAssembly kernels; false (nothing run) where a buffer lies outside their heap. */
export function wasmSsdScanBackward(rt: WasmRuntime, s: SsdScanBackwardStorages, dims: SsdScanDims): boolean {
  const all = [s.x, s.dt, s.A, s.D, s.B, s.C, s.initialState, s.gOut, s.gLast, s.dx, s.ddt, s.dA, s.dD, s.dB, s.dC, s.dInitialState];
  if (!addresses(rt, all)) return false;
  ssdScanBackwardOnPool(rt, s, dims);
  return true;
}

/** Causal grouped-query attention's forward on the WebAssembly kernels; false where they cannot run it. */
export function wasmAttention(
  rt: WasmRuntime | null,
  s: { q: CpuStorage; k: CpuStorage; v: CpuStorage; mask: CpuStorage | null; out: CpuStorage },
  dims: AttentionDimsCpu,
): boolean {
  if (!rt || !attentionFits(dims.hd)) return false;
  const p = addresses(rt, [s.q, s.k, s.v, s.mask, s.out]);
  if (!p) return false;
  const [q, k, v, mask, out] = p as [number, number, number, number, number];
  attentionOnPool(rt.pool, { q, k, v, mask, out, ...dims });
  return true;
}
