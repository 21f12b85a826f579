import { describe, test } from 'node:test';
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
