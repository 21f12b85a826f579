/**
 * Tests whose external part (a WebGPU adapter, Chromium) is missing: on a developer's machine they
 * are skipped with the reason printed, so `npm test` passes where nothing was installed by hand;
 * under CI (CI=true, set by .ci/run, which installs everything) a missing part is a failure, so
 * CI never passes while silently testing less.
 */
export const UNDER_CI = process.env['CI'] === 'true';

/** A missing external part: the skip reason outside CI (for `t.skip` or `{ skip }`); under CI, an error. */
export function missingExternal(what: string, reason: string): string {
  if (UNDER_CI) throw new Error(`${what}: ${reason} (CI=true: CI must run every test; .ci/run installs what they need)`);
  return `${what} skipped: ${reason}`;
}
