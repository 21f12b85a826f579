/**
 * Node.js: what WebGPU adapter Dawn would give, found in a short-lived child process (see
 * src/backend/webgpu/probe-child.ts) so that Dawn's native warnings never reach this process's stderr, and a machine
 * whose only adapter is a software one never loads Dawn here at all.
 * Twin of ../browser/adapter-probe.ts (see ../README.md); reached as `#platform/adapter-probe.js`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterFacts } from '../../backend/webgpu/adapter-kind.js';

const CHILD = fileURLToPath(new URL('../../backend/webgpu/probe-child.js', import.meta.url));

export function probeAdapterInChild(timeoutMs = 30_000): Promise<{ facts: AdapterFacts } | { error: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CHILD], { timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const answer = JSON.parse(line) as { facts: AdapterFacts } | { error: string };
        if ('facts' in answer || 'error' in answer) return done(answer);
      } catch {
        // fall through: the child died before answering (a driver crash, a time-out)
      }
      done({ error: `the WebGPU probe failed${err ? `: ${err.killed ? `no answer within ${timeoutMs / 1000} s` : err.message.split('\n')[0]}` : ''}` });
    });
  });
}
