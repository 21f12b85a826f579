/**
 * Getting a GPUDevice: `navigator.gpu` in browsers, the `webgpu` package (Dawn) in Node.
 *
 * Dawn in Node crashes (segfaults, mutex assertions, hangs) when the GPU instance object returned by
 * `create()` is garbage-collected while a device made from it is alive; the instance is therefore
 * kept in a module-level variable for the life of the process.
 */
import { UnsupportedError } from '../../errors.js';
import { adapterFacts, classifyAdapter } from './adapter-kind.js';
import { dawnFlags } from './dawn-flags.js';

let nodeGpu: GPU | undefined; // never released: see above

async function gpuEntry(): Promise<GPU | undefined> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  if (!nodeGpu) {
    let mod: { create(flags: string[]): GPU; globals: object };
    try {
      mod = (await import('webgpu')) as unknown as typeof mod;
    } catch (e) {
      throw new UnsupportedError(`WebGPU in Node needs the 'webgpu' package (Dawn): ${(e as Error).message}`);
    }
    Object.assign(globalThis, mod.globals); // GPUBufferUsage and friends
    nodeGpu = mod.create(dawnFlags());
  }
  return nodeGpu;
}

/** The most storage buffers any kernel binds: WebGPU's default limit, which every adapter offers. */
const MIN_STORAGE_BUFFERS = 8;

export interface AcquiredDevice {
  device: GPUDevice;
  adapterInfo: string;
  /** A software adapter (llvmpipe, SwiftShader, ...): see adapter-kind.ts. */
  software: boolean;
}

/** Requests an adapter and a device with the adapter's own limits; a clear error when none exists. */
export async function acquireDevice(): Promise<AcquiredDevice> {
  const gpu = await gpuEntry();
  if (!gpu) throw new UnsupportedError('WebGPU is not available here (no navigator.gpu, and not Node.js)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new UnsupportedError(
      'WebGPU: no adapter found (no GPU driver; on Linux without a GPU, install Mesa\'s lavapipe: mesa-vulkan-drivers)',
    );
  }
  const l = adapter.limits;
  if (l.maxStorageBuffersPerShaderStage < MIN_STORAGE_BUFFERS) {
    throw new UnsupportedError(
      `WebGPU: this adapter allows ${l.maxStorageBuffersPerShaderStage} storage buffers per shader stage; mamba-ts's kernels bind up to ${MIN_STORAGE_BUFFERS}`,
    );
  }
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  const kind = classifyAdapter(adapterFacts(adapter));
  return { device, adapterInfo: kind.summary, software: kind.software };
}
