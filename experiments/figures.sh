#!/usr/bin/env bash
# Superseded by `handrnn study cw3 --budget full` (docs/cw3-study/); kept because results/ was made with it
# and keeps its commands until a full study report replaces results/.
# Tables and figures in results/ from the run folders the other experiment scripts wrote.
# Usage: experiments/figures.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs}; out=results
mkdir -p "$out"
cw3=("$runs"/cw3/rnn-128-b50 "$runs"/cw3/gru-128-b50 "$runs"/cw3/lstm-128-b50)
handrnn plot "${cw3[@]}" --out "$out/curves-cw3-architectures.png" \
  --title "CW3 defaults (128 units, batch 50, lr 1e-3), cw3 protocol, seed 0"
handrnn plot "$runs"/cw3/gru-128-b50-bucket-s0 "$runs"/cw3/gru-128-b50-pad-s0 "$runs"/cw3/gru-128-b50-pack-s0 --out "$out/curves-cw3-length-modes.png" \
  --title "GRU-128, batch 50: bucket vs CW3's pad-to-1151 vs pack, cw3 protocol, seed 0"
handrnn plot "$runs"/cw3/gru-256-b5 --out "$out/curves-cw3-gru256-b5.png" --title "GRU-256, batch 5, lr 1e-3, cw3 protocol, seed 0"
handrnn evaluate "$runs"/cw3/gru-256-b5 >/dev/null
cp "$runs"/cw3/gru-256-b5/confusion-test-best.png "$out/confusion-cw3-gru256-b5.png"
hrnn=("$runs"/hrnn/hrnn16-b50-cw3 "$runs"/hrnn/hrnn16-b50-1-1)
handrnn plot "${hrnn[@]}" --out "$out/curves-hrnn-defaults.png" --title "HRNN, CW3 defaults (16/160 units, batch 50, lr 1e-3), seed 0"
for r in "$runs"/hrnn/hrnn128-b5-*; do
  [ -f "$r/results.json" ] && handrnn plot "$r" --out "$out/curves-$(basename "$r").png" --title "HRNN 128/1280, batch 5, lr 1e-4, seed 0"
done
for s in units depth lr batch; do  # experiments/sweeps.sh: accuracy and seconds per epoch against each field
  [ -f "$runs/sweeps/$s/sweep.png" ] && cp "$runs/sweeps/$s/sweep.png" "$out/sweep-gru-$s.png"
done
{
  echo "# Results"
  echo
  echo "Made by \`experiments/figures.sh\` from the run folders of \`experiments/cw3_rnn.sh\`, \`experiments/pad_vs_bucket.sh\`,"
  echo "\`experiments/hrnn.sh\` and \`experiments/sweeps.sh\` (50 epochs, Adam; the seed is in each row). Test accuracy is that of the checkpoint with"
  echo "the best validation accuracy (validation carved from the training part); the last epoch's is given beside it."
  echo "Seconds per epoch here are wall time of runs that often shared the 2-core machine with other work: for speed,"
  echo "see \`bench/\` (\`handrnn bench\`, one process on an otherwise idle machine)."
  echo
  echo "## RNN classifier (CW3 section 2)"
  echo
  handrnn table "${cw3[@]}" "$runs"/cw3/gru-256-b5
  echo
  echo "## Length modes: CW3's pad against bucket and pack (GRU-128, batch 50, 50 epochs, same seeds)"
  echo
  handrnn table "$runs"/cw3/gru-128-b50-*-s*
  echo
  echo "## Hierarchical RNN (CW3 section 3)"
  echo
  handrnn table "$runs"/hrnn/*/
  for s in units depth lr batch; do
    [ -f "$runs/sweeps/$s/sweep.csv" ] || continue
    echo
    echo "## GRU sweep: $s (\`experiments/sweeps.sh\`, cw3 protocol, seed 0; others at CW3's defaults; sweep-gru-$s.png)"
    echo
    handrnn table "$runs"/sweeps/"$s"/trials/*/
  done
} > "$out/README.md"
echo "wrote $out/README.md"
