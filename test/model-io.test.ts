/** Saving and loading models: round trips, and clear errors on bad folders. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FormatError, ArgumentError } from '../src/errors.js';
import { SafetensorsFile, serializeSafetensors } from '../src/io/safetensors.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import { initMambaWeights } from '../src/models/mamba/init.js';
import { fixture } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-io-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  cpSync(fixture('hf', name, 'model'), dir, { recursive: true });
  return dir;
}

function readTensors(file: string): SafetensorsFile {
  return SafetensorsFile.parse(new Uint8Array(readFileSync(file)), file);
}

describe('model.save', () => {
  for (const name of ['mamba-tiny', 'mamba-tiny-bf16']) {
    test(`${name}: saved and reloaded bit-identically, with HF tensor names`, async () => {
      const model = await MambaForCausalLM.fromPretrained(fixture('hf', name, 'model'));
      const out = join(tmp, `saved-${name}`);
      await model.save(out);
      const saved = readTensors(join(out, 'model.safetensors'));
      const original = readTensors(fixture('hf', name, 'model', 'model.safetensors'));
      assert.deepEqual(saved.names().sort(), original.names().sort());
      const again = await MambaForCausalLM.fromPretrained(out);
      const a = model.stateDict();
      const b = again.stateDict();
      for (const [k, t] of a) {
        assert.deepEqual(Buffer.from((await t.data()).buffer), Buffer.from((await b.get(k)!.data()).buffer), k);
      }
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(cfg['model_type'], 'mamba');
      assert.equal(cfg['hidden_size'], 64);
      model.dispose();
      again.dispose();
    });
  }

  test('bf16 save keeps bf16 values exactly', async () => {
    const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny-bf16', 'model'));
    const out = join(tmp, 'saved-bf16');
    await model.save(out, { dtype: 'bf16' });
    const saved = readTensors(join(out, 'model.safetensors'));
    const original = readTensors(fixture('hf', 'mamba-tiny-bf16', 'model', 'model.safetensors'));
    for (const n of original.names()) assert.deepEqual(saved.raw(n), original.raw(n), n);
    model.dispose();
  });
});

describe('bad model folders get clear errors', () => {
  const rejects = (dir: string, re: RegExp) =>
    assert.rejects(AutoModelForCausalLM.fromPretrained(dir), (e: Error) => e instanceof FormatError && re.test(e.message));

  test('unknown model_type', async () => {
    const dir = copyFixture('mamba-tiny');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gpt9' }));
    await rejects(dir, /config\.json: unknown model_type "gpt9"; supported: mamba/);
  });

  test('missing required field', async () => {
    const dir = copyFixture('mamba-tiny');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    delete cfg.hidden_size;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    await rejects(dir, /config\.json: missing required field "hidden_size"/);
  });

  test('contradictory fields', async () => {
    const dir = copyFixture('mamba-tiny');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 100 }));
    await rejects(dir, /"intermediate_size" \(100\) and "expand" × "hidden_size" .* contradict/);
  });

  test('field of the wrong type', async () => {
    const dir = copyFixture('mamba-tiny');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, state_size: '16' }));
    await rejects(dir, /field "state_size": expected an integer >= 1, got "16"/);
  });

  test('config that does not match the weights names the tensor and both shapes', async () => {
    const dir = copyFixture('mamba-tiny');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, state_size: 8 }));
    await rejects(dir, /model\.safetensors: backbone\.layers\.0\.mixer\.A_log: expected shape \[128, 8\], got \[128, 16\]/);
  });

  test('a missing tensor', async () => {
    const dir = copyFixture('mamba-tiny');
    const f = readTensors(join(dir, 'model.safetensors'));
    const kept: Parameters<typeof serializeSafetensors>[0] = {};
    for (const n of f.names()) if (n !== 'backbone.norm_f.weight') kept[n] = { dtype: 'F32', shape: f.entry(n).shape, data: f.toFloat32(n) };
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(kept));
    await rejects(dir, /missing tensor\(s\): backbone\.norm_f\.weight/);
  });

  test('an unexpected tensor', async () => {
    const dir = copyFixture('mamba-tiny');
    const f = readTensors(join(dir, 'model.safetensors'));
    const all: Parameters<typeof serializeSafetensors>[0] = {};
    for (const n of f.names()) all[n] = { dtype: 'F32', shape: f.entry(n).shape, data: f.toFloat32(n) };
    all['backbone.layers.9.mixer.D'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(all));
    await rejects(dir, /unexpected tensor\(s\) for this model: backbone\.layers\.9\.mixer\.D/);
  });

  test('an integer tensor where floats belong', async () => {
    const dir = copyFixture('mamba-tiny');
    const f = readTensors(join(dir, 'model.safetensors'));
    const all: Parameters<typeof serializeSafetensors>[0] = {};
    for (const n of f.names()) all[n] = { dtype: 'F32', shape: f.entry(n).shape, data: f.toFloat32(n) };
    all['backbone.norm_f.weight'] = { dtype: 'I32', shape: [64], data: new Int32Array(64) };
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(all));
    await rejects(dir, /backbone\.norm_f\.weight: expected a floating-point dtype .* got I32/);
  });

  test('a folder without weights', async () => {
    const dir = mkdtempSync(join(tmp, 'empty-'));
    cpSync(fixture('hf', 'mamba-tiny', 'model', 'config.json'), join(dir, 'config.json'));
    await rejects(dir, /model\.safetensors/);
  });

  test('a folder without config.json', async () => {
    await rejects(mkdtempSync(join(tmp, 'none-')), /config\.json/);
  });
});

describe('bad inputs to a loaded model', () => {
  test('token ids outside the vocabulary, ragged and empty batches', async () => {
    const model = await MambaForCausalLM.fromPretrained(fixture('hf', 'mamba-tiny', 'model'));
    await assert.rejects(model.forward([[1, 2, 512]]), (e: Error) => e instanceof ArgumentError && /inputIds\[0\]\[2\] = 512 .*\[0, 512\)/.test(e.message));
    await assert.rejects(model.forward([[1, -1]]), /inputIds\[0\]\[1\] = -1/);
    await assert.rejects(model.forward([[1, 2.5]]), /inputIds\[0\]\[1\] = 2\.5/);
    await assert.rejects(model.forward([[1, 2], [3]]), /row 1 has 1 tokens, row 0 has 2/);
    await assert.rejects(model.forward([]), /non-empty/);
    await assert.rejects(model.generate([[1]], { maxNewTokens: -1 }), /maxNewTokens must be an integer >= 0/);
    await assert.rejects(model.generate([[1]], { eosTokenId: 9999 }), /eosTokenId 9999 is outside the vocabulary/);
    model.dispose();
  });

  test('a config built in code rejects unknown fields', () => {
    assert.throws(
      () => MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 10, stat_size: 4 } as never),
      /unknown field\(s\) stat_size/,
    );
  });
});

test('config.json writes float fields as floats (transformers 5 rejects an int where it declares a float)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mamba-ts-floats-'));
  try {
    const model = new MambaForCausalLM(MambaConfig.create({ hidden_size: 16, num_hidden_layers: 1, vocab_size: 10, time_step_scale: 1, initializer_range: 2 }));
    initMambaWeights(model, 0);
    await model.save(dir);
    const text = readFileSync(join(dir, 'config.json'), 'utf8');
    assert.match(text, /"time_step_scale": 1\.0,/);
    assert.match(text, /"initializer_range": 2\.0,/);
    assert.match(text, /"num_hidden_layers": 1,/); // ints stay ints
    assert.equal((JSON.parse(text) as { time_step_scale: number }).time_step_scale, 1);
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
