#!/usr/bin/env bash
# Issue 16's training runs, several at once, in one call on the GPU machine (under 10 minutes):
#   source .device/setup.sh && bash scripts/gpu-training-call.sh "$OUT"
# At most 8 files come back: bench.jsonl, stderr.txt and one tar per run (4 + 1 by default).
# 0. batch-1 decoding, 130M Mamba (prompt 2048, 128 new; issue 15), with and without kept decode
#    recordings, and its kernels' GPU times;
# 1. (the tiny training step's speed with split-K was measured in the fifth session: 67.8 ms a
#    replayed step; `node dist/bench/train.js --tiny --device webgpu --steps 10` measures it)
# 2. then, side by side: Selective Copying at 4,096 (S6) and Induction Heads variants at 256. A
#    2-layer d-64 model at batch 8 keeps the GPU mostly idle (each step is host work and launches),
#    so the Induction Heads runs go in parallel processes (one CPU core each) beside the GPU-bound
#    Selective Copying run: the same device time trains them all. Their "seconds" are wall time
#    on a shared device. Each run resumes from runs/<name>/ when carried (see
#    synthetic-gpu-run.sh) and comes back as <out>/<name>.tar.
# SC_SECONDS and IH_SECONDS set the runs' training budgets of this call (default 270 and 150);
# IH_RUNS the Induction Heads experiments (names in experiments/; by default lr 3e-4 with seeds 1-4,
# how much the fifth session's lr-3e-4 result depends on the seed; that session ran the lr 1e-3,
# seed-1, lr-3e-4 and next-token variants).
set -u
out=${1:?usage: gpu-training-call.sh OUT}
mkdir -p "$out"
J="$out/bench.jsonl"
E="$out/stderr.txt"
tag() { sed "s/^{/{\"variant\":\"$1\",/" >> "$J"; }
# Kept decode recordings (1) against every generation recording its own (0), alternated: the
# machine's state drifts between processes.
for k in 0 1 0 1; do
  MAMBA_TS_KEEP_DECODE_GRAPHS=$k timeout 40 node dist/bench/throughput.js --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 2>>"$E" | tag "batch1-keep$k"
done
BENCH_BATCH=1 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch1
sc=${SC_SECONDS:-270}
ih=${IH_SECONDS:-150}
runs=${IH_RUNS:-gpu-induction-heads-256-s6-lr3e-4-seed1 gpu-induction-heads-256-s6-lr3e-4-seed2 gpu-induction-heads-256-s6-lr3e-4-seed3 gpu-induction-heads-256-s6-lr3e-4-seed4}
pids=()
for n in $runs; do
  # Training, then the tests as far as the limit allows (results.json grows after each length).
  MAX_SECONDS=$ih LIMIT=$((ih + 120)) bash scripts/synthetic-gpu-run.sh "$out" "$n" > "/tmp/$n.log" 2>&1 &
  pids+=($!)
done
MAX_SECONDS=$sc LIMIT=$((sc + 90)) bash scripts/synthetic-gpu-run.sh "$out" copying-4096-s6
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
# (each log outside $out: a call brings 8 files back, and the tars must be among them)
for n in $runs; do echo "== $n"; cat "/tmp/$n.log"; done
grep -h 'tokens_per_s\|ms_per_step\|us_replayed' "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
