/**
 * Split-K register-tiled products for batched decoding (MAMBA_TS_BATCH_SPLITK): Mamba's step
 * products Y (B, N) = epilogue(X (B, K) · Wᵀ) as batch-linear.ts's tiles with K cut into S slices
 * along the grid's z, each slice writing its partial product to P (S, B, N); then one small
 * element-wise kernel sums the slices in order (deterministic) and applies the epilogue.
 *
 * Why: at batch 64 the tiled products are latency-bound, not bandwidth- or FMA-bound. A tile's
 * workgroup walks all of K serially, one global load round and two barriers per K step, and the
 * narrow products give few workgroups: out_proj (768 outputs, K = 1536) is 2 × 24 tiles of 32 that
 * each take 48 steps, x_proj (80 outputs) 2 × 3, in_proj 2 × 96 taking 24 steps each, on a GPU of
 * 132 SMs. Splitting K gives S times the workgroups, each walking K / S: the same weight bytes
 * (each slice reads its own part of W once per row tile), in a few times less wall time. The cost
 * is the partials' round trip (S · B · N floats, which stay in L2: 2 MB for out_proj at S = 10) and
 * one more launch per product.
 *
 *   plain / residual   Y = (R +) Σ_s P[s] (+ bias)                  x_proj; out_proj + residual
 *   normConv           Mamba's step 1 (batchNormInProjConvKernel's semantics): the norm is a row
 *                      scale applied after the product, y = ((x ∘ w_norm) · Wᵀ) · rinv(row), so
 *                      each slice also writes its rows' partial sums of squares SQ (S, B) (from
 *                      the workgroups of the first output tile), and the epilogue applies rinv,
 *                      the in_proj bias and, for x's channels, the conv step + silu.
 */
import { envSwitch } from '../../../env.js';
import { cachedKernel, FLAT_INDEX, grid1d, type Kernel } from '../context.js';
import { BATCH_TILES, batchLinearGrid, convStep, prefetchTile, shared, threads, tileBody, tilePrefetch, type BatchTile } from './batch-linear.js';
import { vec4Operand, weight4Binding } from './gemv4.js';
import type { WeightDType } from './weights.js';

/** The decode step's products a split may take: in_proj (with norm and conv), x_proj, out_proj. */
export type SplitProduct = 'in' | 'x' | 'out';

/**
 * MAMBA_TS_BATCH_SPLITK: which of a blocked decode batch's Mamba step products run split over K,
 * as names joined by '+' (in, x, out) or all; unset (default): none.
 */
export function splitKProducts(): ReadonlySet<SplitProduct> {
  const v = envSwitch('MAMBA_TS_BATCH_SPLITK') ?? '';
  const names = v === 'all' ? ['in', 'x', 'out'] : v.split('+').map((s) => s.trim());
  return new Set(names.filter((s): s is SplitProduct => s === 'in' || s === 'x' || s === 'out'));
}

/**
 * The tiles by default: 32 × 32 where N is wide enough to fill it (4 × 2 per thread: 32 fma per 6
 * shared loads), 16 × 16 for x_proj (80 outputs: 5 whole tiles, where 32 would waste a sixth).
 * MAMBA_TS_BATCH_SPLITK_TILE names another for every product; MAMBA_TS_BATCH_TILE_PREFETCH=1
 * takes its prefetching twin.
 */
const DEFAULT_TILE: Record<SplitProduct, string> = { in: 'tile32', x: 'tile16', out: 'tile32' };

/**
 * Workgroups a split aims for (MAMBA_TS_BATCH_SPLITK_GROUPS overrides): about four per SM of an
 * H100 (132), so that while some wait on their loads the others compute.
 */
const TARGET_GROUPS = 512;
/** K steps (of the tile's KT) each slice walks at least, so that a slice's loads amortise its launch share and its partial write. */
const MIN_STEPS = 2;
/** The most bytes the partial products may take. */
const MAX_PARTIAL_BYTES = 64 * 2 ** 20;

function positiveSwitch(name: string): number | null {
  const v = Number(envSwitch(name));
  return Number.isInteger(v) && v >= 1 ? v : null;
}

/** How a product runs split: the tile, S slices of sliceK4 vec4s of K each, and the product's grid. */
export interface SplitKPlan {
  readonly tile: BatchTile;
  readonly slices: number;
  readonly sliceK4: number;
  readonly grid: [number, number, number];
}

/**
 * The split of a product of B rows × N outputs over K: enough slices that the grid has
 * TARGET_GROUPS workgroups (or MAMBA_TS_BATCH_SPLITK_SLICES slices), each at least MIN_STEPS
 * K steps long, the slices as even as whole K steps allow.
 */
export function splitKPlan(product: SplitProduct, B: number, N: number, K: number): SplitKPlan {
  const name = envSwitch('MAMBA_TS_BATCH_SPLITK_TILE') ?? DEFAULT_TILE[product];
  const named = BATCH_TILES.find((t) => t.name === name) ?? BATCH_TILES.find((t) => t.name === DEFAULT_TILE[product])!;
  const tile = tilePrefetch() ? prefetchTile(named) : named;
  const KT4 = tile.KT / 4;
  const totalSteps = Math.ceil(Math.ceil(K / 4) / KT4);
  const [gx, gy] = batchLinearGrid(tile, B, N);
  const target = positiveSwitch('MAMBA_TS_BATCH_SPLITK_GROUPS') ?? TARGET_GROUPS;
  let wanted = positiveSwitch('MAMBA_TS_BATCH_SPLITK_SLICES') ?? Math.ceil(target / (gx * gy));
  wanted = Math.min(wanted, Math.max(1, Math.floor(MAX_PARTIAL_BYTES / (B * N * 4))), 65535);
  const minSteps = positiveSwitch('MAMBA_TS_BATCH_SPLITK_SLICES') ? 1 : MIN_STEPS;
  const stepsPer = Math.min(totalSteps, Math.max(minSteps, Math.ceil(totalSteps / wanted)));
  const slices = Math.ceil(totalSteps / stepsPer);
  return { tile, slices, sliceK4: stepsPer * KT4, grid: [gx, gy, slices] };
}

/**
 * The split product: P[z, r, n] = Σ over slice z of X[r]·W[n], bindings X 0, W 1, P 2, uniforms
 * { N, rows } 3. With `norm` (in_proj's): X is scaled by the norm weight NW (binding 3: LP, whose
 * first K elements it is) as it is loaded, the rows' partial sums of squares go to SQ (S, B)
 * (binding 4), and the uniforms move to 5.
 */
export function splitKProductKernel(t: BatchTile, K: number, sliceK4: number, wt: WeightDType, norm: boolean): Kernel {
  const key = `batch_split_k_${norm ? 'norm_' : ''}${t.name}_${K}_${sliceK4}_${wt}`;
  const squaresOut = 'if (wid.y == 0u && r0 + tid < BT) { SQ[wid.z * BT + r0 + tid] = q; }';
  const out = 'Part[(wid.z * BT + r) * p.N + n] = v;';
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
struct U { N: u32, rows: u32 }
${vec4Operand('X', 0, K)}   // (B, K)
${weight4Binding('W', 1, K, wt)}                                       // (N, K)
@group(0) @binding(2) var<storage, read_write> Part: array<f32>; // (S, B, N) partial products
${norm ? `${vec4Operand('NW', 3, K)} // LP; its first K elements: the norm weight
@group(0) @binding(4) var<storage, read_write> SQ: array<f32>; // (S, B) partial sums of squares` : ''}
@group(0) @binding(${norm ? 5 : 3}) var<uniform> p: U;
${shared(t, norm)}
@compute @workgroup_size(${threads(t).WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${tileBody(t, K, norm, out, { sliceK4, squaresOut })}
}`,
  }));
}

/** The uniforms of splitKProductKernel. */
export function splitKProductUniforms(N: number, B: number): ArrayBuffer {
  return new Uint32Array([N, B, 0, 0]).buffer;
}

/**
 * Y[r, n] = (R[r, n] +) Σ_s P[s, r, n] (+ bias[biasAt + n]), the slices in order. Bindings P 0,
 * bias 1, Y 2, (residual) R 3, uniforms { N, rows, slices, hasBias, biasAt } last; grid1d(B · N).
 */
export function batchSplitKSumKernel(residual: boolean): Kernel {
  const key = `batch_split_k_sum_${residual ? 'residual' : 'plain'}`;
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
struct U { N: u32, rows: u32, slices: u32, hasBias: u32, biasAt: u32 }
@group(0) @binding(0) var<storage, read> Part: array<f32>;        // (S, B, N)
@group(0) @binding(1) var<storage, read> bias: array<f32>;     // read when hasBias == 1
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;  // (B, N)
${residual ? '@group(0) @binding(3) var<storage, read> R: array<f32>;        // (B, N)' : ''}
@group(0) @binding(${residual ? 4 : 3}) var<uniform> p: U;
${FLAT_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  let BN = p.rows * p.N;
  if (i >= BN) { return; }
  var v = 0.0;
  for (var s = 0u; s < p.slices; s++) { v += Part[s * BN + i]; }
  if (p.hasBias == 1u) { v += bias[p.biasAt + i % p.N]; }
  Y[i] = ${residual ? 'R[i] + ' : ''}v;
}`,
  }));
}

/** The uniforms of batchSplitKSumKernel. */
export function splitKSumUniforms(N: number, B: number, slices: number, bias: { at: number } | null): ArrayBuffer {
  return new Uint32Array([N, B, slices, bias ? 1 : 0, bias ? bias.at : 0, 0, 0, 0]).buffer;
}

/** The grid of the epilogue kernels: a thread per output. */
export function splitKEpilogueGrid(B: number, N: number): [number, number] {
  return grid1d(B * N);
}

/**
 * Mamba's step 1 after a split norm + in_proj (batchNormInProjConvKernel's outputs and bindings
 * after the product's): y = Σ_s P[s, r, n] · rinv(r) + in_proj bias, rinv from Σ_s SQ[s, r]; XZ =
 * y, and for n < E the conv step: XC = silu(conv), the state shifted by one. Bindings: P 0, SQ 1,
 * LP 2 ([norm weight (H) | in_proj bias (2E) | conv weight (E, KC) | conv bias (E)]), XZ 3, conv
 * state 4 (in place: read_write), new conv state 5 (not in place), XC next, uniforms
 * { rows, slices, eps } last; grid1d(B · 2E).
 */
export function splitKNormConvKernel(H: number, E: number, KC: number, inPlace: boolean): Kernel {
  const key = `batch_split_k_norm_conv_${H}_${E}_${KC}${inPlace ? '_inplace' : ''}`;
  const S1 = inPlace ? 'S0' : 'S1';
  const ip = inPlace ? 1 : 0;
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
struct U { rows: u32, slices: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> Part: array<f32>;         // (S, B, 2E) partial products
@group(0) @binding(1) var<storage, read> SQ: array<f32>;        // (S, B) partial sums of squares
@group(0) @binding(2) var<storage, read> LP: array<f32>;
@group(0) @binding(3) var<storage, read_write> XZ: array<f32>;  // (B, 2E)
@group(0) @binding(4) var<storage, ${inPlace ? 'read_write' : 'read'}> S0: array<f32>;  // (B, E, KC-1) conv state
${inPlace ? '' : '@group(0) @binding(5) var<storage, read_write> S1: array<f32>; // (B, E, KC-1) new conv state'}
@group(0) @binding(${6 - ip}) var<storage, read_write> XC: array<f32>; // (B, E) silu(conv)
@group(0) @binding(${7 - ip}) var<uniform> p: U;
fn lp(i: u32) -> f32 { return LP[i]; }
${FLAT_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  let BN = p.rows * ${2 * E}u;
  if (i >= BN) { return; }
  let r = i / ${2 * E}u;
  let n = i % ${2 * E}u;
  var v = 0.0;
  var q = 0.0;
  for (var s = 0u; s < p.slices; s++) {
    v += Part[s * BN + i];
    q += SQ[s * p.rows + r];
  }
  let y = v * inverseSqrt(q / f32(${H}u) + p.eps) + lp(${H}u + n);
  XZ[i] = y;
  if (n < ${E}u) {${convStep('n', E, KC, H + 2 * E, S1)}
    XC[r * ${E}u + n] = pre / (1.0 + exp(-pre));
  }
}`,
  }));
}

/** The uniforms of splitKNormConvKernel. */
export function splitKNormConvUniforms(B: number, slices: number, eps: number): ArrayBuffer {
  const v = new DataView(new ArrayBuffer(16));
  v.setUint32(0, B, true);
  v.setUint32(4, slices, true);
  v.setFloat32(8, eps, true);
  return v.buffer;
}
