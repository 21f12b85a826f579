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
# Figure 8 at 130M with the defaults of this commit (the LM head of a batch over 32 rows through the tiled matmul).
mark 130m
timeout 120 node $T --device webgpu --size 130m --models mamba,llama --batch 1,32,64,128 --prompt 2048 --gen 128 2>>"$E" | tag default
# Jamba against the all-attention model at 128k (the latter ran out of device memory before:
# gpu-memory.csv shows the memory in use), then batch 8 at 32k.
mark long
timeout 200 node $T --long --device webgpu --size 130m --models llama-attn,jamba --contexts 131072 --batch 1 --gen 64 2>>"$E" | tag default
timeout 75 node $T --long --device webgpu --size 130m --models llama-attn --contexts 32768 --batch 8 --gen 64 2>>"$E" | tag default
mark end
[ -n "${SAMPLER:-}" ] && kill $SAMPLER
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h error "$J" | cut -c1-300
