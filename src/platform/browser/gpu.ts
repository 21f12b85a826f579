/**
 * The WebGPU entry point in a browser (or a worker): `navigator.gpu`, nothing else. Twin of
 * ../node/gpu.ts (see ../README.md); reached as `#platform/gpu.js` from src/backend/webgpu/device.ts.
 */
import { UnsupportedError } from '../../errors.js';
import type * as NodeTwin from '../node/gpu.js';

/** The GPU object to request adapters from; throws, saying why, when the browser has none. */
export async function gpuEntry(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
  throw new UnsupportedError(
    secure === false
      ? 'WebGPU is not available: navigator.gpu exists only in secure contexts (https:// or http://localhost); use device "cpu" or serve the page securely'
      : 'WebGPU is not available in this browser (no navigator.gpu): use device "cpu" or "auto", or a browser with WebGPU enabled',
  );
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./gpu.js')>;
