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
# The decode-batch products: the per-shape policy (default: tiled kernel for wide products, gemv
# for the rest) against the gemv everywhere, at the protocol, the models side by side
# (Mamba-2's in_proj tiled as Mamba-1's since batchMamba2NormInProjConvKernel).
mark batch-linear
for v in ${LINEAR_VARIANTS:-gemv auto}; do # LINEAR_VARIANTS=auto: the default policy alone (80 s less)
  MAMBA_TS_BATCH_LINEAR=$v timeout 80 node $T --device webgpu --size 130m --models mamba,mamba2,llama --batch 32,64,128 --prompt 2048 --gen 128 2>>"$E" | tag "linear-$v"
done
# The step's products split along K (MAMBA_TS_BATCH_SPLITK=all, batch-split-k.ts) against the
# default (the tiled in_proj, gemv x_proj and out_proj), side by side: the batch-64 step's kernel
# times in one process (gpu-kernels' BENCH_VARIANTS), then whole generations at batch 64 and 128.
mark split-k
BENCH_BATCH=64 BENCH_VARIANTS="MAMBA_TS_BATCH_SPLITK=all;MAMBA_TS_BATCH_SPLITK=all,MAMBA_TS_BATCH_TILE_PREFETCH=1" timeout 40 node dist/bench/gpu-kernels.js 2>>"$E" | tag "splitk-kernels"
for v in default all default all; do
  MAMBA_TS_BATCH_SPLITK=${v/default/} timeout 35 node $T --device webgpu --size 130m --models mamba --batch 64,128 --prompt 2048 --gen 128 2>>"$E" | tag "splitk-$v"
done
# Figure 8 at ~1.4B: both models side by side at batch 64 with the per-shape policy.
mark 1.4b
timeout 140 node $T --device webgpu --size 1.4b --models llama,mamba --batch 64 --prompt 2048 --gen 128 2>>"$E" | tag default
# Batch 1, 130M (the bench now warms up with a whole generation).
mark batch1
timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 2>>"$E" | tag batch1
# Its kernels' GPU times (the state update's x_proj partial sums now in vec4 columns: 4.6 µs before).
BENCH_BATCH=1 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch1
# Jamba (its Mamba layers through the fused step) against the all-attention model at 128k (last:
# whatever the call's 600 s leave).
mark long
timeout 150 node $T --long --device webgpu --size 130m --models jamba,llama-attn --contexts 131072 --batch 1 --gen 64 2>>"$E" | tag default
mark end
[ -n "${SAMPLER:-}" ] && kill $SAMPLER
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h '"ssm-kernels-\|"kernels-batch1' "$J" | grep -E 'step_dt_ssm|us_replayed' | cut -c1-300
grep -h error "$J" | cut -c1-300
