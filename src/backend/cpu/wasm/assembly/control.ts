/**
 * The control block (../layout.ts): claiming tiles of the posted job, and the workers' wait loop.
 *
 * Protocol. The dispatcher closes claims (W_NEXT_TILE = CLAIMS_CLOSED), writes the kernel, its
 * arguments and the tile count, zeroes W_TILES_DONE, opens claims (W_NEXT_TILE = 0) and bumps
 * W_GENERATION. Every thread then claims tiles by fetch-add until they run out, reading the job only
 * after a successful claim (so a late thread never mixes two jobs), and counts each finished tile.
 * Tiles are fixed by the job's shape, never by the number of threads, and each output element is
 * computed by one tile in one fixed order: results are identical with any number of threads.
 */
import {
  CONTROL, W_ACTIVE_THREADS, W_ARGS, W_GENERATION, W_NEXT_TILE, W_SLEEPERS, W_STARTED, W_TILE_COUNT, W_TILES_DONE,
} from '../layout';

@inline export function word(i: i32): usize {
  return <usize>(CONTROL + (i << 2));
}

@inline export function arg(i: i32): i32 {
  return load<i32>(word(W_ARGS + i));
}

/** Claims the next tile of the posted job; -1 when none is left. */
@inline export function claimTile(): i32 {
  const t = atomic.add<i32>(word(W_NEXT_TILE), 1);
  return t < atomic.load<i32>(word(W_TILE_COUNT)) ? t : -1;
}

/** Counts a finished tile, waking the dispatcher when it was the last. */
@inline export function finishTile(): void {
  const count = atomic.load<i32>(word(W_TILE_COUNT));
  if (atomic.add<i32>(word(W_TILES_DONE), 1) + 1 == count) atomic.notify(word(W_TILES_DONE), 1);
}

/** Loads of the generation word a waiting worker makes before it sleeps (tens of microseconds). */
const SPINS_BEFORE_SLEEP = 20000;

/** Waits for a job generation other than `seen` (spinning first: decode posts jobs every few µs). */
export function waitForJob(seen: i32): i32 {
  let spins = 0;
  let g = atomic.load<i32>(word(W_GENERATION));
  while (g == seen) {
    if (++spins > SPINS_BEFORE_SLEEP) {
      atomic.add<i32>(word(W_SLEEPERS), 1);
      memory.atomic.wait32(word(W_GENERATION), seen, -1);
      atomic.sub<i32>(word(W_SLEEPERS), 1);
      spins = 0;
    }
    g = atomic.load<i32>(word(W_GENERATION));
  }
  return g;
}

/** Whether worker `tid` (1-based; the dispatcher is 0) takes part in jobs now. */
@inline export function isActive(tid: i32): bool {
  return tid < atomic.load<i32>(word(W_ACTIVE_THREADS));
}

@inline export function markStarted(): void {
  atomic.add<i32>(word(W_STARTED), 1);
}
