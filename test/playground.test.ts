/**
 * The playground (web/, served by `mamba-ts playground`) in headless Chromium, on the CPU and on
 * WebGPU (SwiftShader): each of the five parts is opened, run through its own controls, and the
 * numbers the page shows are checked against the library in this process or the CLI:
 * - Generate (greedy) shows the text the library's greedy generation gives for the same prompt,
 *   from the shipped model's URL and (CPU) from the same folder picked as files.
 * - Selection's heatmap cells hold the values of `forward(ids, { outputSelection: 'summary' })`.
 * - Selective copying shows each shipped model's argmax at the markers, as computed here.
 * - Forecast's MSE equals the one computed from `mamba-ts forecast --end`'s CSV for that window.
 * - Training in the tab lowers the loss.
 * The page is loaded from the CLI's own server (started as `mamba-ts playground --port 0`), and the
 * time from navigation to a wired-up page is printed. Screenshots go to runs/playground-screens/.
 * Without Chromium the test is skipped with the reason; under CI=true that fails instead.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { noGrad } from '../src/autograd/index.js';
import { selectiveCopyingBatch } from '../src/experiments/synthetic-tasks.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { RandomSource } from '../src/ops/random.js';
import { dispose } from '../src/tensor/memory.js';
import { CHROMIUM_ARGS, findChromium } from './chromium.js';
import { REPO } from './consumer.js';
import { missingExternal } from './external.js';
import { assertClose } from './helpers.js';

declare global {
  interface Window {
    /** performance.now() when web/src/main.ts finished wiring the page. */
    playgroundReady?: number;
  }
}

const CLI = resolve(REPO, 'dist/src/cli/main.js');
const SHAKESPEARE = resolve(REPO, 'models/mamba-shakespeare');
const SCREENS = resolve(REPO, 'runs/playground-screens');
const PROMPT = 'ROMEO:';
const NEW_TOKENS = 10;
const COPY_SEED = 3;
const FORECAST_END = 700;

/** `mamba-ts playground --port 0`: the child and the URL it printed. */
async function startCli(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'playground', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((ok, fail) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.once('exit', (code) => fail(new Error(`mamba-ts playground exited (${code}) before printing its URL: ${err}`)));
  });
  return { child, url };
}

/** The library's greedy continuation of PROMPT, and its selection summaries over prompt + continuation. */
async function libraryReference(): Promise<{ text: string; full: string; summary: Record<'deltaMean' | 'bNorm' | 'cNorm', Float32Array> }> {
  const tok = await AutoTokenizer.fromPretrained(SHAKESPEARE);
  const model = await MambaForCausalLM.fromPretrained(SHAKESPEARE);
  try {
    const ids = tok.encode(PROMPT);
    const out = await model.generate([ids], { maxNewTokens: NEW_TOKENS, eosTokenId: null });
    const text = tok.decode(out[0]!.slice(ids.length));
    const full = PROMPT + text;
    const f = await noGrad(() => model.forward([tok.encode(full)], { outputSelection: 'summary' }));
    const s = f.selection!;
    const summary = {
      deltaMean: (await s.deltaMean.data()) as Float32Array,
      bNorm: (await s.bNorm.data()) as Float32Array,
      cNorm: (await s.cNorm.data()) as Float32Array,
    };
    dispose(f);
    return { text, full, summary };
  } finally {
    model.dispose();
  }
}

/** Each shipped copying model's argmax at the markers of the example the page makes from COPY_SEED. */
async function copyingReference(): Promise<number[][]> {
  const results = JSON.parse(await readFile(resolve(REPO, 'models/selective-copying-s6/results.json'), 'utf8')) as { config: { vocab: number; memorize: number; trainLength: number } };
  const { vocab, memorize, trainLength } = results.config;
  const b = selectiveCopyingBatch(1, trainLength, vocab, memorize, new RandomSource(COPY_SEED));
  const markers = b.targets[0]!.map((t, i) => (t >= 0 ? i : -1)).filter((i) => i >= 0);
  const preds: number[][] = [];
  for (const name of ['selective-copying-s6', 'selective-copying-lti']) {
    const model = await MambaForCausalLM.fromPretrained(resolve(REPO, 'models', name));
    const out = await noGrad(() => model.forward(b.ids));
    const logits = (await out.logits.data()) as Float32Array;
    out.logits.dispose();
    model.dispose();
    preds.push(markers.map((p) => {
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[p * vocab + v]! > logits[p * vocab + best]!) best = v;
      return best;
    }));
  }
  return preds;
}

/** The MSE over every column and step with truth in `mamba-ts forecast --end FORECAST_END`'s CSV. */
async function cliForecastMse(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'playground-forecast-'));
  try {
    const out = join(dir, 'forecast.csv');
    await promisify(execFile)(process.execPath, [CLI, 'forecast', '--model', resolve(REPO, 'models/tsm2-etth1-96'), '--csv', resolve(REPO, 'data/etth1-sample.csv'), '--end', String(FORECAST_END), '--out', out]);
    const [head, ...rows] = (await readFile(out, 'utf8')).trim().split('\n');
    const cols = head!.split(',');
    const truthCols = cols.map((c, i) => (c.endsWith('_true') ? i : -1)).filter((i) => i >= 0);
    let se = 0;
    let n = 0;
    for (const r of rows) {
      const cells = r.split(',');
      for (const ti of truthCols) {
        if (cells[ti] === '') continue;
        const fi = cols.indexOf(cols[ti]!.replace(/_true$/, ''));
        se += (Number(cells[fi]) - Number(cells[ti])) ** 2;
        n++;
      }
    }
    assert.ok(n > 0, 'the CLI forecast has truth');
    return se / n;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits until a panel's status says done; an error status fails with its text. */
async function finished(page: Page, statusId: string, timeout: number): Promise<void> {
  await page.waitForFunction((id) => ['done', 'error'].includes(document.getElementById(id)?.dataset['state'] ?? ''), statusId, { timeout });
  const state = await page.getAttribute(`#${statusId}`, 'data-state');
  if (state !== 'done') throw new Error(`#${statusId}: ${await page.textContent(`#${statusId}`)}`);
}

/** Clicks and waits for the panel to finish (the status goes to running first, so the old 'done' is not taken). */
async function clickAndFinish(page: Page, button: string, statusId: string, timeout: number): Promise<void> {
  await page.evaluate((id) => void (document.getElementById(id)!.dataset['state'] = 'clicked'), statusId);
  await page.click(button);
  await finished(page, statusId, timeout);
}

test('the playground in headless Chromium: all five parts run on the CPU and on WebGPU and show the library\'s numbers', { timeout: 600_000 }, async (t) => {
  const found = findChromium();
  if ('missing' in found) {
    t.skip(missingExternal('playground tests in Chromium', found.missing));
    return;
  }
  assert.ok(existsSync(resolve(REPO, 'dist/web/index.html')), 'dist/web/index.html not found: run npm run build:web');
  const [ref, copyRef, cliMse] = await Promise.all([libraryReference(), copyingReference(), cliForecastMse()]);
  await mkdir(SCREENS, { recursive: true });
  const cli = await startCli();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: found.path, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    const probe = await browser.newPage();
    await probe.goto(cli.url);
    const adapter = await probe.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? `${a.info.vendor} ${a.info.architecture}` : null;
    });
    await probe.close();
    console.log(`# Chromium ${browser.version()}, WebGPU adapter: ${adapter ?? 'none'}`);
    const noGpu = adapter ? false : missingExternal('the playground on WebGPU', 'Chromium offers no WebGPU adapter');

    for (const device of ['cpu', 'webgpu'] as const) {
      await t.test(`on ${device}`, { skip: device === 'webgpu' ? noGpu : false }, async (t) => {
        const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        const started = Date.now();
        await page.goto(cli.url);
        await page.waitForFunction(() => window.playgroundReady !== undefined, undefined, { timeout: 20_000 });
        const ready = await page.evaluate(() => window.playgroundReady!);
        console.log(`# ${device}: page ready ${ready.toFixed(0)} ms after navigation started (${Date.now() - started} ms wall, from the CLI's server)`);
        await page.selectOption('#device', device);
        const tol = device === 'cpu' ? 1e-5 : 1e-3;
        const shot = (name: string) => page.screenshot({ path: join(SCREENS, `${device}-${name}.png`), fullPage: true });

        await t.test('Generate: greedy text equals the library\'s', async () => {
          await page.fill('#gen-prompt', PROMPT);
          await page.fill('#gen-max', String(NEW_TOKENS));
          await page.uncheck('#gen-sample');
          await clickAndFinish(page, '#gen-run', 'gen-status', 120_000);
          assert.equal(await page.textContent('#gen-text'), ref.text);
          assert.equal(await page.getAttribute('#gen-device', 'data-device'), device);
          assert.ok(Number(await page.getAttribute('#gen-rate', 'data-value')) > 0, 'tokens/s shown');
          await shot('1-generate');
        });

        // The picked folder goes through the same worker code on either device: checked once, on the CPU.
        if (device === 'cpu') await t.test('Generate from a model folder picked on disk (webkitdirectory) gives the same text', async () => {
          await page.setInputFiles('#gen-folder', SHAKESPEARE);
          assert.equal(await page.inputValue('#gen-model'), 'picked folder: mamba-shakespeare');
          await clickAndFinish(page, '#gen-run', 'gen-status', 120_000);
          assert.equal(await page.textContent('#gen-text'), ref.text);
        });

        await t.test('Selection: the heatmap holds outputSelection\'s values for prompt + generation', async () => {
          await page.evaluate(() => void (document.getElementById('sel-status')!.dataset['state'] = 'clicked'));
          await page.click('#gen-to-selection');
          await finished(page, 'sel-status', 120_000);
          assert.equal(await page.inputValue('#sel-text'), ref.full);
          for (const key of ['deltaMean', 'bNorm', 'cNorm'] as const) {
            const shown = await page.$$eval(`#sel-heatmap .cells[data-row=${key}] .cell`, (cells) => cells.map((c) => Number((c as HTMLElement).dataset['value'])));
            assertClose(`heatmap ${key} (${device})`, shown, ref.summary[key], tol);
          }
          await page.hover('#sel-heatmap .cell[data-t="3"]');
          assert.match((await page.textContent('#sel-hover'))!, /token 3: .*\nlayer 0:  Δ /);
          await shot('2-selection');
        });

        await t.test('Selective copying: both models\' recalls are the library\'s', async () => {
          await page.click('#tabs button[data-tab=copying]');
          await page.fill('#cp-seed', String(COPY_SEED));
          await clickAndFinish(page, '#cp-run', 'cp-status', 120_000);
          const shown = await page.$$eval('#cp-results .recall', (boxes) => boxes.map((b) => JSON.parse((b as HTMLElement).dataset['predictions']!) as number[]));
          assert.deepEqual(shown, copyRef);
          await shot('3-copying');
        });

        await t.test('Forecast: scrubbed to a window, its MSE equals the CLI\'s', async () => {
          await page.evaluate(() => void (document.getElementById('fc-status')!.dataset['state'] = 'clicked'));
          await page.click('#tabs button[data-tab=forecast]');
          await finished(page, 'fc-status', 120_000);
          await page.evaluate(() => void (document.getElementById('fc-status')!.dataset['state'] = 'clicked'));
          await page.$eval('#fc-end', (s, end) => {
            (s as HTMLInputElement).value = String(end);
            s.dispatchEvent(new Event('input'));
          }, FORECAST_END);
          await finished(page, 'fc-status', 120_000);
          assert.equal(await page.getAttribute('#fc-end', 'data-end'), String(FORECAST_END));
          const mse = Number(await page.getAttribute('#fc-mse', 'data-value'));
          assertClose(`forecast MSE (${device})`, [mse], [cliMse], device === 'cpu' ? 1e-5 : 1e-3);
          await shot('4-forecast');
        });

        await t.test('Train: the loss goes down', async () => {
          await page.click('#tabs button[data-tab=train]');
          for (const [id, v] of [['tr-steps', 12], ['tr-hidden', 16], ['tr-layers', 1], ['tr-seq', 32], ['tr-batch', 4], ['tr-lr', 0.01], ['tr-sample', 20]] as const) await page.fill(`#${id}`, String(v));
          await clickAndFinish(page, '#tr-run', 'tr-status', 180_000);
          const losses = JSON.parse((await page.getAttribute('#tr-stats', 'data-losses'))!) as number[];
          assert.equal(losses.length, 12);
          const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
          assert.ok(mean(losses.slice(-3)) < mean(losses.slice(0, 3)) - 0.05, `loss did not go down: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
          assert.equal(await page.getAttribute('#tr-device', 'data-device'), device);
          await shot('5-train');
        });
        assert.deepEqual(problems, [], 'page errors');
        await page.close();
      });
    }
  } finally {
    await browser?.close();
    cli.child.kill('SIGTERM');
  }
});
