/**
 * VMamba's four cross-scans of an H×W token grid (CrossScan / CrossMerge), as ScanOrders over the
 * row-major token sequence (B, L = H·W, E):
 *
 *   rows     t = h·W + w ascending  (identity)
 *   columns  t = w·H + h ascending  (transpose H and W, then flatten)
 *   rows⁻¹, columns⁻¹               the same, reversed (flip along L)
 *
 * fromScan undoes toScan exactly, so the mixer sums the four branches' outputs position by position.
 * (The paper's wording, TL→BR, BR→TL, TR→BL, BL→TR, is looser; docs/vim2.md.)
 */
import { flip, reshape, transpose } from '../../ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import { BACKWARD_SCAN, FORWARD_SCAN, type ScanOrder } from './selective-mixer.js';

/** (B, H·W, E) row-major ↔ (B, W·H, E) column-major. */
function swapGrid(x: Tensor, rows: number, cols: number): Tensor {
  const [B, , E] = x.shape as [number, number, number];
  return reshape(transpose(reshape(x, [B, rows, cols, E]), [0, 2, 1, 3]), [B, rows * cols, E]);
}

export function crossScans(H: number, W: number): ScanOrder[] {
  const columns: ScanOrder = { name: 'columns', toScan: (x) => swapGrid(x, H, W), fromScan: (y) => swapGrid(y, W, H) };
  const columnsReversed: ScanOrder = {
    name: 'columns reversed',
    toScan: (x) => flip(swapGrid(x, H, W), 1),
    fromScan: (y) => swapGrid(flip(y, 1), W, H),
  };
  return [
    { ...FORWARD_SCAN, name: 'rows' },
    columns,
    { ...BACKWARD_SCAN, name: 'rows reversed' },
    columnsReversed,
  ];
}
