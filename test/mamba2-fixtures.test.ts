/**
 * Mamba-2 against HuggingFace transformers' own outputs (../shared/fixtures/hf/mamba2-tiny: 8 heads
 * of 16, N = 16, chunk 8, L = 24): logits and every hidden state within 1e-4 × max|ref|, the loss,
 * every parameter gradient within 1e-3 × max|ref|, greedy generation through the cache identical,
 * the recurrent step equal to the parallel path, and a left-padded batch equal to its rows alone.
 * On WebGPU the gradients go through the fused SSD backward (checked to run once per layer).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import '../src/autograd/backward.js';
import { getBackend } from '../src/backend/registry.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { Mamba2ForCausalLM } from '../src/models/mamba2/modeling.js';
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

const NAME = 'mamba2-tiny';

for (const device of await availableDevices()) {
  describe(`${NAME} on ${device}`, () => {
    const inputs = JSON.parse(readFileSync(fixture('hf', NAME, 'inputs.json'), 'utf8')) as Inputs;
    const expected = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', NAME, 'expected.safetensors'))), 'expected.safetensors');
    let model: Mamba2ForCausalLM;

    test('loads', async () => {
      model = await Mamba2ForCausalLM.fromPretrained(fixture('hf', NAME, 'model'), { device });
      assert.equal(model.config.numLayers, 2);
      assert.equal(model.lm_head, null);
    });

    test('logits and hidden states match HF within 1e-4 of max|ref|', async () => {
      const out = await model.forward(inputs.input_ids, { outputHiddenStates: true });
      await assertLogitsAndHiddenStates(out, expected);
    });

    test('greedy generate through the cache equals HF exactly', async () => {
      const prompts = inputs.input_ids.map((r) => r.slice(0, inputs.prompt_len));
      const ids = await model.generate(prompts, { maxNewTokens: inputs.new_tokens, doSample: false, eosTokenId: null });
      assert.deepEqual(ids, inputs.generated);
    });

    test('prefill L then one step equals prefill L+1; two prefill pieces equal one', async () => {
      const ids = inputs.input_ids;
      const L = 11; // not a multiple of the chunk (8)
      const before = liveTensorCount();
      const cache = model.createCache(ids.length);
      model.nextLogits(ids.map((r) => r.slice(0, L)), cache).dispose();
      const stepped = model.nextLogits(ids.map((r) => [r[L]!]), cache);
      const full = model.createCache(ids.length);
      const parallel = model.nextLogits(ids.map((r) => r.slice(0, L + 1)), full);
      assertClose('step vs parallel logits', await stepped.data(), await parallel.data(), 1e-5);
      const chunked = model.createCache(ids.length);
      model.nextLogits(ids.map((r) => r.slice(0, 5)), chunked).dispose();
      const second = model.nextLogits(ids.map((r) => r.slice(5, L + 1)), chunked);
      assertClose('two prefill pieces', await second.data(), await parallel.data(), 1e-5);
      for (const t of [stepped, parallel, second]) t.dispose();
      for (const c of [cache, full, chunked]) c.dispose();
      assert.equal(liveTensorCount(), before);
    });

    test('a left-padded batch of different-length prompts generates each row as alone', async () => {
      const prompts = [inputs.input_ids[0]!.slice(0, 5), inputs.input_ids[1]!.slice(0, 9)];
      const batch = await model.generate(prompts, { maxNewTokens: 6, eosTokenId: null });
      for (const [b, p] of prompts.entries()) {
        const [solo] = await model.generate([p], { maxNewTokens: 6, eosTokenId: null });
        assert.deepEqual(batch[b], solo, `row ${b}`);
      }
    });

    // Last: a parameter once marked for gradients keeps recording (requiresGrad_(false) does not unmark it).
    test('the loss and every parameter gradient match HF', async () => {
      const grads = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', NAME, 'grads.safetensors'))), 'grads.safetensors');
      model.requiresGrad_(true);
      const before = liveTensorCount();
      // Where the backend has the fused SSD backward (WebGPU), every layer's gradient goes through it.
      const backend = getBackend(device);
      const fusedBackward = backend.ssdChunkedBackward;
      let fusedRuns = 0;
      if (fusedBackward) {
        backend.ssdChunkedBackward = (...a) => {
          fusedRuns++;
          return fusedBackward.apply(backend, a);
        };
      }
      try {
        const out = await model.forward(inputs.input_ids, { labels: inputs.input_ids });
        const loss = (await out.loss!.data())[0]!;
        assert.ok(Math.abs(loss - inputs.loss) <= 1e-5 * Math.max(1, Math.abs(inputs.loss)), `loss ${loss} vs HF ${inputs.loss}`);
        out.loss!.backward();
        out.loss!.dispose();
        out.logits.dispose();
      } finally {
        delete (backend as { ssdChunkedBackward?: unknown }).ssdChunkedBackward;
      }
      if (fusedBackward && process.env['MAMBA_TS_SSD_BACKWARD'] !== 'composed') {
        assert.equal(fusedRuns, model.config.numLayers, 'the fused SSD backward ran once per layer');
      }
      const params = model.namedParameters();
      assert.equal(params.length, grads.names().length);
      for (const [pname, p] of params) {
        assert.ok(p.grad, `${pname} got no gradient`);
        assertClose(`grad ${pname}`, await p.grad.data(), grads.toFloat64(pname), 1e-3);
      }
      model.zeroGrad();
      assert.equal(liveTensorCount(), before, 'backward left tensors behind');
    });

    test('disposes', () => model.dispose());
  });
}
