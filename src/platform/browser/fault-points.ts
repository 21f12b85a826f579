/**
 * Fault injection exists only for Node's crash tests (see ../node/fault-points.ts); in a browser
 * nothing is written, so no fault is ever injected. Twin of ../node/fault-points.ts.
 */
import type * as NodeTwin from '../node/fault-points.js';

export type FaultAction = NodeTwin.FaultAction;

export function faultPoint(_site: string): 'enospc' | null {
  return null;
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./fault-points.js')>;
