/**
 * Jamba's config (HF JambaConfig: fields, defaults, checks) and what it costs without weights:
 * parameters in total and per token, and the decode-state memory — the paper's Table 1 figure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { SafetensorsFile, serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { JambaConfig } from '../src/models/jamba/config.js';
import { jambaFootprint } from '../src/models/jamba/footprint.js';
import { fixture } from './helpers.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-jamba-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('Jamba-v0.1 (the defaults): 52B parameters, 12B active, a 4 GB KV cache at 256K against 32 GB', () => {
  const c = JambaConfig.fromJSON({ model_type: 'jamba' });
  assert.deepEqual([0, 1, 4, 12, 31].map((i) => c.mixerOf(i)), ['mamba', 'mamba', 'attention', 'attention', 'mamba']);
  assert.deepEqual([0, 1, 4, 5].map((i) => c.expertsOf(i)), [1, 16, 1, 16]);
  const f = jambaFootprint(c, 262144, 2);
  assert.equal(f.parameters, 51_570_323_328); // 51.6B: the paper's "52B"
  assert.equal(f.activeParameters, 12_110_311_296); // the paper's "12B active"
  assert.deepEqual(f.attentionLayers, [4, 12, 20, 28]);
  assert.equal(f.kvCacheBytes, 4 * 2 ** 30); // paper: 4GB
  assert.equal(f.allAttentionKvCacheBytes, 32 * 2 ** 30); // paper: Mixtral 32GB
  assert.equal(f.mambaStateBytes, 28 * 8192 * (3 + 16) * 4);
});

test('jamba-tiny: the parameter count from the config equals the tensors in its checkpoint', () => {
  const dir = fixture('hf', 'jamba-tiny', 'model');
  const c = JambaConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
  const st = SafetensorsFile.parse(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors');
  const stored = st.names().reduce((n, name) => n + st.entry(name).shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(jambaFootprint(c, 1).parameters, stored);
});

test('inconsistent Jamba configs are refused, naming the fields', () => {
  const bad = (raw: Record<string, unknown>) => () => JambaConfig.fromJSON({ model_type: 'jamba', ...raw }, 'cfg.json');
  assert.throws(bad({ attn_layer_period: 4, attn_layer_offset: 4 }), /cfg\.json: fields "attn_layer_offset" \(4\) and "attn_layer_period" \(4\) contradict/);
  assert.throws(bad({ expert_layer_period: 2, expert_layer_offset: 3 }), /"expert_layer_offset" \(3\) and "expert_layer_period" \(2\) contradict/);
  assert.throws(bad({ num_experts: 4, num_experts_per_tok: 5 }), /"num_experts_per_tok" \(5\) exceeds "num_experts" \(4\)/);
  assert.throws(bad({ num_attention_heads: 32, num_key_value_heads: 6 }), /"num_attention_heads" \(32\) is not a multiple of "num_key_value_heads" \(6\)/);
  assert.throws(bad({ mamba_dt_rank: 'big' }), /"mamba_dt_rank": expected "auto" or an integer/);
  assert.throws(bad({ model_type: 'mamba' }), /model_type is "mamba", expected "jamba"/);
});

test('mamba-ts info describes a Jamba from a bare config.json', () => {
  const cfg = join(tmp, 'config.json');
  writeFileSync(cfg, JSON.stringify({ model_type: 'jamba' }));
  const r = spawnSync(process.execPath, [CLI, 'info', '--model', cfg], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /51,570,323,328 \(51\.57B\) in total, 12,110,311,296 \(12\.11B\) active per token/);
  assert.match(r.stdout, /KV cache: +4\.00 GiB at 262,144 tokens .* all 32 layers: 32\.00 GiB/);
  const j = spawnSync(process.execPath, [CLI, 'info', '--model', cfg, '--context', '1024', '--json'], { encoding: 'utf8' });
  assert.equal((JSON.parse(j.stdout) as { kvCacheBytes: number }).kvCacheBytes, 4 * 2 * 1024 * 2 * 1024);
});

test('a Jamba checkpoint missing an expert is refused, naming the tensor', async () => {
  const src = fixture('hf', 'jamba-tiny', 'model');
  const dir = join(tmp, 'no-expert');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const st = SafetensorsFile.parse(new Uint8Array(readFileSync(join(src, 'model.safetensors'))), 'model.safetensors');
  const gone = 'model.layers.3.feed_forward.experts.2.up_proj.weight';
  const kept: Record<string, TensorToWrite> = {};
  for (const n of st.names()) if (n !== gone) kept[n] = { dtype: 'F32', shape: [...st.entry(n).shape], data: st.toFloat32(n) };
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(kept));
  await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), new RegExp(`missing tensor\\(s\\): ${gone.replace(/\./g, '\\.')}`));
});
