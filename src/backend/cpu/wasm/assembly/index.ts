/**
 * The WebAssembly kernels' entry points. The module imports one memory (env.memory, shared where
 * threads exist) that holds every CPU tensor; each thread instantiates it over that memory. The
 * dispatching thread posts a job in the control block (../layout.ts) and calls runTiles itself;
 * each worker sits in workerLoop. Nothing here allocates: tensors and scratch come from the
 * TypeScript allocator (../heap.ts).
 */
import { K_ADAMW, K_ATTENTION, K_CONV1D, K_GEMM, K_GEMV, K_SCAN, K_SCAN_BACKWARD, K_CONV1D_BACKWARD, K_SSD_SCAN, K_SSD_SCAN_BACKWARD, K_SSD_STEP, W_GENERATION, W_KERNEL } from '../layout';
import { claimTile, finishTile, isActive, markStarted, waitForJob, word } from './control';
import { gemmTile } from './gemm';
import { adamwTile } from './adamw';
import { gemvTile } from './gemv';
import { attentionTile } from './attention';
import { conv1dTile } from './conv';
import { conv1dBackwardTile } from './conv-backward';
import { scanTile } from './scan';
import { scanBackwardTile } from './scan-backward';
import { ssdScanTile } from './ssd-scan';
import { ssdScanBackwardTile } from './ssd-scan-backward';
import { ssdStepTile } from './ssd-step';

/** Claims and runs tiles of the posted job until none is left. */
export function runTiles(scratch: usize): void {
  let t = claimTile();
  while (t >= 0) {
    const kernel = load<i32>(word(W_KERNEL));
    if (kernel == K_GEMM) gemmTile(t, scratch);
    else if (kernel == K_GEMV) gemvTile(t);
    else if (kernel == K_SCAN) scanTile(t, scratch);
    else if (kernel == K_CONV1D) conv1dTile(t, scratch);
    else if (kernel == K_CONV1D_BACKWARD) conv1dBackwardTile(t, scratch);
    else if (kernel == K_SSD_STEP) ssdStepTile(t);
    else if (kernel == K_SSD_SCAN) ssdScanTile(t);
    else if (kernel == K_ATTENTION) attentionTile(t, scratch);
    else if (kernel == K_SSD_SCAN_BACKWARD) ssdScanBackwardTile(t);
    else if (kernel == K_SCAN_BACKWARD) scanBackwardTile(t);
    else if (kernel == K_ADAMW) adamwTile(t);
    finishTile();
    t = claimTile();
  }
}

/** A worker's life: wait for each new job, help with it while active. Never returns. */
export function workerLoop(tid: i32, scratch: usize): void {
  markStarted();
  let seen = atomic.load<i32>(word(W_GENERATION));
  if (isActive(tid)) runTiles(scratch);
  while (true) {
    seen = waitForJob(seen);
    if (isActive(tid)) runTiles(scratch);
  }
}
