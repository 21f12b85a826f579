/**
 * Multivariate time series from CSV (the ETT / Time-Series-Library layout): a header row, a first
 * column of timestamps (`date`), then one numeric column per variate. Every error names the file,
 * and the row and column where it applies.
 */
import { FormatError } from '../errors.js';

export interface SeriesTable {
  /** The variates, in the order of `values`' columns. */
  columns: string[];
  /** The first column's text per row (timestamps), or row numbers when the file has no date column. */
  index: string[];
  rows: number;
  /** (rows, columns) row-major; NaN for missing cells when `allowMissing`. */
  values: Float32Array;
}

export interface CsvOptions {
  /** The variates to read, in this order; default every column but the first (the timestamps). */
  columns?: readonly string[];
  /** Empty cells and "NaN" become NaN instead of an error (forecasting checks its window itself). */
  allowMissing?: boolean;
}

export function parseSeriesCsv(text: string, source: string, o: CsvOptions = {}): SeriesTable {
  const lines = text.split(/\r?\n/).filter((l, i, all) => l.length > 0 || i < all.length - 1);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new FormatError(source, 'empty file: expected a header row (date,<variate>,…) and data rows');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const wanted = o.columns ? [...o.columns] : header.slice(1);
  if (wanted.length === 0) throw new FormatError(source, `no variate columns: the header is "${lines[0]}"`);
  const missing = wanted.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new FormatError(source, `missing column(s) ${missing.map((c) => `"${c}"`).join(', ')}; the file has ${header.map((c) => `"${c}"`).join(', ')}`);
  }
  const at = wanted.map((c) => header.indexOf(c));
  const rows = lines.length - 1;
  const values = new Float32Array(rows * wanted.length);
  const index: string[] = new Array<string>(rows);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1]!.split(',');
    if (cells.length !== header.length) {
      throw new FormatError(source, `row ${r + 2}: ${cells.length} cells, but the header has ${header.length} columns`);
    }
    index[r] = cells[0]!.trim();
    for (let j = 0; j < at.length; j++) {
      const cell = cells[at[j]!]!.trim();
      let v = cell === '' ? NaN : Number(cell);
      if (Number.isNaN(v) && !(o.allowMissing && (cell === '' || /^nan$/i.test(cell)))) {
        throw new FormatError(source, `row ${r + 2}, column "${wanted[j]}": "${cell}" is not a number`);
      }
      if (!Number.isNaN(v) && !Number.isFinite(v)) throw new FormatError(source, `row ${r + 2}, column "${wanted[j]}": "${cell}" is not finite`);
      if (cell === '') v = NaN;
      values[r * wanted.length + j] = v;
    }
  }
  return { columns: wanted, index, rows, values };
}
