#!/usr/bin/env bash
# When the session's device time allows one call only: the most wanted GPU measurements of issues
# 15 and 16 in one call of under 10 minutes (each part with its own time limit, so a slow or failing
# part does not take the rest with it):
#   source .device/setup.sh && bash scripts/gpu-one-call.sh "$OUT"
#   1. batch 1, 130M Mamba (prompt 2048, 128 new) and its kernels' GPU times;
#   2. batch 32/64/128 at 130M for Mamba, Mamba-2 and Llama with the default (per-shape) policy;
#   3. the blocked state update, MAMBA_TS_STEP_SSM=v2 against the default, kernel times at batch 64;
#   4. the tiny training step's kernels at the paper's Selective Copying shape (--train 4128,64);
#   5. Jamba against the all-attention model at 128k, batch 1;
#   6. Induction Heads (S6) trained at 256 for 100 s and tested from 64 to 2^20 (runs/<name>/ back
#      as one tar, as scripts/synthetic-gpu-run.sh does).
# Writes <out>/throughput.jsonl (tagged lines, as throughput-gpu-run.sh), <out>/stderr.txt and
# <out>/gpu-induction-heads-256-s6.tar.
set -u
out=${1:?usage: gpu-one-call.sh OUT}
mkdir -p "$out"
J="$out/throughput.jsonl"
E="$out/stderr.txt"
T=dist/bench/throughput.js
tag() { sed "s/^{/{\"variant\":\"$1\",/" >> "$J"; }
timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 2>>"$E" | tag batch1
BENCH_BATCH=1 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch1
timeout 80 node $T --device webgpu --size 130m --models mamba,mamba2,llama --batch 32,64,128 --prompt 2048 --gen 128 2>>"$E" | tag linear-auto
for v in default v2; do
  MAMBA_TS_STEP_SSM=${v/default/} BENCH_BATCH=64 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag "ssm-kernels-$v"
done
timeout 40 node dist/bench/gpu-kernels.js --train 4128,64 2>>"$E" | tag train-kernels
timeout 150 node $T --long --device webgpu --size 130m --models jamba,llama-attn --contexts 131072 --batch 1 --gen 64 2>>"$E" | tag long
n=gpu-induction-heads-256-s6
node -e "const fs=require('fs');const c=JSON.parse(fs.readFileSync('experiments/$n.json','utf8'));c.maxSeconds=100;fs.writeFileSync('/tmp/$n.json',JSON.stringify(c))"
mkdir -p runs/$n
timeout 170 node dist/src/cli/main.js experiment -c /tmp/$n.json --resume --quiet >> runs/$n/lines.jsonl 2>> runs/$n/stderr.txt
echo "{\"exit_code\":$?}" >> runs/$n/lines.jsonl
tar -cf "$out/$n.tar" -C runs "$n"
grep -h tokens_per_s "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
grep -h '"ssm-kernels-\|"kernels-batch1\|"train-kernels' "$J" | grep -E 'step_dt_ssm|us_replayed|train_step' | cut -c1-300
grep -h error "$J" | cut -c1-300
tail -n 12 runs/$n/lines.jsonl | cut -c1-300
