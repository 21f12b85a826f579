/**
 * Parameter counts of the MambaMixer pieces from their dimensions alone, so that configs are sized
 * (checked against bounds, described by `mamba-ts info`, compared with a weights file) without
 * building a module. test/config-bounds.test.ts checks each against the built module's count.
 */

export interface MixerSize {
  /** D: features per position. */
  dModel: number;
  /** E = expand · D. */
  expand: number;
  /** N. */
  dState: number;
  /** K of each branch's causal conv; 0 = none (ViM2's token mixer convolves in 2-D instead). */
  dConv: number;
  /** Scan orders, one branch each. */
  scans: number;
  /** R; default ceil(D / 16), as SelectiveMixer's. */
  dtRank?: number;
  /** in_proj / out_proj biases (SelectiveMixer's default: none). */
  bias?: boolean;
  /** Conv biases (default: yes). */
  convBias?: boolean;
}

/** A SelectiveMixer (selective-mixer.ts): in_proj, one conv + S6 branch per scan, out_proj. */
export function selectiveMixerParameters(m: MixerSize): number {
  const D = m.dModel;
  const E = m.expand * D;
  const N = m.dState;
  const R = m.dtRank ?? Math.ceil(D / 16);
  const bias = m.bias ? 1 : 0;
  const convBias = m.convBias ?? true ? E : 0;
  const branch =
    (m.dConv > 0 ? E * m.dConv + convBias : 0) + // conv1d
    E * (R + 2 * N) + // x_proj
    R * E + E + // dt_proj, with its bias
    E * N + E; // A_log, D
  return D * 2 * E + bias * 2 * E + m.scans * branch + E * D + bias * D;
}

/** DenseMixerAverages over `layers` MambaMixer layers: weights 2ℓ (token) and 2ℓ + 1 (channel) for ℓ = 1..layers. */
export function denseAveragesParameters(layers: number): number {
  return 2 * layers * (layers + 1) + layers;
}

/** A LayerNorm of width `dim`: weight and bias. */
export function layerNormParameters(dim: number): number {
  return 2 * dim;
}

/** A Linear in → out, with a bias unless told otherwise. */
export function linearParameters(inFeatures: number, outFeatures: number, bias = true): number {
  return inFeatures * outFeatures + (bias ? outFeatures : 0);
}
