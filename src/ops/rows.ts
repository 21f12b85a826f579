/**
 * Row gather and row scatter-add over the first axis, the two halves of mixture-of-experts
 * dispatch: gather the rows of the tokens an expert serves, run the expert on that block, add its
 * rows back into the tokens' outputs. Each is the other's backward.
 *
 * The indices are known on the host (an MoE reads its top-k choices back once per layer), so a
 * `RowIndex` is built there once and carries, besides the indices, their inverse grouped by target
 * row (CSR: positions sorted by row, and each row's range). The scatter-add sums each output row
 * over its own range in increasing position order: deterministic on every backend, no atomics.
 */
import { ArgumentError } from '../errors.js';
import { formatShape, sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DeviceName } from '../backend/registry.js';
import { record, saveForBackward, shouldRecord } from '../autograd/tape.js';
import { expectDtype, sameBackend } from './check.js';
import { tensor } from './create.js';
import { reshape } from './shape.js';

/** The tensors of a row index (what gatherRows / scatterAddRows read). */
export interface RowIndexTensors {
  readonly index: Tensor;
  readonly order: Tensor;
  readonly offsets: Tensor;
  readonly rows: number;
  readonly length: number;
}

/** Aliases of an index's tensors owned by the tape (they outlive the index itself). */
function savedIndex(idx: RowIndexTensors): { view: RowIndexTensors; saved: Tensor[] } {
  const saved = [saveForBackward(idx.index), saveForBackward(idx.order), saveForBackward(idx.offsets)];
  return { view: { index: saved[0]!, order: saved[1]!, offsets: saved[2]!, rows: idx.rows, length: idx.length }, saved };
}

/** Row indices into a first axis of `rows` rows, with their inverse: built on the host, held on a device. */
export class RowIndex implements RowIndexTensors {
  /** (n) int32: the row each position refers to. */
  readonly index: Tensor;
  /** (n) int32: positions sorted by their row, ties in increasing position (a stable sort). */
  readonly order: Tensor;
  /** (rows + 1) int32: row r's positions are order[offsets[r] .. offsets[r+1]). */
  readonly offsets: Tensor;
  readonly length: number;

  constructor(
    index: ArrayLike<number>,
    readonly rows: number,
    device: DeviceName,
  ) {
    if (!Number.isInteger(rows) || rows < 1) throw new ArgumentError(`RowIndex: rows must be an integer >= 1, got ${rows}`);
    if (index.length < 1) throw new ArgumentError('RowIndex: needs at least one index');
    const counts = new Int32Array(rows + 1);
    for (let i = 0; i < index.length; i++) {
      const r = index[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= rows) throw new ArgumentError(`RowIndex: index[${i}] = ${r} is outside [0, ${rows})`);
      counts[r + 1]!++;
    }
    for (let r = 0; r < rows; r++) counts[r + 1]! += counts[r]!;
    const next = counts.slice(0, rows);
    const order = new Int32Array(index.length);
    for (let i = 0; i < index.length; i++) order[next[index[i]!]!++] = i;
    this.length = index.length;
    this.index = tensor(Int32Array.from(index), [index.length], { device });
    this.order = tensor(order, [index.length], { device });
    this.offsets = tensor(counts, [rows + 1], { device });
  }

  dispose(): void {
    for (const t of [this.index, this.order, this.offsets]) t.dispose();
  }
}

function rowsOf(op: string, x: Tensor): number {
  if (x.rank < 1 || x.dtype !== 'f32') throw new ArgumentError(`${op}: x must be a float32 tensor of rank >= 1, got ${x.dtype} ${formatShape(x.shape)}`);
  return sizeOf(x.shape.slice(1));
}

/** out[i, ...] = x[index[i], ...]: x (rows, ...) → (n, ...). Backward: scatterAddRows. */
export function gatherRows(x: Tensor, idx: RowIndexTensors): Tensor {
  sameBackend('gatherRows', x, idx.index);
  const H = rowsOf('gatherRows', x);
  if (x.shape[0] !== idx.rows) throw new ArgumentError(`gatherRows: x has ${x.shape[0]} rows, the index is over ${idx.rows}`);
  expectDtype('gatherRows', 'index', idx.index, 'i32');
  const x2 = reshape(x, [idx.rows, H]);
  const y2 = x.backend.embedding(idx.index, x2); // the embedding lookup is exactly a row gather
  x2.dispose();
  const y = reshape(y2, [idx.length, ...x.shape.slice(1)]);
  y2.dispose();
  if (shouldRecord(x)) {
    const { view, saved } = savedIndex(idx);
    record('gatherRows', [x], [y], ([g]) => [scatterAddRows(g!, view)], saved);
  }
  return y;
}

/** out[r, ...] = Σ_{i: index[i] = r} src[i, ...] (zero for rows nothing points at): src (n, ...) → (rows, ...). Backward: gatherRows. */
export function scatterAddRows(src: Tensor, idx: RowIndexTensors): Tensor {
  sameBackend('scatterAddRows', src, idx.order, idx.offsets);
  const H = rowsOf('scatterAddRows', src);
  if (src.shape[0] !== idx.length) throw new ArgumentError(`scatterAddRows: src has ${src.shape[0]} rows, the index has ${idx.length} positions`);
  const s2 = reshape(src, [idx.length, H]);
  const y2 = src.backend.scatterAddRows(s2, idx.order, idx.offsets);
  s2.dispose();
  const y = reshape(y2, [idx.rows, ...src.shape.slice(1)]);
  y2.dispose();
  if (shouldRecord(src)) {
    const { view, saved } = savedIndex(idx);
    record('scatterAddRows', [src], [y], ([g]) => [gatherRows(g!, view)], saved);
  }
  return y;
}
