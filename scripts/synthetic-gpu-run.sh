#!/usr/bin/env bash
# Issue 16's GPU runs, one part per call on the GPU machine (each under 10 minutes):
#   source .device/setup.sh && bash scripts/synthetic-gpu-run.sh "$OUT" copying-1024   # or copying-256, induction, induction-lti
# Each experiment trains until its stop (Selective Copying: 99% at an evaluation; both: maxSeconds
# of training), then saves its model and results.json and is tested at its test lengths. Each
# experiment comes back as one tar, <out>/<name>.tar (lines.jsonl, stderr.txt, results.json, the
# model's config.json and model.safetensors), so that a call's files stay within the 8 that return.
set -u
out=${1:?usage: synthetic-gpu-run.sh OUT PART}
part=${2:?part: copying-256, copying-1024, induction or induction-lti}
case $part in
  copying-256) names="gpu-selective-copying-288-s6 gpu-selective-copying-288-lti" ;;
  copying-1024) names="gpu-selective-copying-1056-s6 gpu-selective-copying-1056-lti" ;;
  induction) names="gpu-induction-heads-256-s6" ;;
  induction-lti) names="gpu-induction-heads-256-lti" ;;
  *) echo "unknown part $part" >&2; exit 2 ;;
esac
limit=$(( 560 / $(echo $names | wc -w) ))
for n in $names; do
  w=$(mktemp -d)
  timeout $limit node dist/src/cli/main.js experiment -c "experiments/$n.json" --quiet > "$w/lines.jsonl" 2> "$w/stderr.txt"
  dir=runs/${n}
  for f in "$dir/results.json" "$dir/model/config.json" "$dir/model/model.safetensors"; do [ -f "$f" ] && cp "$f" "$w/"; done
  tar -cf "$out/$n.tar" -C "$w" .
  tail -n 2 "$w/lines.jsonl" | cut -c1-400
  tail -n 3 "$w/stderr.txt" | cut -c1-300
done
