#!/usr/bin/env bash
# Superseded by `handrnn study cw3 --budget full` (docs/cw3-study/); kept because results/ was made with it
# and keeps its commands until a full study report replaces results/.
# CW3 section 3 (HRNN) on the 1:1 and cw3 protocols, seed 0, 50 epochs. Runs that already have results.json are kept.
# Defaults: batch 50, num_units1 16 (num_units2 160), lr 1e-3. Best: num_units1 128 (num_units2 1280), batch 5, lr 1e-4.
# Usage: experiments/hrnn.sh DATA_DIR [OUT_DIR] [extra handrnn train flags]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/hrnn}
run() {  # name protocol flags... (a --seed among the flags overrides seed 0)
  local name=$1 proto=$2; shift 2
  [ -f "$out/$name/results.json" ] && return 0
  rm -rf "${out:?}/$name"
  handrnn train --data "$data" --out "$out" --model hrnn --protocol "$proto" --seed 0 --epochs 50 --test-every-epoch \
    --name "$name" "$@"
}
run hrnn16-b50-cw3 cw3 --num-units1 16 --batch-size 50 --lr 1e-3 --threads 1 "${@:3}"
run hrnn16-b50-1-1 1:1 --num-units1 16 --batch-size 50 --lr 1e-3 "${@:3}"
run hrnn128-b5-1-1 1:1 --num-units1 128 --batch-size 5 --lr 1e-4 "${@:3}"
run hrnn128-b5-cw3 cw3 --num-units1 128 --batch-size 5 --lr 1e-4 "${@:3}"
# seeds 1 and 2 of the CW3 defaults on cw3, to set beside the GRU-128 seeds of pad_vs_bucket.sh
run hrnn16-b50-cw3-s1 cw3 --num-units1 16 --batch-size 50 --lr 1e-3 --seed 1 "${@:3}"
run hrnn16-b50-cw3-s2 cw3 --num-units1 16 --batch-size 50 --lr 1e-3 --seed 2 "${@:3}"
