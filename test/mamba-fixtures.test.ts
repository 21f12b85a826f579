/**
 * Mamba against HuggingFace transformers' own outputs (../shared/fixtures/hf): logits and every
 * hidden state within 1e-4 × max|ref|, greedy generation through the cache identical, and the
 * recurrent step equal to the parallel path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { generateSteps } from '../src/generation/generate.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { availableDevices } from './devices.js';
import { assertLogitsAndHiddenStates } from './hf-outputs.js';
import { assertClose, fixture } from './helpers.js';

interface Inputs {
  input_ids: number[][];
  loss: number;
  prompt_len: number;
  new_tokens: number;
  generated: number[][];
}

for (const device of await availableDevices()) {
  for (const name of ['mamba-tiny', 'mamba-tiny-bf16']) {
    describe(`${name} on ${device}`, () => {
      const inputs = JSON.parse(readFileSync(fixture('hf', name, 'inputs.json'), 'utf8')) as Inputs;
      const expected = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', name, 'expected.safetensors'))), 'expected.safetensors');
      let model: MambaForCausalLM;

      test('loads', async () => {
        model = await MambaForCausalLM.fromPretrained(fixture('hf', name, 'model'), { device });
        assert.equal(model.config.numLayers, 2);
      });

      test('logits and hidden states match HF within 1e-4 of max|ref|', async () => {
        const out = await model.forward(inputs.input_ids, { outputHiddenStates: true });
        await assertLogitsAndHiddenStates(out, expected);
      });

      test('the loss with labels equals HF within 1e-5', async () => {
        const out = await model.forward(inputs.input_ids, { labels: inputs.input_ids });
        const loss = (await out.loss!.data())[0]!;
        assert.ok(Math.abs(loss - inputs.loss) <= 1e-5 * Math.abs(inputs.loss), `loss ${loss} vs HF ${inputs.loss}`);
        out.loss!.dispose();
        out.logits.dispose();
      });

      test('greedy generate through the cache equals HF exactly', async () => {
        const prompts = inputs.input_ids.map((r) => r.slice(0, inputs.prompt_len));
        const ids = await model.generate(prompts, { maxNewTokens: inputs.new_tokens, doSample: false, eosTokenId: null });
        assert.deepEqual(ids, inputs.generated);
      });

      test('eos stops a row (then padded) and stopping early leaks nothing', async () => {
        const P = inputs.prompt_len;
        const prompts = inputs.input_ids.map((r) => r.slice(0, P));
        const eos = inputs.generated[0]![P + 3]!;
        // What HF does: a row that emitted eos continues with the pad id; all rows done → stop.
        const rows = inputs.generated.map((r) => [...r]);
        const doneAt = rows.map((r) => r.slice(P).indexOf(eos));
        const steps = doneAt.every((d) => d >= 0) ? Math.max(...doneAt) + 1 : inputs.new_tokens;
        const want = rows.map((r, b) => [
          ...r.slice(0, P),
          ...r.slice(P, P + steps).map((t, i) => (doneAt[b]! >= 0 && i > doneAt[b]! ? 0 : t)),
        ]);
        const before = liveTensorCount();
        const got = await model.generate(prompts, { maxNewTokens: inputs.new_tokens, eosTokenId: eos, padTokenId: 0 });
        assert.deepEqual(got, want);
        let n = 0;
        for await (const _ of generateSteps(model, prompts, { maxNewTokens: 12, eosTokenId: null })) if (++n === 2) break;
        assert.equal(liveTensorCount(), before);
      });

      test('prefill L then one step equals prefill L+1', async () => {
        const ids = inputs.input_ids;
        const L = 11;
        const cache = model.createCache(ids.length);
        model.nextLogits(ids.map((r) => r.slice(0, L)), cache).dispose();
        const stepped = model.nextLogits(ids.map((r) => [r[L]!]), cache);
        const full = model.createCache(ids.length);
        const parallel = model.nextLogits(ids.map((r) => r.slice(0, L + 1)), full);
        assertClose('step vs parallel logits', await stepped.data(), await parallel.data(), 1e-5);
        // chunked prefill (two parallel pieces) equals one piece, too
        const chunked = model.createCache(ids.length);
        model.nextLogits(ids.map((r) => r.slice(0, 5)), chunked).dispose();
        const second = model.nextLogits(ids.map((r) => r.slice(5, L + 1)), chunked);
        assertClose('chunked prefill logits', await second.data(), await parallel.data(), 1e-5);
        for (const t of [stepped, parallel, second]) t.dispose();
        for (const c of [cache, full, chunked]) c.dispose();
      });

      test('disposes', () => model.dispose());
    });
  }
}
