/**
 * The conformance cases (test/conformance-cases.ts) on the CPU backend's other configurations:
 * the TypeScript kernels alone (MAMBA_TS_CPU_KERNELS=ts), and the WebAssembly kernels over an
 * unshared memory that starts at 128 KiB, so that it grows (detaching its buffer) inside ops —
 * the situation of a browser page that is not cross-origin isolated.
 */
import { before, describe, test } from 'node:test';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { registerBackend } from '../src/backend/registry.js';
import { tidy } from '../src/tensor/memory.js';
import { kernelCases } from './conformance-cases.js';
import { assertClose } from './helpers.js';

const modes: [string, () => CpuBackend][] = [
  ['TypeScript kernels only', () => new CpuBackend({ kernels: 'ts' })],
  ['WebAssembly kernels on a small unshared memory', () => new CpuBackend({ runtime: { shared: false, initialBytes: 1 << 17 } })],
];

for (const [mode, make] of modes) {
  describe(`kernels on cpu: ${mode}`, () => {
    let backend: CpuBackend;
    before(() => {
      backend = make();
      registerBackend(backend);
    });
    for (const c of kernelCases()) {
      test(`${c.name} matches its reference`, async (t) => {
        if (c.needsHalf && !backend.uploadHalf) return t.skip('this configuration keeps weights in float32');
        const outs = tidy(() => c.run('cpu'));
        const refs = c.reference();
        for (let i = 0; i < refs.length; i++) assertClose(`${c.name} output ${i}`, await outs[i]!.data(), refs[i]!, c.tol);
        for (const o of outs) o.dispose();
      });
    }
  });
}
