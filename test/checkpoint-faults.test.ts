/**
 * The crash test of checkpointing: a training run is killed (SIGKILL: nothing after it runs) at each
 * write and rename of saving a checkpoint, then resumed. Each time the resumed run must continue
 * from the newest complete checkpoint and end with parameters and optimizer moments bit-identical to
 * an uninterrupted run's, with no temporary file or folder left once it has saved.
 *
 * Two ways to kill: the fault points in the code (MAMBA_TS_FAULT_AT, src/platform/node/fault-points.ts:
 * mid-write of each file, and each step of the folder swap), and, where strace is installed, strace's
 * syscall fault injection at every rename(2) of the second save (CI installs strace; on a machine
 * without it that half is skipped, saying so).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { missingExternal } from './external.js';
import { tinyCheckpointingConfig, writeTinyCorpus } from './tiny-training.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-faults-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = writeTinyCorpus(tmp);
const rawConfig = (outDir: string): Record<string, unknown> => tinyCheckpointingConfig(corpus, outDir, 3);

function configFile(name: string): { outDir: string; file: string } {
  const outDir = join(tmp, name);
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(rawConfig(outDir)));
  return { outDir, file };
}

/** Runs `mamba-ts train` in a child; resolves with its exit code or signal and stderr. */
function train(file: string, env: Record<string, string>, prefix: string[] = []): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const argv = [...prefix, process.execPath, CLI, 'train', '--config', file, '--quiet'];
  return new Promise((done, fail) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stderr }));
  });
}

/** Runs `jobs` two at a time (the children are single-threaded enough; the machine may have 2 cores). */
async function inPairs<T>(items: T[], job: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 2) await Promise.all(items.slice(i, i + 2).map(job));
}

const CHECKPOINT_FILES = ['checkpoint_complete.json', 'config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.json', 'trainer_state.json'];

let straight: { model: Buffer; optimizer: Buffer };

before(async () => {
  const { outDir } = configFile('straight');
  await runTraining(parseTrainConfig(rawConfig(outDir), 'straight'));
  straight = {
    model: readFileSync(join(outDir, 'checkpoint', 'model.safetensors')),
    optimizer: readFileSync(join(outDir, 'checkpoint', 'optimizer.safetensors')),
  };
});

/**
 * Resumes the killed run in `outDir` and checks it against the uninterrupted one: it must continue
 * from step `from` (the newest checkpoint complete when it was killed; starting over would give the
 * same weights, so this is checked too), or, given as [lo, hi], from a step in that range.
 */
async function resumeAndCompare(outDir: string, what: string, from: number | [number, number]): Promise<void> {
  const r = await runTraining(parseTrainConfig(rawConfig(outDir), what), { resume: true });
  const [lo, hi] = typeof from === 'number' ? [from, from] : from;
  const at = 4 - r.stepsRun;
  assert.ok(at >= lo && at <= hi, `${what}: resumed from step ${at}, expected ${lo === hi ? lo : `${lo} to ${hi}`}`);
  const ckpt = join(outDir, 'checkpoint');
  assert.ok(readFileSync(join(ckpt, 'model.safetensors')).equals(straight.model), `${what}: model.safetensors differs from the uninterrupted run's`);
  assert.ok(readFileSync(join(ckpt, 'optimizer.safetensors')).equals(straight.optimizer), `${what}: optimizer.safetensors differs from the uninterrupted run's`);
  assert.deepEqual(readdirSync(outDir).sort(), ['checkpoint', 'loss_curve.svg'], `${what}: only the checkpoint and the curve are left in outDir`);
  assert.deepEqual(readdirSync(ckpt).sort(), CHECKPOINT_FILES, `${what}: the checkpoint holds its files and nothing else`);
}

describe('a training run killed while it saves a checkpoint resumes to the weights of an uninterrupted run', () => {
  test('killed at each fault point of the first and second save', async () => {
    // [<site>:<visit>, the step to resume from]. Visit 1 of a file's site is the first save (step 2),
    // visit 2 the second (step 4).
    const sites: [string, number][] = [
      ['write model.safetensors:1', 0], // nothing saved yet: the resumed run starts over
      ['write model.safetensors:2', 2], // half of the file written in the temporary folder
      ['write optimizer.safetensors:2', 2],
      ['write checkpoint_complete.json:2', 2], // every file written, the marker half written
      ['renamed checkpoint_complete.json:2', 2], // marked, but still a temporary: not yet a checkpoint
      ['checkpoint staged:2', 4], // renamed to checkpoint-4; checkpoint still holds step 2
      ['checkpoint set aside:1', 4], // checkpoint renamed aside: only checkpoint-4 is there
      ['checkpoint swapped:2', 4], // in place; the old one not yet removed
      ['write loss_curve.svg:2', 4], // the checkpoint done, the curve not
    ];
    await inPairs(sites, async ([site, from]) => {
      const name = `kp-${site.replace(/[^a-z0-9]+/gi, '-')}`;
      const { outDir, file } = configFile(name);
      mkdirSync(outDir, { recursive: true });
      const r = await train(file, { MAMBA_TS_FAULT_AT: site });
      assert.equal(r.signal, 'SIGKILL', `${site}: the run was not killed there (exit ${r.code}): ${r.stderr}`);
      await resumeAndCompare(outDir, site, from);
    });
  });

  test('killed by strace at each rename(2) of the second save', async (t) => {
    const probe = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      t.skip(missingExternal('strace fault injection', probe.error ? 'strace is not installed' : `strace cannot trace here: ${probe.stderr.trim()}`));
      return;
    }
    // rename(2) and its newer forms (arm64 has no plain rename; `?` lets strace skip what an arch lacks).
    const renames = '?rename,?renameat,?renameat2';
    const log = join(tmp, 'renames.log');
    const counted = configFile('strace-count');
    // strace counts a syscall per thread; with one libuv worker thread every rename is on it, in order.
    const oneThread = { UV_THREADPOOL_SIZE: '1' };
    const plain = await train(counted.file, oneThread, ['strace', '-f', '-qq', '-o', log, '-e', `trace=${renames}`]);
    assert.equal(plain.code, 0, plain.stderr);
    const calls = readFileSync(log, 'utf8').split('\n').filter((l) => /\brename(at2?)?\(/.test(l));
    // The first save ends with the loss curve's rename; every rename after it belongs to the second.
    const firstSaveEnd = calls.findIndex((l) => /loss_curve\.svg"/.test(l.slice(l.indexOf(','))));
    assert.ok(firstSaveEnd > 0 && firstSaveEnd < calls.length - 1, `renames seen: ${calls.length}`);
    const kills = Array.from({ length: calls.length - firstSaveEnd - 1 }, (_, i) => firstSaveEnd + 2 + i); // 1-based
    // Killed before the rename that names the new checkpoint checkpoint-4, a run resumes from step 2;
    // after it, from 4. Whatever the layout, a kill in the second save must never lose the first.
    const staged = calls.findIndex((l) => /checkpoint-4"\)/.test(l)) + 1;
    const from = (n: number): number | [number, number] => (staged > firstSaveEnd + 1 ? (n > staged ? 4 : 2) : [2, 4]);
    await inPairs(kills, async (n) => {
      const { outDir, file } = configFile(`strace-${n}`);
      mkdirSync(outDir, { recursive: true });
      const r = await train(file, oneThread, ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=${renames}`, '-e', `inject=${renames}:signal=SIGKILL:when=${n}`]);
      assert.notEqual(r.code, 0, `rename ${n} of ${calls.length}: the run was not killed`);
      await resumeAndCompare(outDir, `killed at rename ${n} (${calls[n - 1]?.replace(/^\d+\s+/, '')})`, from(n));
    });
  });
});
