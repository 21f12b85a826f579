/**
 * Issue 14's resource-exhaustion examples for configs: `num_hidden_layers: 1e9` (Mamba, Jamba),
 * Jamba `num_experts: 1e9` and TSM2 `n_layers: 1e9` made `info` and loading build the model until
 * the process ran out of memory. Each case runs in a child process with a 128 MB heap and a time
 * limit, so that a regression fails this test instead of taking the test run down; each must end
 * in a clean error naming config.json and the field.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { fixture } from './helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(HERE, '../src/cli/main.js');
const LIBRARY = resolve(HERE, '../src/index.js');
const BUNDLED_TSM2 = resolve(HERE, '../../models/tsm2-etth1-96');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-config-exhaustion-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A bound on the child, not a timing claim: a hang or a slow build becomes a failure here. */
const LIMITS = { encoding: 'utf8', timeout: 60_000 } as const;
const HEAP = '--max-old-space-size=128';

function assertCleanFailure(r: SpawnSyncReturns<string>, message: RegExp): void {
  assert.equal(r.signal, null, `killed by ${r.signal} (out of time or memory): ${r.stderr.slice(-500)}`);
  assert.equal(r.status, 1, `exit ${r.status}: ${r.stdout}${r.stderr.slice(-500)}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a plain error, not a stack trace');
}

/** `mamba-ts info --model <path>` in a child with a small heap. */
function info(path: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [HEAP, CLI, 'info', '--quiet', '--model', path], LIMITS);
}

/** Loads a folder with `loader` (an export of the library with fromPretrained) in a child with a small heap. */
function load(loader: 'AutoModelForCausalLM' | 'AutoModelForTimeSeriesForecasting', dir: string): SpawnSyncReturns<string> {
  const script = `
    const lib = await import(${JSON.stringify(LIBRARY)});
    try {
      await lib.${loader}.fromPretrained(${JSON.stringify(dir)});
      console.log('loaded');
    } catch (e) {
      process.stderr.write(e.constructor.name + ': ' + e.message + '\\n');
      process.exit(1);
    }`;
  return spawnSync(process.execPath, [HEAP, '--input-type=module', '-e', script], LIMITS);
}

/** A folder with a fixture's (or the bundled model's) weights and its config.json changed by `edit`. */
function folder(name: string, from: string, edit: Record<string, unknown>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...edit }));
  copyFileSync(join(from, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

const MAMBA = fixture('hf', 'mamba-tiny', 'model');
const JAMBA = fixture('hf', 'jamba-tiny', 'model');

const CASES = [
  { name: 'Mamba num_hidden_layers 1e9', from: MAMBA, edit: { num_hidden_layers: 1e9 }, field: 'num_hidden_layers', loader: 'AutoModelForCausalLM' },
  { name: 'Jamba num_hidden_layers 1e9', from: JAMBA, edit: { num_hidden_layers: 1e9 }, field: 'num_hidden_layers', loader: 'AutoModelForCausalLM' },
  { name: 'Jamba num_experts 1e9', from: JAMBA, edit: { num_experts: 1e9 }, field: 'num_experts', loader: 'AutoModelForCausalLM' },
  { name: 'TSM2 n_layers 1e9', from: BUNDLED_TSM2, edit: { n_layers: 1e9 }, field: 'n_layers', loader: 'AutoModelForTimeSeriesForecasting' },
] as const;

describe('a size field of 1e9 is refused by its bound, before anything is built', () => {
  for (const c of CASES) {
    const bound = new RegExp(`config\\.json: field "${c.field}": 1000000000 is more than [\\d,]+, the most accepted`);
    test(`${c.name}: info on the bare config.json`, () => {
      const dir = folder(`${c.field}-${c.name.split(' ')[0]}-info`, c.from, c.edit);
      assertCleanFailure(info(join(dir, 'config.json')), bound);
    });
    test(`${c.name}: loading the folder`, () => {
      const dir = folder(`${c.field}-${c.name.split(' ')[0]}-load`, c.from, c.edit);
      assertCleanFailure(load(c.loader, dir), new RegExp(`FormatError: .*${bound.source}`));
    });
  }
});

describe('a config within the bounds but far larger than its weights is refused before the model is built', () => {
  // In bounds (1,024 layers at most), each of these still describes far more than the file holds.
  const OVERSIZED = [
    { name: 'Mamba', from: MAMBA, edit: { num_hidden_layers: 1000 }, shows: 'num_hidden_layers 1000', loader: 'AutoModelForCausalLM' },
    { name: 'Jamba', from: JAMBA, edit: { num_hidden_layers: 1000 }, shows: 'num_hidden_layers 1000', loader: 'AutoModelForCausalLM' },
    { name: 'TSM2', from: BUNDLED_TSM2, edit: { n_layers: 1000 }, shows: 'n_layers 1000', loader: 'AutoModelForTimeSeriesForecasting' },
  ] as const;
  for (const c of OVERSIZED) {
    test(`${c.name}: the error names config.json, the size fields and the weights`, () => {
      const dir = folder(`oversized-${c.name}`, c.from, c.edit);
      assertCleanFailure(
        load(c.loader, dir),
        new RegExp(`config\\.json: the config describes [\\d,]+ parameters \\(.*${c.shows}.*\\), at least .* but the weights \\(.*model\\.safetensors\\) hold only`),
      );
    });
  }

  test('info describes an in-bounds config of any size at once, from its arithmetic', () => {
    const dir = folder('info-large', MAMBA, { num_hidden_layers: 1024, hidden_size: 8192, intermediate_size: 16384, vocab_size: 1 << 20 });
    const r = spawnSync(process.execPath, [HEAP, CLI, 'info', '--quiet', '--json', '--model', join(dir, 'config.json')], LIMITS);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout) as { parameters: number; numLayers: number };
    assert.equal(d.numLayers, 1024);
    assert.ok(d.parameters > 2e11, `${d.parameters}`); // 200B+ parameters described within a 128 MB heap
  });
});
