#!/usr/bin/env bash
# Issue 9's accuracy runs: the ablation on 1:1 (seed 0, validation carved from training) and the `best` preset on
# every protocol. Runs that already have results.json are kept. JOBS=2 runs two at a time (each with --threads 1).
# Usage: experiments/accuracy.sh DATA_DIR [OUT_DIR]; then experiments/accuracy_table.py OUT_DIR writes the tables.
# Each line is the command as it was run, with the preset of its day; docs/accuracy.md's Commands give the flags
# that make today's preset train what each run trained (e.g. --frame-step 1 for runs made before a protocol took one).
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/accuracy}
aug="--speed 0.25 --crop 0.2 --rotate 30 --scale 0.2 --jitter 2"
train="--optimizer adamw --weight-decay 0.01 --schedule cosine --warmup 3 --label-smoothing 0.1 --batch-size 32 --epochs 60"
recipe="--features pose,vel $aug --bidirectional --pool mean $train"  # the best preset's lines, one network
commands() {  # one "name flags..." line per run
  # ablation: CW3's GRU-128, each addition alone, the combination, and the combination's variants (1:1, seed 0)
  echo "ab-cw3-gru128 --protocol 1:1"
  echo "ab-features --protocol 1:1 --features pose,vel"
  echo "ab-augment --protocol 1:1 $aug"
  echo "ab-bigru-mean --protocol 1:1 --bidirectional --pool mean"
  echo "ab-training --protocol 1:1 $train"
  echo "ab-no-training --protocol 1:1 --features pose,vel $aug --bidirectional --pool mean"
  echo "ab-all --protocol 1:1 $recipe"
  echo "ab-all-3members --protocol 1:1 $recipe --members 3"
  echo "ab-all-dists-angles --protocol 1:1 $recipe --features pose,vel,dists,angles"
  echo "ab-all-hrnn --protocol 1:1 $recipe --model hrnn --no-bidirectional --num-units1 32 --num-units2 256"
  # the previous preset (best128: 128 units, 60 epochs): trained on all training data, last epoch reported
  for s in 0 1 2; do echo "best-1-1-s$s --protocol 1:1 --preset best128 --seed $s"; done
  for s in 0 1 2; do echo "one-1-1-s$s --protocol 1:1 --preset best128 --members 1 --seed $s"; done
  for f in 1 2 3 4 5 6; do echo "best-xs-subject$f --protocol cross-subject --fold $f --preset best128"; done
  for s in 0 1 2; do echo "best-cw3-s$s --protocol cw3 --preset best128 --seed $s"; done
  echo "best-1-3 --protocol 1:3 --preset best128"
  echo "best-3-1 --protocol 3:1 --preset best128"
  # the previous preset (best256: 256 units, 100 epochs, chosen by experiments/accuracy_validation.sh's rounds 2-3)
  for s in 0 1 2; do
    echo "best256-1-1-s$s --protocol 1:1 --preset best256 --seed $s"
    echo "one256-1-1-s$s --protocol 1:1 --preset best256 --members 1 --seed $s"
  done
  echo "best256-1-3 --protocol 1:3 --preset best256"  # 200 epochs (min_steps 1800 on 288 training sequences)
  echo "best256-1-3-e100 --protocol 1:3 --preset best256 --min-steps 0"  # the preset before min_steps: 100 epochs
  echo "best256-3-1 --protocol 3:1 --preset best256"
  for s in 0 1 2; do echo "best256-cw3-s$s --protocol cw3 --preset best256 --seed $s"; done
  for f in 1 2 3 4 5 6; do echo "best256-xs-subject$f --protocol cross-subject --fold $f --preset best256"; done
  # the best preset (best256 with palm-frame features, layer norm and stronger augmentation: rounds 4-5)
  echo "best3-1-1-s0 --protocol 1:1 --preset best --seed 0"
  echo "best3-1-3 --protocol 1:3 --preset best"
  for s in 1 2; do echo "best3-1-1-s$s --protocol 1:1 --preset best --seed $s"; done
  for s in 0 1 2; do echo "one3-1-1-s$s --protocol 1:1 --preset best --members 1 --seed $s"; done
  echo "best3-3-1 --protocol 3:1 --preset best"
  for s in 1 2; do echo "best3-3-1-s$s --protocol 3:1 --preset best --seed $s"; done  # (seed 0 above ran before the grouped kernel)
  for s in 0 1 2; do echo "best3-cw3-s$s --protocol cw3 --preset best --seed $s"; done
  # cross-subject with the palm-frame features (the preset before its by_protocol change): folds 1-3 ran, 1 and 2
  # before the preset used the grouped kernel; validation round 8 then chose features pose,vel for cross-subject
  for f in 1 2; do echo "best3-xs-subject$f --protocol cross-subject --fold $f --preset best --features local,vel,orient --no-grouped-kernel"; done
  echo "best3-xs-subject3 --protocol cross-subject --fold 3 --preset best --features local,vel,orient"
  # the best preset on cross-subject (its by_protocol change: features pose,vel): one network, then 3 members
  for f in 1 2 3 4 5 6; do echo "one3-xs-subject$f --protocol cross-subject --fold $f --preset best --members 1"; done
  for f in 1 2 3 4 5 6; do echo "bestxs-xs-subject$f --protocol cross-subject --fold $f --preset best"; done
  # the best preset on 1:3 after its by_protocol change (validation round 9: features pose,vel, --bones 0.2)
  echo "best13-1-3 --protocol 1:3 --preset best"
  # the cross-subject preset with hand-shape augmentation (round 10; the preset's since these six folds ran)
  for f in 1 2 3 4 5 6; do echo "bestxsb-xs-subject$f --protocol cross-subject --fold $f --preset best --bones 0.2"; done
  # validation round 11's variant on 1:1: members on mixed features (quoted for xargs, then bash)
  for s in 0 1 2; do
    echo "bestm-1-1-s$s --protocol 1:1 --preset best --seed $s --member-features \"'local,vel,orient;pose,vel'\""
  done
  # the 1:3 preset after validation round 15 (frame dropping, --drop 0.1)
  echo "bestd-1-3 --protocol 1:3 --preset best"
  for s in 1 2; do echo "bestd-1-3-s$s --protocol 1:3 --preset best --seed $s"; done
  # validation round 20's change on 1:3: online co-distillation of the members (started before the round ended)
  for s in 0 1 2; do echo "bestcd-1-3-s$s --protocol 1:3 --preset best --seed $s --distill 1"; done
  # validation round 21's change on 1:1: co-distillation of the members (started before the round ended)
  for s in 0 1 2; do echo "bestcd-1-1-s$s --protocol 1:1 --preset best --seed $s --distill 1"; done
  # validation round 24 on 1:1: one network of the preset taught by the 3-member preset run of its seed (a
  # teacher that has not finished is refused: with JOBS > 1 run the script again once bestcd-1-1-sS are done)
  for s in 0 1 2; do
    echo "one3t-1-1-s$s --protocol 1:1 --preset best --members 1 --member-features \"''\" --seed $s --distill 1 --teacher $out/bestcd-1-1-s$s"
  done
  # validation round 25's candidate on 1:3: a second recurrent layer (started beside the round; not adopted)
  echo "bestd2-1-3-s0 --protocol 1:3 --preset best --seed 0 --depth 2"
  # validation round 33's change on 1:3: the network reads every 4th frame (--frame-step 4)
  for s in 0 1 2; do echo "bests4-1-3-s$s --protocol 1:3 --preset best --seed $s --distill 1 --frame-step 4"; done
  # validation round 36's change on 1:1: the network reads every 3rd frame (--frame-step 3)
  for s in 0 1 2; do echo "bests3-1-1-s$s --protocol 1:1 --preset best --seed $s --frame-step 3"; done
  # one network of it, taught by the preset run of its seed as in round 24 (run again once bests3-1-1-sS are done)
  for s in 0 1 2; do
    echo "one3ts3-1-1-s$s --protocol 1:1 --preset best --members 1 --member-features \"''\" --seed $s --distill 1 --frame-step 3 --teacher $out/bests3-1-1-s$s"
  done
  # validation round 37's change on 1:3: twice the training (--min-steps 3600: 400 epochs)
  for s in 0 1 2; do echo "bestl-1-3-s$s --protocol 1:3 --preset best --seed $s --min-steps 3600"; done
  # validation round 42's change on 3:1: the network reads every 3rd frame (--frame-step 3)
  for s in 0 1 2; do echo "bests3-3-1-s$s --protocol 3:1 --preset best --seed $s --frame-step 3"; done
  # validation round 48's change on 1:1: twice the training (--min-steps 3600: 190 epochs)
  for s in 0 1 2; do echo "bestl-1-1-s$s --protocol 1:1 --preset best --seed $s --min-steps 3600"; done
  # one network of it, taught by the preset run of its seed as in round 24 (run again once bestl-1-1-sS are done)
  for s in 0 1 2; do
    echo "onel-1-1-s$s --protocol 1:1 --preset best --members 1 --member-features \"''\" --seed $s --distill 1 --min-steps 3600 --teacher $out/bestl-1-1-s$s"
  done
  # validation round 49's change on 1:1: uneven speed (--warp 0.5)
  for s in 0 1 2; do echo "bestw-1-1-s$s --protocol 1:1 --preset best --seed $s --min-steps 3600 --warp 0.5"; done
  # one network of it, taught by the preset run of its seed as in round 24 (run again once bestw-1-1-sS are done)
  for s in 0 1 2; do
    echo "onew-1-1-s$s --protocol 1:1 --preset best --members 1 --member-features \"''\" --seed $s --distill 1 --min-steps 3600 --warp 0.5 --teacher $out/bestw-1-1-s$s"
  done
  # validation round 45's change on 3:1: the members co-distilled (--distill 1)
  for s in 0 1 2; do echo "bestcd-3-1-s$s --protocol 3:1 --preset best --seed $s --distill 1"; done
  # validation round 14's variant on cw3: members on mixed features (started before the round had finished)
  for s in 0 1 2; do
    echo "bestm-cw3-s$s --protocol cw3 --preset best --seed $s --member-features \"'local,vel,orient;pose,vel'\""
  done
  # validation round 46's change on cw3: the members co-distilled (--distill 1)
  for s in 0 1 2; do echo "bestcd-cw3-s$s --protocol cw3 --preset best --seed $s --distill 1"; done
  # validation round 51's change to the one network: the teacher's term weighted twice (--distill 2)
  for s in 0 1 2; do
    echo "onewd2-1-1-s$s --protocol 1:1 --preset best --members 1 --member-features \"''\" --seed $s --distill 2 --min-steps 3600 --warp 0.5 --generations 1 --teacher $out/bestw-1-1-s$s"
  done
  # validation round 47's change on cross-subject: uneven speed (--warp 0.5)
  for f in 1 2 3 4 5 6; do echo "bestxsw-xs-subject$f --protocol cross-subject --fold $f --preset best --warp 0.5"; done
  # validation round 52's change on 1:3: a second generation, the preset taught by the preset run of its seed
  # (run again once bestl-1-3-sS are done; --generations 1: one training, whatever the preset's generations; the
  # preset reads every phase of its 4-frame step at test since round 55, which the published 1:3 number does)
  for s in 0 1 2; do
    echo "bestg2-1-3-s$s --protocol 1:3 --preset best --seed $s --min-steps 3600 --generations 1 --teacher $out/bestl-1-3-s$s"
  done
  # validation round 53's change on 1:1: the same second generation (--generations 1: one training, taught by the
  # preset run of its seed, whatever the preset's generations)
  for s in 0 1 2; do
    echo "bestg2-1-1-s$s --protocol 1:1 --preset best --seed $s --min-steps 3600 --warp 0.5 --generations 1 --teacher $out/bestw-1-1-s$s"
  done
  # validation round 54's change on 1:3: a third generation, taught by the second generation's run of its seed
  for s in 0 1 2; do
    echo "bestg3-1-3-s$s --protocol 1:3 --preset best --seed $s --min-steps 3600 --generations 1 --teacher $out/bestg2-1-3-s$s"
  done
  # rounds 55 and 56 train nothing: they read these runs again (every phase on 1:3; on 1:1 bestg2-1-1-sS with
  # bestw-1-1-sS together), with the handrnn evaluate commands docs/accuracy.md gives
  # validation round 59's change on 3:1: a second generation, taught by bestcd-3-1-sS (run again once those are done;
  # bestcd-3-1-sS were trained again in round 59's session, seeds 0 and 1 before the preset changed, seed 2 after it
  # with --generations 1: the same training, one generation)
  for s in 0 1 2; do
    echo "bestg2-3-1-s$s --protocol 3:1 --preset best --seed $s --generations 1 --teacher $out/bestcd-3-1-s$s"
  done
}
source "$(dirname "$0")/parallel_runs.sh"
commands | run_all
