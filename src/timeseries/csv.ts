/**
 * Multivariate time series from CSV (the ETT / Time-Series-Library layout): a header row, a first
 * column of timestamps (`date`), then one numeric column per variate. Every error names the file,
 * and the row and column where it applies. Cells are decimal numbers (numbers.ts: no "0x10", no
 * "Infinity") that are finite in float32; a missing value (empty, NaN) only where the caller allows.
 */
import { ArgumentError, FormatError } from '../errors.js';
import { F32_MAX, isFiniteF32, parseDecimal, quoteBounded } from './numbers.js';

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

/** Missing-value spellings accepted with `allowMissing` (pandas writes NaN as an empty cell, numpy as "nan"). */
const MISSING = /^(?:|nan)$/i;

export function parseSeriesCsv(text: string, source: string, o: CsvOptions = {}): SeriesTable {
  const lines = text.split(/\r?\n/).filter((l, i, all) => l.length > 0 || i < all.length - 1);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new FormatError(source, 'empty file: expected a header row (date,<variate>,…) and data rows');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const wanted = o.columns ? [...o.columns] : header.slice(1);
  if (wanted.length === 0) throw new FormatError(source, `no variate columns: the header row has ${header.length} column(s); expected date,<variate>,…`);
  const missing = wanted.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new FormatError(source, `missing column(s) ${missing.map((c) => quoteBounded(c)).join(', ')}; the file has ${namesList(header)}`);
  }
  for (const c of new Set(wanted)) {
    const at = header.flatMap((h, i) => (h === c ? [i + 1] : []));
    if (at.length > 1) throw new FormatError(source, `column ${quoteBounded(c)} appears ${at.length} times in the header (columns ${at.join(', ')}); which one is meant is ambiguous`);
  }
  if (new Set(wanted).size !== wanted.length) throw new ArgumentError(`parseSeriesCsv: columns name a column twice: ${wanted.join(', ')}`);
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
      values[r * wanted.length + j] = cellValue(cells[at[j]!]!.trim(), source, r + 2, wanted[j]!, o.allowMissing ?? false);
    }
  }
  return { columns: wanted, index, rows, values };
}

/** One cell's number: a decimal number finite in float32, or NaN for a missing value where allowed. */
function cellValue(cell: string, source: string, line: number, column: string, allowMissing: boolean): number {
  const v = parseDecimal(cell);
  const where = `row ${line}, column ${quoteBounded(column)}`;
  if (Number.isNaN(v)) {
    if (MISSING.test(cell)) {
      if (allowMissing) return NaN;
      throw new FormatError(source, `${where}: missing value (${cell === '' ? 'empty cell' : quoteBounded(cell)}); every cell of the data columns must be a number`);
    }
    const hint = allowMissing ? '; a missing value is written as an empty cell or NaN' : '';
    throw new FormatError(source, `${where}: ${quoteBounded(cell)} is not a number (expected a decimal number such as -1.5e3${hint})`);
  }
  if (!isFiniteF32(v)) throw new FormatError(source, `${where}: ${quoteBounded(cell)} is beyond the float32 range (±${F32_MAX.toPrecision(8)}) the models compute in`);
  return v;
}

/** The header's names for a message: bounded in count and length. */
function namesList(names: readonly string[], max = 16): string {
  const shown = names.slice(0, max).map((c) => quoteBounded(c)).join(', ');
  return names.length > max ? `${shown}, … (${names.length} columns)` : shown;
}
