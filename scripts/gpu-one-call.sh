#!/usr/bin/env bash
# When the session's device time allows one call only: the most wanted GPU measurements of issues
# 15 and 16 in one call of under 10 minutes (each part with its own time limit, so a slow or failing
# part does not take the rest with it):
#   source .device/setup.sh && bash scripts/gpu-one-call.sh "$OUT"
# with runs/gpu-selective-copying-4128-s6 in the call's carry when an earlier call's tar was
# unpacked there (`tar -xf gpu-selective-copying-4128-s6.tar -C runs/`): the run resumes from it.
#   1. batch 1, 130M Mamba (prompt 2048, 128 new) and its kernels' GPU times;
#   2. the tiny training step (the paper's Selective Copying shape) since the split-K matmul:
#      bench:train --tiny (ordinary and replayed tokens/s) and each kernel's GPU time;
#   3. batch 64 and 128 at 130M (Mamba), the default products and MAMBA_TS_BATCH_SPLITK=all, and the
#      kernels of both at batch 64;
#   4. Selective Copying at 4,096 (+16 +16), S6, 120 s more training (resumed), tested;
#   5. the 1.4B pair (Mamba, the Transformer) at batch 64 with the per-shape policy.
# Writes <out>/throughput.jsonl (tagged lines, as throughput-gpu-run.sh), <out>/stderr.txt and
# <out>/gpu-selective-copying-4128-s6.tar (runs/<name>/ whole, as scripts/synthetic-gpu-run.sh).
# (Jamba against the attention model at 128k, this script's part until it was measured — 3.36× —
# is in throughput-gpu-run.sh; Induction Heads in synthetic-gpu-run.sh.)
set -u
out=${1:?usage: gpu-one-call.sh OUT}
mkdir -p "$out"
J="$out/throughput.jsonl"
E="$out/stderr.txt"
T=dist/bench/throughput.js
tag() { sed "s/^{/{\"variant\":\"$1\",/" >> "$J"; }
timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 2>>"$E" | tag batch1
BENCH_BATCH=1 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch1
timeout 50 node dist/bench/train.js --tiny --device webgpu --steps 10 2>>"$E" | tag train-tiny
timeout 40 node dist/bench/gpu-kernels.js --train 4128,64 2>>"$E" | tag train-kernels
for v in default all; do
  MAMBA_TS_BATCH_SPLITK=${v/default/} timeout 35 node $T --device webgpu --size 130m --models mamba --batch 64,128 --prompt 2048 --gen 128 2>>"$E" | tag "splitk-$v"
  MAMBA_TS_BATCH_SPLITK=${v/default/} BENCH_BATCH=64 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag "splitk-kernels-$v"
done
# (the experiment's lines are printed by the script; its tar lands in $out)
MAX_SECONDS=120 LIMIT=160 bash scripts/synthetic-gpu-run.sh "$out" copying-4096-s6
timeout 130 node $T --device webgpu --size 1.4b --models llama,mamba --batch 64 --prompt 2048 --gen 128 2>>"$E" | tag 1.4b
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h '"ssm-kernels-\|"kernels-batch1\|"train-' "$J" | grep -E 'step_dt_ssm|us_replayed|train_step|tokens_per_s|matmul' | cut -c1-300
grep -h error "$J" | cut -c1-300
