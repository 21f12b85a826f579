/**
 * Rows of Mamba caches regrouped into one batch: what continuous batching does at a step boundary
 * (a sequence that finished leaves, a freshly prefilled one joins). A Mamba sequence's whole state
 * is one row of each layer's conv and SSM state, of a size that does not depend on its length, so
 * joining and leaving is a copy of rows; no padding and no masks, and each row decodes exactly as
 * it would alone.
 */
import { ArgumentError } from '../../errors.js';
import { concat, slice } from '../../ops/shape.js';
import { keep } from '../../tensor/memory.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MambaCache } from './cache.js';

/** Row `row` of `cache`. */
export interface MambaCacheRow {
  readonly cache: MambaCache;
  readonly row: number;
}

/** Consecutive rows of one cache: [start, start + length). */
interface RowRun {
  cache: MambaCache;
  start: number;
  length: number;
}

function runsOf(rows: readonly MambaCacheRow[]): RowRun[] {
  const runs: RowRun[] = [];
  for (const [i, { cache, row }] of rows.entries()) {
    if (!(cache instanceof MambaCache)) throw new ArgumentError(`gatherCacheRows: rows[${i}].cache is not a MambaCache`);
    if (!Number.isInteger(row) || row < 0 || row >= cache.batchSize) {
      throw new ArgumentError(`gatherCacheRows: rows[${i}].row ${row} is outside the cache's batch [0, ${cache.batchSize})`);
    }
    const last = runs[runs.length - 1];
    if (last && last.cache === cache && last.start + last.length === row) last.length++;
    else runs.push({ cache, start: row, length: 1 });
  }
  return runs;
}

/** The rows of `t` that `runs` name (via `pick`), in order: one copy. */
function gather(runs: readonly RowRun[], pick: (c: MambaCache) => Tensor): Tensor {
  const parts = runs.map((r) => {
    const t = pick(r.cache);
    return r.start === 0 && r.length === t.shape[0] ? null : slice(t, 0, r.start, r.length);
  });
  try {
    return keep(concat(parts.map((p, i) => p ?? pick(runs[i]!.cache)), 0));
  } finally {
    for (const p of parts) p?.dispose();
  }
}

/**
 * A new cache whose row j is `rows[j]`'s row (a copy: the sources stay as they were and are still
 * the caller's to dispose). Every source must have its prompt fed through all layers. Its
 * seqlenOffset is the largest of the sources' (rows of a regrouped batch have different lengths,
 * which a Mamba step never reads).
 */
export function gatherCacheRows(rows: readonly MambaCacheRow[]): MambaCache {
  if (rows.length === 0) throw new ArgumentError('gatherCacheRows: no rows given');
  const runs = runsOf(rows);
  const layers = runs[0]!.cache.states.length;
  for (const r of runs) {
    if (r.cache.states.length !== layers) throw new ArgumentError(`gatherCacheRows: caches of ${layers} and ${r.cache.states.length} layers cannot be mixed`);
    if (r.cache.states.some((s) => s === null)) throw new ArgumentError('gatherCacheRows: a source cache has a layer without state (feed its prompt first)');
  }
  const out = new MambaCache(rows.length, layers);
  try {
    for (let i = 0; i < layers; i++) {
      const conv = gather(runs, (c) => c.states[i]!.conv);
      let ssm: Tensor;
      try {
        ssm = gather(runs, (c) => c.states[i]!.ssm);
      } catch (e) {
        conv.dispose();
        throw e;
      }
      out.update(i, { conv, ssm });
    }
  } catch (e) {
    out.dispose();
    throw e;
  }
  out.seqlenOffset = Math.max(...runs.map((r) => r.cache.seqlenOffset));
  return out;
}
