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
# Figure 8 at ~1.4B: both models side by side, largest batch first (the Transformer's batch 64 ran
# out of device memory before the pool evicted stale buffers).
mark 1.4b
timeout 170 node $T --device webgpu --size 1.4b --models llama,mamba --batch 64 --prompt 2048 --gen 128 2>>"$E" | tag default
# Jamba with its Mamba layers through the fused step, against the all-attention model at 128k.
mark long
timeout 200 node $T --long --device webgpu --size 130m --models jamba,llama-attn --contexts 131072,32768 --batch 1 --gen 64 2>>"$E" | tag default
# Where a batch-1 and a batch-64 decode step spend their time (GPU time per kernel, 130M).
mark kernels
BENCH_BATCH=1 timeout 45 node dist/bench/gpu-kernels.js 2>>"$E" | tag batch1-kernels
BENCH_BATCH=64 timeout 45 node dist/bench/gpu-kernels.js 2>>"$E" | tag batch64-kernels
# Batch 1 over 512 new tokens: with the 128-token run above, the per-token cost apart from the fixed
# costs of a generate() call (the host-time fields say where those go).
timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 512 2>>"$E" | tag gen512
# Mamba-2 (mamba2-130m's shape) beside Mamba: prefill and decode tokens/s; then its fused decode
# step against op by op and Mamba-1's.
mark mamba2
timeout 75 node $T --device webgpu --size 130m --models mamba2,mamba --batch 1,64 --prompt 2048 --gen 128 2>>"$E" | tag default
BENCH_BATCH=1,8,64 timeout 60 node dist/bench/mamba2-step.js 2>>"$E" | tag default
mark end
[ -n "${SAMPLER:-}" ] && kill $SAMPLER
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h error "$J" | cut -c1-300
