/**
 * Where outputs go: writing goes through a symbolic link to a regular file or folder (the link
 * stays) and never over a device, FIFO, socket or folder; temporaries a killed run left are
 * removed on the next start; a full disk is reported with the space needed, and leaves nothing
 * half-written behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import { writeBytesAtomic } from '../src/io/platform.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { AdamW } from '../src/train/adamw.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { tinyCheckpointingConfig, writeTinyCorpus } from './tiny-training.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-outputs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = writeTinyCorpus(tmp);
const rawConfig = (outDir: string): Record<string, unknown> => tinyCheckpointingConfig(corpus, outDir, 7);

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
}

/** A pid that no process has now (a child that has exited). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('output paths', { skip: process.platform === 'win32' ? 'symbolic links and FIFOs as on POSIX' : false }, () => {
  test('a symbolic link to a regular file is written through: the link stays, the file gets the bytes and keeps its mode', async () => {
    const real = join(tmp, 'real.csv');
    writeFileSync(real, 'old');
    chmodSync(real, 0o640);
    const link = join(tmp, 'link.csv');
    symlinkSync(real, link);
    await writeBytesAtomic(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.equal(readlinkSync(link), real);
    assert.equal(readFileSync(real, 'utf8'), 'new');
    assert.equal(statSync(real).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temporary left');
  });

  test("chunks (encodeGguf's) are written in order, never joined, through a link", async () => {
    const real = join(tmp, 'model.gguf');
    writeFileSync(real, 'old');
    const link = join(tmp, 'model-link.gguf');
    symlinkSync(real, link);
    await writeBytesAtomic(link, [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3, 4, 5])]);
    assert.deepEqual([...readFileSync(real)], [1, 2, 3, 4, 5]);
    assert.ok(lstatSync(link).isSymbolicLink());
  });

  test('a device, a FIFO, a folder and a link leading nowhere are refused and left as they were', async () => {
    const toNull = join(tmp, 'null-link');
    symlinkSync('/dev/null', toNull);
    await assert.rejects(writeBytesAtomic(toNull, 'x'), (e: Error) => e instanceof ArgumentError && /null-link: is a character device \(through the symbolic link, \/dev\/null\), refusing to write over it/.test(e.message));
    assert.ok(lstatSync(toNull).isSymbolicLink());
    const fifo = join(tmp, 'fifo');
    mkfifo(fifo);
    await assert.rejects(writeBytesAtomic(fifo, 'x'), /fifo: is a FIFO \(named pipe\), refusing to write over it; expected a regular file or a new path/);
    assert.ok(lstatSync(fifo).isFIFO());
    const folder = join(tmp, 'a-folder');
    mkdirSync(folder);
    await assert.rejects(writeBytesAtomic(folder, 'x'), /a-folder: is a folder, refusing to write over it/);
    const dangling = join(tmp, 'dangling');
    symlinkSync(join(tmp, 'nothing-here'), dangling);
    await assert.rejects(writeBytesAtomic(dangling, 'x'), /dangling: a symbolic link that leads to no existing file; refusing to write through it/);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    await assert.rejects(writeBytesAtomic(join(file, 'inside.json'), 'x'), /a part of the path is a file, not a folder/);
  });

  test('model.save and saveCheckpoint into a link to a folder write into that folder and keep the link', async () => {
    const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 16, use_bias: false }));
    initMambaWeights(model, 1);
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(join(elsewhere, 'model'), { recursive: true });
    mkdirSync(join(elsewhere, 'checkpoint'));
    const out = join(tmp, 'linked-out');
    mkdirSync(out);
    symlinkSync(join(elsewhere, 'model'), join(out, 'model'));
    symlinkSync(join(elsewhere, 'checkpoint'), join(out, 'checkpoint'));
    await model.save(join(out, 'model'));
    assert.ok(lstatSync(join(out, 'model')).isSymbolicLink());
    assert.deepEqual(readdirSync(join(elsewhere, 'model')).sort(), ['config.json', 'model.safetensors']);
    const opt = new AdamW(model.namedParameters());
    for (const step of [1, 2]) await saveCheckpoint(join(out, 'checkpoint'), model, opt, { step, rngState: 0 });
    assert.ok(lstatSync(join(out, 'checkpoint')).isSymbolicLink(), 'the checkpoint link is still a link');
    assert.equal(JSON.parse(readFileSync(join(elsewhere, 'checkpoint', 'trainer_state.json'), 'utf8')).step, 2);
    assert.deepEqual(readdirSync(elsewhere).sort(), ['checkpoint', 'model'], 'no versions or temporaries left beside the real folder');
    opt.dispose();
    model.dispose();
  });

  test('`mamba-ts train` with an outDir that is a link to /dev/null is refused before training', () => {
    const dir = join(tmp, 'cli-null');
    mkdirSync(dir);
    const out = join(dir, 'out');
    symlinkSync('/dev/null', out);
    const cfg = join(dir, 'train.json');
    writeFileSync(cfg, JSON.stringify(rawConfig(out)));
    const r = cli(['train', '--config', cfg, '--quiet']);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /out: is a character device \(through the symbolic link, \/dev\/null\), refusing to write over it; expected a folder or a new path/);
    assert.ok(lstatSync(out).isSymbolicLink());
  });
});

describe('temporaries and full disks', () => {
  let straight: Buffer;
  before(async () => {
    await runTraining(parseTrainConfig(rawConfig(join(tmp, 'straight')), 'straight'));
    straight = readFileSync(join(tmp, 'straight', 'checkpoint', 'model.safetensors'));
  });

  test("a run removes on start the temporaries of runs that were killed, and keeps a live process's", async () => {
    const outDir = join(tmp, 'stale');
    mkdirSync(outDir);
    const dead = deadPid();
    const alive = process.ppid;
    const staleFolder = join(outDir, `checkpoint.tmp-${dead}-1700000000000-1`);
    mkdirSync(staleFolder);
    writeFileSync(join(staleFolder, 'optimizer.safetensors.tmp-1-2'), new Uint8Array(1000)); // a truncated file
    writeFileSync(join(outDir, `loss_curve.svg.tmp-${dead}-1700000000000`), '<svg');
    mkdirSync(join(outDir, `checkpoint.del-${dead}-1700000000000-3`));
    // This process's pid, but made before it started: a pid reused (every container run is pid 1).
    writeFileSync(join(outDir, `results.json.tmp-${process.pid}-1000000000000-4`), '{');
    const live = `loss_curve.svg.tmp-${alive}-${Date.now()}-5`;
    writeFileSync(join(outDir, live), '<svg');
    const usersOwn = 'notes.tmp-2024-05'; // not our pattern: never touched
    writeFileSync(join(outDir, usersOwn), 'mine');
    await runTraining(parseTrainConfig(rawConfig(outDir), 'stale'));
    assert.deepEqual(readdirSync(outDir).sort(), ['checkpoint', 'loss_curve.svg', live, usersOwn].sort());
    assert.ok(readFileSync(join(outDir, 'checkpoint', 'model.safetensors')).equals(straight));
  });

  test('a full disk while saving says what the checkpoint needs and what is free, removes the partial checkpoint and keeps the previous one', () => {
    const dir = join(tmp, 'enospc');
    mkdirSync(dir);
    const cfg = join(dir, 'train.json');
    const outDir = join(dir, 'out');
    writeFileSync(cfg, JSON.stringify(rawConfig(outDir)));
    // The disk fills half way through optimizer.safetensors of the second save (see src/platform/node/fault-points.ts).
    const r = cli(['train', '--config', cfg, '--quiet'], { MAMBA_TS_FAULT_AT: 'write optimizer.safetensors:2:enospc' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /out\/checkpoint: no space left on the device \(ENOSPC\): writing it needs [\d.]+ KiB \([\d,]+ bytes\), [\d.]+ \w+ \([\d,]+ bytes\) free there; the partial checkpoint was removed and the previous one is unchanged \(.*optimizer\.safetensors: no space left on the device/);
    assert.deepEqual(readdirSync(outDir).sort(), ['checkpoint', 'loss_curve.svg'], 'nothing half-written left');
    assert.equal(JSON.parse(readFileSync(join(outDir, 'checkpoint', 'trainer_state.json'), 'utf8')).step, 2);
    const resumed = cli(['train', '--config', cfg, '--quiet', '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /2 in this run, resumed/);
    assert.ok(readFileSync(join(outDir, 'checkpoint', 'model.safetensors')).equals(straight));
  });

  test('on a real full file system (a small tmpfs, where this machine lets us mount one) the same holds', (t) => {
    const dir = join(tmp, 'tmpfs');
    mkdirSync(dir);
    const cfg = join(tmp, 'tmpfs.json');
    writeFileSync(cfg, JSON.stringify(rawConfig(join(dir, 'out'))));
    // 80 KiB: one checkpoint of this model (about 56 KiB in tmpfs pages, with the curve) fits, a second beside it during the swap does not.
    const script = `mount -t tmpfs -o size=80k tmpfs "${dir}" && "${process.execPath}" "${CLI}" train --config "${cfg}" --quiet; code=$?; ls -A "${dir}/out"; echo; ls -A "${dir}/out/checkpoint"; exit $code`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', timeout: 120_000 });
    if (r.error || /unshare failed|mount: .*(permission denied|must be superuser)|Operation not permitted/i.test(r.stderr)) {
      t.skip(`cannot mount a tmpfs here (${r.error?.message ?? r.stderr.trim().split('\n')[0]}); the fault-injected full disk above covers the code`);
      return;
    }
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /out\/checkpoint: no space left on the device \(ENOSPC\): writing it needs .* free there; free at least .* and retry; the partial checkpoint was removed and the previous one is unchanged/);
    const [outListing, ckptListing] = r.stdout.split('\n\n');
    assert.deepEqual(outListing!.trim().split('\n').sort(), ['checkpoint', 'loss_curve.svg'], 'no temporaries left on the full disk');
    assert.ok(ckptListing!.includes('trainer_state.json'), 'the step-2 checkpoint is intact');
  });
});
