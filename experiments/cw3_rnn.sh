#!/usr/bin/env bash
# Superseded by `handrnn study cw3 --budget full` (docs/cw3-study/); kept because results/ was made with it
# and keeps its commands until a full study report replaces results/.
# CW3 section 2 on the cw3 protocol (950/225, 5 test sequences per action), seed 0:
# SimpleRNN, GRU, LSTM with the CW3 defaults, then GRU-256 at batch 5 (CW3's tuned setting).
# Usage: experiments/cw3_rnn.sh DATA_DIR [OUT_DIR] [extra handrnn train flags]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/cw3}
common=(--data "$data" --protocol cw3 --seed 0 --epochs 50 --test-every-epoch --out "$out")
for cell in rnn gru lstm; do
  handrnn train "${common[@]}" --cell "$cell" --num-units 128 --batch-size 50 --lr 1e-3 --name "$cell-128-b50" "${@:3}"
done
handrnn train "${common[@]}" --cell gru --num-units 256 --batch-size 5 --lr 1e-3 --name gru-256-b5 "${@:3}"
