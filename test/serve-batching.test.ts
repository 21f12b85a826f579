/**
 * Continuous batching below the HTTP layer: Mamba cache rows regrouped (gatherCacheRows), and the
 * Scheduler's sequences equal to solo generate() runs on every backend present, with sequences
 * joining and leaving the batch at different steps.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { gatherCacheRows } from '../src/models/mamba/cache-rows.js';
import type { MambaCache } from '../src/models/mamba/cache.js';
import type { GenerateOptions } from '../src/generation/generate.js';
import { Scheduler, type SequenceEnd } from '../src/serve/scheduler.js';
import { RowBatchDecoder, type PrefilledRow, type RowOutput, type RowPick } from '../src/serve/decoder.js';
import { Rng } from '../src/generation/sampler.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { availableDevices } from './devices.js';

const BUNDLED = resolve(dirname(fileURLToPath(import.meta.url)), '../../models/mamba-shakespeare');

describe('gatherCacheRows', () => {
  const models: MambaForCausalLM[] = [];
  after(() => models.forEach((m) => m.dispose()));

  test('rows of several caches, in any order, are copies of those rows; bad rows are refused', async () => {
    const model = (await AutoModelForCausalLM.fromPretrained(BUNDLED)) as MambaForCausalLM;
    models.push(model);
    const a = model.createCache(2);
    model.nextLogits([[13, 14, 15], [20, 21, 22]], a).dispose();
    const b = model.createCache(1);
    model.nextLogits([[40, 41]], b).dispose();
    const rows = [{ cache: b, row: 0 }, { cache: a, row: 1 }, { cache: a, row: 0 }];
    const g = gatherCacheRows(rows);
    assert.equal(g.batchSize, 3);
    const rowOf = async (c: MambaCache, layer: number, row: number, part: 'conv' | 'ssm') => {
      const t = c.states[layer]![part];
      const n = t.size / t.shape[0]!;
      return Array.from(((await t.data()) as Float32Array).subarray(row * n, (row + 1) * n));
    };
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      for (const part of ['conv', 'ssm'] as const) {
        for (const [j, r] of rows.entries()) assert.deepEqual(await rowOf(g, layer, j, part), await rowOf(r.cache, layer, r.row, part), `layer ${layer} ${part} row ${j}`);
      }
    }
    assert.throws(() => gatherCacheRows([]), /no rows/);
    assert.throws(() => gatherCacheRows([{ cache: a, row: 2 }]), /row 2 is outside the cache's batch \[0, 2\)/);
    const empty = model.createCache(1);
    assert.throws(() => gatherCacheRows([{ cache: empty, row: 0 }]), /feed its prompt first/);
    for (const c of [a, b, g, empty]) c.dispose();
  });
});

for (const device of await availableDevices()) {
  describe(`Scheduler on ${device}`, () => {
    test('sequences joining and leaving a running batch get the tokens of solo generate() runs', async () => {
      const model = (await AutoModelForCausalLM.fromPretrained(BUNDLED, { device })) as MambaForCausalLM;
      try {
        // Software WebGPU (lavapipe) is slow: shorter sequences there, still joining and leaving.
        const cap = device === 'cpu' ? Infinity : 7;
        const cases: { prompt: number[]; max: number; o: GenerateOptions }[] = [
          { prompt: [13, 14, 15, 16, 17], max: 24, o: {} },
          { prompt: [20], max: 6, o: { doSample: true, temperature: 0.9, seed: 11 } },
          { prompt: [30, 31, 32], max: 17, o: { doSample: true, topK: 8, seed: 12 } },
          { prompt: [1, 2, 3, 4, 5, 6, 7, 8, 9], max: 11, o: {} },
          { prompt: [50, 51], max: 19, o: { doSample: true, topP: 0.8, minP: 0.05, seed: 13 } },
          { prompt: [45], max: 3, o: { repetitionPenalty: 1.5 } },
        ].map((c) => ({ ...c, max: Math.min(c.max, cap) }));
        const sizes: number[] = [];
        await model.generate([[1]], { maxNewTokens: 1 }); // the first run builds the mixers' cached -exp(A_log)
        const live = liveTensorCount();
        const scheduler = new Scheduler(model, { maxActive: 3, maxQueued: 10, onStep: (n) => sizes.push(n) });
        const served = await Promise.all(
          cases.map(
            (c) =>
              new Promise<{ tokens: number[]; end: SequenceEnd }>((done) => {
                const tokens: number[] = [];
                const { doSample, temperature, topK, topP, minP, repetitionPenalty, seed } = c.o;
                scheduler.submit({
                  prompt: c.prompt,
                  maxTokens: c.max,
                  sampling: { doSample, temperature, topK, topP, minP, repetitionPenalty, seed },
                  eos: new Set(),
                  onToken: (id) => void tokens.push(id),
                  onEnd: (end) => done({ tokens, end }),
                });
              }),
          ),
        );
        await scheduler.close();
        // The model keeps its greedy batches' decode recordings (and their state buffers) for the
        // next batch of that size: freed here, the rows' own states must all be gone.
        model.releaseDecodeRecordings();
        assert.equal(liveTensorCount(), live, 'every row left the batch and its state was freed');
        assert.ok(Math.max(...sizes) === 3, `the batch filled up (step sizes ${sizes.join(',')})`);
        for (const [i, c] of cases.entries()) {
          const solo = (await model.generate([c.prompt], { maxNewTokens: c.max, eosTokenId: null, ...c.o }))[0]!.slice(c.prompt.length);
          assert.deepEqual(served[i]!.tokens, solo, `sequence ${i} (${JSON.stringify(c.o)})`);
          assert.deepEqual(served[i]!.end, { kind: 'finished', reason: 'length', generated: c.max });
        }
      } finally {
        model.dispose();
      }
    });
  });
}

for (const device of await availableDevices()) {
  test(`RowBatchDecoder on ${device}: a batch of greedy and sampled rows picks on the device (only ids come back), through the replayed step where there is one; a row with a repetition penalty gets its logits`, async () => {
    const model = (await AutoModelForCausalLM.fromPretrained(BUNDLED, { device })) as MambaForCausalLM;
    const decoder = new RowBatchDecoder(model);
    try {
      const steps = device === 'cpu' ? 8 : 5; // lavapipe is slow
      const cases: { prompt: number[]; o: GenerateOptions }[] = [
        { prompt: [13, 14, 15], o: {} },
        { prompt: [20, 21], o: { doSample: true, temperature: 0.9, seed: 5 } },
        { prompt: [30], o: { doSample: true, topK: 8, topP: 0.9, minP: 0.05, temperature: 1.2, seed: 6 } },
      ];
      const pickOf = (o: GenerateOptions): RowPick => ({
        kind: 'device',
        options: o.doSample ? { temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0 } : 'greedy',
        rngState: new Rng(o.seed).state(),
      });
      const tokens: number[][] = cases.map(() => []);
      const idOf = (out: RowOutput) => {
        assert.equal(out.kind, 'id', 'a row picked on the device gives its id, not its logits');
        return out.kind === 'id' ? out.id : -1;
      };
      const rows: PrefilledRow[] = [];
      for (const [i, c] of cases.entries()) {
        const { row, out } = await decoder.prefill(c.prompt, pickOf(c.o));
        rows.push(row);
        tokens[i]!.push(idOf(out));
      }
      // A row with a repetition penalty joins for two steps: its logits come back, the others still pick on the device.
      const host = await decoder.prefill([45], { kind: 'host' });
      assert.equal(host.out.kind, 'logits');
      decoder.regroup([], [...rows, host.row]);
      for (let s = 0; s < 2; s++) {
        const outs = await decoder.step([...tokens.map((t) => t[t.length - 1]!), 7]);
        const last = outs[cases.length]!;
        assert.equal(last.kind, 'logits');
        assert.equal(last.kind === 'logits' && last.logits.length, model.vocabSize);
        outs.slice(0, cases.length).forEach((o, i) => tokens[i]!.push(idOf(o)));
      }
      assert.equal(decoder.replayedSteps, 0, 'a row picked on the host: no replayed step');
      decoder.regroup([0, 1, 2], []);
      for (let s = 2; s < steps; s++) (await decoder.step(tokens.map((t) => t[t.length - 1]!))).forEach((o, i) => tokens[i]!.push(idOf(o)));
      if (device === 'webgpu') assert.ok(decoder.replayedSteps > 0, 'the sampled batch ran through the replayed decode step');
      for (const [i, c] of cases.entries()) {
        const solo = (await model.generate([c.prompt], { maxNewTokens: steps + 1, eosTokenId: null, ...c.o }))[0]!.slice(c.prompt.length);
        assert.deepEqual(tokens[i], solo, `row ${i} (${JSON.stringify(c.o)})`);
      }
    } finally {
      decoder.dispose();
      model.dispose();
    }
  });
}
