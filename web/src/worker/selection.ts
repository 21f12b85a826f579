/**
 * Selection view: the per-token summaries of `forward(ids, { outputSelection: 'summary' })` for
 * every Mamba layer — mean Δ over the channels, ‖B‖ and ‖C‖ — with each token's text.
 */
import type { DeviceUsed, SelectionJob, SelectionResult } from '../protocol.js';
import { dispose, JambaForCausalLM, MambaForCausalLM, noGrad } from './lib.js';
import { causalLM, tokenizer } from './models.js';
import { jobModel } from './urls.js';

/** (layers, 1, L) row-major → one array of L values per layer. */
function perLayer(values: Float32Array, layers: number, L: number): number[][] {
  return Array.from({ length: layers }, (_, l) => Array.from(values.subarray(l * L, (l + 1) * L)));
}

export async function runSelection(job: SelectionJob, d: DeviceUsed): Promise<SelectionResult> {
  const where = jobModel(job);
  const [tok, model] = await Promise.all([tokenizer(where), causalLM(where, d)]);
  if (!(model instanceof MambaForCausalLM || model instanceof JambaForCausalLM)) throw new Error(`${job.model}: no selection view for a ${model.constructor.name} (Δ, B, C per token are shown for Mamba and Jamba models)`);
  const ids = tok.encode(job.text);
  if (ids.length === 0) throw new Error('selection: the text is empty after tokenizing');
  const out = await noGrad(() => model.forward([ids], { outputSelection: 'summary' }));
  try {
    const s = out.selection!;
    const n = s.layers.length;
    const L = ids.length;
    return {
      tokens: ids.map((id) => tok.decode([id])),
      layers: s.layers,
      deltaMean: perLayer((await s.deltaMean.data()) as Float32Array, n, L),
      bNorm: perLayer((await s.bNorm.data()) as Float32Array, n, L),
      cNorm: perLayer((await s.cNorm.data()) as Float32Array, n, L),
    };
  } finally {
    dispose(out);
  }
}
