/**
 * `forward(ids, { outputSelection })` for the models with Mamba layers (MambaForCausalLM,
 * JambaForCausalLM): per Mamba layer, the selection tensors of the sequence — Δ, B and C, the
 * inputs of the selective scan that depend on the token (Gu & Dao 2023, §3.2) — and a per-token
 * summary of them small enough to read back for every layer (a heatmap over the prompt).
 *
 * The summaries are computed on the device, in the layer's own tidy: with `'summary'` the full
 * (B, L, ED) Δ of a layer is gone before the next layer runs.
 */
import { ArgumentError } from '../errors.js';
import type { MixerSelection } from '../nn/mamba-mixer.js';
import { concat, mul, reshape, scale, sqrt, sum } from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The `outputSelection` forward option: `true` returns the full Δ, B, C of each Mamba layer and
 * the summaries; `'summary'` only the summaries; `false` or absent, nothing.
 */
export type OutputSelection = boolean | 'summary';

/**
 * The selection of a forward pass (`output.selection`), over the model's Mamba layers in order.
 * Every tensor is the caller's to dispose (`dispose(output)` frees them with the logits).
 */
export interface SelectionOutput {
  /** The index in the model's layers of each entry (Jamba's attention layers have no selection). */
  layers: number[];
  /**
   * Per Mamba layer, Δ (B, L, ED) = softplus(dt_proj(δ) + dt_proj.bias): the step size each
   * channel uses in exp(Δ·A) — large Δ overwrites the state with this token, small Δ keeps it.
   * Absent with `outputSelection: 'summary'`.
   */
  delta?: Tensor[];
  /** Per Mamba layer, B (B, L, N): the input gate, how the token enters the state. Absent with `'summary'`. */
  B?: Tensor[];
  /** Per Mamba layer, C (B, L, N): the output gate, how the state is read out. Absent with `'summary'`. */
  C?: Tensor[];
  /** (layers, B, L): the mean of Δ over its ED channels, per token. */
  deltaMean: Tensor;
  /** (layers, B, L): the Euclidean norm ‖B‖ over N, per token. */
  bNorm: Tensor;
  /** (layers, B, L): the Euclidean norm ‖C‖ over N, per token. */
  cNorm: Tensor;
}

/** One layer's share of a SelectionOutput: the summaries as (1, B, L), and Δ, B, C when kept. */
export interface LayerSelection {
  full: MixerSelection | null;
  deltaMean: Tensor;
  bNorm: Tensor;
  cNorm: Tensor;
}

/** The `outputSelection` given, checked: undefined (→ false), a boolean or `'summary'`; else ArgumentError. */
export function checkOutputSelection(where: string, value: unknown): OutputSelection {
  if (value === undefined) return false;
  if (typeof value === 'boolean' || value === 'summary') return value;
  throw new ArgumentError(`${where}: outputSelection must be true, false or 'summary', got ${JSON.stringify(value) ?? String(value)}`);
}

/**
 * For models without a selection mechanism (Llama: attention only): `outputSelection` among
 * `options` is an ArgumentError saying so, rather than the generic unknown-option one.
 */
export function refuseOutputSelection(where: string, options: unknown, family: string): void {
  if (typeof options === 'object' && options !== null && 'outputSelection' in options) {
    throw new ArgumentError(
      `${where}: outputSelection: ${family} has no selection mechanism (no Mamba layers, so no Δ, B, C); it is for Mamba and Jamba models`,
    );
  }
}

/** Summaries of one layer's Δ, B, C; keeps the full tensors only when `keepFull`. Call inside the layer's tidy. */
export function summarizeLayer(sel: MixerSelection, keepFull: boolean): LayerSelection {
  const [Bsz, L, E] = sel.delta.shape as [number, number, number];
  const rows = (t: Tensor) => reshape(t, [1, Bsz, L]);
  const norm = (t: Tensor) => rows(sqrt(sum(mul(t, t))));
  return {
    full: keepFull ? sel : null,
    deltaMean: rows(scale(sum(sel.delta), 1 / E)),
    bNorm: norm(sel.B),
    cNorm: norm(sel.C),
  };
}

/** The SelectionOutput of the layers' shares (in layer order), `indices` their places in the model. */
export function collectSelection(indices: number[], perLayer: LayerSelection[]): SelectionOutput {
  const out: SelectionOutput = {
    layers: indices,
    deltaMean: concat(perLayer.map((l) => l.deltaMean), 0),
    bNorm: concat(perLayer.map((l) => l.bNorm), 0),
    cNorm: concat(perLayer.map((l) => l.cNorm), 0),
  };
  const full = perLayer.map((l) => l.full);
  if (full.every((f): f is MixerSelection => f !== null) && full.length > 0) {
    out.delta = full.map((f) => f.delta);
    out.B = full.map((f) => f.B);
    out.C = full.map((f) => f.C);
  }
  return out;
}
