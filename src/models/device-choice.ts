/**
 * The one place a device is chosen for the caller's `device` option: the names accepted, and what
 * 'auto' picks. Models and layers never choose; loaders, trainers and the CLI call this once.
 */
import { ArgumentError } from '../errors.js';
import { getBackend, hasBackend, initWebGPU, type DeviceName } from '../backend/registry.js';
import { probeAdapter } from '../backend/webgpu/probe.js';

export type DeviceChoice = DeviceName | 'auto';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['cpu', 'webgpu', 'auto'];

export interface DeviceDecision {
  device: DeviceName;
  /** The WebGPU adapter, when device is 'webgpu'. */
  adapter?: string;
  /** Why 'auto' chose what it chose (absent for an explicit choice). */
  reason?: string;
}

/** Names people try, and the accepted one they mean. */
const MEANT: Readonly<Record<string, DeviceChoice>> = { gpu: 'webgpu', cuda: 'webgpu', metal: 'webgpu', vulkan: 'webgpu', wasm: 'cpu' };

/** Throws an ArgumentError naming `where` and the accepted values unless `d` is one of them. */
export function checkDeviceChoice(d: unknown, where = 'device'): DeviceChoice | undefined {
  if (d === undefined || (DEVICE_CHOICES as readonly unknown[]).includes(d)) return d as DeviceChoice | undefined;
  const text = String(d);
  const hint = (DEVICE_CHOICES as readonly string[]).includes(text.toLowerCase()) ? text.toLowerCase() : Object.hasOwn(MEANT, text.toLowerCase()) ? MEANT[text.toLowerCase()] : undefined;
  throw new ArgumentError(
    `${where}: unknown device ${JSON.stringify(d)}; expected ${DEVICE_CHOICES.map((c) => `'${c}'`).join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`,
  );
}

const HARDWARE = 'auto: a hardware WebGPU adapter';
const softwareReason = (adapter: string) => `auto: the WebGPU adapter is a software one (${adapter}), slower than the CPU backend`;

/**
 * Makes the device ready and says what ran: 'webgpu' acquires a GPU (or fails with the reason);
 * 'auto' takes WebGPU only on a hardware adapter, and the CPU when there is none or only a software
 * one (llvmpipe, SwiftShader: slower than the CPU backend). Default 'cpu'.
 */
export async function chooseDevice(d: DeviceChoice | undefined): Promise<DeviceDecision> {
  const choice = checkDeviceChoice(d) ?? 'cpu';
  if (choice === 'cpu') return { device: 'cpu' };
  if (choice === 'webgpu') return { device: 'webgpu', adapter: (await initWebGPU()).adapterInfo };
  if (hasBackend('webgpu')) {
    const b = getBackend('webgpu');
    if (!b.softwareAdapter) return { device: 'webgpu', adapter: b.adapterInfo, reason: HARDWARE };
    return { device: 'cpu', reason: softwareReason(b.adapterInfo ?? 'unnamed adapter') };
  }
  const probe = await probeAdapter();
  if (!probe.available) return { device: 'cpu', reason: `auto: no WebGPU (${probe.reason})` };
  if (probe.software) return { device: 'cpu', reason: softwareReason(probe.summary) };
  try {
    const b = await initWebGPU();
    return { device: 'webgpu', adapter: b.adapterInfo, reason: HARDWARE };
  } catch (e) {
    return { device: 'cpu', reason: `auto: WebGPU failed (${(e as Error).message})` };
  }
}

/** chooseDevice, when only the device matters. */
export async function resolveDevice(d: DeviceChoice | undefined): Promise<DeviceName> {
  return (await chooseDevice(d)).device;
}

/** One line for people: which device ran and on what. */
export function describeDecision(x: DeviceDecision): string {
  const what = x.device === 'webgpu' ? `webgpu (${x.adapter ?? 'unknown adapter'})` : 'cpu';
  return `device: ${what}${x.reason ? ` — ${x.reason}` : ''}`;
}
