#!/usr/bin/env bash
# Variants of the ETTh1 TSM2 configs (experiments/tsm2/sweep/), for choosing settings by validation
# MSE: prints one JSON line per run with its validation and test MSE. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in experiments/tsm2/sweep/*.json; do
  out=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$f','utf8')).outDir)")
  node dist/src/cli/main.js train --config "$f" --quiet > /dev/null
  node -e "const r=JSON.parse(require('fs').readFileSync('$out/results.json','utf8')); const b=r.epochs.reduce((a,e)=>e.valMse<a.valMse?e:a); console.log(JSON.stringify({config:'$f', bestValMse:+b.valMse.toFixed(4), bestEpoch:b.epoch, testMse:+r.test.mse.toFixed(4), testMae:+r.test.mae.toFixed(4)}))"
done
