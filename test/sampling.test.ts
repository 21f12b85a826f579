import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import {
  applyMinP,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  processLogits,
  validateSamplingOptions,
  type SamplingOptions,
} from '../src/generation/logits-process.js';
import { argmax, pickNextToken, Rng, sampleFromLogits } from '../src/generation/sampler.js';
import { TextStreamer } from '../src/generation/streamer.js';
import { randomArray } from './helpers.js';

// Expected values marked "HF" were computed with transformers 5.17 / torch 2.11 on the CPU.

const row = (...v: number[]) => Float32Array.from(v);
const logs = (...p: number[]) => Float32Array.from(p, Math.log);
/** Indices that survived filtering. */
const kept = (x: Float32Array) => Array.from(x, (v, i) => (v === -Infinity ? -1 : i)).filter((i) => i >= 0);
const applied = (x: Float32Array, f: (x: Float32Array) => void) => (f(x), x);

describe('repetition penalty', () => {
  test('divides positive and multiplies negative logits, once per distinct id (HF)', () => {
    const x = applied(row(2, -2, 1, 4, 0), (x) => applyRepetitionPenalty(x, [0, 1, 1, 0, 4], 2));
    assert.deepEqual(Array.from(x), [1, -4, 1, 4, 0]);
  });
  test('float32 arithmetic bit-identical to torch (HF)', () => {
    const x = applied(row(1, -0.7, 1.7, 0.1), (x) => applyRepetitionPenalty(x, [0, 1, 2, 3], 1.1));
    assert.deepEqual(Array.from(x), [0.9090908765792847, -0.7699999809265137, 1.545454502105713, 0.09090909361839294]);
  });
  test('a penalty < 1 rewards repeated tokens', () => {
    const x = applied(row(2, -2, 1), (x) => applyRepetitionPenalty(x, [0, 1], 0.5));
    assert.deepEqual(Array.from(x), [4, -1, 1]);
  });
  test('an id outside the row is an error, not ignored', () => {
    assert.throws(() => applyRepetitionPenalty(row(1, 2), [2], 1.2), (e: unknown) => e instanceof ArgumentError && /token id 2 is outside the vocabulary \[0, 2\)/.test(e.message));
  });
});

describe('temperature, top-k, top-p, min-p', () => {
  test('temperature divides in float32 (HF)', () => {
    const x = applied(row(1.7, 0.1, -5.3), (x) => applyTemperature(x, 1.2));
    assert.deepEqual(Array.from(x), [1.4166666269302368, 0.0833333283662796, -4.416666507720947]);
  });
  test('top-k keeps the k largest and every tie with the k-th (HF)', () => {
    assert.deepEqual(kept(applied(row(1, 5, 3, 3, 0), (x) => applyTopK(x, 2))), [1, 2, 3]);
    assert.deepEqual(kept(applied(row(1, 5, 3, 3, 0), (x) => applyTopK(x, 1))), [1]);
    // -Infinity entries count toward k, as in torch.topk: nothing more is removed here (HF).
    assert.deepEqual(Array.from(applied(row(-Infinity, -Infinity, 1), (x) => applyTopK(x, 2))), [-Infinity, -Infinity, 1]);
    assert.deepEqual(kept(applied(row(1, 2, 3), (x) => applyTopK(x, 0))), [0, 1, 2], '0 = off');
    assert.deepEqual(kept(applied(row(1, 2, 3), (x) => applyTopK(x, 10))), [0, 1, 2], 'k > V keeps all');
  });
  test('top-k agrees with a full sort on large rows with many ties and -Infinity', () => {
    const x = randomArray(5000, 11, -4, 4).map((v) => Math.round(v * 8) / 8); // ~65 distinct values
    x[3] = -Infinity;
    for (const k of [1, 2, 7, 50, 333, 1500, 4999]) {
      const kth = Float32Array.from(x).sort()[x.length - k]!;
      const want = Array.from(x, (v, i) => (v < kth ? -1 : i)).filter((i) => i >= 0);
      assert.deepEqual(kept(applied(Float32Array.from(x), (y) => applyTopK(y, k))), want, `k = ${k}`);
    }
  });
  test('top-p keeps the smallest most-likely set reaching the mass (HF)', () => {
    // probabilities 0.5, 0.3, 0.15, 0.05
    assert.deepEqual(kept(applied(logs(0.5, 0.3, 0.15, 0.05), (x) => applyTopP(x, 0.7))), [0, 1]);
    assert.deepEqual(kept(applied(logs(0.5, 0.3, 0.15, 0.05), (x) => applyTopP(x, 0.81))), [0, 1, 2]);
    assert.deepEqual(kept(applied(logs(0.5, 0.3, 0.15, 0.05), (x) => applyTopP(x, 0.01))), [0], 'the top token always stays');
    assert.deepEqual(kept(applied(logs(0.5, 0.3, 0.15, 0.05), (x) => applyTopP(x, 1))), [0, 1, 2, 3], '1 = off');
  });
  test('top-p edge cases: exact mass, ties at the cut, already-removed tokens (HF)', () => {
    // Four equal tokens, topP 0.75: cumulative 0.25 <= 1 - 0.75 exactly, so one goes; of tied
    // tokens torch removes the lowest index first.
    assert.deepEqual(kept(applied(row(0, 0, 0, 0), (x) => applyTopP(x, 0.75))), [1, 2, 3]);
    assert.deepEqual(kept(applied(row(0, 0, 0, 0), (x) => applyTopP(x, 0.3))), [2, 3]);
    assert.deepEqual(kept(applied(row(-Infinity, 0, 0, -Infinity), (x) => applyTopP(x, 0.5))), [2]);
  });
  test('min-p keeps p >= minP × top p (HF)', () => {
    assert.deepEqual(kept(applied(logs(0.5, 0.3, 0.15, 0.05), (x) => applyMinP(x, 0.4))), [0, 1]); // threshold 0.2
    assert.deepEqual(kept(applied(row(2, 2, 1), (x) => applyMinP(x, 1))), [0, 1], 'ties with the top stay at minP = 1');
    assert.deepEqual(kept(applied(row(2, 2, 1), (x) => applyMinP(x, 0))), [0, 1, 2], '0 = off');
  });
});

describe('processLogits: HF order and greedy behaviour', () => {
  const sample = (x: Float32Array, o: SamplingOptions, prev: number[] = []) => processLogits(x, prev, { doSample: true, ...o });
  test('penalty, then temperature, then top-k', () => {
    const out = sample(row(2, 1, 0), { temperature: 2, repetitionPenalty: 2, topK: 2 }, [0]);
    assert.deepEqual(Array.from(out), [0.5, 0.5, -Infinity]);
  });
  test('min-p sees the probabilities after temperature (HF)', () => {
    assert.deepEqual(kept(sample(row(0, -1), { minP: 0.5 })), [0]); // e^-1 = 0.37 < 0.5
    assert.deepEqual(kept(sample(row(0, -1), { minP: 0.5, temperature: 2 })), [0, 1]); // e^-0.5 = 0.61
  });
  test('top-p renormalizes over what top-k left (HF)', () => {
    assert.deepEqual(kept(sample(logs(0.4, 0.3, 0.2, 0.1), { topP: 0.5 })), [0, 1]);
    assert.deepEqual(kept(sample(logs(0.4, 0.3, 0.2, 0.1), { topK: 2, topP: 0.5 })), [0]);
  });
  test('greedy applies only the repetition penalty, and the input is not modified', () => {
    const input = row(2, 1, 0);
    const greedy = processLogits(input, [0], { temperature: 2, repetitionPenalty: 4, topK: 1, topP: 0.1, minP: 0.9 });
    assert.deepEqual(Array.from(greedy), [0.5, 1, 0]);
    assert.deepEqual(Array.from(input), [2, 1, 0]);
  });
});

describe('validateSamplingOptions', () => {
  const bad = (o: SamplingOptions, re: RegExp) =>
    assert.throws(() => validateSamplingOptions(o), (e: unknown) => e instanceof ArgumentError && re.test(e.message), JSON.stringify(o));
  test('names the option, the valid range and the value', () => {
    bad({ doSample: true, temperature: 0 }, /temperature must be a number > 0 when sampling .*got 0/);
    bad({ temperature: -1 }, /temperature must be a number >= 0, got -1/);
    bad({ doSample: true, temperature: NaN }, /temperature/);
    bad({ topP: 1.5 }, /topP must be in \(0, 1\].*got 1\.5/);
    bad({ topP: 0 }, /topP must be in \(0, 1\]/);
    bad({ topK: 2.5 }, /topK must be an integer >= 0.*got 2\.5/);
    bad({ topK: -1 }, /topK must be an integer >= 0/);
    bad({ minP: -0.1 }, /minP must be in \[0, 1\]/);
    bad({ minP: 1.1 }, /minP must be in \[0, 1\]/);
    bad({ repetitionPenalty: 0 }, /repetitionPenalty must be a number > 0/);
    bad({ seed: 1.5 }, /seed must be an integer/);
  });
  test('accepts valid options, and temperature 0 when greedy', () => {
    validateSamplingOptions({});
    validateSamplingOptions({ temperature: 0 });
    validateSamplingOptions({ doSample: true, temperature: 0.7, topK: 50, topP: 1, minP: 0, repetitionPenalty: 1.3, seed: -3 });
  });
});

describe('Rng', () => {
  test('xoshiro128** reference outputs (Vigna\'s C code)', () => {
    const a = Rng.fromState([1, 2, 3, 4]);
    assert.deepEqual(Array.from({ length: 8 }, () => a.nextUint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    const b = Rng.fromState([0x9e3779b9, 0xdeadbeef, 0x12345678, 0xffffffff]);
    assert.deepEqual(Array.from({ length: 6 }, () => b.nextUint32()), [1162347276, 1472368062, 4030867362, 95343704, 3497588558, 2613181304]);
  });
  test('seeded streams repeat; different seeds (also beyond 32 bits) differ; values in [0, 1)', () => {
    const draw = (r: Rng) => Array.from({ length: 1000 }, () => r.next());
    const s = draw(new Rng(42));
    assert.deepEqual(s, draw(new Rng(42)));
    assert.notDeepEqual(s, draw(new Rng(43)));
    assert.notDeepEqual(draw(new Rng(1)), draw(new Rng(2 ** 32 + 1)));
    assert.notDeepEqual(draw(new Rng()), draw(new Rng()));
    assert.ok(s.every((v) => v >= 0 && v < 1));
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });
});

describe('argmax and sampling', () => {
  test('argmax takes the first maximum, skips NaN, and refuses an all-NaN row', () => {
    assert.equal(argmax(row(1, 3, 3, 2)), 1);
    assert.equal(argmax(row(NaN, 1, 0)), 1);
    assert.equal(argmax(row(-Infinity, -Infinity)), 0);
    assert.equal(argmax(row(1, Infinity, Infinity)), 1);
    assert.throws(() => argmax(row(NaN, NaN)), (e: unknown) => e instanceof ArgumentError && /all 2 logits are NaN/.test(e.message));
    assert.throws(() => argmax(row()), /empty row/);
  });
  test('seeded sampling is reproducible and differs across seeds', () => {
    const logits = row(...Array.from({ length: 50 }, (_, i) => Math.sin(i)));
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 40 }, () => pickNextToken(logits, [], { doSample: true, temperature: 0.8 }, rng));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });
  test('draw frequencies follow softmax(logits) over 20k draws', () => {
    const logits = row(0, 1, 2, -1, -Infinity, NaN);
    const e = [0, 1, 2, -1].map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    const counts = [0, 0, 0, 0, 0, 0];
    const rng = new Rng(123);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, rng)]!++;
    // Binomial standard deviation is <= 0.0036 here; 0.015 is over 4 of them.
    e.forEach((w, i) => assert.ok(Math.abs(counts[i]! / n - w / z) < 0.015, `token ${i}: ${counts[i]! / n} vs ${w / z}`));
    assert.equal(counts[4], 0, '-Infinity is never drawn');
    assert.equal(counts[5], 0, 'NaN is never drawn');
  });
  test('filtered tokens are never drawn; +Infinity takes all the mass; nothing left is an error', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 2000; i++) {
      const t = pickNextToken(row(3, 2.9, 0, -1), [], { doSample: true, topK: 2 }, rng);
      assert.ok(t === 0 || t === 1, `drew ${t}`);
    }
    for (let i = 0; i < 100; i++) assert.ok([1, 3].includes(sampleFromLogits(row(5, Infinity, 7, Infinity), rng)));
    assert.throws(() => sampleFromLogits(row(-Infinity, -Infinity), rng), /every token was filtered out/);
  });
  test('greedy picks the argmax after the repetition penalty, ignoring the sampling options', () => {
    const rng = new Rng(1);
    assert.equal(pickNextToken(row(2, 1.5), [], {}, rng), 0);
    assert.equal(pickNextToken(row(2, 1.5), [0], { repetitionPenalty: 2 }, rng), 1); // 2 / 2 < 1.5
    assert.equal(pickNextToken(row(2, 1.5), [], { temperature: 100, topK: 2 }, rng), 0);
  });
});

describe('TextStreamer', () => {
  /** A fake byte-level tokenizer: every id is one UTF-8 byte; records what it was asked. */
  const byteDecoder = () => {
    const calls: number[][] = [];
    return { calls, decode: (ids: number[]) => (calls.push([...ids]), new TextDecoder().decode(Uint8Array.from(ids))) };
  };
  const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

  test('multi-byte characters split across tokens come out whole; the prompt is skipped', () => {
    const chunks: string[] = [];
    const s = new TextStreamer(byteDecoder(), { skipPrompt: true, onText: (t) => chunks.push(t) });
    s.put(bytes('prompt'));
    for (const b of bytes('aé€🐍b')) s.put([b]);
    s.end();
    assert.deepEqual(chunks, ['a', 'é', '€', '🐍', 'b']);
  });
  test('text before an incomplete character is not held back with it', () => {
    const chunks: string[] = [];
    const s = new TextStreamer(byteDecoder(), { onText: (t) => chunks.push(t) });
    const euro = bytes('€');
    s.put([...bytes('ab'), euro[0]!]);
    assert.deepEqual(chunks, ['ab']);
    s.put([euro[1]!]);
    assert.deepEqual(chunks, ['ab']);
    s.put([euro[2]!]);
    assert.deepEqual(chunks, ['ab', '€']);
  });
  test('without skipPrompt the prompt is emitted; end() flushes an incomplete tail as U+FFFD', () => {
    const chunks: string[] = [];
    const s = new TextStreamer(byteDecoder(), { onText: (t) => chunks.push(t) });
    s.put(bytes('hi '));
    s.put([bytes('€')[0]!]);
    assert.deepEqual(chunks, ['hi ']);
    s.end();
    assert.deepEqual(chunks, ['hi ', '\uFFFD']);
  });
  test('a finished line restarts the decoded cache (as HF), so decoding does not grow with the output', () => {
    const dec = byteDecoder();
    const chunks: string[] = [];
    const s = new TextStreamer(dec, { onText: (t) => chunks.push(t) });
    for (const b of bytes('one\ntwo')) s.put([b]);
    s.end();
    assert.equal(chunks.join(''), 'one\ntwo');
    assert.deepEqual(dec.calls.at(-2), bytes('two'), 'after the newline only the new line is decoded');
  });
  test('async iteration yields the chunks as they come and ends after end()', async () => {
    const s = new TextStreamer(byteDecoder(), { skipPrompt: true });
    const got: string[] = [];
    const consumer = (async () => {
      for await (const c of s) got.push(c);
    })();
    s.put(bytes('prompt'));
    for (const b of bytes('xé')) {
      s.put([b]);
      await new Promise((r) => setTimeout(r, 1)); // the consumer runs between tokens
    }
    assert.deepEqual(got, ['x', 'é'], 'chunks arrive before end()');
    s.put(bytes('!'));
    s.end();
    await consumer;
    assert.deepEqual(got, ['x', 'é', '!']);
  });
  test('iterating after end() drains the buffered chunks and stops', async () => {
    const s = new TextStreamer(byteDecoder());
    s.put(bytes('ab'));
    s.put(bytes('c'));
    s.end();
    const got: string[] = [];
    for await (const c of s) got.push(c);
    assert.deepEqual(got, ['ab', 'c']);
  });
});
