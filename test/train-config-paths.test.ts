/**
 * Training configs as a newcomer writes them: paths relative to the config file (not the working
 * directory), the corpus shipped in the package, short runs without a warm-up field, and a second
 * run into the same folder refused instead of replacing the first run's checkpoint.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { parseTrainConfig } from '../src/train/train-config.js';
import { parseForecastConfig } from '../src/train/forecast-config.js';
import { parseImageTrainConfig } from '../src/train/image-train-config.js';
import { relativeToFile } from '../src/io/relative-path.js';
import { readText } from '../src/io/platform.js';
import { SHARED } from './helpers.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-config-paths-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
}

describe('train config paths and defaults', () => {
  test('relative paths are taken from the config file\'s folder; absolute paths and URLs stay as they are', () => {
    assert.equal(relativeToFile('/a/b/train.json', 'data.txt'), '/a/b/data.txt');
    assert.equal(relativeToFile('cfg/train.json', '../data.txt'), 'cfg/../data.txt');
    assert.equal(relativeToFile('train.json', 'data.txt'), 'data.txt');
    assert.equal(relativeToFile('/a/train.json', '/abs/data.txt'), '/abs/data.txt');
    assert.equal(relativeToFile('/a/train.json', 'https://example.org/t.txt'), 'https://example.org/t.txt');
    assert.equal(relativeToFile('C:\\cfg\\train.json', 'data.txt'), 'C:\\cfg\\data.txt');
    const lm = parseTrainConfig({ data: { path: 'corpus.txt', tokenizer: 'tok' }, outDir: 'out' }, '/x/y/train.json');
    assert.equal(lm.data.path, '/x/y/corpus.txt');
    assert.equal(lm.data.tokenizer, '/x/y/tok');
    const fc = parseForecastConfig({ task: 'forecast', model: { model_type: 'dlinear' }, data: { path: 'ETTh1.csv' }, lookback: 96, horizon: 24, outDir: 'o' }, '/x/train.json');
    assert.equal(fc.data.path, '/x/ETTh1.csv');
    const ic = parseImageTrainConfig({ task: 'image-classification', model: { preset: 'tiny' }, data: { path: 'mnist' }, outDir: 'o' }, '/x/train.json');
    assert.equal(ic.data.path, '/x/mnist');
  });

  test('the shipped corpus is named by data.corpus and reads as TinyShakespeare', async () => {
    const c = parseTrainConfig({ data: { corpus: 'tinyshakespeare' }, outDir: 'o' }, 'train.json');
    const text = await readText(c.data.path);
    assert.equal(text, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8'));
    assert.throws(() => parseTrainConfig({ data: { corpus: 'wikitext' }, outDir: 'o' }, 'train.json'), /train\.json: field "data\.corpus": unknown corpus "wikitext"; shipped: tinyshakespeare/);
    assert.throws(() => parseTrainConfig({ data: { corpus: 'tinyshakespeare', path: 'x.txt' }, outDir: 'o' }, 'train.json'), /field "data": expected \{ "path"/);
    assert.throws(() => parseTrainConfig({ data: {}, outDir: 'o' }, 'train.json'), /field "data": expected \{ "path"/);
  });

  test('a run shorter than the default warm-up trains; an explicit warm-up longer than the run is refused', () => {
    const c = parseTrainConfig({ data: { corpus: 'tinyshakespeare' }, steps: 30, outDir: 'o' }, 'train.json');
    assert.equal(c.warmupSteps, 3);
    assert.equal(parseTrainConfig({ data: { corpus: 'tinyshakespeare' }, steps: 1000, outDir: 'o' }, 'train.json').warmupSteps, 50);
    assert.throws(() => parseTrainConfig({ data: { corpus: 'tinyshakespeare' }, steps: 30, warmupSteps: 50, outDir: 'o' }, 'train.json'), /"warmupSteps" \(50\) exceeds "steps" \(30\)/);
  });

  test('the CLI run from another folder finds the corpus beside the config; a second run into its folder is refused without --resume or --overwrite', () => {
    const project = join(tmp, 'project');
    mkdirSync(join(project, 'corpora'), { recursive: true });
    writeFileSync(join(project, 'corpora', 'text.txt'), readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 20000));
    const cfg = join(project, 'train.json');
    const outDir = join(tmp, 'out');
    writeFileSync(cfg, JSON.stringify({ model: { hidden_size: 16, num_hidden_layers: 1 }, data: { path: 'corpora/text.txt' }, steps: 2, batchSize: 2, seqLen: 16, evalBatches: 1, outDir }));
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere);
    const first = cli(elsewhere, 'train', '--config', cfg, '--quiet');
    assert.equal(first.status, 0, first.stderr);
    const state = join(outDir, 'checkpoint', 'trainer_state.json');
    const before = statSync(state).mtimeMs;

    const again = cli(elsewhere, 'train', '--config', cfg, '--quiet');
    assert.equal(again.status, 1);
    assert.match(again.stderr, new RegExp(`${join(outDir, 'checkpoint').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds a checkpoint .*--resume .*--overwrite`));
    assert.equal(statSync(state).mtimeMs, before, 'the refused run must not touch the checkpoint');

    const both = cli(elsewhere, 'train', '--config', cfg, '--resume', '--overwrite');
    assert.equal(both.status, 1);
    assert.match(both.stderr, /--resume and --overwrite contradict/);

    const over = cli(elsewhere, 'train', '--config', cfg, '--quiet', '--overwrite');
    assert.equal(over.status, 0, over.stderr);
    assert.match(over.stdout, /trained 2 steps/);
    const resumed = cli(elsewhere, 'train', '--config', cfg, '--quiet', '--resume');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /already trained 2 steps \(resumed at the end: nothing to do\)/);
    assert.ok(existsSync(state));
  });

  test('the CLI binary is executable (npm links bins as they are)', () => {
    assert.ok((statSync(CLI).mode & 0o111) !== 0, `${CLI} has no execute bit`);
  });
});
