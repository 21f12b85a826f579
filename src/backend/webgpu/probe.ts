/**
 * What WebGPU adapter this environment offers, without creating a device: for `device: 'auto'`,
 * which must know whether the adapter is real hardware before choosing it.
 */
import { adapterFacts, classifyAdapter, type AdapterKind } from './adapter-kind.js';
import { probeAdapterInChild } from '#platform/adapter-probe.js';

export type AdapterProbe = ({ available: true } & AdapterKind) | { available: false; reason: string };

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
let cached: Promise<AdapterProbe> | undefined;

/** The adapter a WebGPU device would get; asked once per process. */
export function probeAdapter(): Promise<AdapterProbe> {
  cached ??= (async (): Promise<AdapterProbe> => {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav?.gpu) {
      const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
      return adapter ? { available: true, ...classifyAdapter(adapterFacts(adapter)) } : { available: false, reason: 'navigator.gpu gave no adapter' };
    }
    if (!isNode) return { available: false, reason: 'no navigator.gpu' };
    const answer = await probeAdapterInChild();
    return 'facts' in answer ? { available: true, ...classifyAdapter(answer.facts) } : { available: false, reason: answer.error };
  })();
  return cached;
}
