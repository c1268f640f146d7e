#!/usr/bin/env bash
# Superseded by `handrnn study cw3 --budget full` (docs/cw3-study/); kept because results/ was made with it
# and keeps its commands until a full study report replaces results/.
# CW3 sections 2.2-2.3: one-field sweeps of the GRU classifier around CW3's defaults (128 units, depth 1,
# batch 50, lr 1e-3), cw3 protocol, seed 0, 50 epochs. Each point selects its checkpoint on validation.
# Finished points are kept, so running it again continues an interrupted sweep.
# Usage: experiments/sweeps.sh DATA_DIR [OUT_DIR] [extra handrnn sweep flags, e.g. --threads 1]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/sweeps}
sweep() {  # name grid
  handrnn sweep --data "$data" --out "$out" --name "$1" --model rnn --cell gru --protocol cw3 --seed 0 --epochs 50 \
    --grid "$2" "${@:3}"
}
sweep units num-units=16,32,64,128,256,512 "${@:3}"
sweep depth depth=1,2,3,4 "${@:3}"
sweep lr lr=1e-4,1e-3,1e-2 "${@:3}"
sweep batch batch-size=5,10,25,50,100 "${@:3}"
