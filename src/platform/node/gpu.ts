/**
 * The WebGPU entry point in Node.js: `navigator.gpu` where the runtime has one (Deno), else Dawn
 * from the `webgpu` package, an optional peer dependency (132 MB of binaries for five platforms, so
 * CPU-only and browser users do not download it). Twin of ../browser/gpu.ts (see ../README.md);
 * reached as `#platform/gpu.js` from src/backend/webgpu/device.ts.
 *
 * Dawn in Node crashes (segfaults, mutex assertions, hangs) when the GPU instance object returned by
 * `create()` is garbage-collected while a device made from it is alive; the instance is therefore
 * kept in a module-level variable for the life of the process.
 */
import { UnsupportedError } from '../../errors.js';
import { dawnFlags } from '../../backend/webgpu/dawn-flags.js';

let dawn: GPU | undefined; // never released: see above

interface DawnModule {
  create(flags: string[]): GPU;
  globals: object;
}

/** The GPU object to request adapters from; throws, saying how to install Dawn, when it is missing. */
export async function gpuEntry(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (!dawn) {
    const mod = await loadDawn();
    Object.assign(globalThis, mod.globals); // GPUBufferUsage and friends
    dawn = mod.create(dawnFlags());
  }
  return dawn;
}

async function loadDawn(): Promise<DawnModule> {
  // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
  const specifier = 'webgpu';
  try {
    return (await import(specifier)) as DawnModule;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message?.includes(`'${specifier}'`)) {
      throw new UnsupportedError(
        "WebGPU in Node.js needs Dawn, the optional 'webgpu' package, which is not installed: run `npm install webgpu` next to mamba-ts (or use device 'cpu')",
      );
    }
    throw new UnsupportedError(`WebGPU in Node.js: the 'webgpu' package (Dawn) failed to load: ${err.message ?? String(e)}`);
  }
}
