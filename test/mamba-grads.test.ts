/**
 * Training gradients against HuggingFace's (../shared/fixtures/hf/mamba-tiny/grads.safetensors):
 * the loss within 1e-5 and every parameter's gradient within 1e-3 × max|ref|, on every device.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import '../src/autograd/backward.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import { assertClose, fixture } from './helpers.js';
import { availableDevices } from './devices.js';

for (const device of await availableDevices()) {
  for (const name of ['mamba-tiny', 'mamba-tiny-bf16']) {
    // On WebGPU the bf16 weights load packed; requiresGrad_ unpacks them to float32.
    test(`${name} on ${device}: loss and every parameter gradient match HF`, async () => {
      const inputs = JSON.parse(readFileSync(fixture('hf', name, 'inputs.json'), 'utf8')) as { input_ids: number[][]; loss: number };
      const grads = SafetensorsFile.parse(new Uint8Array(readFileSync(fixture('hf', name, 'grads.safetensors'))), 'grads.safetensors');
      const model = await MambaForCausalLM.fromPretrained(fixture('hf', name, 'model'), { device });
      model.requiresGrad_(true);
      const before = liveTensorCount();
      const out = await model.forward(inputs.input_ids, { labels: inputs.input_ids });
      const loss = (await out.loss!.data())[0]!;
      assert.ok(Math.abs(loss - inputs.loss) <= 1e-5 * Math.max(1, Math.abs(inputs.loss)), `loss ${loss} vs HF ${inputs.loss}`);
      out.loss!.backward();
      out.loss!.dispose();
      out.logits.dispose();
      const params = model.namedParameters();
      assert.equal(params.length, grads.names().length);
      for (const [pname, p] of params) {
        assert.ok(p.grad, `${pname} got no gradient`);
        assertClose(`grad ${pname}`, await p.grad.data(), grads.toFloat64(pname), 1e-3);
      }
      model.zeroGrad();
      assert.equal(liveTensorCount(), before, 'backward left tensors behind');
      model.dispose();
    });
  }
}
