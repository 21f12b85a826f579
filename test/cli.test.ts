/** The `mamba-ts` command, run as a user runs it: output, exit codes and one-line errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { SHARED, fixture } from './helpers.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const MODEL = fixture('hf', 'mamba-tiny', 'model');
const TOKENIZER = resolve(SHARED, 'data/tokenizers/gpt-neox-20b');

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('mamba-ts CLI', () => {
  test('generate --help explains every sampling flag', () => {
    const r = run('generate', '--help');
    assert.equal(r.code, 0);
    for (const flag of ['--model', '--tokenizer', '--max-new-tokens', '--sample', '--temperature', '--top-k', '--top-p', '--min-p', '--repetition-penalty', '--seed', '--device', '--no-eos']) {
      assert.ok(r.out.includes(flag), `--help lacks ${flag}`);
    }
  });

  test('playground --port outside 0..65535 is an argument error naming --port', () => {
    const r = run('playground', '--port', '70000');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /--port must be an integer from 0 to 65535, got "70000"/);
  });

  test('generate streams the prompt and its continuation', () => {
    const r = run('generate', '--model', MODEL, '--tokenizer', TOKENIZER, '-n', '4', 'The');
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith('The') && r.out.length > 'The\n'.length, JSON.stringify(r.out));
  });

  test('the main job: with no --model, the bundled TinyShakespeare model continues the prompt', () => {
    const r = run('generate', '-n', '120', 'ROMEO:');
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith('ROMEO:\n'), JSON.stringify(r.out));
    // Shakespeare-like: a speaker's name in capitals followed by a colon on a line of its own.
    assert.match(r.out.slice('ROMEO:'.length), /\n[A-Z][A-Z ]+:\n/, JSON.stringify(r.out));
  });

  test('seeded sampling is reproducible from the command line', () => {
    const args = ['generate', '--model', MODEL, '--tokenizer', TOKENIZER, '-n', '6', '--sample', '--top-k', '20', '--seed', '7', 'The'];
    assert.equal(run(...args).out, run(...args).out);
  });

  test('a missing model folder is one line naming config.json, exit 1, no stack trace', () => {
    const r = run('generate', '--model', '/nonexistent-model', 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /^mamba-ts: \/nonexistent-model\/config\.json: /);
    assert.doesNotMatch(r.err, /\n\s+at /);
  });

  test('an out-of-range option names the flag and the range', () => {
    const r = run('generate', '--model', MODEL, '--top-p', '2', 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /--top-p must be in \(0, 1\], got "2"/);
  });

  test('token ids the model does not have are reported, not used', () => {
    const r = run('generate', '--model', MODEL, '--tokenizer', TOKENIZER, 'Hello world');
    assert.equal(r.code, 1);
    assert.match(r.err, /is not a token id of this model \(vocabulary \[0, 512\)\)/);
  });

  test('experiment: JSON lines on stdout, a progress bar with loss and accuracy on stderr unless --quiet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mamba-ts-experiment-'));
    try {
      const config = join(dir, 'exp.json');
      writeFileSync(config, JSON.stringify({ task: 'induction-heads', model: { hidden_size: 16, num_hidden_layers: 1 }, trainLength: 32, steps: 4, warmupSteps: 1, batchSize: 4, evalInterval: 2, testLengths: [32], testBatches: 1, testBatchSize: 4, outDir: join(dir, 'out') }));
      const r = run('experiment', '--config', config);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>); // every line parses
      assert.deepEqual(lines.map((l) => l['step'] ?? l['test_length'] ?? l['task']), [2, 4, 32, 'induction-heads']);
      const last = lines[1]!;
      // Written to a pipe, the bar prints its first and its last state (and one line per 10 s between).
      assert.match(r.err, /^step 0\/4 \|.*\| loss - \| accuracy - \|/);
      const end = /step 4\/4 \|.*\| loss (\d+\.\d{4}) \| accuracy (\d\.\d{4}) \|/.exec(r.err);
      assert.ok(end, r.err);
      assert.deepEqual([Number(end[1]), Number(end[2])], [last['loss'], last['accuracy']]); // the bar shows the last evaluation
      // outDir now holds a checkpoint: a second run continues it (--resume) or replaces it (--overwrite).
      const again = run('experiment', '--config', config, '--quiet');
      assert.equal(again.code, 1);
      assert.match(again.err, /experiment: .*checkpoint already holds a checkpoint from an earlier run; pass --resume/);
      const quiet = run('experiment', '--config', config, '--quiet', '--overwrite');
      assert.equal(quiet.code, 0, quiet.err);
      assert.equal(quiet.err, '');
      assert.equal(quiet.out.trim().split('\n').length, 4);
      // A resume of the finished run tests again: no steps, the same accuracy, still one run.
      const resumed = run('experiment', '--config', config, '--quiet', '--resume');
      assert.equal(resumed.code, 0, resumed.err);
      const summary = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as { runs: number; steps: number; accuracy: unknown };
      assert.equal(resumed.out.trim().split('\n').length, 2);
      assert.deepEqual([summary(resumed.out).runs, summary(resumed.out).steps], [1, 4]);
      assert.deepEqual(summary(resumed.out).accuracy, summary(quiet.out).accuracy);
      // --evaluate measures the saved model again: the same accuracy as the run recorded.
      const ev = run('experiment', '--evaluate', join(dir, 'out'));
      assert.equal(ev.code, 0, ev.err);
      const report = JSON.parse(ev.out.trim().split('\n').at(-1)!) as { accuracy: unknown; recorded: unknown };
      assert.deepEqual(report.accuracy, report.recorded);
      const both = run('experiment', '--config', config, '--evaluate', join(dir, 'out'));
      assert.equal(both.code, 1);
      assert.match(both.err, /give either --config <file> \(train\) or --evaluate <dir>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('info --json describes the model', () => {
    const r = run('info', '--model', MODEL, '--json');
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out) as { parameters: number; numLayers: number; decodeStateBytesPerSequence: number };
    assert.equal(d.parameters, 98_240);
    assert.equal(d.numLayers, 2);
    assert.equal(d.decodeStateBytesPerSequence, 2 * (128 * 3 + 128 * 16) * 4);
  });
});
