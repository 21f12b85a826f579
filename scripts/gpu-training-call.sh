#!/usr/bin/env bash
# One call on the GPU machine for issues 15 and 16:
#   source .device/setup.sh && bash scripts/gpu-training-call.sh "$OUT"
# Its parts' limits add up past one call's 600 s (the decode part up to 470 s, then the training
# runs up to SC_SECONDS + 40 or IH_SECONDS + 80): run the two in separate calls, SC_RUNS=" " for the
# decode part alone and SKIP_DECODE=1 for the training alone (its tars are written last).
# At most 8 files come back: bench.jsonl, stderr.txt and one tar per training run.
# 1. Issue 15, decoding a 130M Mamba (prompt 2048, 128 new tokens):
#    - batch 1 with the usual warm-up and with --warmup-seconds 3, alternated (the machine's state
#      drifts between processes), and its kernels' GPU times;
#    - batch 64: the step's kernels under the previous in_proj tile (auto), split-K, prefetching
#      and every product through ksplit16, all in one process (gpu-kernels' BENCH_VARIANTS), then
#      whole generations at batch 64 and 128 with the variants in turns in one process.
# 2. Issue 16, side by side: the GPU-bound Selective Copying runs (SC_RUNS, default 4,096 S6 from
#    scratch: carry runs/gpu-selective-copying-4128-s6 to resume it, when a machine still has it) and the Induction Heads runs (IH_RUNS, default
#    none; e.g. "gpu-induction-heads-256-s6-lr3e-4-seed1 ..."; a 2-layer d-64 model at batch 8 keeps the GPU
#    mostly idle: each step is host work and launches), each in its own process. Their "seconds"
#    are wall time on a shared device. Each run resumes from runs/<name>/ when carried (see
#    synthetic-gpu-run.sh) and comes back as <out>/<name>.tar (unpack: tar -xf X.tar -C runs/).
# 3. With IH_EVAL=1, the shipped seed-2 Induction Heads model tested at 2^18 and 2^20 (measured in
#    the seventh session: 90.6% and 64.8%).
# SC_SECONDS and IH_SECONDS set the training budgets (default 200 and 200); SKIP_DECODE=1 skips 1.
set -u
out=${1:?usage: gpu-training-call.sh OUT}
mkdir -p "$out"
J="$out/bench.jsonl"
E="$out/stderr.txt"
T=dist/bench/throughput.js
tag() { sed "s/^{/{\"part\":\"$1\",/" >> "$J"; }
if [ -z "${SKIP_DECODE:-}" ]; then
  # Batch 1 with the bench's usual warm-up and with 3 s of warm-up generations (--warmup-seconds:
  # the GPU's clocks and the JIT steady), alternated: the same code's batch-1 runs differed 1.6×
  # minutes apart on one H100 (seventh session).
  for w in 0 3 0 3; do
    timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 --repeat 3 --warmup-seconds $w 2>>"$E" | tag "batch1-warmup$w"
  done
  # Steps read back per group (generate.ts readEvery, 8 by default): batch 1 is bound by the host
  # time of a replayed step on slow runs (0.28 ms a step at 1,579 tokens/s, 0.46-0.54 at 965-1,156,
  # seventh session), and a longer group lets the GPU run further ahead of the host. In separate
  # processes: --variants would release the kept recordings between variants.
  for r in 16 32; do
    MAMBA_TS_READ_EVERY=$r timeout 40 node $T --device webgpu --size 130m --models mamba --batch 1 --prompt 2048 --gen 128 --repeat 3 --warmup-seconds 3 2>>"$E" | tag "batch1-read$r"
  done
  BENCH_BATCH=1 timeout 20 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch1
  BENCH_BATCH=64 BENCH_VARIANTS="MAMBA_TS_BATCH_IN_TILE=auto;MAMBA_TS_BATCH_SPLITK=all;MAMBA_TS_BATCH_TILE_PREFETCH=1;MAMBA_TS_BATCH_LINEAR=ksplit16" \
    timeout 60 node dist/bench/gpu-kernels.js 2>>"$E" | tag kernels-batch64
  # Whole generations, the variants in turns in one process (3 rounds); the default's in_proj is
  # ksplit16 since the seventh session, MAMBA_TS_BATCH_IN_TILE=auto the pick before it.
  timeout 150 node $T --device webgpu --size 130m --models mamba --batch 64,128 --prompt 2048 --gen 128 --repeat 3 \
    --variants "MAMBA_TS_BATCH_IN_TILE=auto;MAMBA_TS_BATCH_SPLITK=all;MAMBA_TS_BATCH_LINEAR=ksplit16" 2>>"$E" | tag batch-variants
fi
sc=${SC_SECONDS:-200}
ih=${IH_SECONDS:-200}
scRuns=${SC_RUNS:-gpu-selective-copying-4128-s6}
ihRuns=${IH_RUNS:- }
pids=()
for n in $ihRuns; do
  # Training, then the tests as far as the limit allows (results.json grows after each length).
  MAX_SECONDS=$ih LIMIT=$((ih + 80)) bash scripts/synthetic-gpu-run.sh "$out" "$n" > "/tmp/$n.log" 2>&1 &
  pids+=($!)
done
for n in $scRuns; do
  MAX_SECONDS=$sc LIMIT=$((sc + 40)) bash scripts/synthetic-gpu-run.sh "$out" "$n" > "/tmp/$n.log" 2>&1 &
  pids+=($!)
done
# The shipped seed-2 Induction Heads model at 2^20 (its training call ran out of time there).
if [ -n "${IH_EVAL:-}" ]; then
  timeout $((sc + 40)) node dist/src/cli/main.js experiment --evaluate models/induction-heads-256-s6-seed2 --device webgpu --lengths 262144,1048576 > "$out/ih-seed2-eval.jsonl" 2>>"$E" &
  pids+=($!)
fi
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
# (each log outside $out: a call brings 8 files back, and the tars must be among them)
for n in $scRuns $ihRuns; do echo "== $n"; cat "/tmp/$n.log"; done
grep -h 'tokens_per_s\|us_replayed' "$J" | sed -E 's/"config":\{[^}]*\},//' | cut -c1-300
