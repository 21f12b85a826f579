/**
 * Left-padded batches for Jamba (jamba-tiny), on every device: a batch of prompts of different
 * lengths gives, at every real position, the logits each prompt gives alone; greedy generation of
 * the batch equals generating each prompt alone, token for token; the aux loss of the padded batch
 * counts real tokens only; bad masks are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { leftPad } from '../src/generation/attention-mask.js';
import { loadBalancingLoss } from '../src/nn/moe.js';
import { concat } from '../src/ops/index.js';
import { tidy } from '../src/tensor/memory.js';
import { assertClose, fixture } from './helpers.js';
import { availableDevices } from './devices.js';

const inputs = JSON.parse(readFileSync(fixture('hf', 'jamba-tiny', 'inputs.json'), 'utf8')) as { input_ids: number[][] };
const ids = inputs.input_ids;
// Three prompts of different lengths (the longest sets the padding of the others).
const prompts = [ids[0]!.slice(0, 13), ids[1]!.slice(2, 7), ids[1]!.slice(0, 10)];

for (const device of await availableDevices())
describe(`jamba-tiny with left padding on ${device}`, () => {
  let model: JambaForCausalLM;
  test('loads', async () => {
    model = await JambaForCausalLM.fromPretrained(fixture('hf', 'jamba-tiny', 'model'), { device });
  });

  test('padded batch logits at real positions equal each prompt alone (1e-4 of max|ref|)', async () => {
    const { ids: padded, attentionMask } = leftPad(prompts, 0);
    const L = padded[0]!.length;
    const V = model.vocabSize;
    const out = await model.forward(padded, { attentionMask });
    const got = (await out.logits.data()) as Float32Array;
    out.logits.dispose();
    out.auxLoss?.dispose();
    for (const [b, p] of prompts.entries()) {
      const alone = await model.forward([p]);
      const want = (await alone.logits.data()) as Float32Array;
      alone.logits.dispose();
      alone.auxLoss?.dispose();
      const pad = L - p.length;
      assertClose(`row ${b} (${pad} pads)`, got.subarray((b * L + pad) * V, (b + 1) * L * V), want, 1e-4);
    }
  });

  test('left-padded batched greedy generation equals generating each prompt alone', async () => {
    const o = { maxNewTokens: 8, doSample: false, eosTokenId: null };
    const batched = await model.generate(prompts, o);
    assert.deepEqual(batched.map((r) => r.length), prompts.map((p) => p.length + 8));
    for (const [b, p] of prompts.entries()) assert.deepEqual(batched[b], (await model.generate([p], o))[0], `row ${b}`);
    // The caller's own padding and mask give the same tokens.
    const { ids: padded, attentionMask } = leftPad(prompts, 0);
    const own = await model.generate(padded, { ...o, attentionMask });
    own.forEach((r, b) => assert.deepEqual(r.slice(padded[0]!.length), batched[b]!.slice(prompts[b]!.length)));
  });

  test('sampled generation of a padded batch takes the host path and finishes', async () => {
    const out = await model.generate(prompts, { maxNewTokens: 3, doSample: true, seed: 3, eosTokenId: null });
    assert.deepEqual(out.map((r) => r.length), prompts.map((p) => p.length + 3));
  });

  test('the aux loss of a padded batch averages over real tokens only (as the prompts alone, pooled)', async () => {
    const { ids: padded, attentionMask } = leftPad(prompts, 0);
    const out = await model.forward(padded, { attentionMask });
    const got = (await out.auxLoss!.data())[0]!;
    out.logits.dispose();
    out.auxLoss!.dispose();
    const perLayer: import('../src/tensor/tensor.js').Tensor[][] = [];
    for (const p of prompts) {
      const r = await model.forward([p], { outputRouterLogits: true });
      r.logits.dispose();
      r.auxLoss?.dispose();
      r.routerLogits!.forEach((t, i) => (perLayer[i] ??= []).push(t));
    }
    const f = model.config.fields;
    const pooled = tidy(() => loadBalancingLoss(concat(perLayer.map((ts) => concat(ts, 0)), 0), f.num_experts, f.num_experts_per_tok));
    const want = (await pooled.data())[0]!;
    pooled.dispose();
    perLayer.flat().forEach((t) => t.dispose());
    assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `aux ${got} vs ${want}`);
  });

  test('bad masks are refused, naming the argument', async () => {
    await assert.rejects(model.forward([[1, 2, 3]], { attentionMask: [[1, 2, 1]] }), /attentionMask\[0\]\[1\] = 2; expected 0 \(padding\) or 1/);
    await assert.rejects(model.forward([[1, 2, 3]], { attentionMask: [[1, 1]] }), /attentionMask: row 0 must have 3 entries/);
    await assert.rejects(model.generate([[1, 2], [3]], { attentionMask: [[1, 1], [1]] }), /rows must already be padded/);
  });

  test('disposes', () => model.dispose());
});

test('a model without attention-mask support refuses prompts of different lengths', async () => {
  const m = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
  await assert.rejects(m.generate([[1, 2, 3], [4]], { maxNewTokens: 1 }), /rows have different lengths, and this model does not take an attention mask/);
  m.dispose();
});
