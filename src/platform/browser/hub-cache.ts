/**
 * Browsers have no HuggingFace cache on disk: src/io/hub.ts turns a Hub id into its resolve URLs
 * there and never comes here. Twin of ../node/hub-cache.ts (see ../README.md); reached as
 * `#platform/hub-cache.js`.
 */
import { UnsupportedError } from '../../errors.js';
import type { HubOptions } from '../../io/hub.js';
import type * as NodeTwin from '../node/hub-cache.js';

export type HubSnapshot = NodeTwin.HubSnapshot;

export async function openHubSnapshot(repo: string, _o: HubOptions): Promise<HubSnapshot> {
  throw new UnsupportedError(`${repo}: HuggingFace's file cache needs Node.js; in a browser a Hub id is read from its resolve URLs`);
}

// The compiler keeps the twins alike: this module must offer the Node twin's exports, with its types.
type SameAsNodeTwin<T extends typeof NodeTwin> = T;
type _Checked = SameAsNodeTwin<typeof import('./hub-cache.js')>;
