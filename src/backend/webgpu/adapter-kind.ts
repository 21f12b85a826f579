/**
 * What kind of WebGPU adapter a device would run on. A software adapter (Mesa's llvmpipe/lavapipe,
 * SwiftShader, WARP) runs WGSL on the CPU through a Vulkan/D3D emulation: there mamba-ts's own CPU
 * backend is several times faster, so `device: 'auto'` must not pick it.
 */

/** The adapter fields that say what it is (GPUAdapterInfo, plus the older `isFallbackAdapter`). */
export interface AdapterFacts {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** GPUAdapterInfo.isFallbackAdapter (newer) or GPUAdapter.isFallbackAdapter (older). */
  isFallbackAdapter?: boolean;
  /** Dawn's adapter type where exposed: 'discrete GPU', 'integrated GPU', 'CPU', 'unknown'. */
  type?: string;
}

export interface AdapterKind {
  /** One line for people: vendor, architecture, device, description. */
  summary: string;
  software: boolean;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b/i;

export function classifyAdapter(f: AdapterFacts): AdapterKind {
  const parts = [f.vendor, f.architecture, f.device, f.description].filter((s): s is string => !!s);
  const summary = [...new Set(parts)].join(' ') || 'unnamed adapter';
  const software =
    f.isFallbackAdapter === true ||
    /^cpu$/i.test(f.type ?? '') ||
    /^software$/i.test(f.architecture ?? '') ||
    SOFTWARE_NAMES.test(parts.join(' '));
  return { summary, software };
}

/** The facts of a live adapter (browsers and Dawn differ in where they keep isFallbackAdapter). */
export function adapterFacts(adapter: GPUAdapter): AdapterFacts {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; type?: string };
  const legacyFallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info?.vendor,
    architecture: info?.architecture,
    device: info?.device,
    description: info?.description,
    isFallbackAdapter: info?.isFallbackAdapter ?? legacyFallback,
    type: info?.type,
  };
}
