/**
 * A checkpoint with the pre-2024 remote-code names (moe.*, pre_moe_layernorm, B_/C_layernorm, the
 * dense MLPs as moe.experts.0.*) and a legacy config loads into the same model: logits identical.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import type { SafetensorsDtype } from '../src/io/safetensors.js';
import { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { fixture } from './helpers.js';

/** The in-library name → the remote-code name (the inverse of the loader's renames). */
function legacyName(name: string, moeLayers: Set<number>): string {
  const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
  if (!m) return name;
  const i = Number(m[1]);
  let rest = m[2]!;
  if (rest.startsWith('feed_forward.')) rest = (moeLayers.has(i) ? 'moe.' : 'moe.experts.0.') + rest.slice('feed_forward.'.length);
  rest = rest.replace(/^pre_ff_layernorm\./, 'pre_moe_layernorm.').replace(/^mamba\.b_layernorm\./, 'mamba.B_layernorm.').replace(/^mamba\.c_layernorm\./, 'mamba.C_layernorm.');
  return `model.layers.${i}.${rest}`;
}

test('a checkpoint with the legacy remote-code names and config gives identical logits', async () => {
  const src = fixture('hf', 'jamba-tiny', 'model');
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  const file = SafetensorsFile.parse(new Uint8Array(readFileSync(join(src, 'model.safetensors'))), 'model.safetensors');
  const reference = await JambaForCausalLM.fromPretrained(src);
  const moeLayers = new Set(Array.from({ length: reference.config.fields.num_hidden_layers }, (_, i) => i).filter((i) => reference.config.expertsOf(i) > 1));
  const tensors: Record<string, TensorToWrite> = {};
  const renamed: string[] = [];
  for (const name of file.names()) {
    const e = file.entry(name);
    const legacy = legacyName(name, moeLayers);
    if (legacy !== name) renamed.push(legacy);
    tensors[legacy] = { dtype: e.dtype as SafetensorsDtype, shape: [...e.shape], data: file.raw(name).slice() };
  }
  // Every kind of legacy name occurs.
  for (const pattern of [/\.moe\.router\./, /\.moe\.experts\.1\./, /\.moe\.experts\.0\.gate_proj/, /pre_moe_layernorm/, /B_layernorm/, /C_layernorm/]) {
    assert.ok(renamed.some((n) => pattern.test(n)), `no tensor renamed to ${pattern}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'jamba-legacy-'));
  try {
    const legacyConfig: Record<string, unknown> = { ...config, n_ctx: config['max_position_embeddings'], mamba_inner_layernorms: true, calc_logits_for_entire_prompt: false, auto_map: { AutoConfig: 'configuration_jamba.JambaConfig' } };
    delete legacyConfig['max_position_embeddings'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(legacyConfig));
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
    const legacy = await JambaForCausalLM.fromPretrained(dir);
    const ids = [[1, 5, 9, 200, 31, 7, 400, 2]];
    const [a, b] = [await reference.forward(ids), await legacy.forward(ids)];
    assert.deepEqual(Array.from(await b.logits.data()), Array.from(await a.logits.data()));
    for (const o of [a, b]) {
      o.logits.dispose();
      o.auxLoss?.dispose();
    }
    legacy.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    reference.dispose();
  }
});
