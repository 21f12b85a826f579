/**
 * What a dispatch costs the GPU inside one compute pass, with and without a dependency on the
 * previous one (Dawn puts a barrier between dispatches that touch the same buffer). One JSON line
 * per case: 1,000 dispatches of a tiny kernel (1 or 132 workgroups of 64 threads) recorded in one
 * pass, submitted once, waited for.
 *   node dist/bench/gpu-barrier.js
 */
import { initWebGPU } from '../src/backend/registry.js';
import type { WebGpuBackend } from '../src/backend/webgpu/index.js';

const gpu = (await initWebGPU()) as WebGpuBackend;
const device = gpu.ctx.device;
const module = device.createShaderModule({
  code: `@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x % 4096u;
  dst[i] = src[i] * 1.0001 + 1.0;
}`,
});
const pipe = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const mk = () => device.createBuffer({ size: 4096 * 4, usage: GPUBufferUsage.STORAGE });
const n = 1000;
const ring = Array.from({ length: n + 1 }, mk);
const group = (a: GPUBuffer, b: GPUBuffer) =>
  device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: b } }] });
// chain: dispatch i reads what i−1 wrote (a true dependency, as in a decode step)
const chain = Array.from({ length: n }, (_, i) => group(ring[i]!, ring[i + 1]!));
// independent: every dispatch reads buffer 0 and writes its own buffer
const indep = Array.from({ length: n }, (_, i) => group(ring[0]!, ring[i + 1]!));

async function time(groups: GPUBindGroup[], workgroups: number): Promise<number> {
  const run = async () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    for (const g of groups) {
      pass.setBindGroup(0, g);
      pass.dispatchWorkgroups(workgroups);
    }
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run();
  let best = Infinity;
  for (let r = 0; r < 5; r++) best = Math.min(best, await run());
  return (best * 1000) / groups.length;
}

for (const wg of [1, 132]) {
  console.log(JSON.stringify({ bench: 'dispatch_gpu', workgroups: wg, dependent_us: +(await time(chain, wg)).toFixed(2), independent_us: +(await time(indep, wg)).toFixed(2), adapter: gpu.adapterInfo }));
}
