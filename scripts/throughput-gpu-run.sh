#!/usr/bin/env bash
# The GPU measurements issue 15 still needs, in one call on the GPU machine (about 9 minutes):
#   source .device/setup.sh && bash scripts/throughput-gpu-run.sh "$OUT"
# Writes JSON lines to <out>/throughput.jsonl and stderr to <out>/stderr.txt; each part has its
# own time limit, so a slow or failing part does not take the rest with it.
set -u
out=${1:-runs/throughput}
mkdir -p "$out"
J="$out/throughput.jsonl"
E="$out/stderr.txt"
T=dist/bench/throughput.js
tag() { sed "s/^{/{\"variant\":\"$1\",/" >> "$J"; }
# The 1.3B Transformer (never measured), then Mamba 1.4B at the same batches.
timeout 120 node $T --device webgpu --size 1.4b --models llama --batch 64,8,1 --prompt 2048 --gen 128 2>>"$E" | tag default
timeout 90 node $T --device webgpu --size 1.4b --models mamba --batch 64 --prompt 2048 --gen 128 2>>"$E" | tag default
# Batched decode knobs, side by side (130M, decode only: a short prompt).
for v in default "MAMBA_TS_STEP_SSM=rows" "MAMBA_TS_STEP_SSM=rows MAMBA_TS_GEMV_ROWS=16" "MAMBA_TS_STEP_SSM=rows MAMBA_TS_NORM_LINEAR_ROWS=16 MAMBA_TS_GEMV_MATMUL_ROWS=16"; do
  env ${v/default/} timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1,64,128 --prompt 64 --gen 256 2>>"$E" | tag "$v"
done
# Where the batch-64 step goes, kernel by kernel.
BENCH_BATCH=64 timeout 30 node dist/bench/gpu-kernels.js 2>>"$E" | tag default
MAMBA_TS_STEP_SSM=rows BENCH_BATCH=64 timeout 30 node dist/bench/gpu-kernels.js 2>>"$E" | tag "MAMBA_TS_STEP_SSM=rows"
# The long-context sweep at batch 8 as well, and the 128k attention model again.
timeout 120 node $T --long --device webgpu --size 130m --contexts 32768,131072 --batch 1,8 --gen 64 2>>"$E" | tag default
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-260
grep -h '"kernel"' "$J" | cut -c1-200
grep -h error "$J" | cut -c1-300
