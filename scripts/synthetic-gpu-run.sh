#!/usr/bin/env bash
# Issue 16's GPU runs, one part per call on the GPU machine (each under 10 minutes):
#   source .device/setup.sh && bash scripts/synthetic-gpu-run.sh "$OUT" copying-4096   # or copying-256, copying-1024, induction, induction-lti
# or any one experiment by its config's name (experiments/NAME.json).
# Each experiment trains until its stop (Selective Copying: 99% at an evaluation; both: maxSeconds
# of training in this call), then saves its model and results.json and is tested at its test
# lengths. Runs resume (`experiment --resume`) from runs/<name>/checkpoint/ when that folder is
# there, so a long run (Selective Copying at 4,096) goes on over many calls: each experiment's
# whole outDir comes back as one tar, <out>/<name>.tar (runs/<name>/: checkpoint/, model/,
# results.json, lines.jsonl and stderr.txt of every call so far; a call's files stay within the 8
# that return). Before the next call, unpack it here with `tar -xf <name>.tar -C runs/` and name
# runs/<name> in the call's carry.
set -u
out=${1:?usage: synthetic-gpu-run.sh OUT PART}
part=${2:?part: copying-256, copying-1024, copying-4096, copying-4096-s6, induction, induction-lti, or an experiment name (experiments/NAME.json)}
case $part in
  copying-256) names="gpu-selective-copying-288-s6 gpu-selective-copying-288-lti" ;;
  copying-1024) names="gpu-selective-copying-1056-s6 gpu-selective-copying-1056-lti" ;;
  copying-4096) names="gpu-selective-copying-4128-s6 gpu-selective-copying-4128-lti" ;;
  copying-4096-s6) names="gpu-selective-copying-4128-s6" ;;
  induction) names="gpu-induction-heads-256-s6" ;;
  induction-lti) names="gpu-induction-heads-256-lti" ;;
  *) if [ -f "experiments/$part.json" ]; then names=$part; else echo "unknown part $part" >&2; exit 2; fi ;;
esac
# LIMIT (seconds per experiment, default 560 / experiments) and MAX_SECONDS (the configs'
# maxSeconds for this call) fit a part into what a call has left.
limit=${LIMIT:-$(( 560 / $(echo $names | wc -w) ))}
for n in $names; do
  dir=runs/$n
  mkdir -p "$dir"
  cfg=experiments/$n.json
  if [ -n "${MAX_SECONDS:-}" ]; then
    node -e "const fs=require('fs');const c=JSON.parse(fs.readFileSync('$cfg','utf8'));c.maxSeconds=$MAX_SECONDS;fs.writeFileSync('/tmp/$n.json',JSON.stringify(c))"
    cfg=/tmp/$n.json
  fi
  echo "{\"call\":\"$(date -u +%FT%TZ)\"}" >> "$dir/lines.jsonl"
  timeout $limit node dist/src/cli/main.js experiment -c "$cfg" --resume --quiet >> "$dir/lines.jsonl" 2>> "$dir/stderr.txt"
  echo "{\"exit_code\":$?}" >> "$dir/lines.jsonl"
  tar -cf "$out/$n.tar" -C runs "$n"
  tail -n 3 "$dir/lines.jsonl" | cut -c1-400
  tail -n 3 "$dir/stderr.txt" | cut -c1-300
done
