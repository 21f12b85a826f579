/**
 * Fairness under load (issue 14): CPU generation hands the event loop a macrotask every ~20 ms, so
 * a timer keeps firing during a long generation (it fired 0 times during 2,000 tokens), and a
 * second generation started from a macrotask (a timer; in a server, a request arriving) runs
 * alongside the first instead of waiting for it to end. Not timed
 * tests of speed: the bounds are liveness bounds, loose enough for a loaded 2-core machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUNDLED_MODEL } from '../src/cli/generate.js';
import { EventLoopYielder, macrotaskScheduler, yieldToEventLoop } from '../src/event-loop.js';
import { UnsupportedError } from '../src/errors.js';
import { generateSteps } from '../src/generation/generate.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { WindowSet } from '../src/timeseries/dataset.js';
import { createForecaster } from '../src/timeseries/models.js';
import { evaluateForecaster } from '../src/train/forecast-trainer.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { runTraining } from '../src/train/trainer.js';
import { randomArray, SHARED } from './helpers.js';

/** Runs `work` while a 10 ms interval ticks; the ticks and the longest wait between them (or the ends). */
async function underTimer(work: () => Promise<unknown>): Promise<{ ticks: number; maxGapMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { ticks, maxGapMs: Math.max(maxGapMs, performance.now() - last) };
}

describe('yielding to the event loop', () => {
  test('every scheduler resolves in a later macrotask: setImmediate, MessageChannel (browsers), setTimeout', async () => {
    const kinds = {
      setImmediate: macrotaskScheduler({ setImmediate }),
      MessageChannel: macrotaskScheduler({ MessageChannel }),
      setTimeout: macrotaskScheduler({ setTimeout }),
    };
    for (const [name, schedule] of Object.entries(kinds)) {
      const order: string[] = [];
      const done = new Promise<void>((resolve) => schedule(() => (order.push('macrotask'), resolve())));
      void Promise.resolve().then(() => order.push('microtask'));
      order.push('sync');
      await done;
      assert.deepEqual(order, ['sync', 'microtask', 'macrotask'], name);
    }
    assert.throws(() => macrotaskScheduler({}), UnsupportedError);
  });

  test('a timer that is due runs before yieldToEventLoop resolves', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const until = performance.now() + 5;
    while (performance.now() < until); // the timer is now due
    await yieldToEventLoop();
    await yieldToEventLoop(); // a timer due before a loop turn runs within the next two turns
    assert.ok(fired);
  });

  test('EventLoopYielder yields only once its interval has passed', async () => {
    const y = new EventLoopYielder(1_000_000);
    let fired = false;
    setImmediate(() => (fired = true));
    for (let i = 0; i < 1000; i++) await y.maybeYield();
    assert.equal(fired, false, 'no macrotask ran: the interval had not passed');
    const every = new EventLoopYielder(0);
    await every.maybeYield();
    assert.equal(fired, true);
  });
});

describe('CPU generation shares the event loop', () => {
  let model: MambaForCausalLM;
  before(async () => {
    model = await MambaForCausalLM.fromPretrained(BUNDLED_MODEL);
    await model.generate([[1]], { maxNewTokens: 2, eosTokenId: null }); // one-time set-up (kernels, threads) is not what is measured
  });
  after(() => model.dispose());

  test('a 10 ms timer keeps firing during a 600-token greedy generation, and during sampling (it fired 0 times)', async () => {
    for (const sampling of [{}, { doSample: true, seed: 3 }]) {
      const { ticks, maxGapMs } = await underTimer(() => model.generate([[10, 20, 30]], { maxNewTokens: 600, eosTokenId: null, ...sampling }));
      assert.ok(ticks >= 3, `${JSON.stringify(sampling)}: the timer fired ${ticks} times`);
      assert.ok(maxGapMs < 400, `${JSON.stringify(sampling)}: the timer waited up to ${maxGapMs.toFixed(0)} ms`);
    }
  });

  test('a generation started by a timer (as a request arriving would start one) runs alongside one already running (it waited for it to end)', async () => {
    const order: string[] = [];
    const run = async (name: string, prompt: number[]) => {
      for await (const _ of generateSteps(model, [prompt], { maxNewTokens: 400, eosTokenId: null })) order.push(name);
    };
    const first = run('A', [1, 2, 3]);
    const second = new Promise<void>((resolve, reject) => setTimeout(() => run('B', [4, 5, 6]).then(resolve, reject), 0));
    await Promise.all([first, second]);
    assert.equal(order.length, 800);
    const lastA = order.lastIndexOf('A');
    assert.ok(order.indexOf('B') < lastA, `B's first token (#${order.indexOf('B')}) came after A's last (#${lastA})`);
    const switches = order.filter((x, i) => i > 0 && x !== order[i - 1]).length;
    assert.ok(switches >= 3, `the generations took turns ${switches} times`);
  });
});

describe('training and evaluation loops share the event loop', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-event-loop-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a timer fires between the steps of a language-model training run, with no checkpoint I/O in between (it fired only when saving)', async () => {
    const corpus = join(tmp, 'corpus.txt');
    writeFileSync(corpus, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 20000));
    const c = parseTrainConfig(
      { model: { hidden_size: 32, num_hidden_layers: 2, use_bias: false }, data: { path: corpus }, steps: 24, batchSize: 2, seqLen: 32, evalInterval: 24, evalBatches: 1, checkpointInterval: 24, outDir: join(tmp, 'lm') },
      'test config',
    );
    let ticks = 0;
    let inLoop: number | null = null; // ticks seen from step 1's report to step 23's (no I/O happens there)
    const timer = setInterval(() => ticks++, 10);
    try {
      await runTraining(c, {
        onProgress: (p) => {
          if (p.step === 1) inLoop = ticks;
          if (p.step === 23) inLoop = ticks - inLoop!;
        },
      });
    } finally {
      clearInterval(timer);
    }
    assert.ok(inLoop! >= 1, `the timer fired ${inLoop} times during 22 training steps`);
  });

  test('a timer keeps firing while a forecasting model is evaluated batch after batch', async () => {
    const model = createForecaster({ model_type: 'dlinear', lookback: 96, horizon: 24, n_vars: 7 }, 'dlinear', 'cpu');
    try {
      model.initWeights(0);
      // Enough batches for ~0.3 s of work on a fast machine: the evaluation yields every ~20 ms, and
      // 3,000 rows (~0.1 s) left room for only 2 timer ticks on one CI run.
      const set = new WindowSet(randomArray(12000 * 7, 1), 7, 96, 24);
      const { ticks } = await underTimer(() => evaluateForecaster(model, set, 4));
      assert.ok(ticks >= 3, `the timer fired ${ticks} times over ${Math.ceil(set.count / 4)} batches`);
    } finally {
      model.dispose();
    }
  });
});
