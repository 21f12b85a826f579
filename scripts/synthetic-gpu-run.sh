#!/usr/bin/env bash
# Issue 16's GPU runs, one part per call on the GPU machine (each under 10 minutes):
#   source .device/setup.sh && bash scripts/synthetic-gpu-run.sh "$OUT" copying-256   # or copying-1024, induction
# Each experiment stops at 99% (Selective Copying) / 100% (Induction Heads) at its evaluations or
# after maxSeconds (200) of training, then saves its model and results.json; both are copied to
# <out>/<name>/ (results.json, the model's config.json and model.safetensors) to ship under models/.
set -u
out=${1:?usage: synthetic-gpu-run.sh OUT PART}
part=${2:?part: copying-256, copying-1024 or induction}
case $part in
  copying-256) names="gpu-selective-copying-288-s6 gpu-selective-copying-288-lti" ;;
  copying-1024) names="gpu-selective-copying-1056-s6 gpu-selective-copying-1056-lti" ;;
  induction) names="gpu-induction-heads-256-s6 gpu-induction-heads-256-lti" ;;
  *) echo "unknown part $part" >&2; exit 2 ;;
esac
for n in $names; do
  mkdir -p "$out/$n"
  timeout 285 node dist/src/cli/main.js experiment -c "experiments/$n.json" --quiet > "$out/$n/lines.jsonl" 2> "$out/$n/stderr.txt"
  dir=runs/${n}
  [ -f "$dir/results.json" ] && cp "$dir/results.json" "$dir/model/config.json" "$dir/model/model.safetensors" "$out/$n/"
  tail -n 2 "$out/$n/lines.jsonl" | cut -c1-300
done
