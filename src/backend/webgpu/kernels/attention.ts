/**
 * Causal grouped-query attention on the GPU (contract: ops/attention.ts; reference:
 * backend/cpu/attention.ts). The (Lq, Lk) score matrix never touches global memory.
 *
 * Rows: for one (batch, KV head), the G query heads of the Lq queries form Lq·G rows ordered
 * (query i, head g) — in the q tensor (B, Lq, H, hd) that is row (i, kvHead·G + g) — so a tile of
 * consecutive rows shares its K/V tiles across the group and spans few query positions (the causal
 * limit of a tile is its last query's position).
 *
 * - flash (prefill, any Lq): a workgroup owns BR rows; LANES threads per row. Per tile of BC keys:
 *   the K tile goes through workgroup memory, each thread scores BC / LANES keys of its row
 *   against the whole row of Q (in workgroup memory), then the V tile replaces the K tile and each
 *   thread updates its row's running max m, sum l and its hd / LANES output dimensions with the
 *   online softmax: m' = max(m, max_j s_j), acc = acc·e^(m−m') + Σ_j e^(s_j−m')·v_j.
 *   Hidden keys (causal, padding) carry the score NEG and contribute exactly 0; a row that never
 *   saw a key has l = 0 and writes 0.
 * - decode (Lq = 1): split-K. Workgroup (split s, batch·KV head) scores a chunk of keys for all G
 *   heads of the group (K tile in workgroup memory), G threads fold each tile into (m, l) and turn
 *   the scores into weights, then every thread accumulates its (head, dimension) outputs from the
 *   V tile. The split's unnormalised (acc, m, l) go to a partial buffer; the combine kernel merges
 *   the splits: out = Σ_s e^(m_s−M)·acc_s / Σ_s e^(m_s−M)·l_s.
 */
import { envSwitch } from '../../../env.js';
import type { Kernel } from '../context.js';
import { cachedKernel } from '../context.js';

/** The score of a hidden key: below any real score, and distinguishable from one. */
const NEG = '-3.0e38';

export interface FlashTiles {
  /** Rows (query, head) per workgroup. */
  BR: number;
  /** Keys per tile. */
  BC: number;
  /** Threads per row. */
  LANES: number;
}

/** Workgroup-memory floats the flash kernel needs: Q rows, one K/V tile (padded rows), scores, mask. */
function flashFloats(hd: number, t: FlashTiles): number {
  return t.BR * hd + t.BC * (hd + 1) + t.BR * t.BC + t.BC;
}

/**
 * The largest tiles that fit the device's workgroup memory and invocation limits, or null when
 * even the smallest does not (a very large head_dim).
 */
export function flashTiles(hd: number, storageBytes: number, maxThreads: number): FlashTiles | null {
  const forced = envSwitch('MAMBA_TS_FLASH_TILES');
  if (forced) {
    // "BR,BC,LANES", for benchmarking tile shapes (bench/gpu-attention.ts).
    const [BR, BC, LANES] = forced.split(',').map(Number) as [number, number, number];
    const t = { BR, BC, LANES };
    if (BR * LANES > Math.min(maxThreads, 1024) || BC % LANES || flashFloats(hd, t) * 4 > storageBytes) {
      throw new Error(`MAMBA_TS_FLASH_TILES=${forced}: BR·LANES must be at most ${maxThreads} threads, BC a multiple of LANES, and the tiles fit ${storageBytes} bytes`);
    }
    return t;
  }
  const LANES = hd > 64 ? 16 : hd > 16 ? 8 : 4;
  const floats = Math.floor(storageBytes / 4);
  for (let BR = Math.min(64, Math.floor(Math.min(256, maxThreads) / LANES)); BR >= 4; BR /= 2) {
    for (const BC of [64, 32, 16]) {
      const t = { BR, BC, LANES }; // BC a multiple of LANES: each thread scores BC / LANES keys
      if (flashFloats(hd, t) <= floats) return t;
    }
  }
  return null;
}

export function flashAttentionKernel(hd: number, t: FlashTiles): Kernel {
  const { BR, BC, LANES } = t;
  const WG = BR * LANES;
  const DPL = Math.ceil(hd / LANES);
  const KS = hd + 1; // padded K row: threads scoring different keys hit different banks
  return cachedKernel(`flash_${hd}_${BR}_${BC}_${LANES}`, () => ({
    key: `attention_flash_${hd}_${BR}_${BC}_${LANES}`,
    code: () => /* wgsl */ `
struct P { Lq: u32, H: u32, Hkv: u32, G: u32, cap: u32, Lk: u32, hasMask: u32, scale: f32 }
const HD = ${hd}u;
const BR = ${BR}u;
const BC = ${BC}u;
const LANES = ${LANES}u;
const DPL = ${DPL}u;
const KPT = ${BC / LANES}u; // keys scored per thread
const KS = ${KS}u;
const WG = ${WG}u;
const NEG = ${NEG};
@group(0) @binding(0) var<storage, read> Q: array<f32>;        // (B, Lq, H, hd)
@group(0) @binding(1) var<storage, read> K: array<f32>;        // (B, Hkv, cap, hd)
@group(0) @binding(2) var<storage, read> V: array<f32>;        // (B, Hkv, cap, hd)
@group(0) @binding(3) var<storage, read> M: array<f32>;        // (B, Lk) key mask, when hasMask
@group(0) @binding(4) var<storage, read_write> O: array<f32>;  // (B, Lq, H, hd)
@group(0) @binding(5) var<uniform> p: P;
var<workgroup> Qs: array<f32, ${BR * hd}>;  // [row * HD + d], pre-scaled by 1/√hd
var<workgroup> KVs: array<f32, ${BC * KS}>; // [key * KS + d]: the K tile, then the V tile
var<workgroup> Ss: array<f32, ${BR * BC}>;  // [row * BC + key] scores
var<workgroup> Ms: array<f32, ${BC}>;       // the tile's key mask
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let r = t / LANES;
  let lane = t % LANES;
  let bh = wid.y;                     // b · Hkv + kv head
  let b = bh / p.Hkv;
  let kvh = bh % p.Hkv;
  let nRows = p.Lq * p.G;
  let row0 = wid.x * BR;
  let past = p.Lk - p.Lq;
  let R = row0 + r;
  let rowOk = R < nRows;
  let qi = R / p.G;
  let qo = ((b * p.Lq + qi) * p.H + kvh * p.G + R % p.G) * HD;
  let qpos = past + qi;
  for (var e = t; e < BR * HD; e += WG) {
    let rr = row0 + e / HD;
    var x = 0.0;
    if (rr < nRows) { x = Q[((b * p.Lq + rr / p.G) * p.H + kvh * p.G + rr % p.G) * HD + e % HD] * p.scale; }
    Qs[e] = x;
  }
  // Keys after the tile's last query are hidden from every row: stop there.
  let kEnd = min(p.Lk, past + (min(row0 + BR, nRows) - 1u) / p.G + 1u);
  let kvBase = bh * p.cap * HD;
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DPL>;
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
    workgroupBarrier(); // the previous V tile is no longer read
    for (var e = t; e < BC * HD; e += WG) {
      let j = e / HD;
      var x = 0.0;
      if (k0 + j < kEnd) { x = K[kvBase + (k0 + j) * HD + e % HD]; }
      KVs[j * KS + e % HD] = x;
    }
    if (t < BC) {
      var keep = 1.0;
      if (p.hasMask == 1u && k0 + t < p.Lk) { keep = M[b * p.Lk + k0 + t]; }
      Ms[t] = keep;
    }
    workgroupBarrier();
    // This thread's keys lane, lane + LANES, …: one read of q[d] serves all of them.
    var dots: array<f32, KPT>;
    for (var c = 0u; c < KPT; c++) { dots[c] = 0.0; }
    for (var d = 0u; d < HD; d++) {
      let qd = Qs[r * HD + d];
      for (var c = 0u; c < KPT; c++) { dots[c] = fma(qd, KVs[(lane + LANES * c) * KS + d], dots[c]); }
    }
    for (var c = 0u; c < KPT; c++) {
      let j = lane + LANES * c;
      let kk = k0 + j;
      let seen = rowOk && kk <= qpos && kk < kEnd && Ms[j] != 0.0;
      Ss[r * BC + j] = select(NEG, dots[c], seen);
    }
    workgroupBarrier(); // scores done, the K tile is free
    for (var e = t; e < BC * HD; e += WG) {
      let j = e / HD;
      var x = 0.0;
      if (k0 + j < kEnd) { x = V[kvBase + (k0 + j) * HD + e % HD]; }
      KVs[j * KS + e % HD] = x;
    }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < BC; j++) { mt = max(mt, Ss[r * BC + j]); }
    let corr = exp(m - mt); // 1 while nothing was seen (both NEG); acc and l are 0 then anyway
    l *= corr;
    for (var k = 0u; k < DPL; k++) { acc[k] *= corr; }
    for (var j = 0u; j < BC; j++) {
      let s = Ss[r * BC + j];
      if (s != NEG) {
        let w = exp(s - mt);
        l += w;
        for (var k = 0u; k < DPL; k++) {
          let d = lane + LANES * k;
          if (d < HD) { acc[k] = fma(w, KVs[j * KS + d], acc[k]); }
        }
      }
    }
    m = mt;
  }
  if (rowOk) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var k = 0u; k < DPL; k++) {
      let d = lane + LANES * k;
      if (d < HD) { O[qo + d] = acc[k] * inv; }
    }
  }
}`,
  }));
}

export const DECODE_WG = 128;

/** Workgroup-memory floats of the decode kernel: the group's queries, a K/V tile, scores, per-head stats. */
function decodeFloats(hd: number, G: number, T: number): number {
  return G * hd + T * (hd + 1) + G * T + 3 * G;
}

/** Keys per tile of the decode kernel, or null when the group's queries do not fit. */
export function decodeTile(hd: number, G: number, storageBytes: number): number | null {
  const floats = Math.floor(storageBytes / 4);
  for (const T of [64, 32, 16, 8]) if (decodeFloats(hd, G, T) <= floats) return T;
  return null;
}

/**
 * `lengthInBuffer`: the key count is read on the device — Lk = Len[0] + p.Lk, Len an int32 buffer
 * bound after the mask — and the mask is (B, cap), so that a replayed decode step (whose uniforms
 * never change) attends to one more key each token. Otherwise Lk = p.Lk and the mask is (B, Lk).
 */
export function decodeAttentionKernel(hd: number, G: number, T: number, lengthInBuffer = false): Kernel {
  const KS = hd + 1;
  // Outputs (head, dimension) per thread; each keeps its accumulators in registers.
  const PER = Math.ceil((G * hd) / DECODE_WG);
  const tag = lengthInBuffer ? '_at' : '';
  const shift = lengthInBuffer ? 1 : 0; // the bindings after the mask move by one
  return cachedKernel(`decode_${hd}_${G}_${T}${tag}`, () => ({
    key: `attention_decode_${hd}_${G}_${T}${tag}`,
    code: () => /* wgsl */ `
struct P { H: u32, Hkv: u32, cap: u32, Lk: u32, chunk: u32, nSplit: u32, hasMask: u32, scale: f32 }
const HD = ${hd}u;
const G = ${G}u;
const T = ${T}u;
const KS = ${KS}u;
const WG = ${DECODE_WG}u;
const PER = ${PER}u;
const NEG = ${NEG};
@group(0) @binding(0) var<storage, read> Q: array<f32>;          // (B, 1, H, hd)
@group(0) @binding(1) var<storage, read> K: array<f32>;          // (B, Hkv, cap, hd)
@group(0) @binding(2) var<storage, read> V: array<f32>;          // (B, Hkv, cap, hd)
@group(0) @binding(3) var<storage, read> M: array<f32>;          // (B, Lk or cap) key mask, when hasMask
${lengthInBuffer ? '@group(0) @binding(4) var<storage, read> Len: array<i32>;        // keys cached before this step' : ''}
@group(0) @binding(${4 + shift}) var<storage, read_write> Acc: array<f32>;  // (B·H, nSplit, hd) unnormalised
@group(0) @binding(${5 + shift}) var<storage, read_write> ML: array<f32>;   // (B·H, nSplit, 2): m, l
@group(0) @binding(${6 + shift}) var<uniform> p: P;
var<workgroup> Qs: array<f32, ${G * hd}>;  // [g * HD + d], pre-scaled
var<workgroup> KVs: array<f32, ${T * KS}>; // the K tile, then the V tile
var<workgroup> Ss: array<f32, ${G * T}>;   // scores, then weights
var<workgroup> Mh: array<f32, ${G}>;       // running max per head
var<workgroup> Lh: array<f32, ${G}>;       // running sum per head
var<workgroup> Ch: array<f32, ${G}>;       // this tile's rescaling of the accumulators
@compute @workgroup_size(${DECODE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let s = wid.x;
  let bh = wid.y;
  let b = bh / p.Hkv;
  let kvh = bh % p.Hkv;
  let qBase = (b * p.H + kvh * G) * HD; // the group's G heads are consecutive
  for (var e = t; e < G * HD; e += WG) { Qs[e] = Q[qBase + e] * p.scale; }
  if (t < G) { Mh[t] = NEG; Lh[t] = 0.0; }
  // A device-held length is clamped into the buffers (no robust access: a bad count must not read past them).
  let Lk = ${lengthInBuffer ? 'min(u32(max(Len[0], 0)) + p.Lk, p.cap)' : 'p.Lk'};
  let maskStride = ${lengthInBuffer ? 'p.cap' : 'p.Lk'};
  let kBegin = s * p.chunk;
  let kEnd = min(Lk, kBegin + p.chunk);
  let kvBase = bh * p.cap * HD;
  var acc: array<f32, PER>;
  for (var k0 = kBegin; k0 < kEnd; k0 += T) {
    workgroupBarrier();
    for (var e = t; e < T * HD; e += WG) {
      let j = e / HD;
      var x = 0.0;
      if (k0 + j < kEnd) { x = K[kvBase + (k0 + j) * HD + e % HD]; }
      KVs[j * KS + e % HD] = x;
    }
    workgroupBarrier();
    for (var e = t; e < G * T; e += WG) {
      let g = e / T;
      let j = e % T;
      var sc = NEG;
      var keep = k0 + j < kEnd;
      if (keep && p.hasMask == 1u) { keep = M[b * maskStride + k0 + j] != 0.0; }
      if (keep) {
        var dot = 0.0;
        for (var d = 0u; d < HD; d++) { dot = fma(Qs[g * HD + d], KVs[j * KS + d], dot); }
        sc = dot;
      }
      Ss[e] = sc;
    }
    workgroupBarrier();
    for (var e = t; e < T * HD; e += WG) {
      let j = e / HD;
      var x = 0.0;
      if (k0 + j < kEnd) { x = V[kvBase + (k0 + j) * HD + e % HD]; }
      KVs[j * KS + e % HD] = x;
    }
    if (t < G) {
      let m = Mh[t];
      var mt = m;
      for (var j = 0u; j < T; j++) { mt = max(mt, Ss[t * T + j]); }
      var sum = 0.0;
      for (var j = 0u; j < T; j++) {
        let sc = Ss[t * T + j];
        var w = 0.0;
        if (sc != NEG) { w = exp(sc - mt); }
        sum += w;
        Ss[t * T + j] = w;
      }
      let corr = exp(m - mt);
      Ch[t] = corr;
      Lh[t] = Lh[t] * corr + sum;
      Mh[t] = mt;
    }
    workgroupBarrier();
    for (var k = 0u; k < PER; k++) {
      let e = t + WG * k;
      if (e < G * HD) {
        let g = e / HD;
        let d = e % HD;
        var a = acc[k] * Ch[g];
        for (var j = 0u; j < T; j++) { a = fma(Ss[g * T + j], KVs[j * KS + d], a); }
        acc[k] = a;
      }
    }
  }
  workgroupBarrier();
  for (var k = 0u; k < PER; k++) {
    let e = t + WG * k;
    if (e < G * HD) {
      let row = bh * G + e / HD; // = b·H + h
      Acc[(row * p.nSplit + s) * HD + e % HD] = acc[k];
    }
  }
  if (t < G) {
    let row = bh * G + t;
    ML[(row * p.nSplit + s) * 2u] = Mh[t];
    ML[(row * p.nSplit + s) * 2u + 1u] = Lh[t];
  }
}`,
  }));
}

/** Thread per output (b·H + h, d): merges the splits' partial results. */
export const decodeCombineKernel: Kernel = {
  key: 'attention_decode_combine',
  code: () => /* wgsl */ `
struct P { rows: u32, hd: u32, nSplit: u32 }
@group(0) @binding(0) var<storage, read> Acc: array<f32>;        // (B·H, nSplit, hd)
@group(0) @binding(1) var<storage, read> ML: array<f32>;         // (B·H, nSplit, 2)
@group(0) @binding(2) var<storage, read_write> O: array<f32>;    // (B·H, hd)
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(128) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.rows * p.hd) { return; }
  let row = i / p.hd;
  let d = i % p.hd;
  var mx = ${NEG};
  for (var s = 0u; s < p.nSplit; s++) { mx = max(mx, ML[(row * p.nSplit + s) * 2u]); }
  var num = 0.0;
  var den = 0.0;
  for (var s = 0u; s < p.nSplit; s++) {
    let o = row * p.nSplit + s;
    let w = exp(ML[o * 2u] - mx); // a split that saw no key has m = NEG and l = acc = 0
    num = fma(w, Acc[o * p.hd + d], num);
    den = fma(w, ML[o * 2u + 1u], den);
  }
  O[i] = select(0.0, num / den, den > 0.0);
}`,
};

/**
 * Writes one new token's keys and values (B, Hkv, 1, hd) each into a KV cache's buffers (B, Hkv,
 * cap, hd) at the position held in the int32 buffer Len[0] (a replayed decode step's position).
 */
export const kvAppendAtKernel: Kernel = {
  key: 'attention_kv_append_at',
  code: () => /* wgsl */ `
struct P { n: u32, hd: u32, cap: u32 }
@group(0) @binding(0) var<storage, read> Kn: array<f32>;        // (B, Hkv, 1, hd)
@group(0) @binding(1) var<storage, read> Vn: array<f32>;
@group(0) @binding(2) var<storage, read> Len: array<i32>;
@group(0) @binding(3) var<storage, read_write> Kc: array<f32>;  // (B, Hkv, cap, hd)
@group(0) @binding(4) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(5) var<uniform> p: P;
@compute @workgroup_size(128) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let pos = Len[0];
  // A position outside the buffers writes nothing (no robust access: it would land in another head's rows).
  if (i >= p.n || pos < 0 || u32(pos) >= p.cap) { return; }
  let bh = i / p.hd;
  let o = (bh * p.cap + u32(pos)) * p.hd + i % p.hd;
  Kc[o] = Kn[i];
  Vc[o] = Vn[i];
}`,
};
