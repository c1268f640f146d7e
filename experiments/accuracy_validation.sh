#!/usr/bin/env bash
# Validation runs that chose the best preset (validation carved from training, seeds 0 and 1). Round 2 (1:1): the
# best128 network with a 100-epoch schedule, and with one change each. Round 3 (1:3, whose quarter of the data
# gives half the optimiser steps of 1:1 per epoch): the best network at 100 and 200 epochs.
# Runs that already have results.json are kept.
# Usage: JOBS=2 experiments/accuracy_validation.sh DATA_DIR [OUT_DIR]
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/accuracy}
base="--protocol 1:1 --preset best128 --members 1 --val-fraction 0.1 --epochs 100"
commands() {
  for s in 0 1; do
    echo "v100-s$s $base --seed $s"
    echo "v100-dists-angles-s$s $base --seed $s --features pose,vel,dists,angles"
    echo "v100-depth2-s$s $base --seed $s --depth 2"
    echo "v100-units256-s$s $base --seed $s --num-units 256"
  done
  # (v13-e100-s0, -s1 and v13-e200-s0 ran before the preset had min_steps: their lines here add --min-steps 0)
  for s in 0 1; do
    for e in 100 200; do
      echo "v13-e$e-s$s --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --epochs $e --min-steps 0 --seed $s"
    done
  done
  # the preset's rule (min_steps 1800: 225 epochs on these 243 training sequences), seed 1
  echo "v13-ms1800-s1 --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --epochs 200 --seed 1"
}
source "$(dirname "$0")/parallel_runs.sh"
commands | run_all
