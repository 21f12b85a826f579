#!/usr/bin/env bash
# The TSM2 / DLinear table of docs/tsm2.md: build, then run all 16 configs (see scripts/tsm2-table.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build
node scripts/tsm2-table.mjs "$@"
