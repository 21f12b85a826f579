/**
 * Fuzzing the time-series CSV as `mamba-ts forecast --csv` reads it (issue 14): cells such as
 * 1e39 (finite in float64, Infinity in float32), 0x10, Infinity, NaN, empty, ragged rows, renamed
 * or reordered columns, CRLF line ends. A value that is not a plain decimal number inside float32's
 * range must be an error naming the file; a missing value only inside the lookback window; every
 * other file must forecast finite numbers from exactly the values written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { FuzzRunner } from './runner.js';
import { assertLoaded, assertThrew, clip, fuzzProperty, settled, type Draw } from './property.js';
import { basesDir, makeTinyForecaster } from './bases.js';

/** The tiny forecaster's shape (bases.ts): lookback 8, variates x and y. */
const LOOKBACK = 8;
const COLUMNS = ['x', 'y'];

/** Cells that are not numbers a float32 series can hold: an error wherever they are. */
const INVALID = ['0x10', '0X1A', '0b1', '0o7', '1_000', 'Infinity', '-Infinity', 'inf', '1e', '--1', '+-1', '1.2.3', 'abc', '١٢', '"1"', '1e39', '-1e39', '3.5e38', '1e400', '0x', '1 2'];
/** Missing values: allowed before the lookback window, an error inside it. */
const MISSING = ['', 'NaN', 'nan'];
/** Plain decimal numbers: must be read as written. */
const VALID = ['-12.5', '0', '1e3', '1E3', '2.5e-3', '-0', '100000.25', '7'];

interface CsvExpect {
  /** Why it must fail, or undefined when it must forecast. */
  mustFail: string | undefined;
  /** The lookback window's values (rows × columns x, y) as float32 must read them. */
  window: number[];
}

const caseArb: fc.Arbitrary<Draw<CsvExpect>> = fc
  .record({
    rows: fc.integer({ min: LOOKBACK, max: LOOKBACK + 6 }),
    values: fc.array(fc.integer({ min: -100_000, max: 100_000 }), { minLength: 2 * (LOOKBACK + 6), maxLength: 2 * (LOOKBACK + 6) }),
    cells: fc.array(fc.record({ row: fc.nat(), col: fc.nat({ max: 1 }), text: fc.constantFrom(...INVALID, ...MISSING, ...VALID) }), { maxLength: 3 }),
    ragged: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.record({ row: fc.nat(), extra: fc.boolean() }) }),
    header: fc.constantFrom('date,x,y', 'date,x,y', 'date,x,y', 'date,y,x', 'date,x,z', 'date , x , y'),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map(({ rows, values, cells, ragged, header, crlf, finalNewline }): Draw<CsvExpect> => {
    const names = header.split(',').map((h) => h.trim());
    // table[r][c]: the text of column COLUMNS[c] in data row r.
    const table = Array.from({ length: rows }, (_, r) => COLUMNS.map((_, c) => String(values[r * 2 + c]! / 100)));
    const notes: string[] = [];
    for (const cell of cells) {
      const r = cell.row % rows;
      table[r]![cell.col] = cell.text;
      notes.push(`row ${r + 2} ${COLUMNS[cell.col]} = ${JSON.stringify(cell.text)}`);
    }
    const lines = table.map((row, r) => {
      const byName = names.slice(1).map((n) => row[COLUMNS.indexOf(n)] ?? row[1]!);
      const cellsOut = [`2020-01-01 ${String(r).padStart(2, '0')}:00:00`, ...byName];
      if (ragged && ragged.row % rows === r) {
        if (ragged.extra) cellsOut.push('5');
        else cellsOut.pop();
      }
      return cellsOut.join(',');
    });
    if (ragged) notes.push(`row ${(ragged.row % rows) + 2} ${ragged.extra ? 'has an extra cell' : 'lacks its last cell'}`);
    if (header !== 'date,x,y') notes.push(`header ${JSON.stringify(header)}`);
    const eol = crlf ? '\r\n' : '\n';
    const csv = [header, ...lines].join(eol) + (finalNewline ? eol : '');

    const windowRows = new Set(Array.from({ length: LOOKBACK }, (_, i) => rows - LOOKBACK + i));
    let mustFail: string | undefined;
    if (!names.includes('x') || !names.includes('y')) mustFail = 'a column of the model is missing';
    else if (ragged) mustFail = 'a row has the wrong number of cells';
    else {
      table.forEach((row, r) =>
        row.forEach((text, c) => {
          if (INVALID.includes(text)) mustFail ??= `row ${r + 2} ${COLUMNS[c]} = ${JSON.stringify(text)} is not a float32 number`;
          if (MISSING.includes(text) && windowRows.has(r)) mustFail ??= `row ${r + 2} ${COLUMNS[c]} is missing inside the lookback window`;
        }),
      );
    }
    const window = table.slice(rows - LOOKBACK).flatMap((row) => row.map((text) => Math.fround(Number(text))));
    return {
      fuzzCase: {
        label: `${rows} rows${crlf ? ', CRLF' : ''}${finalNewline ? '' : ', no final newline'}${notes.length ? `; ${notes.join('; ')}` : ''}`,
        base: forecaster,
        files: [{ path: 'data.csv', text: csv }],
        target: { kind: 'forecast-csv', csv: 'data.csv' },
      },
      expect: { mustFail, window },
    };
  });

let runner: FuzzRunner;
let parent: string;
let forecaster: string;
before(async () => {
  runner = await FuzzRunner.create();
  parent = await basesDir();
  forecaster = await makeTinyForecaster(parent);
});
after(async () => {
  await runner.close();
  await rm(parent, { recursive: true, force: true });
});

describe('fuzz: time-series CSV', () => {
  test('forecasting from a hostile CSV', async (t) => {
    await fuzzProperty(
      'csv',
      runner,
      caseArb,
      ({ expect: e }, outcome) => {
        const o = settled(outcome, outcome.kind === 'threw' ? [join(outcome.sandbox, 'data.csv')] : undefined);
        if (e.mustFail !== undefined) return assertThrew(o, e.mustFail);
        assertLoaded(o, 'every value in the window is a float32 number');
        if (o.value.kind !== 'forecast-csv') return assert.fail('not a forecast');
        assert.deepEqual(Array.from(o.value.history), e.window, 'the lookback window is not the values written');
        const bad = Array.from(o.value.forecast).find((v) => !Number.isFinite(v));
        assert.equal(bad, undefined, `the forecast has ${bad}: ${clip(Array.from(o.value.forecast).join(','), 200)}`);
      },
      { runs: 150, log: (l) => t.diagnostic(l) },
    );
  });
});
