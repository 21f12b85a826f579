/**
 * Register-tiled products for batched decoding: Y (B, N) = epilogue(X (B, K) · Wᵀ), W in PyTorch
 * layout (N, K), f32 or packed bf16/f16 (weight4Binding), for a decode batch of B rows (32..256 by
 * default; batchLinearTile says which products).
 *
 * Why: the blocked gemv (gemv4.ts) loads each row's X vec4 from memory for every weight vec4 it
 * uses (about one fma per load), so at batch 64 the layers' projections run at ~4.6 TFLOP/s on an
 * H100. Here a workgroup owns a tile of TB rows × TN outputs; K is walked KT elements at a time,
 * the X and W tiles staged in workgroup memory as vec4s, and each thread computes RB rows × RN
 * outputs from registers: RB + RN shared vec4 loads for 4·RB·RN fmas.
 *
 * The row count is a uniform (p.rows), so one pipeline serves every batch size and a recorded
 * decode step stays valid; K is specialised (constant trip counts), like the gemv kernels.
 * Workgroups along x are the row tiles (fastest), so the tiles that read the same weight rows run
 * side by side and share them through the cache: the weights come from memory about once.
 *
 * Epilogues:
 *   plain     Y = X·Wᵀ (+ bias)                         x_proj, q/k/v, MLP projections
 *   residual  Y = R + X·Wᵀ (+ bias)                     out_proj + residual
 *   norm      Y = RMSNorm(X; nw, eps)·Wᵀ (+ bias)       norm_f + LM head (normLinear4's semantics):
 *             the row sums of squares are accumulated while the X tiles are loaded, the norm
 *             weight is applied to the X tile, the 1/rms at the end
 *   normConv  Mamba's step 1: xz = norm + in_proj, and for x's channels the conv step + silu
 *             (a per-element epilogue: the conv of (row, channel) needs only that output and its
 *             own conv state), see batchNormInProjConvKernel; Mamba-2's (the conv over xBC,
 *             written over it), see batchMamba2NormInProjConvKernel.
 */
import { envSwitch } from '../../../env.js';
import { UnsupportedError } from '../../../errors.js';
import { cachedKernel, type Kernel } from '../context.js';
import { vec4Operand, weight4Binding } from './gemv4.js';
import type { WeightDType } from './weights.js';

/** A tile shape: TB rows × TN outputs per workgroup, RB × RN per thread, K in steps of KT. */
export interface BatchTile {
  readonly name: string;
  readonly TB: number;
  readonly TN: number;
  readonly RB: number;
  readonly RN: number;
  readonly KT: number;
  /** Loads the next K step into registers while computing this one (prefetchTile). */
  readonly prefetch?: boolean;
  /**
   * K groups (KSPLIT_TILES; 1 when absent): KS groups of TB/RB × TN/RN threads, group g computing
   * every K step's vec4s [g, g + 1) · KT / 4 / KS for the whole output tile; their partial sums
   * are added in workgroup memory after the K loop, in group order (deterministic).
   */
  readonly KS?: number;
  /**
   * vec4s of padding after each K row of the staged tiles (Xs, Ws; 0 when absent): the loads store
   * a K row's consecutive vec4s from consecutive threads, TB (or TN) vec4s apart, which without
   * it land on the same banks (a KT / 4-way conflict).
   */
  readonly pad?: number;
}

/** The tile shapes, largest first (more reuse per shared load, fewer workgroups). */
export const BATCH_TILES: readonly BatchTile[] = [
  { name: 'tile64', TB: 64, TN: 64, RB: 4, RN: 4, KT: 16 }, // 256 threads, 64 fma per 8 shared vec4 loads
  { name: 'tile32', TB: 32, TN: 32, RB: 4, RN: 2, KT: 32 }, // 128 threads, 32 fma per 6 loads
  { name: 'tile16', TB: 16, TN: 16, RB: 2, RN: 2, KT: 32 }, // 64 threads, 16 fma per 4 loads
];

/**
 * Tiles that split K inside the workgroup (BatchTile.KS), for the latency-bound products of a
 * decode batch: at batch 64 tile32 gives 130M's in_proj 2 × 96 workgroups of 4 warps, each
 * walking all of K in 24 steps of two barriers and a global load round. Here 4 groups of 64
 * threads share one staged K step of 64 (16 of it each) and add their partial sums at the end:
 * 8 warps per workgroup, half the steps (12 at K = 768) and, per thread, half (ksplit32) or a
 * quarter (ksplit16) of tile32's serial FMAs, with no second launch (batch-split-k.ts's cost).
 * A K step of 128 would halve the steps again but needs 33 KB of workgroup memory (lavapipe
 * allows 32). Named only (MAMBA_TS_BATCH_LINEAR, MAMBA_TS_BATCH_IN_TILE): auto does not pick them.
 * Workgroup memory: the staged tiles ((TB + pad) + (TN + pad)) · KT / 4 vec4s (16.5 KB for
 * ksplit32, 12.5 KB for ksplit16), which also hold the KS · TB · TN partial sums at the end, and
 * with the norm its TB · KT / 4 + TB floats for the sums of squares.
 */
export const KSPLIT_TILES: readonly BatchTile[] = [
  { name: 'ksplit32', TB: 32, TN: 32, RB: 4, RN: 4, KT: 64, KS: 4, pad: 1 }, // 4 groups × 64 threads (8 × 8), 64 fma per 8 shared loads
  { name: 'ksplit16', TB: 16, TN: 32, RB: 4, RN: 2, KT: 64, KS: 4, pad: 1 }, // 4 groups × 64 threads (4 × 16), 32 fma per 6 shared loads
];

/** A tile by name (BATCH_TILES, KSPLIT_TILES); undefined for any other string. */
export function namedTile(name: string | undefined): BatchTile | undefined {
  return BATCH_TILES.find((t) => t.name === name) ?? KSPLIT_TILES.find((t) => t.name === name);
}

/**
 * MAMBA_TS_BATCH_TILE_PREFETCH=1: every tile the batch products pick (batchLinearTile, and the
 * split-K plans of batch-split-k.ts) runs as its prefetching twin (prefetchTile); unset: as is.
 */
export function tilePrefetch(): boolean {
  return envSwitch('MAMBA_TS_BATCH_TILE_PREFETCH') === '1';
}

const prefetchTiles = new Map<string, BatchTile>();
/**
 * The tile with its K loop software-pipelined: the global loads of K step s + 1 are issued into
 * registers right after step s's tiles are stored to workgroup memory, so they are in flight
 * while step s's FMAs run. The plain loop waits a whole memory latency per K step, with every
 * other warp of the workgroup behind the same barrier: at batch 64 a tile's workgroups are few
 * (2 × 96 for 130M's in_proj) and that wait, not bandwidth, is what they spend their time on.
 * Costs (TB + TN) · KT / 4 / threads vec4 registers a thread (4 for tile32).
 */
export function prefetchTile(t: BatchTile): BatchTile {
  if (t.prefetch) return t;
  let p = prefetchTiles.get(t.name);
  if (!p) {
    p = { ...t, name: `${t.name}p`, prefetch: true };
    prefetchTiles.set(t.name, p);
  }
  return p;
}

/** Workgroups that fill an H100 (132 SMs) about once: below this, auto takes a smaller tile. */
const FILL_GROUPS = 128;
/**
 * auto tiles only products at least this many times wider than deep (N >= WIDE_RATIO · K): a
 * workgroup walks all of K alone, while the gemv spreads K over its lanes. Measured on an H100
 * (docs/throughput.md, `node dist/bench/batch-linear.js`): the tiles won on in_proj (N = 4K:
 * 38 µs against the gemv's 80 at batch 64, 130M) and the LM head (291 against 571 µs through the
 * tiled matmul); they lost on x_proj (N < K: 30 against 9 µs), out_proj (N = K/2: 42 against 25),
 * the Transformer's square and down projections (1.5–3× slower) and its 130M gate/up (N = 2.9K:
 * 36 against 31 µs; the 1.3B's, also 2.9K, won 136 against 162 — kept on the gemv with it).
 */
const WIDE_RATIO = 3;

const NAMED_MODES = ['gemv', 'tile64', 'tile32', 'tile16', 'ksplit32', 'ksplit16'] as const;
export type BatchLinearMode = 'auto' | (typeof NAMED_MODES)[number];

/**
 * MAMBA_TS_BATCH_LINEAR: how a decode batch at or above batchLinearMinRows() rows runs its
 * projections. auto (default): products with N >= WIDE_RATIO · K through the largest tile that
 * still gives FILL_GROUPS workgroups (else tile16), the others through the gemv — except Mamba's
 * fused in_proj, which takes DEFAULT_IN_PROJ_TILE where auto would tile it (batchInProjTile);
 * tile64/tile32/tile16/ksplit32/ksplit16: that tile for every product (for benchmarking); gemv:
 * the blocked gemv of gemv4.ts for every product.
 */
function batchLinearMode(): BatchLinearMode {
  const v = envSwitch('MAMBA_TS_BATCH_LINEAR');
  return NAMED_MODES.find((m) => m === v) ?? 'auto';
}

/**
 * Rows from which the tiled kernel may replace the gemv: 32 (at 16 the two measured alike), or
 * MAMBA_TS_BATCH_LINEAR_ROWS (>= 5).
 */
function batchLinearMinRows(): number {
  const v = Number(envSwitch('MAMBA_TS_BATCH_LINEAR_ROWS'));
  return Number.isInteger(v) && v >= 5 ? v : 32;
}

/**
 * The tile for a product of B rows × N outputs over K inputs, or null where the gemv runs it (see
 * batchLinearMode).
 */
export function batchLinearTile(B: number, N: number, K: number, mode: BatchLinearMode = batchLinearMode()): BatchTile | null {
  if (mode === 'gemv' || B < batchLinearMinRows()) return null;
  const named = namedTile(mode);
  const t = named ?? (N >= WIDE_RATIO * K ? autoTile(B, N) : null);
  return t && tilePrefetch() ? prefetchTile(t) : t;
}

/**
 * in_proj's tile when MAMBA_TS_BATCH_IN_TILE names none: the K-group tile ksplit16. Measured with
 * the variants in turns in one process on an H100 (docs/throughput.md, seventh session; 130M,
 * prompt 2048, 128 new tokens): at batch 64 30,659–32,384 tokens/s in five rounds against
 * 23,852–25,937 with batchLinearTile's pick (tile32), in_proj 18.1 µs a layer against 29.1; at 128
 * ahead in 5 of 6 rounds, at 32 in 2 of 3. It replaces only batchLinearTile's tiles: where that
 * policy keeps a product on the gemv (below batchLinearMinRows() rows, or N < WIDE_RATIO · K) in_proj
 * stays there. Not timed: other GPUs (browsers take this default too, having no environment),
 * and Mamba-2's and Jamba's in_proj (the same kernel and shape class; tested, not timed).
 */
export const DEFAULT_IN_PROJ_TILE = 'ksplit16';

/**
 * The tile of Mamba's (and Mamba-2's) fused norm + in_proj for a decode batch of B rows, or null
 * for the gemv (below batchLinearMinRows() rows). MAMBA_TS_BATCH_IN_TILE names a tile
 * (tile64/32/16, ksplit32/16) that in_proj takes whatever the shape and whatever
 * MAMBA_TS_BATCH_LINEAR says for the other products (to time one product's tile inside the whole
 * step); `auto` gives batchLinearTile's pick, as for every other product. Unset (or any other
 * value): DEFAULT_IN_PROJ_TILE where batchLinearTile would tile in_proj, else the gemv — unless
 * MAMBA_TS_BATCH_LINEAR names a policy for every product (not auto), which in_proj then follows.
 */
export function batchInProjTile(B: number, N: number, K: number): BatchTile | null {
  const v = envSwitch('MAMBA_TS_BATCH_IN_TILE');
  const named = namedTile(v);
  if (v === 'auto' || (!named && batchLinearMode() !== 'auto')) return batchLinearTile(B, N, K);
  if (B < batchLinearMinRows()) return null;
  // The default replaces batchLinearTile's tiles only (see DEFAULT_IN_PROJ_TILE).
  if (!named && !batchLinearTile(B, N, K, 'auto')) return null;
  const t = named ?? namedTile(DEFAULT_IN_PROJ_TILE)!;
  return tilePrefetch() ? prefetchTile(t) : t;
}

/** The largest tile that still gives FILL_GROUPS workgroups, else the smallest. */
function autoTile(B: number, N: number): BatchTile {
  for (const t of BATCH_TILES) {
    const [gx, gy] = batchLinearGrid(t, B, N);
    if (gx * gy >= FILL_GROUPS) return t;
  }
  return BATCH_TILES[BATCH_TILES.length - 1]!;
}

/** The grid: row tiles along x (fastest), output tiles along y. */
export function batchLinearGrid(t: BatchTile, B: number, N: number): [number, number] {
  const gy = Math.ceil(N / t.TN);
  if (gy > 65535) throw new UnsupportedError(`webgpu: a batched product with ${N} outputs has more than 65535 tiles of ${t.TN}`);
  return [Math.ceil(B / t.TB), gy];
}

export type BatchEpilogue = 'plain' | 'residual' | 'norm';

/** The per-thread shape and the workgroup size of a tile. */
export function threads(t: BatchTile): { TBT: number; TNT: number; WG: number } {
  const TBT = t.TB / t.RB;
  const TNT = t.TN / t.RN;
  return { TBT, TNT, WG: TBT * TNT * (t.KS ?? 1) };
}

/** The staged tiles' K-row strides, in vec4s: Xs[kk * XS + row], Ws[kk * WS + output]. */
function strides(t: BatchTile): { XS: number; WS: number } {
  return { XS: t.TB + (t.pad ?? 0), WS: t.TN + (t.pad ?? 0) };
}

/**
 * A split of K over the grid's z (batch-split-k.ts): each workgroup walks sliceK4 vec4s of K (a
 * multiple of the tile's KT / 4), and with squares its rows' partial sums of squares go to
 * `squaresOut` (WGSL run by thread tid < TB, q the sum of row r0 + tid) instead of into rinv.
 */
export interface KSplit {
  readonly sliceK4: number;
  readonly squaresOut: string;
}

/**
 * The kernel body shared by every epilogue: loads the tiles, accumulates acc[i * RN + j] (vec4
 * partial sums of row ty + i·TBT, output tx + j·TNT of the tile; with K groups, over group kg's
 * part of each K step) and, with `squares`, rinv[row], the 1/rms of each of the tile's rows (in
 * workgroup memory). Then `epilogue` per output (r, n live; v the sum; with K groups, v is the
 * groups' sum and the outputs are spread over all the workgroup's threads). Needs X_at4, W_at4,
 * (norm) NW_at4, uniforms p.N, p.rows, (norm) p.eps.
 */
export function tileBody(t: BatchTile, K: number, squares: boolean, epilogue: string, split?: KSplit): string {
  const { TBT, TNT, WG } = threads(t);
  const { XS, WS } = strides(t);
  const KS = t.KS ?? 1;
  const K4 = Math.ceil(K / 4);
  const KT4 = t.KT / 4;
  // Split K: workgroup z walks vec4s [z · sliceK4, (z + 1) · sliceK4) of K (a multiple of KT4).
  const steps = split ? split.sliceK4 / KT4 : Math.ceil(K4 / KT4);
  const kGuard = split ? K4 % split.sliceK4 !== 0 : K4 % KT4 !== 0;
  const xLoads = Math.ceil((t.TB * KT4) / WG);
  const wLoads = Math.ceil((t.TN * KT4) / WG);
  const xFull = (t.TB * KT4) % WG === 0;
  const wFull = (t.TN * KT4) % WG === 0;
  const fmas: string[] = [];
  for (let i = 0; i < t.RB; i++) for (let j = 0; j < t.RN; j++) fmas.push(`acc[${i * t.RN + j}] = fma(x${i}, w${j}, acc[${i * t.RN + j}]);`);
  const xr = Array.from({ length: t.RB }, (_, i) => `let x${i} = Xs[kk * ${XS}u + ty + ${i * TBT}u];`).join(' ');
  const wr = Array.from({ length: t.RN }, (_, j) => `let w${j} = Ws[kk * ${WS}u + tx + ${j * TNT}u];`).join(' ');
  // With K groups, group kg computes the step's vec4s [kg, kg + 1) · KT4 / KS.
  const compute = `
    ${KS > 1 ? `for (var c = 0u; c < ${KT4 / KS}u; c++) {
      let kk = kg * ${KT4 / KS}u + c;` : `for (var kk = 0u; kk < ${KT4}u; kk++) {`}
      ${xr}
      ${wr}
      ${fmas.join('\n      ')}
    }`;
  const kb = split ? `wid.z * ${split.sliceK4}u + ` : '';
  return `
  let tid = lid.x;
  let tx = tid % ${TNT}u;
  let ty = ${KS > 1 ? `tid % ${TBT * TNT}u / ${TNT}u;
  let kg = tid / ${TBT * TNT}u; // K group` : `tid / ${TNT}u;`}
  let BT = p.rows;
  let r0 = wid.x * ${t.TB}u;
  let n0 = wid.y * ${t.TN}u;
  var acc: array<vec4<f32>, ${t.RB * t.RN}>;
  ${squares ? `var ssl: array<f32, ${xLoads}>;` : ''}
${
    t.prefetch
      ? prefetchLoop(t, K, squares, steps, kb, kGuard, compute)
      : `  for (var s = 0u; s < ${steps}u; s++) {
    let k40 = ${kb}s * ${KT4}u;
    for (var l = 0u; l < ${xLoads}u; l++) {
      let e = tid + l * ${WG}u;
      let row = e / ${KT4}u;
      let kk = e % ${KT4}u;
      let k4 = k40 + kk;
      ${xFull ? '' : `if (e < ${t.TB * KT4}u) {`}
      var x = vec4<f32>(0.0);
      ${kGuard ? `if (k4 < ${K4}u) {` : '{'} x = X_at4(min(r0 + row, BT - 1u), k4);${squares ? ' ssl[l] += dot(x, x); x *= NW_at4(0u, k4);' : ''} }
      Xs[kk * ${XS}u + row] = x;
      ${xFull ? '' : '}'}
    }
    for (var l = 0u; l < ${wLoads}u; l++) {
      let e = tid + l * ${WG}u;
      let n = e / ${KT4}u;
      let kk = e % ${KT4}u;
      let k4 = k40 + kk;
      ${wFull ? '' : `if (e < ${t.TN * KT4}u) {`}
      var w = vec4<f32>(0.0);
      ${kGuard ? `if (k4 < ${K4}u) {` : '{'} w = W_at4(min(n0 + n, p.N - 1u), k4); }
      Ws[kk * ${WS}u + n] = w;
      ${wFull ? '' : '}'}
    }
    workgroupBarrier();${compute}
    workgroupBarrier();
  }`
  }${
    squares
      ? `
  // Each X load slot of a thread kept one row's share of the sum of squares: add them up per row.
  for (var l = 0u; l < ${xLoads}u; l++) {
    let e = tid + l * ${WG}u;
    if (e < ${t.TB * KT4}u) { red[e] = ssl[l]; }
  }
  workgroupBarrier();
  if (tid < ${t.TB}u) {
    var q = 0.0;
    for (var c = 0u; c < ${KT4}u; c++) { q += red[tid * ${KT4}u + c]; }
    ${split ? split.squaresOut : `rinv[tid] = inverseSqrt(q / f32(${K}u) + p.eps);`}
  }
  workgroupBarrier();`
      : ''
  }
  ${KS > 1 ? groupOutputs(t, epilogue) : outputs(t, epilogue)}`;
}

/**
 * tileBody's K loop for a prefetching tile: step s's raw global loads wait in registers (px, pw;
 * pn, the norm weight), are stored to workgroup memory at the top of the step (the squares summed
 * and the norm weight applied there, so that no use of a load sits right behind its issue), and
 * step s + 1's loads are issued before step s's FMAs.
 */
function prefetchLoop(t: BatchTile, K: number, squares: boolean, steps: number, kb: string, kGuard: boolean, compute: string): string {
  const { WG } = threads(t);
  const { XS, WS } = strides(t);
  const K4 = Math.ceil(K / 4);
  const KT4 = t.KT / 4;
  const xLoads = Math.ceil((t.TB * KT4) / WG);
  const wLoads = Math.ceil((t.TN * KT4) / WG);
  // One load slot l of a thread: element e of the step's tile, `live` when e is inside it.
  const slot = (l: number, count: number) => `let e = tid + ${l * WG}u; let live = e < ${count}u; let kk = e % ${KT4}u;`;
  const inK = kGuard ? ` && k4 < ${K4}u` : '';
  const load = (step: string) => {
    const parts = [`let k40 = ${kb}(${step}) * ${KT4}u;`];
    for (let l = 0; l < xLoads; l++) {
      parts.push(`{ ${slot(l, t.TB * KT4)} let k4 = k40 + kk; px[${l}] = vec4<f32>(0.0);${squares ? ` pn[${l}] = vec4<f32>(0.0);` : ''}
        if (live${inK}) { px[${l}] = X_at4(min(r0 + e / ${KT4}u, BT - 1u), k4);${squares ? ` pn[${l}] = NW_at4(0u, k4);` : ''} } }`);
    }
    for (let l = 0; l < wLoads; l++) {
      parts.push(`{ ${slot(l, t.TN * KT4)} let k4 = k40 + kk; pw[${l}] = vec4<f32>(0.0);
        if (live${inK}) { pw[${l}] = W_at4(min(n0 + e / ${KT4}u, p.N - 1u), k4); } }`);
    }
    return parts.join('\n      ');
  };
  const store: string[] = [];
  for (let l = 0; l < xLoads; l++) {
    store.push(`{ ${slot(l, t.TB * KT4)} if (live) { let x = px[${l}];${squares ? ` ssl[${l}] += dot(x, x); Xs[kk * ${XS}u + e / ${KT4}u] = x * pn[${l}];` : ` Xs[kk * ${XS}u + e / ${KT4}u] = x;`} } }`);
  }
  for (let l = 0; l < wLoads; l++) store.push(`{ ${slot(l, t.TN * KT4)} if (live) { Ws[kk * ${WS}u + e / ${KT4}u] = pw[${l}]; } }`);
  return `  var px: array<vec4<f32>, ${xLoads}>;
  var pw: array<vec4<f32>, ${wLoads}>;
  ${squares ? `var pn: array<vec4<f32>, ${xLoads}>;` : ''}
  {
      ${load('0u')}
  }
  for (var s = 0u; s < ${steps}u; s++) {
    ${store.join('\n    ')}
    workgroupBarrier();
    if (s + 1u < ${steps}u) {
      ${load('s + 1u')}
    }${compute}
    workgroupBarrier();
  }`;
}

/**
 * The epilogue for each of a thread's RB × RN outputs, unrolled here so that every accumulator
 * index is a constant (the accumulators stay in registers).
 */
function outputs(t: BatchTile, epilogue: string): string {
  const { TBT, TNT } = threads(t);
  const parts: string[] = [];
  for (let i = 0; i < t.RB; i++) {
    for (let j = 0; j < t.RN; j++) {
      parts.push(`{
    let r = r0 + ty + ${i * TBT}u;
    let n = n0 + tx + ${j * TNT}u;
    let a = acc[${i * t.RN + j}];
    let v = (a.x + a.y) + (a.z + a.w);
    if (r < BT && n < p.N) {${epilogue}
    }
  }`);
    }
  }
  return parts.join('\n  ');
}

/**
 * A K-group tile's partial sums, part[f] for f = g · TB · TN + row · TN + col (group g, the tile's
 * row and output), kept in the staged tiles' memory once the K loop is done with it: Xs's floats
 * first, then Ws's.
 */
function partAccess(t: BatchTile): string {
  const { XS, WS } = strides(t);
  const KT4 = t.KT / 4;
  const XF = XS * KT4 * 4;
  if ((t.KS ?? 1) * t.TB * t.TN > XF + WS * KT4 * 4) throw new Error(`batch tile ${t.name}: the staged tiles cannot hold its K groups' partial sums`);
  return `
fn partSet(f: u32, v: f32) { if (f < ${XF}u) { Xs[f / 4u][f % 4u] = v; } else { Ws[(f - ${XF}u) / 4u][f % 4u] = v; } }
fn partGet(f: u32) -> f32 { if (f < ${XF}u) { return Xs[f / 4u][f % 4u]; } return Ws[(f - ${XF}u) / 4u][f % 4u]; }`;
}

/**
 * The epilogue of a K-group tile: each thread stores its RB × RN partial sums (partSet), then
 * every thread of the workgroup takes TB · TN / WG of the tile's outputs (consecutive threads,
 * consecutive outputs), adds the KS groups' partials in group order and runs `epilogue` on the sum.
 * Follows the K loop's (or the squares') final barrier: Xs and Ws are free.
 */
function groupOutputs(t: BatchTile, epilogue: string): string {
  const { TBT, TNT, WG } = threads(t);
  const KS = t.KS ?? 1;
  const T = t.TB * t.TN;
  if (T % WG !== 0) throw new Error(`batch tile ${t.name}: ${T} outputs do not spread evenly over ${WG} threads`);
  const stores: string[] = [];
  for (let i = 0; i < t.RB; i++) {
    for (let j = 0; j < t.RN; j++) {
      stores.push(`{ let a = acc[${i * t.RN + j}]; partSet(kg * ${T}u + (ty + ${i * TBT}u) * ${t.TN}u + tx + ${j * TNT}u, (a.x + a.y) + (a.z + a.w)); }`);
    }
  }
  let sum = 'partGet(o)';
  for (let g = 1; g < KS; g++) sum = `${g > 1 ? `(${sum})` : sum} + partGet(${g * T}u + o)`;
  const outs: string[] = [];
  for (let m = 0; m < T / WG; m++) {
    outs.push(`{
    let o = tid + ${m * WG}u;
    let r = r0 + o / ${t.TN}u;
    let n = n0 + o % ${t.TN}u;
    let v = ${sum};
    if (r < BT && n < p.N) {${epilogue}
    }
  }`);
  }
  return `${stores.join('\n  ')}
  workgroupBarrier();
  ${outs.join('\n  ')}`;
}

export function shared(t: BatchTile, squares: boolean): string {
  const KT4 = t.KT / 4;
  const { XS, WS } = strides(t);
  return `var<workgroup> Xs: array<vec4<f32>, ${XS * KT4}>; // [k4][row]
var<workgroup> Ws: array<vec4<f32>, ${WS * KT4}>; // [k4][output]${(t.KS ?? 1) > 1 ? partAccess(t) : ''}${
    squares
      ? `
var<workgroup> red: array<f32, ${t.TB * KT4}>;
var<workgroup> rinv: array<f32, ${t.TB}>;`
      : ''
  }`;
}

/**
 * Y = epilogue(X · Wᵀ) for p.rows rows (bindings as the gemv kernels': X 0, W 1, bias 2, Y 3, R or
 * NW 4, uniforms 5: { N, rows, hasBias, biasAt, eps }; bias[biasAt + n] is added when hasBias).
 */
export function batchLinearKernel(t: BatchTile, K: number, wt: WeightDType, epi: BatchEpilogue): Kernel {
  const { WG } = threads(t);
  const norm = epi === 'norm';
  const key = `batch_linear_${epi}_${t.name}_${K}_${wt}`;
  const out =
    epi === 'residual'
      ? 'Y[r * p.N + n] = R[r * p.N + n] + v + bv(n);'
      : epi === 'norm'
        ? 'Y[r * p.N + n] = v * rinv[r - r0] + bv(n);'
        : 'Y[r * p.N + n] = v + bv(n);';
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
struct P { N: u32, rows: u32, hasBias: u32, biasAt: u32, eps: f32 }
${vec4Operand('X', 0, K)}   // (B, K)
${weight4Binding('W', 1, K, wt)}                                       // (N, K)
@group(0) @binding(2) var<storage, read> bias: array<f32>;     // bias[biasAt + n], read when hasBias == 1
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;  // (B, N)
${epi === 'residual' ? '@group(0) @binding(4) var<storage, read> R: array<f32>;        // (B, N) residual' : ''}
${norm ? vec4Operand('NW', 4, K) + ' // (K) norm weight' : ''}
@group(0) @binding(${epi === 'plain' ? 4 : 5}) var<uniform> p: P;
${shared(t, norm)}
fn bv(n: u32) -> f32 { if (p.hasBias == 1u) { return bias[p.biasAt + n]; } return 0.0; }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${tileBody(t, K, norm, out)}
}`,
  }));
}

/** The uniforms of batchLinearKernel. */
export function batchLinearUniforms(N: number, B: number, bias: { at: number } | null, eps = 0): ArrayBuffer {
  const v = new DataView(new ArrayBuffer(32));
  v.setUint32(0, N, true);
  v.setUint32(4, B, true);
  v.setUint32(8, bias ? 1 : 0, true);
  v.setUint32(12, bias ? bias.at : 0, true);
  v.setFloat32(16, eps, true);
  return v.buffer;
}

/**
 * The causal conv step of row r, conv channel `ch` (of C) in a normConv epilogue, y its new input:
 * declares `pre` = conv bias + Σ conv weight · (state, y) and shifts the channel's state (KC - 1
 * values, read from S0) by one into S1 (S0 itself when in place). Only this thread reads and
 * writes that (row, channel)'s state. The conv weight (C, KC) lies at lp(cwAt), the conv bias (C)
 * right after it.
 */
export function convStep(ch: string, C: number, KC: number, cwAt: number, S1: string): string {
  return `
          let sb = (r * ${C}u + ${ch}) * ${KC - 1}u;
          let cw = ${cwAt}u + ${ch} * ${KC}u;
          var pre = lp(${cwAt + C * KC}u + ${ch});
          for (var q = 0u; q + 1u < ${KC}u; q++) { pre = fma(lp(cw + q), S0[sb + q], pre); }
          pre = fma(lp(cw + ${KC - 1}u), y, pre);
          for (var q = 0u; q + 2u < ${KC}u; q++) { ${S1}[sb + q] = S0[sb + q + 1u]; }
          ${S1}[sb + ${KC - 2}u] = y;`;
}

/**
 * The step-1 kernels' uniforms and first bindings: the residual stream h 0, in_proj 1 (`rows` × H),
 * and LP 2 (packed small parameters, read as the norm weight).
 */
function normInProjOperands(H: number, wt: WeightDType, rows: string): string {
  return `struct P { N: u32, rows: u32, eps: f32 }
${vec4Operand('X', 0, H)}   // (B, H) residual stream
${weight4Binding('W', 1, H, wt)}                                       // (${rows}, H) in_proj
${vec4Operand('NW', 2, H)}  // LP; its row 0's first H elements: the norm weight`;
}

/** The step-1 kernels' workgroup memory, LP's reader lp(i) and the entry point running the normed tile with epilogue `out`. */
function normInProjMain(t: BatchTile, H: number, out: string): string {
  return `${shared(t, true)}
fn lp(i: u32) -> f32 { return ${H % 4 === 0 ? 'NW[i / 4u][i % 4u]' : 'NW[i]'}; }
@compute @workgroup_size(${threads(t).WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${tileBody(t, H, true, out)}
}`;
}

/**
 * Mamba's step 1 for a batch (the tiled counterpart of mamba-step.ts's normInProjConvKernel over
 * blocks): XZ = in_proj(RMSNorm(h)) + in_proj bias over 2E outputs, and for an output n < E (an x
 * channel) the conv step: XC[r, n] = silu(conv bias + Σ conv weight · (state, x)), the state
 * shifted by one. Bindings: h 0, in_proj 1, LP 2 ([norm weight (H) | in_proj bias (2E) | conv
 * weight (E, KC) | conv bias (E)]), XZ 3, conv state 4 (read_write in place), new conv state 5
 * (not in place), XC next, uniforms { N = 2E, rows, eps } last.
 */
export function batchNormInProjConvKernel(t: BatchTile, H: number, E: number, KC: number, wt: WeightDType, inPlace: boolean): Kernel {
  const key = `batch_norm_in_proj_conv_${t.name}_${H}_${E}_${KC}_${wt}${inPlace ? '_inplace' : ''}`;
  const S1 = inPlace ? 'S0' : 'S1';
  const ip = inPlace ? 1 : 0;
  const out = `
        let y = v * rinv[r - r0] + lp(${H}u + n);
        XZ[r * ${2 * E}u + n] = y;
        if (n < ${E}u) {${convStep('n', E, KC, H + 2 * E, S1)}
          XC[r * ${E}u + n] = pre / (1.0 + exp(-pre));
        }`;
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
${normInProjOperands(H, wt, '2E')}
@group(0) @binding(3) var<storage, read_write> XZ: array<f32>; // (B, 2E)
@group(0) @binding(4) var<storage, ${inPlace ? 'read_write' : 'read'}> S0: array<f32>;  // (B, E, KC-1) conv state
${inPlace ? '' : '@group(0) @binding(5) var<storage, read_write> S1: array<f32>; // (B, E, KC-1) new conv state'}
@group(0) @binding(${6 - ip}) var<storage, read_write> XC: array<f32>; // (B, E) silu(conv)
@group(0) @binding(${7 - ip}) var<uniform> p: P;
${normInProjMain(t, H, out)}`,
  }));
}

/**
 * Mamba-2's step 1 for a batch (the tiled counterpart of mamba2-step.ts's
 * mamba2NormInProjConvKernel over blocks): ZXD = in_proj(RMSNorm(h)) + in_proj bias over
 * NP = E + CD + NH outputs [z (E) | xBC (CD) | dt (NH)]; an xBC output n (E <= n < E + CD) is
 * replaced by its conv step, silu(conv bias + Σ conv weight · (state, x)), the conv state shifted
 * by one in place. Bindings: h 0, in_proj 1, LP 2 ([norm weight (H) | in_proj bias (NP) | conv
 * weight (CD, KC) | conv bias (CD)]), ZXD 3, conv state 4 (read_write, in place), uniforms
 * { N = NP, rows, eps } 5.
 */
export function batchMamba2NormInProjConvKernel(t: BatchTile, H: number, E: number, CD: number, NH: number, KC: number, wt: WeightDType): Kernel {
  const NP = E + CD + NH;
  const key = `batch_mamba2_norm_in_proj_conv_${t.name}_${H}_${E}_${CD}_${NH}_${KC}_${wt}`;
  const out = `
        let y = v * rinv[r - r0] + lp(${H}u + n);
        if (n >= ${E}u && n < ${E + CD}u) {
          let c = n - ${E}u;${convStep('c', CD, KC, H + NP, 'S0')}
          ZXD[r * ${NP}u + n] = pre / (1.0 + exp(-pre));
        } else {
          ZXD[r * ${NP}u + n] = y;
        }`;
  return cachedKernel(key, () => ({
    key,
    code: () => /* wgsl */ `
${normInProjOperands(H, wt, 'NP')}
@group(0) @binding(3) var<storage, read_write> ZXD: array<f32>; // (B, NP): z, silu(conv(xBC)), dt
@group(0) @binding(4) var<storage, read_write> S0: array<f32>;  // (B, CD, KC-1) conv state, in place
@group(0) @binding(5) var<uniform> p: P;
${normInProjMain(t, H, out)}`,
  }));
}
