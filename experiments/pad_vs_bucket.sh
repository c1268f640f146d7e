#!/usr/bin/env bash
# Same seed and epochs, CW3 defaults (GRU-128, batch 50): CW3's pad-to-1151 against bucketing.
# Usage: experiments/pad_vs_bucket.sh DATA_DIR [OUT_DIR] [extra handrnn train flags]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/cw3}
for mode in pad pack; do
  handrnn train --data "$data" --out "$out" --protocol cw3 --seed 0 --epochs 50 --test-every-epoch --cell gru \
    --num-units 128 --batch-size 50 --lengths "$mode" --name "gru-128-b50-$mode" "${@:3}"
done
