/**
 * Causal grouped-query attention's forward on the WebAssembly kernels (assembly/attention.ts):
 * tiles of QUERIES queries of one (sequence, head), so that a long prompt spreads over the threads
 * and a decode step (one query) still has a tile per head.
 */
import { AT_CAP, AT_H, AT_HD, AT_HKV, AT_K, AT_LK, AT_LQ, AT_MASK, AT_OUT, AT_Q, AT_QUERIES, AT_SCALE_BITS, AT_V, K_ATTENTION } from './layout.js';
import type { KernelPool } from './pool.js';
import type { AttentionDimsCpu } from '../attention.js';

const QUERIES = 8;

/** Byte addresses of q, out (B, Lq, H, hd), k, v (B, Hkv, cap, hd) and the key mask (B, Lk; 0: none). */
export interface AttentionJob extends AttentionDimsCpu {
  q: number;
  k: number;
  v: number;
  mask: number;
  out: number;
}

/** Whether the kernel takes this head size: whole vectors of four. */
export function attentionFits(hd: number): boolean {
  return hd >= 4 && hd % 4 === 0;
}

export function attentionOnPool(pool: KernelPool, j: AttentionJob): void {
  if (j.B === 0 || j.Lq === 0 || j.H === 0) return;
  if (!attentionFits(j.hd)) throw new Error(`attentionOnPool: head size ${j.hd} is not a multiple of 4 (check attentionFits first)`);
  const args: number[] = [];
  args[AT_Q] = j.q;
  args[AT_K] = j.k;
  args[AT_V] = j.v;
  args[AT_MASK] = j.mask;
  args[AT_OUT] = j.out;
  args[AT_LQ] = j.Lq;
  args[AT_H] = j.H;
  args[AT_HKV] = j.Hkv;
  args[AT_HD] = j.hd;
  args[AT_CAP] = j.cap;
  args[AT_LK] = j.Lk;
  args[AT_QUERIES] = QUERIES;
  args[AT_SCALE_BITS] = new Int32Array(new Float32Array([1 / Math.sqrt(j.hd)]).buffer)[0]!;
  pool.run(K_ATTENTION, args, j.B * j.H * Math.ceil(j.Lq / QUERIES));
}
