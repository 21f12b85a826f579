/**
 * A draw of the next token on the device (ops/sample-tokens.ts states the contract; the CPU
 * kernel, cpu/sample-tokens.ts, is the reference). One workgroup per row; nothing is sorted:
 *
 * - temperature divides each logit as it is read (x / t, float32, as torch);
 * - the values are compared through the order-preserving u32 key of their float32 bits. Top-k's
 *   threshold is the k-th largest key, found a byte at a time (radix select: four passes with
 *   256-bin workgroup histograms), so ties with the k-th all stay. Top-p's is the smallest key w
 *   whose cumulative probability from the bottom, mass(key ≤ w), passes 1 − top_p, found by
 *   bisection over keys with workgroup sums: HF's TopPLogitsWarper removes, in ascending order,
 *   the tokens whose cumulative probability is still ≤ 1 − top_p, i.e. everything below w and
 *   the first few ties at w in index order (torch's stable sort), never the most likely token;
 * - when few tokens can survive (top-k ≤ 1024, or for top-p the tokens within e^7 of the top when
 *   the rest is cut for sure), they are gathered into workgroup memory first, and top-p, min-p
 *   and the draw read only them;
 * - min-p keeps exp(x − max) ≥ min_p (HF's p ≥ min_p · p_max);
 * - the draw: thread t owns a contiguous chunk of indices; chunk sums of exp(x − max) over the
 *   kept tokens are scanned in thread order, so walking the chunk that holds u = next() · total
 *   finds the first index in index order whose running sum passes u, as sampler.ts does.
 *   xoshiro128** runs in u32 arithmetic, its state (B, 4) updated in place;
 * - a row whose per-row temperature is 0 takes the first index of its maximum key instead (as
 *   sampler.ts's argmax), draws nothing, and leaves its generator as it was.
 *
 * Sums are float32 here (the reference uses float64), so a boundary case can differ.
 */
import { cachedKernel, type Kernel } from '../context.js';

export const SAMPLE_WG = 256;
/** Candidates gathered into workgroup memory at most (8 KiB of the 16 KiB every adapter has). */
const COMPACT = 1024;

/**
 * The kernel, with the warpers in the uniforms (the same for every row) or, `perRow`, read from a
 * (rows, 4) float32 table [temperature (0: the argmax, no draw), topK, limit = 1 − top_p rounded to
 * float32 (0: top-p off), minP] bound after Y: a recorded launch then reads the table's buffer at
 * each replay, so rows change their options by writes to it, with the same pipeline and uniforms.
 */
export function sampleTokensKernel(perRow: boolean): Kernel {
  const key = perRow ? 'sample_tokens_rows' : 'sample_tokens';
  return cachedKernel(key, () => ({ key, code: () => code(perRow) }));
}

const code = (perRow: boolean) => /* wgsl */ `
struct P { rows: u32, n: u32, gx: u32, topK: u32, temperature: f32, topP: f32, limit: f32, minP: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<u32>;  // (rows, 4) xoshiro128** states
@group(0) @binding(2) var<storage, read_write> Y: array<i32>;  // (rows)
/** A row's warpers; topP is on when limit > 0 (top_p < 1). */
struct Opt { temperature: f32, topK: u32, limit: f32, minP: f32 }
${
  perRow
    ? `@group(0) @binding(3) var<storage, read> O: array<f32>; // (rows, 4) the rows' warpers
@group(0) @binding(4) var<uniform> p: P;
fn rowOptions(r: u32) -> Opt { return Opt(O[r * 4u], u32(O[r * 4u + 1u]), O[r * 4u + 2u], O[r * 4u + 3u]); }`
    : `@group(0) @binding(3) var<uniform> p: P;
fn rowOptions(r: u32) -> Opt { return Opt(p.temperature, p.topK, p.limit, p.minP); }`
}
/** The row's temperature (1 for an argmax row: its values are compared as they are). */
var<private> temperature: f32;

const WG = ${SAMPLE_WG}u;
// The key of -Infinity: keys above it are finite values (or +Infinity).
const NEG_INF_KEY = 0x007fffffu;

var<workgroup> redF: array<f32, ${SAMPLE_WG}>;
var<workgroup> redU: array<u32, ${SAMPLE_WG}>;
var<workgroup> scanF: array<f32, ${SAMPLE_WG + 1}>;
var<workgroup> scanU: array<u32, ${SAMPLE_WG + 1}>;
var<workgroup> uDraw: f32;
var<workgroup> picked: u32;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> radix: vec2<u32>; // the k-th key's digits so far, and how many of the k are still to find
var<workgroup> gathered: u32;
var<workgroup> gatheredRest: f32;
var<workgroup> floorKey: u32;
var<workgroup> span: u32; // top-p's bisection interval, to stop once it is one key // how many tokens survive top-k, when they fit in sv / si
// The candidates (values after temperature, and their indices, in index order), when there are
// at most COMPACT of them: top-p, min-p and the draw then read them here, not X.
var<workgroup> sv: array<f32, ${COMPACT}>;
var<workgroup> si: array<u32, ${COMPACT}>;

/** Order-preserving u32 of a float's bits (-0 counts as +0, as it compares equal). */
fn keyOf(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if (b == 0x80000000u) { b = 0u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn valueOf(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

/** The logit after temperature. */
fn logit(base: u32, i: u32) -> f32 {
  var v = X[base + i];
  if (temperature != 1.0) { v = v / temperature; }
  return v;
}

/** Candidate j: the logit after temperature, from X (index j) or from the gathered survivors. */
fn value(compact: bool, base: u32, j: u32) -> f32 {
  if (compact) { return sv[j]; }
  return logit(base, j);
}
fn index(compact: bool, j: u32) -> u32 {
  if (compact) { return si[j]; }
  return j;
}

fn sumF(t: u32, v: f32) -> f32 {
  redF[t] = v;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t < h) { redF[t] = redF[t] + redF[t + h]; }
    workgroupBarrier();
  }
  let s = redF[0];
  workgroupBarrier();
  return s;
}
fn sumU(t: u32, v: u32) -> u32 {
  redU[t] = v;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t < h) { redU[t] = redU[t] + redU[t + h]; }
    workgroupBarrier();
  }
  let s = redU[0];
  workgroupBarrier();
  return s;
}
fn maxU(t: u32, v: u32) -> u32 {
  redU[t] = v;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (t < h) { redU[t] = max(redU[t], redU[t + h]); }
    workgroupBarrier();
  }
  let s = redU[0];
  workgroupBarrier();
  return s;
}
/** Exclusive scans of one value per thread, in thread order (thread 0 adds them up serially, so the sums are reproducible). */
fn scanFloats(t: u32, v: f32) {
  redF[t] = v;
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0.0;
    for (var j = 0u; j < WG; j++) { scanF[j] = acc; acc = acc + redF[j]; }
    scanF[WG] = acc;
  }
  workgroupBarrier();
}
fn scanCounts(t: u32, v: u32) {
  redU[t] = v;
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0u;
    for (var j = 0u; j < WG; j++) { scanU[j] = acc; acc = acc + redU[j]; }
    scanU[WG] = acc;
  }
  workgroupBarrier();
}

fn rotl(x: u32, k: u32) -> u32 { return (x << k) | (x >> (32u - k)); }

/** xoshiro128** (as sampler.ts's Rng): the next output of row r's generator, its state advanced. */
fn nextUint32(r: u32) -> u32 {
  var s0 = S[r * 4u];
  var s1 = S[r * 4u + 1u];
  var s2 = S[r * 4u + 2u];
  var s3 = S[r * 4u + 3u];
  let result = rotl(s1 * 5u, 7u) * 9u;
  let tt = s1 << 9u;
  s2 = s2 ^ s0;
  s3 = s3 ^ s1;
  s1 = s1 ^ s2;
  s0 = s0 ^ s3;
  s2 = s2 ^ tt;
  s3 = rotl(s3, 11u);
  S[r * 4u] = s0;
  S[r * 4u + 1u] = s1;
  S[r * 4u + 2u] = s2;
  S[r * 4u + 3u] = s3;
  return result;
}

@compute @workgroup_size(${SAMPLE_WG}) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x + wid.y * p.gx;
  if (r >= p.rows) { return; }
  let t = lid.x;
  let base = r * p.n;
  let opt = rowOptions(r);
  let argmaxRow = opt.temperature == 0.0;
  temperature = select(opt.temperature, 1.0, argmaxRow);

  // The maximum (as a key: no infinities in constants).
  var mk = 0u;
  for (var i = t; i < p.n; i += WG) { mk = max(mk, keyOf(logit(base, i))); }
  let maxKey = maxU(t, mk);
  let m = valueOf(maxKey);

  if (argmaxRow) {
    // The first index of the maximum (as sampler.ts's argmax); no draw, the generator stays.
    var first = 0xffffffffu;
    for (var i = t; i < p.n; i += WG) {
      if (keyOf(X[base + i]) == maxKey) { first = i; break; }
    }
    let f = ~maxU(t, ~first);
    if (t == 0u) { Y[r] = i32(f); }
    return;
  }

  // Top-k: the k-th largest key, a byte at a time (radix select with workgroup histograms).
  var kthKey = 0u;
  if (opt.topK > 0u && opt.topK < p.n) {
    if (t == 0u) { radix = vec2<u32>(0u, opt.topK); }
    for (var d = 0u; d < 4u; d++) {
      let shift = 24u - 8u * d;
      atomicStore(&hist[t], 0u);
      workgroupBarrier();
      let want = radix;
      let high = select(0xffffffffu << (shift + 8u), 0u, d == 0u); // the digits already chosen
      for (var i = t; i < p.n; i += WG) {
        let k = keyOf(logit(base, i));
        if ((k & high) == want.x) { atomicAdd(&hist[(k >> shift) & 255u], 1u); }
      }
      workgroupBarrier();
      if (t == 0u) {
        var above = 0u;
        var b = 255u;
        loop {
          let c = atomicLoad(&hist[b]);
          if (above + c >= want.y || b == 0u) { radix = vec2<u32>(want.x | (b << shift), want.y - above); break; }
          above += c;
          b--;
        }
      }
      workgroupBarrier();
    }
    kthKey = radix.x;
  }
  let lowKey = max(kthKey, NEG_INF_KEY + 1u); // the alive tokens: key >= lowKey

  // Few candidates: gather them into workgroup memory, in index order. With top-k, the survivors;
  // with top-p alone, the tokens within e^7 of the top (p >= p_max / 1097), provided the rest
  // holds no more than 1 − top_p of the mass (then top-p removes them all, whatever its cut),
  // their mass kept in restMass for top-p's sums.
  if (t == 0u) { gathered = 0u; }
  let byTopK = opt.topK > 0u && opt.topK <= ${COMPACT}u;
  if (byTopK || opt.limit > 0.0) {
    let gatherKey = select(max(lowKey, keyOf(m - 7.0)), lowKey, byTopK);
    let chunkN = (p.n + WG - 1u) / WG;
    let s0 = min(p.n, t * chunkN);
    let s1 = min(p.n, s0 + chunkN);
    var c = 0u;
    var head = 0.0;
    var rest = 0.0;
    for (var i = s0; i < s1; i++) {
      let v = logit(base, i);
      let k = keyOf(v);
      if (k >= gatherKey) { c++; head += exp(v - m); } else if (k >= lowKey) { rest += exp(v - m); }
    }
    let headMass = sumF(t, head);
    let restMass = sumF(t, rest);
    scanCounts(t, c);
    if (scanU[WG] <= ${COMPACT}u && restMass <= opt.limit * (headMass + restMass)) {
      var j = scanU[t];
      for (var i = s0; i < s1; i++) {
        let v = logit(base, i);
        if (keyOf(v) >= gatherKey) { sv[j] = v; si[j] = i; j++; }
      }
      if (t == 0u) { gathered = scanU[WG]; gatheredRest = restMass; floorKey = gatherKey; }
    }
  }
  let compact = workgroupUniformLoad(&gathered) > 0u;
  // From here on the candidates are j in [0, count): value(j) and index(j) read them; below
  // "above" (the keys not gathered) lies mass "outside", all of it cut by top-p.
  let count = select(p.n, workgroupUniformLoad(&gathered), compact);
  let outside = select(0.0, gatheredRest, compact);
  let above = select(lowKey, floorKey, compact);

  // Top-p: everything below wKey goes, and the first tiesOut ties at wKey in index order.
  var wKey = 0u;
  var tiesOut = 0u;
  if (opt.limit > 0.0) {
    var z = 0.0;
    for (var j = t; j < count; j += WG) {
      let v = value(compact, base, j);
      if (keyOf(v) >= lowKey) { z += exp(v - m); }
    }
    let total = outside + sumF(t, z);
    var lo = above;
    var hi = maxKey;
    for (var it = 0u; it < 32u; it++) {
      let mid = lo + ((hi - lo) >> 1u);
      var s = 0.0;
      for (var j = t; j < count; j += WG) {
        let v = value(compact, base, j);
        let k = keyOf(v);
        if (k >= lowKey && k <= mid) { s += exp(v - m); }
      }
      let below = (outside + sumF(t, s)) / total;
      if (lo < hi) { if (below > opt.limit) { hi = mid; } else { lo = mid + 1u; } }
      if (t == 0u) { span = hi - lo; }
      if (workgroupUniformLoad(&span) == 0u) { break; } // converged
    }
    wKey = lo;
    // The mass strictly below wKey and the ties at wKey: HF's running sum passes the limit within them.
    var s = 0.0;
    var c = 0u;
    for (var j = t; j < count; j += WG) {
      let v = value(compact, base, j);
      let k = keyOf(v);
      if (k >= lowKey && k < wKey) { s += exp(v - m); }
      c += select(0u, 1u, k == wKey && k >= lowKey);
    }
    let under = (outside + sumF(t, s)) / total;
    let ties = sumU(t, c);
    let pw = exp(valueOf(wKey) - m) / total;
    let room = (opt.limit - under) / pw;
    var out = select(u32(min(floor(room), f32(ties))), 0u, !(room > 0.0));
    if (wKey == maxKey && ties > 0u) { out = min(out, ties - 1u); } // the most likely token stays
    tiesOut = out;
  }

  // Kept: alive, not cut by top-p (below wKey, or an early tie at it), and p >= minP · pmax.
  let chunk = (count + WG - 1u) / WG;
  let start = min(count, t * chunk);
  let end = min(count, start + chunk);
  var tieBase = 0u;
  if (opt.limit > 0.0) { // (a uniform condition, as the scan's barriers need)
    var c = 0u;
    if (tiesOut > 0u) { for (var j = start; j < end; j++) { c += select(0u, 1u, keyOf(value(compact, base, j)) == wKey); } }
    scanCounts(t, c);
    tieBase = scanU[t];
  }
  var chunkSum = 0.0;
  var lastKept = 0u; // 1 + the last index with weight in this chunk; 0: none
  var tie = tieBase;
  for (var j = start; j < end; j++) {
    let v = value(compact, base, j);
    let k = keyOf(v);
    var w = exp(v - m);
    var kept = k >= lowKey && k >= wKey;
    if (k == wKey && tiesOut > 0u) { kept = kept && tie >= tiesOut; tie++; }
    if (opt.minP > 0.0 && w < opt.minP) { kept = false; }
    if (kept && w > 0.0) { chunkSum += w; lastKept = index(compact, j) + 1u; }
  }
  scanFloats(t, chunkSum);
  let lastAny = maxU(t, lastKept);
  if (t == 0u) {
    uDraw = f32(nextUint32(r)) * 2.3283064365386963e-10 * scanF[WG];
    picked = select(lastAny - 1u, 0u, lastAny == 0u); // rounding left u past the end: the last token with weight
  }
  workgroupBarrier();
  let u = uDraw;
  let before = scanF[t];
  if (scanF[t + 1u] > u && (t == 0u || before <= u)) {
    // This chunk holds the crossing: walk it with the same sums as its total.
    var run = 0.0;
    var tie2 = tieBase;
    for (var j = start; j < end; j++) {
      let v = value(compact, base, j);
      let k = keyOf(v);
      var w = exp(v - m);
      var kept = k >= lowKey && k >= wKey;
      if (k == wKey && tiesOut > 0u) { kept = kept && tie2 >= tiesOut; tie2++; }
      if (opt.minP > 0.0 && w < opt.minP) { kept = false; }
      if (kept && w > 0.0) {
        run += w;
        if (before + run > u) { picked = index(compact, j); break; }
      }
    }
  }
  workgroupBarrier();
  if (t == 0u) { Y[r] = i32(picked); }
}`;
