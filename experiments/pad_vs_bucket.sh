#!/usr/bin/env bash
# CW3 defaults (GRU-128, batch 50, 50 epochs) with CW3's pad-to-1151 against bucket and pack, seeds 0..2,
# same seed and epochs for each mode. Runs that already have results.json are kept.
# Usage: experiments/pad_vs_bucket.sh DATA_DIR [OUT_DIR] [extra handrnn train flags]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/cw3}
for seed in 0 1 2; do
  for mode in bucket pack pad; do
    name="gru-128-b50-$mode-s$seed"
    [ -f "$out/$name/results.json" ] && continue
    rm -rf "${out:?}/$name"
    handrnn train --data "$data" --out "$out" --protocol cw3 --seed "$seed" --epochs 50 --test-every-epoch --cell gru \
      --num-units 128 --batch-size 50 --lengths "$mode" --name "$name" "${@:3}"
  done
done
