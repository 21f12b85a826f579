/**
 * Fault injection for the crash tests (test/checkpoint-faults.test.ts): named points in the code
 * that writes files and checkpoints, where a test can make this process die or find the disk full.
 * Twin of ../browser/fault-points.ts (which never injects anything); reached as
 * `#platform/fault-points.js`.
 *
 * MAMBA_TS_FAULT_AT=<site>:<n>[:<action>] acts at the n-th visit (1-based) of the site named
 * <site>; <action> is `kill` (SIGKILL to this process, the default: nothing after it runs, as with
 * a power cut or the OOM killer) or `enospc` (the caller simulates a full disk). Sites are few and
 * outside hot paths (one check per file written or folder renamed); the variable is read once.
 * Site names: `write <file name>` (a file's bytes, before its temporary is synced and renamed),
 * `renamed <file name>` (after that rename), and the checkpoint folder's steps in
 * src/platform/node/checkpoint-folders.ts (`staged`, `swapped` ...).
 */

export type FaultAction = 'kill' | 'enospc';

interface Fault {
  site: string;
  visit: number;
  action: FaultAction;
}

const fault: Fault | null = parseFault(process.env['MAMBA_TS_FAULT_AT']);
let visits = 0;

function parseFault(spec: string | undefined): Fault | null {
  if (!spec) return null;
  const m = /^(.+):(\d+)(?::(kill|enospc))?$/.exec(spec);
  if (!m) throw new Error(`MAMBA_TS_FAULT_AT: expected <site>:<n>[:kill|enospc], got ${JSON.stringify(spec)}`);
  return { site: m[1]!, visit: Number(m[2]), action: (m[3] as FaultAction | undefined) ?? 'kill' };
}

/**
 * Marks a point where a fault may be injected. Kills this process when it is the chosen visit of
 * a `kill` fault; returns 'enospc' when it is the chosen visit of an `enospc` fault (the caller
 * then behaves as a full disk would); otherwise returns null and does nothing.
 */
export function faultPoint(site: string): 'enospc' | null {
  if (fault === null || site !== fault.site || ++visits !== fault.visit) return null;
  if (fault.action === 'enospc') return 'enospc';
  process.kill(process.pid, 'SIGKILL');
  return null;
}
