/**
 * The CPU kernels' worker threads start under `node --input-type=module -e …` (the README's
 * one-line conversion commands): a worker inherits the process's Node options, and with
 * --input-type=module its CommonJS source failed ("require is not defined in ES module scope"),
 * its share of the work falling to the other threads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { test } from 'node:test';

const INDEX = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../src/index.js')).href;

// With a process-wide V8 option as well: a worker given such options explicitly refuses to start.
for (const flag of [['--input-type=module'], ['--input-type', 'module'], ['--max-old-space-size=384', '--input-type=module']]) {
  test(`CPU kernel workers start under node ${flag.join(' ')} -e`, () => {
    const code = `import { ops } from ${JSON.stringify(INDEX)};
const a = ops.randomUniform([512, 512], -1, 1, new ops.RandomSource(1));
const y = ops.matmul(a, a);
console.log((await y.data()).length);
await new Promise((done) => setTimeout(done, 1000)); // a failed worker reports asynchronously`;
    const env: NodeJS.ProcessEnv = { ...process.env, MAMBA_TS_THREADS: '2', MAMBA_TS_NO_WEBGPU: '1' };
    const run = spawnSync(process.execPath, [...flag, '-e', code], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), '262144');
    assert.doesNotMatch(run.stderr, /worker thread failed/);
  });
}
