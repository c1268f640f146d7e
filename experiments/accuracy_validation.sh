#!/usr/bin/env bash
# Validation runs that chose the best preset (validation carved from training, seeds 0 and 1). Round 2 (1:1): the
# best128 network with a 100-epoch schedule, and with one change each. Round 3 (1:3, whose quarter of the data
# gives half the optimiser steps of 1:1 per epoch): the best network at 100 and 200 epochs.
# Round 4 (1:1 and 1:3, three seeds on 1:1): the best network with one change each, among them the palm-frame
# features (local, orient); round 5: round 4's best changes together; round 6: the best preset's network with
# hand-shape augmentation; round 7 (1:3): the best preset's network against best256's; round 8 (cross-subject,
# validated on a held-out training subject): best256's and the best preset's networks, and variants; round 9
# (1:3): features and regularisation of the best preset's network over more seeds; round 10: round 8's
# cross-subject recipe with hand-shape augmentation; round 11 (1:1): the 3-member preset with each member on the
# same features or on different ones (--member-features); round 12 (3:1): round 11's comparison on 3:1; round 13
# (1:3): the 3-member preset (pose,vel) with its member 2 on the palm frame; round 14: round 11's comparison on
# cw3; round 15 (1:3): the 1:3 preset's network with stronger augmentation or a longer-stride velocity; round 16
# (1:3): the same network with manifold mixup (--mixup); round 17 (cross-subject): hand-size-free features (joint
# angles, unit bone directions) beside the preset's; round 18 (1:3): the 1:3 preset's network with mirroring,
# more dropout or fewer units; round 20 (1:3): the 3-member preset with online co-distillation of its members
# (--distill); round 21 (1:1): the same co-distillation for the 1:1 preset; round 22 (1:3): k-fold
# selection (--val-fold) of the 1:3 preset's network against 128 units; round 23 (1:3): the same k-fold selection
# of a second layer, batches of 16 and pairwise distances; round 24 (1:1): one network of the preset taught by
# round 21's 3-member runs (--teacher); round 25 (1:3): the 3-member preset with a second layer; round 26 (1:3,
# k-fold): one network trained twice as long or with more weight decay; round 27 (1:3): the 3-member preset
# trained twice as long; round 28 (1:3, k-fold): one network with a higher learning rate, more label smoothing
# or stronger spatial augmentation; round 29 (1:3, k-fold): one network with spatial augmentation stronger still, or
# with round 28's stronger rotation alone; round 30 (1:3, k-fold): the whole 3-member preset with round 28's stronger
# augmentation; round 31 (1:3, k-fold): one network with round 28's augmentation and round 23's second layer;
# round 32 (1:3, k-fold): one network reading every 2nd, 3rd or 4th frame (--frame-step); round 33 (1:3, k-fold):
# the whole 3-member preset reading every 4th frame; round 34 (1:1, k-fold): one network reading every 3rd or 4th
# frame; round 35 (1:3, k-fold): one network reading every 6th or 8th frame; round 36 (1:1, k-fold): the whole
# 3-member preset reading every 3rd frame; round 37 (1:3, k-fold): the whole 3-member preset with five members,
# twice the training or stronger temporal augmentation; round 38 (3:1, k-fold) and round 39 (cw3, k-fold): one
# network reading every 3rd frame; round 40 (cross-subject, validated on a held-out training subject): the same;
# round 41 (cw3, k-fold): the whole 3-member preset reading every 3rd frame; round 42 (3:1, k-fold): the same;
# round 43 (1:3, k-fold): the whole 3-member preset with uneven speed (--warp) or a turning camera (--drift);
# round 44 (cross-subject, as round 40): one network with the same two; round 45 (3:1, k-fold) and round 46 (cw3,
# k-fold): the whole 3-member preset with online co-distillation of its members (--distill 1); round 47
# (cross-subject, as round 44): the whole 3-member preset with uneven speed; round 48 (1:1, k-fold as round 36): the
# whole 3-member preset with twice the training (--min-steps 3600) or frame dropping (--drop 0.1); round 49 (1:1,
# k-fold): round 48's leader with uneven speed (--warp 0.5) or hand shapes (--bones 0.2); round 50 (cross-subject,
# as round 47): the whole 3-member preset with online co-distillation of its members (--distill 1); round 51 (1:1,
# k-fold as round 49): one network taught by round 49's uneven-speed preset run of its fold (--teacher), with the
# teacher's term weighted 1 or 2 (--distill 2); round 52 (1:3, k-fold as round 43): the whole 3-member preset as it
# stands, then the same preset taught by that run of its fold (--teacher: a second generation); round 53 (1:1, k-fold
# as round 49): the whole 3-member preset taught by round 49's uneven-speed run of its fold, round 52's second
# generation on 1:1; round 54 (1:3, k-fold as round 52): a third generation, taught by round 52's second; rounds 55
# and 56 evaluate runs only; round 57 (3:1, k-fold as round 45): the whole 3-member preset as it stands, trained
# again, to be read with and without every phase (--phases); round 58 (3:1, k-fold as round 57): the preset with
# uneven speed (--warp); round 59 (3:1, k-fold as round 57): a second generation, or twice the training; round
# 60 evaluates rounds 57 and 59's runs together; round 61 (3:1, k-fold as round 59): a third generation, or the
# second trained twice as long.
# (Round 19, one-network changes on 1:3, was planned and dropped unrun for round 20's preset runs.)
# ROUNDS picks the rounds (default all); SEEDS15 round 15's seeds (default 0 to 5; it ran as "0 1 2", then "3 4 5"),
# SEEDS16, SEEDS18, SEEDS20, SEEDS24, SEEDS25 and SEEDS27 rounds 16's, 18's, 20's, 24's, 25's and 27's (default
# 0 to 2),
# SEEDS21 round 21's (default 0 to 4).
# Runs that already have results.json are kept.
# Each line is the command as it was run, with the preset of its day; docs/accuracy.md's Commands give the flags
# that make today's preset train what each run trained (e.g. --frame-step 1 for runs made before a protocol took one).
# Usage: JOBS=2 [ROUNDS="2 3 ... 61"] [EXTRA="--device cuda"] experiments/accuracy_validation.sh DATA_DIR [OUT_DIR]
# (ROUNDS left out runs rounds 2 to 18, 20 to 54, 57 to 59 and 61)
set -euo pipefail
data=${1:?FPHA folder}; out=${2:-runs/accuracy}
base="--protocol 1:1 --preset best128 --members 1 --val-fraction 0.1 --epochs 100"
round2() {
  for s in 0 1; do
    echo "v100-s$s $base --seed $s"
    echo "v100-dists-angles-s$s $base --seed $s --features pose,vel,dists,angles"
    echo "v100-depth2-s$s $base --seed $s --depth 2"
    echo "v100-units256-s$s $base --seed $s --num-units 256"
  done
}
round3() {
  # (v13-e100-s0, -s1 and v13-e200-s0 ran before the preset had min_steps: their lines here add --min-steps 0)
  for s in 0 1; do
    for e in 100 200; do
      echo "v13-e$e-s$s --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --epochs $e --min-steps 0 --seed $s"
    done
  done
  # the preset's rule (min_steps 1800: 225 epochs on these 243 training sequences), seed 1
  echo "v13-ms1800-s1 --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --epochs 200 --seed 1"
}
round4() {  # name-suffix flags: one change each to the best network; seeds 0 and 1 first, then 1:3, then seed 2
  local changes=(
    "base "
    "local --features pose,vel,local"
    "local-orient --features local,vel,orient"
    "pose-local-orient --features pose,vel,local,orient"
    "dropout05 --dropout 0.5"
    "framedrop --drop 0.1"
    "ema --ema 0.999"
    "aug-strong --rotate 45 --scale 0.3 --jitter 4"
    "layernorm --layer-norm"
    "attention --pool attention"
    "lstm --cell lstm"
    "wd005 --weight-decay 0.05"
    "e150 --epochs 150"
    "units384 --num-units 384"
    "lr2e-3 --lr 2e-3"
    "batch16 --batch-size 16"
  )
  local c s
  for s in 0 1; do
    for c in "${changes[@]}"; do echo "v4-${c%% *}-s$s --protocol 1:1 --preset best256 --members 1 --val-fraction 0.1 --seed $s ${c#* }"; done
  done
  for s in 0 1; do
    for c in "${changes[@]:0:8}"; do
      echo "v4-13-${c%% *}-s$s --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --seed $s ${c#* }"
    done
  done
  for c in "${changes[@]}"; do echo "v4-${c%% *}-s2 --protocol 1:1 --preset best256 --members 1 --val-fraction 0.1 --seed 2 ${c#* }"; done
}
round5() {  # round 4's best changes together (CPU), on 1:1 and 1:3
  local s together="--layer-norm --rotate 45 --scale 0.3 --jitter 4"
  for s in 0 1; do
    echo "v5-ln-aug-s$s --protocol 1:1 --preset best256 --members 1 --val-fraction 0.1 --seed $s $together"
    echo "v5-ln-aug-lo-s$s --protocol 1:1 --preset best256 --members 1 --val-fraction 0.1 --seed $s $together --features local,vel,orient"
  done
  for s in 0 1; do
    echo "v5-13-ln-aug-s$s --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --seed $s $together"
  done
}
round6() {  # the best preset's network with hand-shape augmentation (--bones), on 1:1 (its base: v5-ln-aug-lo-*)
  local s
  for s in 0 1; do echo "v6-bones02-s$s --protocol 1:1 --preset best --members 1 --val-fraction 0.1 --seed $s --bones 0.2"; done
}
round7() {  # 1:3: the best preset's network against best256's (where the preset's test accuracy fell)
  # (best256's seed 1 is round 3's v13-ms1800-s1: its --epochs 200 and min_steps give the same 225 epochs)
  echo "v4-13-base-s0 --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --seed 0"
  local s
  for s in 0 1; do echo "v7-13-best-s$s --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --seed $s"; done
}
round8() {  # cross-subject folds 1 and 2, validated on one held-out training subject (--val-by subject)
  local f c changes=(
    "best256 --preset best256"
    "best --preset best --features local,vel,orient"
    "best-posevel --preset best --features pose,vel"
    "best-bones --preset best --features local,vel,orient --bones 0.2"
  )  # (the preset's features on 1:1; its cross-subject features, pose,vel, were chosen by this round)
  for f in 1 2; do
    for c in "${changes[@]}"; do
      echo "v8-xs$f-${c%% *} --protocol cross-subject --fold $f --members 1 --val-fraction 0.1 --val-by subject ${c#* }"
    done
  done
}
round9() {  # 1:3 (the preset's weakest 1:1-style protocol): features and regularisation, more seeds than round 7
  # (ran on a lent GPU: EXTRA="--device cuda"; round 7's CPU runs are seeds 0 and 1 of the first two lines)
  local s c
  for s in 2 3; do
    echo "v9-13-best256-s$s --protocol 1:3 --preset best256 --members 1 --val-fraction 0.1 --seed $s"
    echo "v9-13-best-s$s --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --seed $s"
  done
  local changes=(
    "posevel --features pose,vel"
    "posevel-dropout05 --features pose,vel --dropout 0.5"
    "posevel-bones02 --features pose,vel --bones 0.2"
    "posevel-units128 --features pose,vel --num-units 128"
    "lo-bones02 --bones 0.2"
  )
  for s in 0 1 2 3; do
    for c in "${changes[@]}"; do
      [ "$s" -ge 2 ] && [ "${c%% *}" != posevel ] && continue
      echo "v9-13-${c%% *}-s$s --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --seed $s ${c#* }"
    done
  done
  for s in 4 5; do
    for c in best256 best; do echo "v9-13-$c-s$s --protocol 1:3 --preset $c --members 1 --val-fraction 0.1 --seed $s"; done
    echo "v9-13-posevel-s$s --protocol 1:3 --preset best --members 1 --val-fraction 0.1 --seed $s --features pose,vel"
  done
}
round10() {  # cross-subject as round 8: the preset's cross-subject recipe with hand-shape augmentation, folds 1-4
  local f                                                  # (folds 3 and 4 for the recipe without it as well)
  for f in 3 4; do
    echo "v10-xs$f-posevel --protocol cross-subject --fold $f --members 1 --val-fraction 0.1 --val-by subject --preset best"
  done
  for f in 1 2 3 4; do
    echo "v10-xs$f-posevel-bones --protocol cross-subject --fold $f --members 1 --val-fraction 0.1 --val-by subject --preset best --bones 0.2"
  done
}
mixed_vs_same() {  # PREFIX PROTOCOL LISTS SEEDS...: the whole 3-member preset with a validation part, its
  local prefix=$1 protocol=$2 lists=$3 s  # members on the preset's features or on --member-features LISTS
  shift 3
  for s in "$@"; do
    echo "$prefix-best-s$s --protocol $protocol --preset best --val-fraction 0.1 --seed $s"
    echo "$prefix-mixed-s$s --protocol $protocol --preset best --val-fraction 0.1 --seed $s --member-features \"'$lists'\""  # quoted for xargs, then bash
  done
}
round11() {  # 1:1: members 1 and 3 on local,vel,orient, member 2 on pose,vel (seeds 3 and 4 added when seeds 0-2
  mixed_vs_same v11 1:1 'local,vel,orient;pose,vel' 0 1 2 3 4  # left the two within one validation sequence)
}
round12() {  # 3:1, round 11's comparison
  mixed_vs_same v12-31 3:1 'local,vel,orient;pose,vel' 0 1 2
}
round13() {  # 1:3: the preset's members on pose,vel, or member 2 on the palm frame (seed 2 left out for lack of
  mixed_vs_same v13m 1:3 'pose,vel;local,vel,orient' 0 1  # time in the session that ran it)
}
round14() {  # cw3: round 11's comparison (seed 2 ran after the decision on seeds 0 and 1, for time)
  mixed_vs_same v14-cw3 cw3 'local,vel,orient;pose,vel' 0 1 2
}
one_change_each() {  # PREFIX SEEDS FLAGS CHANGE...: for each seed S and change "NAME flags...", the run
  local prefix=$1 seeds=$2 flags=$3 s c  # PREFIX-NAME-sS with FLAGS (SEED read as S), then the change's flags
  shift 3
  for s in $seeds; do
    for c in "$@"; do
      echo "$prefix-${c%% *}-s$s ${flags//SEED/$s} ${c#* }"
    done
  done
}
ONE_13="--protocol 1:3 --preset best --members 1 --val-fraction 0.1 --seed SEED --member-features pose,vel"
round15() {  # 1:3 (ran on a lent GPU: EXTRA="--device cuda"): one network of the 1:3 preset, with stronger or more
  # augmentation, or a longer-stride velocity, for its quarter of the data (vel4: the preset's 1:3 entry sets
  # member_features, which features yields to)
  one_change_each v15-13 "${SEEDS15:-0 1 2 3 4 5}" "$ONE_13" "base " "drop01 --drop 0.1" \
    "tempaug --speed 0.5 --crop 0.3" "vel4 --member-features pose,vel,vel4" "bones03 --bones 0.3"
}
round16() {  # 1:3 on the CPU: one network of the 1:3 preset (with round 15's frame dropping), with manifold
  # mixup of the pooled features (--mixup ALPHA: Beta(ALPHA, ALPHA) weights); planned for six seeds, stopped
  # after three with both mixups behind (docs/accuracy.md)
  one_change_each v16-13 "${SEEDS16:-0 1 2}" "$ONE_13" "base " "mixup04 --mixup 0.4" "mixup2 --mixup 2"
}
round17() {  # cross-subject as round 10 (validated on a held-out training subject): the preset's cross-subject
  # network (pose,vel, --bones 0.2) with hand-size-free features beside its own. Its base reran on folds 1 and 2
  # only (round 10's v10-xsF-posevel-bones are the same runs; folds 3 and 4 are read from there), and joint angles
  # ran on fold 1 only (ten points behind; fold 2's run was stopped at epoch 29)
  local f flags="--protocol cross-subject --members 1 --val-fraction 0.1 --val-by subject --preset best"
  for f in 1 2; do echo "v17-xs$f-base $flags --fold $f"; done
  echo "v17-xs1-angles $flags --fold 1 --features pose,vel,angles"
  for f in 1 2 3 4; do echo "v17-xs$f-dirs $flags --fold $f --features pose,vel,dirs"; done
}
round18() {  # 1:3 on the CPU: one network of the 1:3 preset with left-right mirroring of training sequences, more
  # dropout, or 128 units for its quarter of the data; its base is round 16's (v16-13-base-sS: the same command)
  one_change_each v18-13 "${SEEDS18:-0 1 2}" "$ONE_13" "mirror05 --mirror 0.5" "dropout05 --dropout 0.5" \
    "units128 --num-units 128"
}
round20() {  # 1:3 on the CPU: the 3-member 1:3 preset, each member also learning its peers' mean prediction
  one_change_each v20-13 "${SEEDS20:-0 1 2}" "--protocol 1:3 --preset best --val-fraction 0.1 --seed SEED" \
    "base --distill 0" "distill1 --distill 1"  # (base ran before the preset had distill: the same runs)
}
round21() {  # 1:1 on the CPU: round 20's co-distillation for the 1:1 preset; its base is round 11's mixed runs
  one_change_each v21-11 "${SEEDS21:-0 1 2 3 4}" "--protocol 1:1 --preset best --val-fraction 0.1 --seed SEED" \
    "distill1 --distill 1"  # (v11-mixed-sS: the same command before the preset had member_features and distill)
  echo "v21-11-base-s1 --protocol 1:1 --preset best --val-fraction 0.1 --seed 1 --distill 0"  # v11-mixed-s1 again
}
round22() {  # 1:3 on the CPU with k-fold selection (--val-fold: five disjoint folds of the training part, seed 0):
  # one network of the 1:3 preset against 128 units (round 18's nearest miss), each validated on every fold
  local f flags
  for f in 1 2 3 4 5; do
    flags="--protocol 1:3 --preset best --members 1 --val-fraction 0.2 --val-fold $f --seed 0 --member-features pose,vel"
    echo "v22-13k-base-f$f $flags"
    echo "v22-13k-units128-f$f $flags --num-units 128"
  done
}
round23() {  # 1:3 with k-fold selection as in round 22: the 1:3 preset's network against a second recurrent
  # layer, batches of 16 (the same 1,800 optimiser steps in about half the epochs) and pairwise joint distances
  # (the second layer's folds 2 to 5 ran after the others; fold 2 was stopped at epoch 25, then resumed)
  local f flags
  for f in 1 2 3 4 5; do
    flags="--protocol 1:3 --preset best --members 1 --val-fraction 0.2 --val-fold $f --seed 0 --member-features pose,vel"
    echo "v23-13k-depth2-f$f $flags --depth 2"
    echo "v23-13k-batch16-f$f $flags --batch-size 16"
    echo "v23-13k-dists-f$f ${flags/pose,vel/pose,vel,dists}"
  done
}
round24() {  # 1:1: one network of the preset (palm frame) alone, and taught by round 21's 3-member preset run of
  # its seed (--teacher: offline distillation; the teacher trained on the same training part, never on this
  # validation part)
  local s flags
  for s in ${SEEDS24:-0 1 2}; do
    flags="--protocol 1:1 --preset best --members 1 --member-features \"''\" --val-fraction 0.1 --seed $s"
    echo "v24-11-one-s$s $flags --distill 0"
    echo "v24-11-taught-s$s $flags --distill 1 --teacher $out/v21-11-distill1-s$s"
  done
}
round25() {  # 1:3 on the CPU: the whole 3-member 1:3 preset with a second recurrent layer (round 23's leader on
  # one network); its base is round 20's co-distilled runs (v20-13-distill1-sS: the same command as the preset now)
  one_change_each v25-13 "${SEEDS25:-0 1 2}" "--protocol 1:3 --preset best --val-fraction 0.1 --seed SEED" \
    "depth2 --depth 2"
}
round26() {  # 1:3 with k-fold selection as in rounds 22 and 23 (base: v22-13k-base-fF): the 1:3 preset's network
  # trained twice as long (--min-steps 3600: 450 epochs), or with ten times the weight decay; fold 1's base again
  # (v26-13k-base-f1) checks that today's code still gives round 22's run
  local f flags
  for f in 1 2 3 4 5; do
    flags="--protocol 1:3 --preset best --members 1 --val-fraction 0.2 --val-fold $f --seed 0 --member-features pose,vel"
    if [ "$f" = 1 ]; then echo "v26-13k-base-f1 $flags"; fi
    echo "v26-13k-steps3600-f$f $flags --min-steps 3600"
    echo "v26-13k-wd01-f$f $flags --weight-decay 0.1"
  done
}
round27() {  # 1:3 on the CPU: the whole 3-member 1:3 preset trained twice as long (round 26's leader on one
  # network); its base is round 20's co-distilled runs (v20-13-distill1-sS: the same command as the preset now)
  one_change_each v27-13 "${SEEDS27:-0 1 2}" "--protocol 1:3 --preset best --val-fraction 0.1 --seed SEED" \
    "steps3600 --min-steps 3600"
}
K13="--protocol 1:3 --preset best --val-fraction 0.2 --val-fold FOLD --seed 0"  # rounds 28 to 31: k-fold, seed 0's folds
K13_ONE="${K13/best/best --members 1} --member-features pose,vel"  # one network of the 1:3 preset, on pose,vel
one_change_each_fold() {  # PREFIX FLAGS CHANGE...: for folds F = 1 to 5 and each change "NAME [flags...]", the run
  local prefix=$1 flags=$2 f c name  # PREFIX-NAME-fF with FLAGS (FOLD read as F), then the change's flags
  shift 2
  for f in 1 2 3 4 5; do
    for c in "$@"; do
      name=${c%% *}
      echo "$prefix-$name-f$f ${flags//FOLD/$f}${c#"$name"}"
    done
  done
}
round28() {  # 1:3 with k-fold selection as in rounds 22, 23 and 26 (base: v22-13k-base-fF): the 1:3 preset's network
  # with twice the learning rate, twice the label smoothing, or stronger spatial augmentation (for 1:3's ~6 training
  # sequences per action)
  one_change_each_fold v28-13k "$K13_ONE" "lr2e-3 --lr 2e-3" "ls02 --label-smoothing 0.2" \
    "aug --rotate 60 --scale 0.4 --jitter 6"
}
round29() {  # 1:3, k-fold as in round 28 (base: v22-13k-base-fF, and round 28's v28-13k-aug-fF): spatial augmentation
  # stronger than round 28's, or its rotation up to 60 degrees alone (scale and jitter as the preset's)
  one_change_each_fold v29-13k "$K13_ONE" "aug2 --rotate 90 --scale 0.5 --jitter 8" "rot60 --rotate 60"
}
round30() {  # 1:3, k-fold selection of the whole 3-member preset (judged on every training sequence, where rounds 25
  # and 27 had three 45-sequence parts): the preset as it stands, and with round 28's leader, the stronger augmentation
  one_change_each_fold v30-13k3 "$K13" base "aug --rotate 60 --scale 0.4 --jitter 6"
}
round31() {  # 1:3, k-fold as in round 28 (base: round 28's leader v28-13k-aug-fF): do the two one-network leads stack?
  # round 23's second layer (v23-13k-depth2-fF, on the old augmentation) on top of round 28's augmentation
  one_change_each_fold v31-13k "$K13_ONE --rotate 60 --scale 0.4 --jitter 6" "aug-depth2 --depth 2"
}
round32() {  # 1:3, k-fold as in round 22 (base: v22-13k-base-fF): the network reads every 2nd, 3rd or 4th frame
  # (--frame-step; augmentation still sees every frame), FPHA's 30 frames a second as 15, 10 or 7.5
  one_change_each_fold v32-13k "$K13_ONE" "step2 --frame-step 2" "step3 --frame-step 3" "step4 --frame-step 4"
}
round33() {  # 1:3, k-fold selection of the whole 3-member preset as in round 30 (base: v30-13k3-base-fF): round 32's
  # leader, every 4th frame
  one_change_each_fold v33-13k3 "$K13" "step4 --frame-step 4"
}
K11_ONE="--protocol 1:1 --preset best --members 1 --member-features \"''\" --val-fraction 0.2 --val-fold FOLD --seed 0"
round34() {  # 1:1, k-fold selection (seed 0's five folds of 120) of one network of the 1:1 preset (the palm frame, as
  # in round 24): as it stands, and reading every 3rd or 4th frame (round 32's leaders on 1:3)
  one_change_each_fold v34-11k "$K11_ONE" base "step3 --frame-step 3" "step4 --frame-step 4"
}
round35() {  # 1:3, k-fold as in round 32: one network of the 1:3 preset as it now stands (every 4th frame since round
  # 33; the same runs as round 32's v32-13k-step4-fF) and reading every 6th or 8th frame (5 or 3.75 frames a second)
  one_change_each_fold v35-13k "$K13_ONE" base "step6 --frame-step 6" "step8 --frame-step 8"
}
K11="--protocol 1:1 --preset best --val-fraction 0.2 --val-fold FOLD --seed 0"  # round 36: k-fold, seed 0's folds
round36() {  # 1:1, k-fold selection of the whole 3-member 1:1 preset (as round 33 on 1:3): as it stands, and reading
  # every 3rd frame (round 34's leader on one network)
  one_change_each_fold v36-11k3 "$K11" base "step3 --frame-step 3"
}
round37() {  # 1:3, k-fold selection of the whole 3-member preset as it stands (every 4th frame since round 33: the
  # same runs as round 33's v33-13k3-step4-fF), with five members (features cycled: three on pose,vel, two on the palm
  # frame), twice the training (--min-steps 3600: 450 epochs), or round 15's stronger temporal augmentation
  one_change_each_fold v37-13k3 "$K13" base "members5 --members 5" "steps3600 --min-steps 3600" \
    "tempaug --speed 0.5 --crop 0.3"
}
K31_ONE="${K11_ONE/1:1/3:1}"  # round 34's one network and folds, on 3:1
round38() {  # 3:1, k-fold selection (seed 0's five folds of its 887 training sequences) of one network of the 3:1
  # preset (the palm frame): as it stands, and reading every 3rd frame (the 1:1 preset's step since round 36)
  one_change_each_fold v38-31k "$K31_ONE" base "step3 --frame-step 3"
}
round39() {  # cw3, k-fold as round 38 (seed 0's five folds of its 950 training sequences): one network of the cw3
  # preset on the palm frame (its member 1), as it stands and reading every 3rd frame
  one_change_each_fold v39-cwk "${K31_ONE/3:1/cw3}" base "step3 --frame-step 3"
}
XS_ONE="--protocol cross-subject --members 1 --val-fraction 0.1 --val-by subject --preset best"  # rounds 40, 44
one_change_each_subject() {  # PREFIX FLAGS CHANGE...: for cross-subject folds F = 1 to 4 (each validated on one
  local prefix=$1 flags=$2 f c name  # held-out training subject) and each change "NAME [flags...]", the run
  shift 2  # PREFIXF-NAME with FLAGS --fold F, then the change's flags
  for f in 1 2 3 4; do
    for c in "$@"; do
      name=${c%% *}
      echo "$prefix$f-$name $flags --fold $f${c#"$name"}"
    done
  done
}
round40() {  # cross-subject folds 1 to 4 as round 10 (validated on one held-out training subject): one network of
  # the cross-subject preset (pose,vel, --bones 0.2) as it stands and reading every 3rd frame
  one_change_each_subject v40-xs "$XS_ONE" base "step3 --frame-step 3"
}
every_frame_or_3rd() {  # PREFIX PROTOCOL: round 36's k-fold of the whole 3-member preset on PROTOCOL, as it
  # stands and reading every 3rd frame; the five longer runs first
  one_change_each_fold "$1" "${K11/1:1/$2}" base
  one_change_each_fold "$1" "${K11/1:1/$2}" "step3 --frame-step 3"
}
round41() {  # cw3, as round 36 on 1:1: the whole 3-member cw3 preset reading every 3rd frame (round 39's leader on
  # one network) or every frame
  every_frame_or_3rd v41-cwk3 cw3
}
round42() {  # 3:1, the same for the whole 3-member 3:1 preset (round 38's leader on one network)
  every_frame_or_3rd v42-31k3 3:1
}
round43() {  # 1:3, k-fold as round 37: the whole 3-member 1:3 preset as it stands (every 4th frame, 400 epochs) and
  # with one new augmentation each: uneven speed within a sequence (--warp) or a camera turning during it (--drift)
  one_change_each_fold v43-13k3 "$K13" base "warp --warp 0.5" "drift --drift 30"
}
round44() {  # cross-subject folds 1 to 4 as round 40 (validated on one held-out training subject): one network of the
  # cross-subject preset with uneven speed or a turning camera; round 40's v40-xsF-base runs are the base
  one_change_each_subject v44-xs "$XS_ONE" "warp --warp 0.5" "drift --drift 30"
}
round45() {  # 3:1, k-fold as round 42: the whole 3-member 3:1 preset (every 3rd frame since round 42; its base is round
  # 42's v42-31k3-step3-fF) with online co-distillation of its members (adopted on 1:3 and 1:1 in rounds 20 and 21)
  one_change_each_fold v45-31k3 "${K11/1:1/3:1}" "distill1 --distill 1"
}
round46() {  # cw3, the same for the whole 3-member cw3 preset (its base is round 41's v41-cwk3-base-fF)
  one_change_each_fold v46-cwk3 "${K11/1:1/cw3}" "distill1 --distill 1"
}
round47() {  # cross-subject folds 1 to 4 as round 44 (validated on one held-out training subject): the whole 3-member
  # cross-subject preset as it stands and with uneven speed (round 44's one-network leader)
  one_change_each_subject v47-xs "${XS_ONE/ --members 1/}" base "warp --warp 0.5"
}
round48() {  # 1:1, k-fold as round 36 (seed 0's five folds of the 600 training sequences): the whole 3-member 1:1
  # preset as it stands (every 3rd frame since round 36), with twice the training (round 37's 1:3 change) or with
  # frame dropping (round 15's 1:3 change)
  one_change_each_fold v48-11k3 "$K11" base "steps3600 --min-steps 3600" "drop --drop 0.1"
}
round49() {  # 1:1, k-fold as round 48, whose leader (v48-11k3-steps3600-fF: --min-steps 3600, the 1:1 preset's since)
  # is the base: the preset with uneven speed (round 44's cross-subject one-network leader) or hand shapes (the 1:3
  # and cross-subject presets' --bones 0.2)
  one_change_each_fold v49-11k3 "$K11" "warp --warp 0.5" "bones --bones 0.2"
}
round50() {  # cross-subject folds 1 to 4 as round 47, whose v47-xsF-base runs are the base: the whole 3-member
  # cross-subject preset with online co-distillation of its members (adopted on every other protocol: rounds 20, 21,
  # 45 and 46; never tried on cross-subject)
  one_change_each_subject v50-xs "${XS_ONE/ --members 1/}" "distill1 --distill 1"
}
round51() {  # 1:1, k-fold as round 49: one network of the 1:1 preset taught as round 24 chose (--distill 1 --teacher)
  # by round 49's uneven-speed run of its fold (v49-11k3-warp-fF: the 1:1 preset as it now stands, trained with the
  # same fold held out), and with the teacher's term weighted twice (--distill 2)
  one_change_each_fold v51-11k "$K11_ONE --distill 1 --teacher $out/v49-11k3-warp-fFOLD" base "distill2 --distill 2"
}
round52() {  # 1:3, k-fold as round 43: the whole 3-member 1:3 preset as it stands (the same training as round 43's
  # v43-13k3-base-fF, trained again as its folders are gone), then a second generation: the same preset taught by the
  # first's run of its fold (--teacher; its term, weight distill 1, replaces the members' co-distillation). All five
  # first-generation runs are listed before the first student, so with JOBS=2 a student's teacher has in practice
  # finished before it starts (one whose teacher has not stops with a one-line error, no folder kept: run it again).
  one_change_each_fold v52-13k3 "$K13" base
  one_change_each_fold v52-13k3 "$K13 --teacher $out/v52-13k3-base-fFOLD" taught
}
round53() {  # 1:1, k-fold as round 49: round 52's second generation on 1:1, the whole 3-member 1:1 preset taught by
  # round 49's uneven-speed run of its fold (v49-11k3-warp-fF, the preset as it now stands and this round's base)
  one_change_each_fold v53-11k3 "$K11 --teacher $out/v49-11k3-warp-fFOLD" taught
}
round54() {  # 1:3, k-fold as round 52: a third generation, the 1:3 preset taught by round 52's second-generation run
  # of its fold (v52-13k3-taught-fF); --generations 1: one training, whatever the preset's generations
  one_change_each_fold v54-13k3 "$K13 --generations 1 --teacher $out/v52-13k3-taught-fFOLD" gen3
}
# Rounds 55 and 56 train nothing: they evaluate runs of rounds 49, 52, 53 and 54 (handrnn evaluate; the commands
# are in docs/accuracy.md).
round57() {  # 3:1, k-fold as round 45: the whole 3-member 3:1 preset as it stands (round 45's co-distilled runs,
  # trained again as their folders are gone), to be read with and without every phase (--phases, round 55's
  # option), and to teach a second generation in a later round
  one_change_each_fold v57-31k3 "${K11/1:1/3:1}" base
}
round58() {  # 3:1, k-fold as round 57, whose runs (v57-31k3-base-fF, the preset as it stands) are the base: the preset
  # with uneven speed (--warp 0.5: adopted on 1:1 in round 49 and on cross-subject in round 47)
  one_change_each_fold v58-31k3 "${K11/1:1/3:1}" "warp --warp 0.5"
}
round59() {  # 3:1, k-fold as round 57, whose runs are the base (round 58's uneven speed was not adopted): a second
  # generation taught by round 57's run of its fold (rounds 52, 53), or twice the training (rounds 37, 48)
  one_change_each_fold v59-31k3 "${K11/1:1/3:1} --teacher $out/v57-31k3-base-fFOLD" taught
  one_change_each_fold v59-31k3 "${K11/1:1/3:1}" "steps3600 --min-steps 3600"
}
# Round 60 trains nothing: it evaluates rounds 57 and 59's runs together (handrnn evaluate; docs/accuracy.md).
round61() {  # 3:1, k-fold as round 59, whose second generation (v59-31k3-taught-fF, the 3:1 preset's since) is the
  # base: a third generation taught by it (round 54 on 1:3), or the second generation trained twice as long
  one_change_each_fold v61-31k3 "${K11/1:1/3:1} --generations 1 --teacher $out/v59-31k3-taught-fFOLD" gen3
  one_change_each_fold v61-31k3 "${K11/1:1/3:1} --generations 1 --teacher $out/v57-31k3-base-fFOLD" \
    "taughtsteps --min-steps 3600"
}
commands() {
  local r
  for r in ${ROUNDS:-2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 57 58 59 61}; do "round$r"; done
}
source "$(dirname "$0")/parallel_runs.sh"
commands | run_all
