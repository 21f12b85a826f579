/**
 * Choosing a device: 'auto' never picks a software WebGPU adapter (llvmpipe, SwiftShader: slower
 * than the CPU backend), unknown device names are errors that list the accepted ones, and the CLI
 * says on one stderr line which device ran, without Dawn's native warnings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { classifyAdapter } from '../src/backend/webgpu/adapter-kind.js';
import { probeAdapter } from '../src/backend/webgpu/probe.js';
import { checkDeviceChoice, chooseDevice } from '../src/models/device-choice.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { getBackend, type DeviceName } from '../src/backend/registry.js';
import { availableDevices } from './devices.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const MODEL = resolve(dirname(fileURLToPath(import.meta.url)), '../../models/mamba-shakespeare');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('device choice', () => {
  test('software adapters are recognised by the fallback flag, the architecture or the driver name; hardware ones are not', () => {
    const llvmpipe = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15', description: 'llvmpipe: Mesa 25.0.7' };
    assert.equal(classifyAdapter(llvmpipe).software, true);
    assert.equal(classifyAdapter({ vendor: 'google', architecture: 'swiftshader' }).software, true);
    assert.equal(classifyAdapter({ vendor: 'x', isFallbackAdapter: true }).software, true);
    assert.equal(classifyAdapter({ vendor: 'mesa', description: 'lavapipe' }).software, true);
    assert.equal(classifyAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200', isFallbackAdapter: false }).software, false);
    assert.equal(classifyAdapter({ vendor: 'apple', architecture: 'metal-3' }).software, false);
    assert.equal(classifyAdapter(llvmpipe).summary, 'mesa software llvmpipe-llvm-15 llvmpipe: Mesa 25.0.7');
  });

  test('an unknown device name is an error listing the accepted names, with the likely one', async () => {
    assert.throws(() => checkDeviceChoice('cuda'), /device: unknown device "cuda"; expected 'cpu', 'webgpu', 'auto' \(did you mean 'webgpu'\?\)/);
    assert.throws(() => checkDeviceChoice('CPU'), /unknown device "CPU".*did you mean 'cpu'/);
    assert.throws(() => checkDeviceChoice('gpu'), /did you mean 'webgpu'/);
    await assert.rejects(AutoModelForCausalLM.fromPretrained(MODEL, { device: 'cuda' as never }), /unknown device "cuda"; expected 'cpu', 'webgpu', 'auto'/);
    await assert.rejects(chooseDevice('GPU' as never), /did you mean 'webgpu'/);
    await assert.rejects(MambaForCausalLM.fromPretrained(MODEL, { device: 'cuda' as DeviceName }), /unknown device "cuda"; expected 'cpu' or 'webgpu'/);
    assert.throws(() => getBackend('metal' as DeviceName), /unknown device "metal"/);
  });

  test("'auto' takes WebGPU only on a hardware adapter, and says why it chose the CPU", async () => {
    const probe = await probeAdapter();
    const d = await chooseDevice('auto');
    if (probe.available && !probe.software) {
      assert.equal(d.device, 'webgpu');
    } else {
      assert.equal(d.device, 'cpu');
      assert.match(d.reason ?? '', probe.available ? /software one \(.+\), slower than the CPU backend/ : /no WebGPU/);
    }
    assert.deepEqual(await chooseDevice(undefined), { device: 'cpu' });
  });

  test('generate and info print one device line on stderr (none with --quiet), and no Dawn warnings', async () => {
    const g = cli('generate', '--model', MODEL, '-n', '4', '--device', 'auto', 'ROMEO:');
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stderr, /^device: (cpu|webgpu \(.+\))( — auto: .+)?\n$/);
    assert.doesNotMatch(g.stderr, /artificially reduced/);
    const q = cli('generate', '--model', MODEL, '-n', '4', '--quiet', 'ROMEO:');
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stderr, '');
    const i = cli('info', '--model', MODEL);
    assert.equal(i.status, 0, i.stderr);
    assert.equal(i.stderr, 'device: cpu\n');
    const bad = cli('generate', '--model', MODEL, '--device', 'cuda', 'x');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--device: unknown device "cuda"; expected 'cpu', 'webgpu', 'auto'/);
  });

  test('generate on WebGPU names the adapter and keeps Dawn\'s native warnings off the terminal', async (t) => {
    if (!(await availableDevices()).includes('webgpu')) return t.skip('no WebGPU adapter');
    const g = cli('generate', '--model', MODEL, '-n', '2', '--device', 'webgpu', 'ROMEO:');
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stderr, /^device: webgpu \(.+\)\n$/);
    assert.doesNotMatch(g.stderr, /artificially reduced/);
    const bad = cli('generate', '--model', '/nonexistent', '--device', 'webgpu', 'x');
    assert.equal(bad.status, 1, 'the exit code passes through the filtering parent');
    assert.match(bad.stderr, /nonexistent\/config\.json/);
  });
});
