/**
 * Browsers have no child processes: the adapter is asked for directly (src/backend/webgpu/probe.ts
 * does so through navigator.gpu before it would come here). Twin of ../node/adapter-probe.ts (see
 * ../README.md); reached as `#platform/adapter-probe.js`.
 */
import type { AdapterFacts } from '../../backend/webgpu/adapter-kind.js';
import type * as NodeTwin from '../node/adapter-probe.js';

export async function probeAdapterInChild(): Promise<{ facts: AdapterFacts } | { error: string }> {
  return { error: 'no navigator.gpu in this browser' };
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./adapter-probe.js')>;
