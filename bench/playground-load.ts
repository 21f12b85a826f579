/**
 * How fast the playground opens: `mamba-ts playground` (the command npx runs: dist/src/cli/main.js)
 * started, then a fresh headless Chromium context loads the page RUNS times (empty cache each time).
 * Reports the server's start-up, the page's load event and the moment web/src/main.ts has wired the
 * page (from navigation start), the bytes transferred, and the first Generate on the CPU (model load
 * + 100 greedy tokens). With --screenshot FILE, also saves the selection view for the README.
 *
 *   npm run build && npm run build:web && node dist/bench/playground-load.js [--screenshot docs/playground-selection.png]
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { findChromium, CHROMIUM_ARGS } from '../test/chromium.js';
import { REPO } from '../test/consumer.js';

const RUNS = 5;

declare global {
  interface Window {
    playgroundReady?: number;
  }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function main(): Promise<void> {
  const found = findChromium();
  if ('missing' in found) throw new Error(found.missing);
  const shotAt = process.argv.indexOf('--screenshot');
  const screenshot = shotAt >= 0 ? process.argv[shotAt + 1] : undefined;

  const t0 = performance.now();
  const child = spawn(process.execPath, [resolve(REPO, 'dist/src/cli/main.js'), 'playground', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.once('exit', (c) => fail(new Error(`mamba-ts playground exited with ${c}`)));
  });
  const serverMs = performance.now() - t0;
  const browser = await chromium.launch({ executablePath: found.path, headless: true, args: CHROMIUM_ARGS });
  try {
    const loads: number[] = [];
    const readies: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext(); // empty cache
      const page = await context.newPage();
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => window.playgroundReady !== undefined);
      const m = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
        return { load: nav.loadEventEnd, ready: window.playgroundReady!, bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0) };
      });
      loads.push(m.load);
      readies.push(m.ready);
      bytes = m.bytes;
      if (i === RUNS - 1) {
        await page.selectOption('#device', 'cpu');
        await page.fill('#gen-max', '100');
        await page.uncheck('#gen-sample');
        const g0 = Date.now();
        await page.click('#gen-run');
        await page.waitForFunction(() => (document.getElementById('gen-text')?.textContent ?? '') !== '');
        const firstText = Date.now() - g0;
        await page.waitForFunction(() => document.getElementById('gen-status')?.dataset['state'] === 'done', undefined, { timeout: 120_000 });
        const done = Date.now() - g0;
        const rate = await page.textContent('#gen-rate');
        console.log(`first Generate on the CPU (model load + 100 greedy tokens): first text after ${firstText} ms, done after ${done} ms; ${rate}`);
        if (screenshot) {
          await page.setViewportSize({ width: 1100, height: 820 });
          await page.fill('#gen-max', '60');
          await page.click('#gen-run');
          await page.waitForFunction(() => document.getElementById('gen-status')?.dataset['state'] === 'done', undefined, { timeout: 120_000 });
          await page.click('#gen-to-selection');
          await page.waitForFunction(() => document.getElementById('sel-status')?.dataset['state'] === 'done', undefined, { timeout: 120_000 });
          await page.hover('#sel-heatmap .cells[data-row=deltaMean] .cell[data-t="20"]');
          await page.screenshot({ path: screenshot });
          console.log(`screenshot: ${screenshot}`);
        }
      }
      await context.close();
    }
    console.log(`mamba-ts playground: URL printed ${serverMs.toFixed(0)} ms after start (node start-up included)`);
    console.log(`page, ${RUNS} cold loads (empty cache): load event median ${median(loads).toFixed(0)} ms (max ${Math.max(...loads).toFixed(0)}), page wired median ${median(readies).toFixed(0)} ms (max ${Math.max(...readies).toFixed(0)}); ${(bytes / 1024).toFixed(0)} KiB transferred`);
    console.log(`Chromium ${browser.version()}, ${url}`);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
}

await main();
