/**
 * The suite runs the CPU backend on every core (MAMBA_TS_THREADS unset: os.availableParallelism()).
 * This runs the kernel conformance cases and the model fixtures (logits, generation, gradients)
 * once more on one thread, in a child process, so both thread counts are covered; the WebGPU cases
 * are left out there (they do not depend on the CPU's threads and already ran).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const HERE = dirname(fileURLToPath(import.meta.url));
const FILES = [
  'kernels', 'backward-kernels', 'scan', 'scan-backward', 'rows', 'attention', 'moe',
  'mamba-fixtures', 'jamba-fixtures', 'mamba-grads', 'mamba-step', 'autograd',
].map((f) => join(HERE, `${f}.test.js`));

test('conformance kernels and model fixtures pass on one CPU thread', { timeout: 300_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, MAMBA_TS_THREADS: '1', MAMBA_TS_NO_WEBGPU: '1' };
  delete env['NODE_TEST_CONTEXT']; // a child test run of its own, not a subtest of this one
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=dot', ...FILES], { env, encoding: 'utf8', timeout: 280_000 });
  assert.equal(r.status, 0, `one-thread run failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /\./, 'the child ran no test');
});
