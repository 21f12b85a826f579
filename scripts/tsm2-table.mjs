#!/usr/bin/env node
/**
 * Runs every experiments/tsm2/<dataset>-<H>-<model>.json (ETTh1/ETTh2 × 96/192/336/720 × TSM2/DLinear)
 * through `mamba-ts train`, one after another, and writes runs/tsm2/table.json (every run's
 * results.json plus its wall time and command) and runs/tsm2/table.md (the docs/tsm2.md table).
 * Usage (after `npm run build`): node scripts/tsm2-table.mjs [filter]   e.g. `etth1-96` for one pair.
 * Each config says "device": "auto": WebGPU where an adapter exists, else the CPU.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const filter = process.argv[2] ?? '';
// ETTh1 before ETTh2 and the shorter horizons first, so a run stopped early has the most useful rows.
const order = (f) => { const [ds, h] = f.split('-'); return `${ds}-${h.padStart(4, '0')}-${f}`; };
const configs = readdirSync('experiments/tsm2')
  .filter((f) => /^etth[12]-\d+-(tsm2|dlinear)\.json$/.test(f) && f.includes(filter))
  .sort((a, b) => order(a).localeCompare(order(b)));
const rows = [];

function writeTable() {
  mkdirSync('runs/tsm2', { recursive: true });
  writeFileSync('runs/tsm2/table.json', `${JSON.stringify(rows, null, 2)}\n`);
  const cell = (ds, h, m) => {
    const r = rows.find((x) => x.config === `${ds}-${h}-${m}.json`);
    return !r ? 'not run' : r.failed ? 'failed' : `${r.test.mse.toFixed(3)} / ${r.test.mae.toFixed(3)} (${r.wallSeconds.toFixed(0)} s)`;
  };
  const lines = ['| dataset | H | our TSM2 MSE / MAE (wall) | our DLinear MSE / MAE (wall) |', '|---|---|---|---|'];
  for (const ds of ['etth1', 'etth2']) for (const h of [96, 192, 336, 720]) lines.push(`| ${ds} | ${h} | ${cell(ds, h, 'tsm2')} | ${cell(ds, h, 'dlinear')} |`);
  writeFileSync('runs/tsm2/table.md', `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

// The table is rewritten after every run, so that a run stopped early keeps what it finished.
for (const f of configs) {
  const cmd = ['dist/src/cli/main.js', 'train', '--config', `experiments/tsm2/${f}`];
  process.stdout.write(`== node ${cmd.join(' ')}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, cmd, { stdio: 'inherit' });
  const wall = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    rows.push({ config: f, failed: true, status: r.status, wallSeconds: wall });
    writeTable();
    continue;
  }
  const outDir = JSON.parse(readFileSync(`experiments/tsm2/${f}`, 'utf8')).outDir;
  rows.push({ config: f, command: `node ${cmd.join(' ')}`, wallSeconds: wall, ...JSON.parse(readFileSync(`${outDir}/results.json`, 'utf8')) });
  writeTable();
}
writeTable();
