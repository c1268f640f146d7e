#!/usr/bin/env bash
# CW3 section 3 (HRNN) on the cw3 and 1:1 protocols, seed 0.
# Defaults: batch 50, num_units1 16 (num_units2 160), lr 1e-3. "Best": num_units1 128 (num_units2 1280), batch 5, lr 1e-4.
# Usage: experiments/hrnn.sh DATA_DIR [OUT_DIR] [BEST_EPOCHS] [extra handrnn train flags]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/hrnn}; best_epochs=${3:-50}
for proto in cw3 1:1; do
  tag=${proto/:/-}
  handrnn train --data "$data" --out "$out" --model hrnn --protocol "$proto" --seed 0 --epochs 50 --test-every-epoch \
    --num-units1 16 --batch-size 50 --lr 1e-3 --name "hrnn16-b50-$tag" "${@:4}"
done
for proto in cw3 1:1; do
  tag=${proto/:/-}
  handrnn train --data "$data" --out "$out" --model hrnn --protocol "$proto" --seed 0 --epochs "$best_epochs" --test-every-epoch \
    --num-units1 128 --batch-size 5 --lr 1e-4 --name "hrnn128-b5-$tag" "${@:4}"
done
