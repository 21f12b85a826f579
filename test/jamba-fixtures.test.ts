/**
 * Jamba against HuggingFace transformers' own outputs (../shared/fixtures/hf/jamba-tiny), on the
 * CPU: logits and every hidden state within 1e-4 × max|ref|; aux_loss and loss (CE +
 * router_aux_loss_coef · aux_loss) within 1e-5 × max(1, |ref|).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { assertClose, fixture } from './helpers.js';

interface Inputs {
  input_ids: number[][];
  loss: number;
  aux_loss: number;
}

describe('jamba-tiny on cpu', () => {
  const inputs = JSON.parse(readFileSync(fixture('hf', 'jamba-tiny', 'inputs.json'), 'utf8')) as Inputs;
  const expected = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', 'jamba-tiny', 'expected.safetensors'))), 'expected.safetensors');
  let model: JambaForCausalLM;

  test('loads', async () => {
    model = await JambaForCausalLM.fromPretrained(fixture('hf', 'jamba-tiny', 'model'), { device: 'cpu' });
    assert.equal(model.config.fields.num_hidden_layers, 8);
  });

  test('logits and hidden states match HF within 1e-4 of max|ref|', async () => {
    const out = await model.forward(inputs.input_ids, { outputHiddenStates: true });
    assert.deepEqual(out.logits.shape, expected.entry('logits').shape);
    assertClose('logits', await out.logits.data(), expected.toFloat64('logits'), 1e-4);
    const hs = out.hiddenStates!;
    assert.equal(hs.length, expected.names().filter((n) => n.startsWith('hidden_')).length);
    for (let i = 0; i < hs.length; i++) {
      assertClose(`hidden_${i}`, await hs[i]!.data(), expected.toFloat64(`hidden_${i}`), 1e-4);
    }
    out.logits.dispose();
    out.auxLoss?.dispose();
    hs.forEach((h) => h.dispose());
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

  test('disposes', () => model.dispose());
});
