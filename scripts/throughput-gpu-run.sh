#!/usr/bin/env bash
# The GPU measurements issue 15 still needs, in one call on the GPU machine (under 10 minutes):
#   source .device/setup.sh && bash scripts/throughput-gpu-run.sh "$OUT"
# Writes JSON lines to <out>/throughput.jsonl, stderr to <out>/stderr.txt and the GPU's memory in
# use once a second to <out>/gpu-memory.csv; each part has its own time limit, so a slow or failing
# part does not take the rest with it.
set -u
out=${1:-runs/throughput}
mkdir -p "$out"
J="$out/throughput.jsonl"
E="$out/stderr.txt"
T=dist/bench/throughput.js
tag() { sed "s/^{/{\"variant\":\"$1\",/" >> "$J"; }
mark() { echo "$(date +%s),mark,$1" >> "$out/gpu-memory.csv"; }
if command -v nvidia-smi >/dev/null; then
  (while true; do echo "$(date +%s),$(nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits)" >> "$out/gpu-memory.csv"; sleep 1; done) &
  SAMPLER=$!
fi
# Figure 8 at ~1.4B: both models side by side, largest batch first.
mark 1.4b
timeout 170 node $T --device webgpu --size 1.4b --models llama,mamba --batch 64,8,1 --prompt 2048 --gen 128 2>>"$E" | tag default
# Large-batch decode (130M, a short prompt): the fused layer step against op-by-op steps whose
# projections run through the tiled matmul, and the LM head through the matmul.
mark knobs
for v in default "MAMBA_TS_NORM_LINEAR_ROWS=16 MAMBA_TS_GEMV_MATMUL_ROWS=16" "MAMBA_TS_STEP_FUSED_ROWS=16 MAMBA_TS_NORM_LINEAR_ROWS=16 MAMBA_TS_GEMV_MATMUL_ROWS=16"; do
  env ${v/default/} timeout 45 node $T --device webgpu --size 130m --models mamba --batch 8,32,64,128 --prompt 64 --gen 256 2>>"$E" | tag "$v"
done
for v in default "MAMBA_TS_NORM_LINEAR_ROWS=16 MAMBA_TS_GEMV_MATMUL_ROWS=16"; do
  env ${v/default/} timeout 45 node $T --device webgpu --size 130m --models llama --batch 8,32,64,128 --prompt 64 --gen 256 2>>"$E" | tag "$v"
done
# The all-attention model at 128k (it ran out of device memory before: gpu-memory.csv shows how).
mark long
timeout 150 node $T --long --device webgpu --size 130m --models llama-attn --contexts 131072 --batch 1 --gen 64 2>>"$E" | tag default
mark end
[ -n "${SAMPLER:-}" ] && kill $SAMPLER
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h error "$J" | cut -c1-300
