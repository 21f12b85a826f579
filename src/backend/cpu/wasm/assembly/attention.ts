/**
 * Causal grouped-query attention's forward (../../attention.ts states it and stays the reference),
 * a tile per (sequence, head, block of AT_QUERIES queries). Each query walks its visible keys in
 * blocks of KB with an online softmax: the block's scores (q·k, four of hd's lanes per vector),
 * the running maximum m, the running sum l and the accumulated Σ p·v (hd lanes) rescaled by
 * exp(m_old − m_new) whenever m grows. So it needs no buffer of Lk scores and takes any context
 * length. Masked keys (mask 0) are skipped; a query with no visible real key gets zeros. hd must be
 * a multiple of 4 (the caller checks). The arithmetic of a query does not depend on its tile, so
 * results do not depend on the number of threads.
 */
import { AT_CAP, AT_H, AT_HD, AT_HKV, AT_K, AT_LK, AT_LQ, AT_MASK, AT_OUT, AT_Q, AT_QUERIES, AT_SCALE_BITS, AT_V } from '../layout';
import { arg } from './control';
import { hsum, madd } from './simd';
import { exp4 } from './vmath';

/** Keys per block of the online softmax (their scores sit in the thread's scratch). */
const KB = 16;

@inline function ptr(i: i32): usize {
  return <usize><u32>arg(i);
}

/** Runs tile `t` of the posted K_ATTENTION job; scratch holds KB scores, then the hd/4 accumulator vectors. */
export function attentionTile(t: i32, scratch: usize): void {
  const Lq = arg(AT_LQ);
  const H = arg(AT_H);
  const Hkv = arg(AT_HKV);
  const hd = arg(AT_HD);
  const cap = arg(AT_CAP);
  const Lk = arg(AT_LK);
  const per = arg(AT_QUERIES);
  const scale = reinterpret<f32>(arg(AT_SCALE_BITS));
  const blocks = (Lq + per - 1) / per;
  const h = (t / blocks) % H;
  const b = t / (blocks * H);
  const i0 = (t % blocks) * per;
  const i1 = min(Lq, i0 + per);
  const G = H / Hkv;
  const past = Lk - Lq;
  const hdBytes = <usize>hd << 2;
  const kv = (<usize>b * <usize>Hkv + <usize>(h / G)) * <usize>cap * hdBytes;
  const K = ptr(AT_K) + kv;
  const V = ptr(AT_V) + kv;
  const pMask = ptr(AT_MASK);
  const mask = pMask + (<usize>b * <usize>Lk << 2);
  const s = scratch; // KB scores
  const acc = scratch + (<usize>KB << 2); // hd floats
  for (let i = i0; i < i1; i++) {
    const visible = past + i + 1;
    const qo = ((<usize>b * <usize>Lq + <usize>i) * <usize>H + <usize>h) * hdBytes;
    const q = ptr(AT_Q) + qo;
    memory.fill(acc, 0, hdBytes);
    let m: f32 = -Infinity;
    let l: f32 = 0;
    for (let j0 = 0; j0 < visible; j0 += KB) {
      const n = min(KB, visible - j0);
      let bm: f32 = -Infinity;
      for (let jj = 0; jj < n; jj++) {
        const j = j0 + jj;
        let sc: f32 = -Infinity;
        if (!pMask || load<f32>(mask + (<usize>j << 2)) != 0) {
          const kj = K + <usize>j * hdBytes;
          let dot = f32x4.splat(0);
          for (let d = 0; d < hd; d += 4) dot = madd(v128.load(q + (<usize>d << 2)), v128.load(kj + (<usize>d << 2)), dot);
          sc = hsum(dot) * scale;
          bm = max(bm, sc);
        }
        store<f32>(s + (<usize>jj << 2), sc);
      }
      if (bm == -Infinity) continue; // every key of the block masked
      if (bm > m) {
        // Rescale what was accumulated under the old maximum.
        const r = m == -Infinity ? f32(0) : f32x4.extract_lane(exp4(f32x4.splat(m - bm)), 0);
        const rv = f32x4.splat(r);
        for (let d = 0; d < hd; d += 4) v128.store(acc + (<usize>d << 2), f32x4.mul(v128.load(acc + (<usize>d << 2)), rv));
        l *= r;
        m = bm;
      }
      for (let jj = 0; jj < n; jj++) {
        const sc = load<f32>(s + (<usize>jj << 2));
        if (sc == -Infinity) continue;
        const p = f32x4.extract_lane(exp4(f32x4.splat(sc - m)), 0);
        l += p;
        const pv = f32x4.splat(p);
        const vj = V + <usize>(j0 + jj) * hdBytes;
        for (let d = 0; d < hd; d += 4) v128.store(acc + (<usize>d << 2), madd(pv, v128.load(vj + (<usize>d << 2)), v128.load(acc + (<usize>d << 2))));
      }
    }
    const out = ptr(AT_OUT) + qo;
    const inv = f32x4.splat(l > 0 ? f32(1) / l : 0);
    for (let d = 0; d < hd; d += 4) v128.store(out + (<usize>d << 2), f32x4.mul(v128.load(acc + (<usize>d << 2)), inv));
  }
}
