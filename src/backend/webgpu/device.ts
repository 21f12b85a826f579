/**
 * Getting a GPUDevice. Where the GPU object comes from differs by platform: `navigator.gpu` in
 * browsers, Dawn (the optional `webgpu` package) in Node; see src/platform/{browser,node}/gpu.ts.
 */
import { UnsupportedError } from '../../errors.js';
import { adapterFacts, classifyAdapter } from './adapter-kind.js';
import { gpuEntry } from '#platform/gpu.js';

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
