/**
 * Jamba against HuggingFace transformers' own outputs (../shared/fixtures/hf/jamba-tiny), on every
 * device present (CPU, WebGPU): logits and every hidden state within 1e-4 × max|ref|; aux_loss and loss (CE +
 * router_aux_loss_coef · aux_loss) within 1e-5 × max(1, |ref|); every parameter's gradient of that
 * loss within 1e-3 × max|ref|.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { assertClose, fixture } from './helpers.js';
import { availableDevices } from './devices.js';
import { assertLogitsAndHiddenStates } from './hf-outputs.js';

/**
 * The reference gradient of one of our parameters. transformers 5 stores the experts of a layer
 * fused — experts.gate_up_proj (E, 2I, H), gate rows first, and experts.down_proj (E, H, I) — where
 * the checkpoints (and our modules) have experts.{e}.gate_proj / up_proj / down_proj.
 */
function refGrad(grads: SafetensorsFile, name: string, size: number): Float64Array {
  const m = /^(.*\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$/.exec(name);
  if (!m) return grads.toFloat64(name);
  const e = Number(m[2]);
  if (m[3] === 'down_proj') return grads.toFloat64(`${m[1]}.down_proj`).subarray(e * size, (e + 1) * size);
  const at = (2 * e + (m[3] === 'up_proj' ? 1 : 0)) * size;
  return grads.toFloat64(`${m[1]}.gate_up_proj`).subarray(at, at + size);
}

interface Inputs {
  input_ids: number[][];
  loss: number;
  aux_loss: number;
  prompt_len: number;
  new_tokens: number;
  generated: number[][];
}

for (const device of await availableDevices())
describe(`jamba-tiny on ${device}`, () => {
  const inputs = JSON.parse(readFileSync(fixture('hf', 'jamba-tiny', 'inputs.json'), 'utf8')) as Inputs;
  const expected = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', 'jamba-tiny', 'expected.safetensors'))), 'expected.safetensors');
  let model: JambaForCausalLM;

  test('loads through AutoModelForCausalLM (model_type "jamba")', async () => {
    const m = await AutoModelForCausalLM.fromPretrained(fixture('hf', 'jamba-tiny', 'model'), { device });
    assert.ok(m instanceof JambaForCausalLM);
    model = m;
    assert.equal(model.config.fields.num_hidden_layers, 8);
  });

  test('logits and hidden states match HF within 1e-4 of max|ref|', async () => {
    const out = await model.forward(inputs.input_ids, { outputHiddenStates: true });
    out.auxLoss?.dispose();
    await assertLogitsAndHiddenStates(out, expected);
  });

  test('aux_loss and loss with labels equal HF within 1e-5', async () => {
    const out = await model.forward(inputs.input_ids, { labels: inputs.input_ids });
    const aux = (await out.auxLoss!.data())[0]!;
    const loss = (await out.loss!.data())[0]!;
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
    assert.ok(close(aux, inputs.aux_loss), `aux_loss ${aux} vs HF ${inputs.aux_loss}`);
    assert.ok(close(loss, inputs.loss), `loss ${loss} vs HF ${inputs.loss}`);
    for (const t of [out.logits, out.loss!, out.auxLoss!]) t.dispose();
  });

  test('greedy generate through the hybrid cache equals HF exactly', async () => {
    const prompts = inputs.input_ids.map((r) => r.slice(0, inputs.prompt_len));
    const ids = await model.generate(prompts, { maxNewTokens: inputs.new_tokens, doSample: false, eosTokenId: null });
    assert.deepEqual(ids, inputs.generated);
  });

  test('prefill L, then 3 tokens at once, then 1 equals the whole sequence (the cache chains any step size)', async () => {
    const ids = inputs.input_ids;
    const full = await model.forward(ids);
    const V = model.vocabSize;
    const L = ids[0]!.length;
    const want = (await full.logits.data()) as Float32Array;
    full.logits.dispose();
    const at = (t: number) => Float32Array.from(ids.flatMap((_, b) => Array.from(want.subarray((b * L + t) * V, (b * L + t + 1) * V))));
    const cache = model.createCache(ids.length);
    const steps: [number, number][] = [[0, 10], [10, 13], [13, 14]];
    for (const [a, b] of steps) {
      const lg = await model.nextLogits(ids.map((r) => r.slice(a, b)), cache);
      assertClose(`logits after ${b} tokens`, await lg.data(), at(b - 1), 1e-4);
      lg.dispose();
    }
    assert.equal(cache.seqlenOffset, 14);
    cache.dispose();
  });

  test('every parameter gradient of the loss (with the aux loss) matches HF within 1e-3 of max|ref|', async () => {
    const grads = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', 'jamba-tiny', 'grads.safetensors'))), 'grads.safetensors');
    model.requiresGrad_(true);
    const out = await model.forward(inputs.input_ids, { labels: inputs.input_ids });
    out.loss!.backward();
    for (const t of [out.logits, out.loss!, out.auxLoss!]) t.dispose();
    for (const [name, p] of model.namedParameters()) {
      assert.ok(p.grad, `${name} got no gradient`);
      assertClose(`grad ${name}`, await p.grad.data(), refGrad(grads, name, p.grad.size), 1e-3);
    }
    model.zeroGrad();
    model.requiresGrad_(false);
  });

  test('disposes', () => model.dispose());
});
