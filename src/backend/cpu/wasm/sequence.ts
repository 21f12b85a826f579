/**
 * The sequence kernels on the WebAssembly pool: the selective scan (also one decode step, as
 * L = 1), the causal depthwise conv1d (also its decode step), and Mamba-2's state space layer over
 * a sequence and its decode-step state update; and the conv's backward. The scan's and the conv's tiles are CHANNEL_TILE
 * channels of one sequence, Mamba-2's a (sequence, head), all fixed by the shapes, so every thread
 * count gives the same bits (assembly/scan.ts, conv.ts, ssd-scan.ts, ssd-step.ts). Callers pass
 * byte addresses in the heap; 0 stands for an absent input.
 */
import {
  CHANNEL_TILE, CONV_FLAG_SILU, CV_BIAS, CV_CHANNELS, CV_FLAGS, CV_K, CV_L, CV_NEW_STATE, CV_OUT, CV_STATE, CV_TILE_CHANNELS, CV_TILES_PER_BATCH,
  CV_W, CV_X, K_CONV1D, K_SCAN, S_A, S_B, S_C, S_CHANNELS, S_D, S_DELTA, S_DELTA_BIAS, S_FLAGS, S_H0, S_L, S_LAST, S_N, S_OUT, S_TILE_CHANNELS,
  S_TILES_PER_BATCH, S_U, S_Z, SCAN_FLAG_SOFTPLUS, SCRATCH_BYTES, K_SSD_STEP, SS_B_OFFSET, SS_DECAY, SS_DT, SS_HEAD_DIM, SS_HEADS, SS_HEADS_PER_GROUP,
  SS_N, SS_ROW_STRIDE, SS_STATE, SS_XB, K_SSD_SCAN, SQ_A, SQ_B, SQ_C, SQ_D, SQ_DT, SQ_GROUPS, SQ_H0, SQ_HEAD_DIM, SQ_HEADS, SQ_L, SQ_LAST,
  SQ_N, SQ_OUT, SQ_X, K_CONV1D_BACKWARD, CB_BATCH, CB_BIAS, CB_CHANNELS, CB_DBIAS, CB_DSTATE, CB_DW, CB_DX, CB_FLAGS, CB_G_OUT, CB_G_STATE, CB_K,
  CB_L, CB_STATE, CB_TILE_CHANNELS, CB_W, CB_X,
} from './layout.js';
import type { KernelPool } from './pool.js';

/** Addresses of the scan's arrays: u, δ, z, out (batch, L, D); B, C (batch, L, N); A (D, N); states (batch, D, N). */
export interface ScanJob {
  u: number;
  delta: number;
  A: number;
  B: number;
  C: number;
  D: number;
  z: number;
  deltaBias: number;
  initialState: number;
  out: number;
  lastState: number;
  batch: number;
  L: number;
  channels: number;
  N: number;
  softplus: boolean;
}

/** Whether the scan kernel's scratch (2·N vectors per thread) holds this N. */
export function scanFits(N: number): boolean {
  return N >= 1 && 32 * N <= SCRATCH_BYTES;
}

export function scanOnPool(pool: KernelPool, j: ScanJob): void {
  if (j.batch === 0 || j.channels === 0) return;
  if (!scanFits(j.N)) throw new Error(`scanOnPool: N = ${j.N} does not fit the kernel's scratch (check scanFits first)`);
  const tilesPerBatch = Math.ceil(j.channels / CHANNEL_TILE);
  const args: number[] = [];
  args[S_U] = j.u;
  args[S_DELTA] = j.delta;
  args[S_A] = j.A;
  args[S_B] = j.B;
  args[S_C] = j.C;
  args[S_D] = j.D;
  args[S_Z] = j.z;
  args[S_DELTA_BIAS] = j.deltaBias;
  args[S_H0] = j.initialState;
  args[S_OUT] = j.out;
  args[S_LAST] = j.lastState;
  args[S_L] = j.L;
  args[S_CHANNELS] = j.channels;
  args[S_N] = j.N;
  args[S_FLAGS] = j.softplus ? SCAN_FLAG_SOFTPLUS : 0;
  args[S_TILES_PER_BATCH] = tilesPerBatch;
  args[S_TILE_CHANNELS] = CHANNEL_TILE;
  pool.run(K_SCAN, args, j.batch * tilesPerBatch);
}

/** Addresses of the conv's arrays: x, out (batch, L, D); w (D, K); bias (D); states (batch, D, K−1). */
export interface Conv1dJob {
  x: number;
  w: number;
  bias: number;
  state: number;
  out: number;
  newState: number;
  batch: number;
  L: number;
  channels: number;
  K: number;
  silu: boolean;
}

/** Whether the conv kernel's scratch (2·K − 1 vectors per thread) holds this K. */
export function conv1dFits(K: number): boolean {
  return K >= 1 && 32 * K <= SCRATCH_BYTES;
}

export function conv1dOnPool(pool: KernelPool, j: Conv1dJob): void {
  if (j.batch === 0 || j.channels === 0) return;
  if (!conv1dFits(j.K)) throw new Error(`conv1dOnPool: K = ${j.K} does not fit the kernel's scratch (check conv1dFits first)`);
  const tilesPerBatch = Math.ceil(j.channels / CHANNEL_TILE);
  const args: number[] = [];
  args[CV_X] = j.x;
  args[CV_W] = j.w;
  args[CV_BIAS] = j.bias;
  args[CV_STATE] = j.state;
  args[CV_OUT] = j.out;
  args[CV_NEW_STATE] = j.newState;
  args[CV_L] = j.L;
  args[CV_CHANNELS] = j.channels;
  args[CV_K] = j.K;
  args[CV_FLAGS] = j.silu ? CONV_FLAG_SILU : 0;
  args[CV_TILES_PER_BATCH] = tilesPerBatch;
  args[CV_TILE_CHANNELS] = CHANNEL_TILE;
  pool.run(K_CONV1D, args, j.batch * tilesPerBatch);
}

/**
 * Addresses of Mamba-2's decode-step state update (assembly/ssd-step.ts): the states (batch, heads,
 * headDim, N), updated in place; rows of `rowStride` floats from `xb` holding x (heads · headDim) at
 * 0 and B (groups, N) at `bOffset`; Δ and exp(Δ·A) (batch, heads).
 */
export interface SsdStepJob {
  state: number;
  xb: number;
  rowStride: number;
  bOffset: number;
  dt: number;
  decay: number;
  batch: number;
  heads: number;
  headDim: number;
  N: number;
  headsPerGroup: number;
}

/** S = S·decay + (x·Δ) ⊗ B per (row, head), a tile each. */
export function ssdStepOnPool(pool: KernelPool, j: SsdStepJob): void {
  if (j.batch === 0 || j.heads === 0 || j.headDim === 0 || j.N === 0) return;
  const args: number[] = [];
  args[SS_STATE] = j.state;
  args[SS_XB] = j.xb;
  args[SS_ROW_STRIDE] = j.rowStride;
  args[SS_B_OFFSET] = j.bOffset;
  args[SS_DT] = j.dt;
  args[SS_DECAY] = j.decay;
  args[SS_HEADS] = j.heads;
  args[SS_HEAD_DIM] = j.headDim;
  args[SS_N] = j.N;
  args[SS_HEADS_PER_GROUP] = j.headsPerGroup;
  pool.run(K_SSD_STEP, args, j.batch * j.heads);
}

/**
 * Addresses of Mamba-2's state space layer over a sequence (assembly/ssd-scan.ts): x, out (batch,
 * L, heads, headDim); dt (batch, L, heads); A, D (heads); B, C (batch, L, groups, N); states
 * (batch, heads, headDim, N).
 */
export interface SsdScanJob extends SsdScanDims {
  x: number;
  dt: number;
  A: number;
  D: number;
  B: number;
  C: number;
  initialState: number;
  out: number;
  lastState: number;
}

/** The shapes of Mamba-2's SSD on the CPU kernels (forward and backward). */
export interface SsdScanDims {
  batch: number;
  L: number;
  heads: number;
  headDim: number;
  groups: number;
  N: number;
}

/** The recurrence token by token, a tile per (sequence, head). */
export function ssdScanOnPool(pool: KernelPool, j: SsdScanJob): void {
  if (j.batch === 0 || j.heads === 0) return;
  const args: number[] = [];
  args[SQ_X] = j.x;
  args[SQ_DT] = j.dt;
  args[SQ_A] = j.A;
  args[SQ_D] = j.D;
  args[SQ_B] = j.B;
  args[SQ_C] = j.C;
  args[SQ_H0] = j.initialState;
  args[SQ_OUT] = j.out;
  args[SQ_LAST] = j.lastState;
  args[SQ_L] = j.L;
  args[SQ_HEADS] = j.heads;
  args[SQ_HEAD_DIM] = j.headDim;
  args[SQ_GROUPS] = j.groups;
  args[SQ_N] = j.N;
  pool.run(K_SSD_SCAN, args, j.batch * j.heads);
}

/**
 * Addresses of the conv's backward: x, gOut, dx (batch, L, D); w, dw (D, K); bias, dbias (D);
 * state, gState, dstate (batch, D, K−1); 0 where absent (dbias, dstate: not wanted).
 */
export interface Conv1dBackwardJob {
  x: number;
  w: number;
  bias: number;
  state: number;
  gOut: number;
  gState: number;
  dx: number;
  dw: number;
  dbias: number;
  dstate: number;
  batch: number;
  L: number;
  channels: number;
  K: number;
  silu: boolean;
}

/** Whether the conv backward's scratch (3·K vectors for each of a tile's four vectors of channels) holds this K. */
export function conv1dBackwardFits(K: number): boolean {
  return K >= 1 && 4 * 48 * K <= SCRATCH_BYTES;
}

/** Tiles of CHANNEL_TILE channels over every sequence (dw and dbias summed inside a tile). */
export function conv1dBackwardOnPool(pool: KernelPool, j: Conv1dBackwardJob): void {
  if (j.channels === 0) return;
  if (!conv1dBackwardFits(j.K)) throw new Error(`conv1dBackwardOnPool: K = ${j.K} does not fit the kernel's scratch (check conv1dBackwardFits first)`);
  const args: number[] = [];
  args[CB_X] = j.x;
  args[CB_W] = j.w;
  args[CB_BIAS] = j.bias;
  args[CB_STATE] = j.state;
  args[CB_G_OUT] = j.gOut;
  args[CB_G_STATE] = j.gState;
  args[CB_DX] = j.dx;
  args[CB_DW] = j.dw;
  args[CB_DBIAS] = j.dbias;
  args[CB_DSTATE] = j.dstate;
  args[CB_BATCH] = j.batch;
  args[CB_L] = j.L;
  args[CB_CHANNELS] = j.channels;
  args[CB_K] = j.K;
  args[CB_FLAGS] = j.silu ? CONV_FLAG_SILU : 0;
  args[CB_TILE_CHANNELS] = CHANNEL_TILE;
  pool.run(K_CONV1D_BACKWARD, args, Math.ceil(j.channels / CHANNEL_TILE));
}
