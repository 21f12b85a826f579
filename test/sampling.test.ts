import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import { applyMinP, applyRepetitionPenalty, applyTopK, applyTopP, processLogits, validateSamplingOptions } from '../src/generation/logits-process.js';
import { argmax, pickNextToken, Rng, sampleFromLogits } from '../src/generation/sampler.js';
import { TextStreamer } from '../src/generation/streamer.js';

const row = (...v: number[]) => Float32Array.from(v);
const kept = (x: Float32Array) => Array.from(x, (v, i) => (v === -Infinity ? -1 : i)).filter((i) => i >= 0);

describe('logits processors (HF semantics)', () => {
  test('repetition penalty divides positive and multiplies negative logits, once per distinct id', () => {
    const x = row(2, -2, 1, 4);
    applyRepetitionPenalty(x, [0, 1, 1, 0], 2);
    assert.deepEqual(Array.from(x), [1, -4, 1, 4]);
  });
  test('top-k keeps the k largest and ties with the k-th', () => {
    const x = row(1, 5, 3, 3, 0);
    applyTopK(x, 2);
    assert.deepEqual(kept(x), [1, 2, 3]);
  });
  test('top-p keeps the smallest set reaching the mass', () => {
    // probabilities 0.5, 0.3, 0.15, 0.05
    const x = row(...[0.5, 0.3, 0.15, 0.05].map(Math.log));
    applyTopP(x, 0.7);
    assert.deepEqual(kept(x), [0, 1]);
    const y = row(...[0.5, 0.3, 0.15, 0.05].map(Math.log));
    applyTopP(y, 0.81);
    assert.deepEqual(kept(y), [0, 1, 2]);
    const z = row(...[0.5, 0.3, 0.15, 0.05].map(Math.log));
    applyTopP(z, 0.01);
    assert.deepEqual(kept(z), [0], 'the top token always stays');
  });
  test('min-p compares probabilities with minP × the top probability', () => {
    const x = row(...[0.5, 0.3, 0.15, 0.05].map(Math.log));
    applyMinP(x, 0.4); // threshold 0.2
    assert.deepEqual(kept(x), [0, 1]);
  });
  test('temperature and order: penalty, temperature, top-k, top-p, min-p', () => {
    const out = processLogits(row(2, 1, 0), [0], { doSample: true, temperature: 2, repetitionPenalty: 2, topK: 2 });
    assert.deepEqual(Array.from(out), [0.5, 0.5, -Infinity]);
    const greedy = processLogits(row(2, 1, 0), [0], { temperature: 2, repetitionPenalty: 4, topK: 1 });
    assert.deepEqual(Array.from(greedy), [0.5, 1, 0], 'greedy applies only the repetition penalty');
  });
  test('invalid options name the option and the range', () => {
    assert.throws(() => validateSamplingOptions({ temperature: 0 }), (e: Error) => e instanceof ArgumentError && /temperature must be a number > 0, got 0/.test(e.message));
    assert.throws(() => validateSamplingOptions({ topP: 1.5 }), /topP must be in \(0, 1\]/);
    assert.throws(() => validateSamplingOptions({ topK: 2.5 }), /topK must be an integer >= 0/);
    assert.throws(() => validateSamplingOptions({ minP: -0.1 }), /minP must be in \[0, 1\]/);
    assert.throws(() => validateSamplingOptions({ repetitionPenalty: 0 }), /repetitionPenalty must be a number > 0/);
  });
});

describe('sampler', () => {
  test('argmax takes the first maximum and skips NaN', () => {
    assert.equal(argmax(row(1, 3, 3, 2)), 1);
    assert.equal(argmax(row(NaN, 1, 0)), 1);
    assert.throws(() => argmax(row(NaN, NaN)), /every logit is NaN/);
  });
  test('seeded sampling is reproducible and differs across seeds', () => {
    const logits = row(...Array.from({ length: 50 }, (_, i) => Math.sin(i)));
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 20 }, () => pickNextToken(logits, [], { doSample: true }, rng));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });
  test('draw frequencies follow softmax(logits)', () => {
    const logits = row(0, 1, 2, -1);
    const p = Array.from(logits, Math.exp);
    const z = p.reduce((a, b) => a + b, 0);
    const counts = [0, 0, 0, 0];
    const rng = new Rng(123);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, rng)]!++;
    counts.forEach((c, i) => assert.ok(Math.abs(c / n - p[i]! / z) < 0.015, `token ${i}: ${c / n} vs ${p[i]! / z}`));
  });
  test('filtered tokens are never drawn', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 2000; i++) {
      const t = pickNextToken(row(3, 2.9, 0, -1), [], { doSample: true, topK: 2 }, rng);
      assert.ok(t === 0 || t === 1);
    }
  });
});

describe('TextStreamer', () => {
  // A fake byte-level decoder: ids are bytes of UTF-8.
  const decoder = { decode: (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids)) };
  test('holds back a character split across tokens, skips the prompt, and iterates', async () => {
    const chunks: string[] = [];
    const s = new TextStreamer(decoder, { skipPrompt: true, onText: (t) => chunks.push(t) });
    const iterated = (async () => {
      const got: string[] = [];
      for await (const c of s) got.push(c);
      return got;
    })();
    const bytes = Array.from(new TextEncoder().encode('aé€b'));
    s.put([104, 105]); // the prompt "hi"
    for (const b of bytes) s.put([b]);
    s.end();
    assert.deepEqual(chunks, ['a', 'é', '€', 'b']);
    assert.deepEqual(await iterated, chunks);
  });
});
