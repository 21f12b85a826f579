/**
 * The inverse frequencies of Llama's rotary position embedding, from its config (HF
 * modeling_rope_utils.py): "default" 1 / θ^(2i / hd); "linear" (position interpolation) those
 * divided by the factor; "llama3" (Llama 3.1's long-context scaling) low frequencies divided by the
 * factor, high ones kept, a smooth blend between. Float32 values, as HF computes them in float32.
 */

/** What a config's rope_scaling / rope_parameters says, validated (see config.ts). */
export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

/** hd / 2 inverse frequencies for head dimension `headDim` (even), base `theta`, and scaling (null: default). */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  // HF: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), every step in float32.
  const base = Float32Array.from({ length: headDim / 2 }, (_, i) => Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim)))));
  if (!scaling) return base;
  if (scaling.rope_type === 'linear') return base.map((f) => f / scaling.factor);
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: context } = scaling;
  const lowFreqWavelength = context / low;
  const highFreqWavelength = context / high;
  return base.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < highFreqWavelength) return f; // high frequencies: kept
    if (wavelength > lowFreqWavelength) return f / factor; // low frequencies: interpolated
    const smooth = (context / wavelength - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}
