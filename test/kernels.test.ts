import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnsupportedError } from '../src/errors.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';
import { zeros } from '../src/ops/create.js';
import { tidy } from '../src/tensor/memory.js';
import { getBackend } from '../src/backend/registry.js';
import { kernelCases } from './conformance-cases.js';
import { availableDevices } from './devices.js';
import { assertClose } from './helpers.js';

for (const device of await availableDevices()) {
  describe(`kernels on ${device}`, () => {
    for (const c of kernelCases()) {
      const skip = c.needsHalf && !getBackend(device).uploadHalf ? `${device} keeps weights in float32` : false;
      test(`${c.name} matches its reference`, { skip }, async () => {
        const outs = tidy(() => c.run(device));
        const refs = c.reference();
        for (let i = 0; i < refs.length; i++) {
          const got = await outs[i]!.data();
          assertClose(`${c.name} output ${i}`, got, refs[i]!, c.tol);
        }
        for (const o of outs) o.dispose();
      });
    }
  });
}

test('a WebGPU buffer over the adapter binding limit is refused with a clear error', async (t) => {
  if (!(await availableDevices()).includes('webgpu')) {
    t.skip('no WebGPU adapter');
    return;
  }
  const limit = (getBackend('webgpu') as WebGpuBackend).ctx.maxBinding;
  assert.throws(
    () => zeros([Math.floor(limit / 4) + 1], { device: 'webgpu' }),
    (e: Error) => e instanceof UnsupportedError && /maxStorageBufferBindingSize \(\d+\); use the CPU or a smaller shape/.test(e.message),
  );
});
