/**
 * Finding the Chromium that browser tests drive with playwright-core (Debian's chromium, or
 * CHROMIUM_PATH), and the flags they launch it with. Shared by browser.test.ts and playground.test.ts.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** --enable-unsafe-webgpu: WebGPU is otherwise off on Linux; headless it runs on SwiftShader. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu'];

/** Chromium: CHROMIUM_PATH, else the usual install paths and names on PATH. */
export function findChromium(): { path: string } | { missing: string } {
  const env = process.env['CHROMIUM_PATH'];
  if (env) return existsSync(env) ? { path: env } : { missing: `CHROMIUM_PATH=${env} does not exist` };
  const names = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];
  const dirs = [...new Set(['/usr/bin', '/snap/bin', ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean)])];
  for (const dir of dirs) {
    for (const name of names) if (existsSync(join(dir, name))) return { path: join(dir, name) };
  }
  return {
    missing: `no Chromium (${names.join(', ')}) on PATH or in /usr/bin, /snap/bin; install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`,
  };
}
