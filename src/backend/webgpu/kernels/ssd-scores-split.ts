/**
 * Step 4a of the v2 SSD forward (kernels/ssd-v2.ts) with more parallelism: the scores C_t·B_s of
 * each chunk's pairs s ≤ t, once per group, as (Bt, nC, G, T, T) — the same output contract as
 * ssdScoresV2Kernel (every pair s ≤ t < the chunk's length written, no other), selected by
 * MAMBA_TS_SSD_SCORES=k4 or k2 (unset: v2's kernel, the default until these are timed).
 *
 * Why: at bench/ssd.ts's shape (one group, chunk 256, state 128) v2's scores kernel has 16 × 8
 * workgroups of which 80 are below the diagonal: 80 workgroups of 8 warps on an H100's 132 SMs,
 * each thread walking all 128 of N in 8 steps of 16 (two barriers and a global load round each)
 * for 2,048 serial FMAs. It does ~42 M FMAs in 76 µs, ~1 TFLOP/s: latency, not throughput. Here:
 *   - 32 × 32 blocks instead of 64 × 64: 36 below-or-on-diagonal blocks per chunk instead of 10,
 *     288 workgroups at the bench shape, every SM busy; only those blocks are launched (grid x is
 *     the lower triangle's index, unpacked in the kernel), so no workgroup starts just to return.
 *   - N split inside the workgroup (as batch-linear.ts's KSPLIT_TILES split K): KG groups of 64
 *     threads (8 × 8, each 4 × 4 outputs) share each staged step of 32 of N, group kg taking
 *     32 / KG of it; their partial sums are added in workgroup memory at the end, in group order
 *     (deterministic). k4: KG = 4, 256 threads, 8 warps a workgroup, 2,304 warps in all and 512
 *     serial FMAs a thread (a quarter of v2's). k2: KG = 2, 128 threads, 1,024 FMAs a thread and
 *     half the partials to add — which of the two wins is for the GPU machine to say.
 *   - N in steps of 32: 4 steps at N = 128 instead of 8, so half the barriers; and each step's
 *     global loads are issued into registers before the previous step's FMAs (software
 *     pipelining), so their latency hides behind the arithmetic instead of stalling all the
 *     workgroup's warps at the barrier.
 *   - Global loads coalesced: consecutive threads read consecutive n of one row of C or B (a warp
 *     reads 32 contiguous floats, 128 bytes). Every read is guarded by a branch, not select():
 *     with Dawn's robustness off a masked read past a buffer's end is undefined.
 *
 * Staged tiles: element (row, k) of a step at vec4 (k / 4)·RS + row, component k % 4, RS = 33:
 * a thread's FMA loop reads a vec4 along k for each of its rows (and columns) — 8 vec4 reads for
 * 64 FMAs, v2's ratio — and accumulates 16 scalar sums (4 independent dot-product chains each); the
 * stores (a warp's 32 lanes: 8 vec4s × 4 components of one row) land on 32 distinct banks thanks to
 * the odd stride, and the reads (8 threads of consecutive columns, 4 of consecutive rows) too. A
 * thread's rows and columns are ty + 8i and tx + 8j (strided, not 4 adjacent), for the same reason.
 * Workgroup memory: one array of max(2·8·33, (KG − 1)·4·64) vec4s — 12,288 bytes for k4 (the
 * partials of groups 1..3), 8,448 for k2 (the two tiles) — under the 16 KiB every adapter offers.
 *
 * Shapes: L not a multiple of the chunk (rows and columns past the chunk's length are loaded as 0
 * and not written), a chunk smaller than a block, N not a multiple of 32 (the last step's missing
 * n loaded as 0).
 */
import { envSwitch } from '../../../env.js';
import { cachedKernel, type Kernel } from '../context.js';
import { SSD_PARAMS } from './ssd.js';
import { SSD_SCORES_BINDINGS } from './ssd-v2.js';

/** The output block: rows t × columns s of a chunk's scores. */
export const SSD_SCORES_SPLIT_BLOCK = 32;
/** Threads of one K group (8 × 8, each 4 × 4 outputs of the block). */
const GROUP = 64;
/** The state elements (N) of one staged step, and their vec4s. */
const KT = 32;
const KT4 = KT / 4;
/** vec4s per k4 row of a staged tile: 32 rows + 1, so that stores and reads hit distinct banks. */
const RS = SSD_SCORES_SPLIT_BLOCK + 1;
/** vec4s of one staged tile (C's at 0, B's after it). */
const TILE = KT4 * RS;

/** MAMBA_TS_SSD_SCORES's values: the number of K groups a workgroup splits N over. */
const VARIANTS = { k4: 4, k2: 2 } as const;
export type SsdScoresSplit = keyof typeof VARIANTS;

/**
 * MAMBA_TS_SSD_SCORES (read at each call): k4 or k2 runs v2's step 4a through this file's kernel
 * with 4 or 2 K groups; unset (or any other value): null, v2's own scores kernel.
 */
export function ssdScoresSplit(): SsdScoresSplit | null {
  const v = envSwitch('MAMBA_TS_SSD_SCORES');
  return v === 'k4' || v === 'k2' ? v : null;
}

/** Workgroups along x for a chunk of T tokens: the blocks on or below the diagonal. */
export function ssdScoresSplitBlocks(T: number): number {
  const R = Math.ceil(T / SSD_SCORES_SPLIT_BLOCK);
  return (R * (R + 1)) / 2;
}

/** The kernel of a variant. Grid (ssdScoresSplitBlocks(T), G, Bt · nC); pBlocks is unused. */
export function ssdScoresSplitKernel(variant: SsdScoresSplit): Kernel {
  return cachedKernel(`ssd_scores_split_${variant}`, () => {
    const KG = VARIANTS[variant];
    const WG = KG * GROUP;
    const KK = KT4 / KG; // vec4s of k per group per step
    const LOADS = (SSD_SCORES_SPLIT_BLOCK * KT) / WG; // elements of each tile a thread loads per step
    const SH = Math.max(2 * TILE, (KG - 1) * 4 * GROUP);
    if (SH * 16 > 16384) throw new Error(`ssd scores ${variant}: ${SH * 16} bytes of workgroup memory`);

    // Step n0's loads into registers: slot q is element e = lid + q·WG of each tile, row e / KT,
    // k = e % KT (consecutive threads, consecutive n: coalesced).
    const load = (n0: string) =>
      Array.from({ length: LOADS }, (_, q) => `{
        let e = lid + ${q * WG}u;
        let row = e / ${KT}u;
        let n = ${n0} + e % ${KT}u;
        pc[${q}] = 0.0;
        pb[${q}] = 0.0;
        if (n < p.N) {
          if (r0 + row < len) { pc[${q}] = Cm[(rowC + row * p.G) * p.N + n]; }
          if (s0 + row < len) { pb[${q}] = Bm[(rowB + row * p.G) * p.N + n]; }
        }
      }`).join('\n      ');
    const store = Array.from({ length: LOADS }, (_, q) => `{
      let e = lid + ${q * WG}u;
      let k = e % ${KT}u;
      let at = (k / 4u) * ${RS}u + e / ${KT}u;
      sh[at][k % 4u] = pc[${q}];
      sh[${TILE}u + at][k % 4u] = pb[${q}];
    }`).join('\n    ');
    // One vec4 of k: 4 row vec4s, 4 column vec4s, 16 four-term dot products into the scalars.
    const fmas: string[] = [];
    for (let i = 0; i < 4; i++) fmas.push(`let x${i} = sh[kk * ${RS}u + ty + ${8 * i}u];`);
    for (let j = 0; j < 4; j++) fmas.push(`let w${j} = sh[${TILE}u + kk * ${RS}u + tx + ${8 * j}u];`);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        const a = `acc[${i * 4 + j}]`;
        fmas.push(`${a} = fma(x${i}.w, w${j}.w, fma(x${i}.z, w${j}.z, fma(x${i}.y, w${j}.y, fma(x${i}.x, w${j}.x, ${a}))));`);
      }
    }
    const row = (i: number) => `vec4<f32>(acc[${i * 4}], acc[${i * 4 + 1}], acc[${i * 4 + 2}], acc[${i * 4 + 3}])`;
    // Groups 1.. store their partial rows (vec4 ((g − 1)·4 + i)·64 + l: consecutive threads,
    // consecutive vec4s); group 0 adds them to its own in group order and writes.
    const partials = Array.from({ length: 4 }, (_, i) => `sh[((kg - 1u) * 4u + ${i}u) * ${GROUP}u + l] = ${row(i)};`).join('\n    ');
    const writes = Array.from({ length: 4 }, (_, i) => {
      const adds = Array.from({ length: KG - 1 }, (_, g) => `v += sh[${(g * 4 + i) * GROUP}u + l];`).join(' ');
      return `{
      var v = ${row(i)};
      ${adds}
      let t = r0 + ty + ${8 * i}u;
      if (t < len) {
        for (var j = 0u; j < 4u; j++) {
          let s = s0 + tx + 8u * j;
          if (s <= t) { Sc[(base + t) * p.T + s] = v[j]; }
        }
      }
    }`;
    }).join('\n    ');

    return {
      key: `ssd_scores_split_${variant}`,
      code: () => /* wgsl */ `
${SSD_PARAMS}
${SSD_SCORES_BINDINGS}
// The staged tiles during the N loop (C's at 0, B's at ${TILE}), then groups 1..'s partial sums.
var<workgroup> sh: array<vec4<f32>, ${SH}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let kg = lid / ${GROUP}u; // K group
  let l = lid % ${GROUP}u;
  let ty = l / 8u;
  let tx = l % 8u;
  // Block (rb, sb), sb <= rb, from wid.x = rb·(rb + 1) / 2 + sb (f32's root is exact to ±1 here).
  var rb = u32((sqrt(8.0 * f32(wid.x) + 1.0) - 1.0) * 0.5);
  if ((rb + 1u) * (rb + 2u) / 2u <= wid.x) { rb += 1u; }
  if (rb * (rb + 1u) / 2u > wid.x) { rb -= 1u; }
  let sb = wid.x - rb * (rb + 1u) / 2u;
  let g = wid.y;
  let b = wid.z / p.nC;
  let c = wid.z % p.nC;
  let t0 = c * p.T;
  let len = min(t0 + p.T, p.L) - t0;
  let r0 = rb * ${SSD_SCORES_SPLIT_BLOCK}u; // rows t, within the chunk
  let s0 = sb * ${SSD_SCORES_SPLIT_BLOCK}u; // columns s
  if (r0 >= len) { return; } // a partial last chunk (uniform: the whole workgroup returns)
  // (b, t, g) row indices of the block's first C and B rows; a row further on is G rows further.
  let rowC = (b * p.L + t0 + r0) * p.G + g;
  let rowB = (b * p.L + t0 + s0) * p.G + g;
  var acc: array<f32, 16>;
  var pc: array<f32, ${LOADS}>;
  var pb: array<f32, ${LOADS}>;
  {
      ${load('0u')}
  }
  for (var n0 = 0u; n0 < p.N; n0 += ${KT}u) {
    ${store}
    workgroupBarrier();
    if (n0 + ${KT}u < p.N) {
      ${load(`n0 + ${KT}u`)}
    }
    for (var cc = 0u; cc < ${KK}u; cc++) {
      let kk = kg * ${KK}u + cc;
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  // The tiles are free (the loop's last barrier): the partial sums take their place.
  if (kg > 0u) {
    ${partials}
  }
  workgroupBarrier();
  if (kg > 0u) { return; }
  let base = ((b * p.nC + c) * p.G + g) * p.T;
  ${writes}
}
`,
    };
  });
}
