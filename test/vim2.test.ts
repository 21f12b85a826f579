/**
 * ViM2: the four cross-scans (order and exact inverse), gradient checks of the multi-direction
 * token mixer and of the whole model on every device, CPU vs WebGPU logits, parameter counts taken
 * from the module, config errors, and `mamba-ts train` / `mamba-ts info` end to end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gradcheck } from '../src/autograd/gradcheck.js';
import { noGrad } from '../src/autograd/tape.js';
import { crossScans } from '../src/models/mambamixer/cross-scan.js';
import { Vim2Config } from '../src/models/mambamixer/vim2-config.js';
import { describeVim2 } from '../src/models/mambamixer/vim2-describe.js';
import { CrossScanTokenMixer } from '../src/models/mambamixer/vim2-token-mixer.js';
import { initVim2Weights, Vim2ForImageClassification } from '../src/models/mambamixer/vim2.js';
import { initSelectiveMixer } from '../src/models/mambamixer/init.js';
import { RandomSource } from '../src/ops/random.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { availableDevices } from './devices.js';
import { assertClose, randomArray, SHARED } from './helpers.js';
import { paramGradcheck } from './module-gradcheck.js';

const devices = await availableDevices();
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = resolve(REPO, 'dist/src/cli/main.js');
const TINY = { image_size: 8, in_channels: 1, num_classes: 3, patch_size: 2, dims: [4, 6], depths: [2, 1], channel_depths: [1, 1], d_state: 2, expand: 1 };

test('the cross-scans read rows, columns and both reversed, and fromScan undoes toScan', async () => {
  const [H, W] = [2, 3];
  const x = ops.tensor(Float32Array.from({ length: H * W }, (_, i) => i), [1, H * W, 1]); // value = row-major index
  const orders = crossScans(H, W);
  const want = [[0, 1, 2, 3, 4, 5], [0, 3, 1, 4, 2, 5], [5, 4, 3, 2, 1, 0], [5, 2, 4, 1, 3, 0]];
  for (const [k, s] of orders.entries()) {
    assert.deepEqual([...(await s.toScan(x).data())], want[k], s.name);
    assert.deepEqual([...(await s.fromScan(s.toScan(x)).data())], [0, 1, 2, 3, 4, 5], `${s.name} round trip`);
  }
});

for (const dev of devices) {
  describe(`ViM2 on ${dev}`, () => {
    test('the four-direction token mixer: input and parameter gradients equal finite differences', async () => {
      const mixer = new CrossScanTokenMixer({ dModel: 3, height: 2, width: 3, dState: 2, expand: 1 });
      initSelectiveMixer(mixer, new RandomSource(1), { device: dev });
      const conv = mixer.conv2d;
      conv.weight.set(ops.tensor(randomArray(27, 5, -0.5, 0.5), conv.weight.shape, { device: dev }));
      conv.bias!.set(ops.tensor(randomArray(3, 6, -0.2, 0.2), [3], { device: dev }));
      const r = await gradcheck((x) => mixer.forward(x!), [{ data: randomArray(18, 2), shape: [1, 6, 3] }], { device: dev });
      assert.ok(r.maxError <= 1e-2 * Math.max(1, r.scale), `input: ${r.maxError} (scale ${r.scale}); ${r.worst}`);
      const x = ops.tensor(randomArray(2 * 6 * 3, 3), [2, 6, 3], { device: dev });
      const p = await paramGradcheck(mixer, () => mixer.forward(x), { perParam: 3 });
      assert.ok(p.maxError <= 2e-2 * Math.max(1, p.scale), `parameters: ${p.maxError} (scale ${p.scale}); ${p.worst}`);
      mixer.dispose();
    });

    test('the whole model: parameter gradients (stem, merging, both mixers, averages, head) equal finite differences', async () => {
      const model = new Vim2ForImageClassification(Vim2Config.fromJSON({ ...TINY, image_size: 6, dims: [3, 4] }));
      initVim2Weights(model, 3, dev);
      // Non-identity averages, so that every α, β, θ, γ reaches the output.
      for (const [name, p] of model.namedParameters()) if (name.includes('averages')) p.set(ops.tensor(randomArray(p.value.size, 9, 0.3, 1), p.shape, { device: dev }));
      const x = ops.tensor(randomArray(2 * 36, 4), [2, 6, 6, 1], { device: dev });
      // h = 3e-3: with 1e-2 the curvature of LayerNorm after the stem alone gives ~2% (measured).
      const r = await paramGradcheck(model, () => model.forward(x), { perParam: 2, h: 3e-3 });
      assert.ok(r.checked > 80, `${r.checked} elements checked`);
      assert.ok(r.maxError <= 2e-2 * Math.max(1, r.scale), `${r.maxError} (scale ${r.scale}); ${r.worst}`);
      model.dispose();
    });
  });
}

test('ViM2 logits on WebGPU equal the CPU', async (t) => {
  if (!devices.includes('webgpu')) return t.skip('no WebGPU adapter');
  const images = randomArray(3 * 64, 11);
  const logits = async (dev: 'cpu' | 'webgpu') => {
    const m = new Vim2ForImageClassification(Vim2Config.fromJSON(TINY));
    initVim2Weights(m, 5, dev);
    const y: Tensor = noGrad(() => m.forward(ops.tensor(images, [3, 8, 8, 1], { device: dev })));
    assert.deepEqual(y.shape, [3, 3]);
    const v = await y.data();
    m.dispose();
    return v;
  };
  assertClose('logits', await logits('webgpu'), await logits('cpu'), 1e-4);
});

test('parameter counts come from the module: Tiny / Small / Base and the MNIST preset', () => {
  for (const p of ['tiny', 'small', 'base', 'mnist']) {
    const c = Vim2Config.preset(p);
    const d = describeVim2(c.toJSON(), p);
    const model = new Vim2ForImageClassification(c);
    assert.equal(d.parameters, model.parameterCount(), p);
    assert.equal(d.byKind.tokenMixers + d.byKind.channelMixers + d.byKind.weightedAverages + d.byKind.other, d.parameters);
  }
  // The MNIST model, initialised: every tensor it holds adds up to the count.
  const m = new Vim2ForImageClassification(Vim2Config.preset('mnist'));
  initVim2Weights(m, 0);
  let held = 0;
  for (const t of m.stateDict().values()) held += t.size;
  assert.equal(held, describeVim2(Vim2Config.preset('mnist').toJSON(), 'mnist').parameters);
  m.dispose();
  // Table 8's block counts: Eq. 19–20's 𝓛(2𝓛+3) averaging scalars per stage, 𝓛 = 1, 1, 3, 1.
  assert.equal(describeVim2(Vim2Config.preset('tiny').toJSON(), 'tiny').byKind.weightedAverages, 5 + 5 + 27 + 5);
});

test('ViM2 configs with contradictions are refused, naming the field', () => {
  const bad = (o: Record<string, unknown>, re: RegExp) => assert.throws(() => Vim2Config.fromJSON({ ...TINY, ...o }, 'c.json'), re);
  bad({ depths: [3, 1], channel_depths: [2, 1] }, /c\.json: fields "depths" and "channel_depths": stage 0 has 3 token blocks, not a multiple of its 2 channel blocks/);
  bad({ depths: [2] }, /field "depths": expected 2 entries/);
  bad({ image_size: 9 }, /"image_size" \(9\) must be a multiple of "patch_size" \(2\)/);
  bad({ conv_kernel: 2 }, /field "conv_kernel": expected an odd integer/);
  bad({ dims: [] }, /field "dims": expected a non-empty list/);
  assert.throws(() => Vim2Config.preset('huge'), /unknown preset "huge"; known: tiny, small, base, mnist/);
  const m = new Vim2ForImageClassification(Vim2Config.fromJSON(TINY));
  assert.throws(() => m.forward(ops.zeros([1, 8, 8, 3])), /images must be \(B, 8, 8, 1\), got \[1, 8, 8, 3\]/);
});

describe('mamba-ts with ViM2', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, cwd: REPO });

  test('train runs the smoke config end to end: accuracy, wall time, an atomic checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vim2-'));
    const cfg = JSON.parse(readFileSync(resolve(REPO, 'experiments/vim2/tiny-smoke.json'), 'utf8')) as Record<string, unknown>;
    // Copied elsewhere, so its data path (relative to the config) is made absolute.
    const data = { ...(cfg['data'] as Record<string, unknown>), path: resolve(SHARED, 'data/mnist') };
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ...cfg, data, outDir: join(dir, 'out') }));
    const r = run('train', '--config', join(dir, 'c.json'), '--quiet');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /trained ViM2 \([\d,]+ parameters\) for 4 steps on cpu; test accuracy \d+\.\d\d% on 32 images; wall time [\d.]+ s/);
    for (const f of ['config.json', 'model.safetensors', 'preprocessor_config.json', 'trainer_state.json']) assert.ok(existsSync(join(dir, 'out/checkpoint', f)), f);
    const saved = JSON.parse(readFileSync(join(dir, 'out/checkpoint/config.json'), 'utf8')) as { model_type: string; dims: number[] };
    assert.deepEqual([saved.model_type, saved.dims], ['vim2', [8, 16]]);
    // The saved config.json is itself something info describes.
    const info = run('info', '-m', join(dir, 'out/checkpoint/config.json'), '--json');
    assert.equal(info.status, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { parameters: number }).parameters, Number(/\(([\d,]+) parameters\)/.exec(r.stdout)![1]!.replace(/,/g, '')));
  });

  test('train refuses a bad image-classification config with a one-line error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vim2-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ task: 'image-classification', model: { preset: 'mnist' }, data: { path: 'x' }, outDir: 'o', epoch: 3 }));
    const r = run('train', '--config', join(dir, 'c.json'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /c\.json: unknown field\(s\) epoch \(did you mean "epochs"\?\); known: task, model/);
  });

  test('info prints the Tiny preset with its parameter breakdown', () => {
    const r = run('info', '-m', 'experiments/vim2/configs/tiny.json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Vim2ForImageClassification/);
    assert.match(r.stdout, /parameters: +54,138,235 \(54\.14M\)/);
    assert.match(r.stdout, /token grids: +56×56, 28×28, 14×14, 7×7/);
  });
});
