/**
 * Writes a Mamba model as a GGUF file for llama.cpp: by default the mamba-130m shape (d_model 768,
 * 24 layers, d_state 16, d_conv 4, expand 2, dt_rank 48, vocab 50280) with the random weights
 * mamba-ts's initMambaWeights gives for the seed, which is the model `npm run bench` runs on both
 * engines; or, with --from, a HF Mamba checkpoint folder. Run `npm run build` first (it uses dist/).
 *
 *   node scripts/write-mamba-gguf.mjs --type f16 [--out runs/bench/mamba-130m-shape-f16.gguf]
 *     [--layers 24 --hidden 768 --vocab 50280 --seed 0] [--from <hf model folder>] [--tokenizer <tokenizer.json>]
 *
 * --type f32|f16|bf16: the large matrices' type (norms, conv, biases, A and D stay f32).
 * --tokenizer: a byte-level BPE tokenizer.json (default: the GPT-NeoX one in ../shared when present
 *   and the vocabulary is large enough; otherwise a byte tokenizer, ids < 256 are bytes).
 * Prints one JSON line: the file, its size, and the seconds taken.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => resolve(root, 'dist/src', p);
if (!existsSync(dist('models/mamba/gguf.js'))) {
  console.error('write-mamba-gguf: dist/ is missing or stale; run `npm run build` first');
  process.exit(2);
}
const { MambaConfig } = await import(dist('models/mamba/config.js'));
const { MambaForCausalLM } = await import(dist('models/mamba/modeling.js'));
const { initMambaWeights } = await import(dist('models/mamba/init.js'));
const { mambaGguf } = await import(dist('models/mamba/gguf.js'));
const { encodeGguf } = await import(dist('io/gguf-write.js'));
const { writeBytesAtomic } = await import(dist('io/platform.js'));
const { byteLevelBpeGgufMetadata, byteGgufMetadata } = await import(dist('io/gguf-tokenizer.js'));

const { values } = parseArgs({
  options: {
    type: { type: 'string', default: 'f16' },
    out: { type: 'string' },
    layers: { type: 'string', default: '24' },
    hidden: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '50280' },
    seed: { type: 'string', default: '0' },
    from: { type: 'string' },
    tokenizer: { type: 'string' },
  },
});
if (!['f32', 'f16', 'bf16'].includes(values.type)) {
  console.error(`write-mamba-gguf: --type must be f32, f16 or bf16, got ${values.type}`);
  process.exit(2);
}
const intArg = (name, min = 1) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`write-mamba-gguf: --${name} must be an integer ≥ ${min}, got ${values[name]}`);
    process.exit(2);
  }
  return n;
};

const t0 = performance.now();
let model;
let name;
if (values.from) {
  model = await MambaForCausalLM.fromPretrained(resolve(values.from));
  name = values.from;
} else {
  const config = MambaConfig.create({ hidden_size: intArg('hidden'), num_hidden_layers: intArg('layers'), vocab_size: intArg('vocab'), use_bias: false });
  model = new MambaForCausalLM(config);
  initMambaWeights(model, intArg('seed', 0));
  name = `mamba-ts random init (seed ${values.seed})`;
}
const f = model.config.fields;
const ids = { bos: f.bos_token_id, eos: typeof f.eos_token_id === 'number' ? f.eos_token_id : null, padding: f.pad_token_id };
const neox = resolve(root, '../shared/data/tokenizers/gpt-neox-20b/tokenizer.json');
const tokenizerPath = values.tokenizer ?? (existsSync(neox) && f.vocab_size >= 50277 ? neox : null);
const tokenizer = tokenizerPath
  ? byteLevelBpeGgufMetadata(JSON.parse(readFileSync(tokenizerPath, 'utf8')), f.vocab_size, ids, tokenizerPath)
  : byteGgufMetadata(f.vocab_size, ids);

const chunks = encodeGguf(await mambaGguf(model, { type: values.type, tokenizer, name }));
model.dispose();

const shape = values.from ? 'model' : `mamba-${f.hidden_size}x${f.num_hidden_layers}-v${f.vocab_size}-seed${values.seed}`;
const out = resolve(values.out ?? resolve(root, 'runs/bench', `${shape}-${values.type}.gguf`));
// Atomic (a reader never sees half a file), through a symbolic link, never over a device or FIFO.
await writeBytesAtomic(out, chunks);
const bytes = chunks.reduce((n, c) => n + c.length, 0);
console.log(JSON.stringify({ gguf: out, type: values.type, tokenizer: tokenizerPath ?? 'bytes', bytes, seconds: +((performance.now() - t0) / 1000).toFixed(2) }));
