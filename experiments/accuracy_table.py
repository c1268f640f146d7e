"""Markdown tables of experiments/accuracy.sh's runs: the ablation, and the best preset per protocol.

Usage: python experiments/accuracy_table.py runs/accuracy > tables.md   (reads the runs' JSON files; each run's
command is checked against today's handrnn, which resolves presets and defaults)
"""

from __future__ import annotations

import json
import re
import shlex
import statistics
import sys
from pathlib import Path

ABLATION = {
    "ab-cw3-gru128": "CW3's GRU-128 (xyz z-scored, last state, Adam 1e-3, batch 50, 50 epochs)",
    "ab-features": "+ features pose,vel only",
    "ab-augment": "+ augmentation only (speed, crop, rotation, scale, jitter)",
    "ab-bigru-mean": "+ bidirectional GRU, mean pooling only",
    "ab-training": "+ AdamW, cosine, warm-up, label smoothing, batch 32, 60 epochs only",
    "ab-no-training": "features, augmentation, bidirectional mean pooling; CW3's training",
    "ab-all": "all of the above (one network)",
    "ab-all-3members": "all, 3 members",
    "ab-all-dists-angles": "all, features pose,vel,dists,angles",
    "ab-all-hrnn": "all, as an HRNN 32/256 (per-finger pose,vel) with mean pooling",
}


def argv(run: Path) -> str:
    """The run's recorded command line ("" for runs made before command.json existed)."""
    cmd = run / "command.json"
    return shlex.join(json.loads(cmd.read_text())["argv"]) if cmd.exists() else ""  # quoted: ';' in a list


def load(run: Path) -> dict:
    return {**json.loads((run / "results.json").read_text()), "argv": argv(run)}


def pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.2f}%"  # NaN: no validation part


def ablation(root: Path) -> list[str]:
    rows = [
        "| run | what | val acc | test acc (best val epoch) | test acc (last epoch) | s/epoch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, what in ABLATION.items():
        if not (root / name / "results.json").exists():
            rows.append(f"| {name} | {what} | not run | | | |")
            continue
        r = load(root / name)
        rows.append(
            f"| {name} | {what} | {pct(r['val_acc'])} | {pct(r['test_acc'])} | {pct(r['test_acc_last_epoch'])} | "
            f"{r['seconds_per_epoch']:.2f} |"
        )
    return rows


def presets(root: Path) -> list[str]:
    groups = {
        "1:1, best (a second generation: the preset taught by the preset run of its seed, --teacher, since round 53)": [
            f"bestg2-1-1-s{s}" for s in range(3)
        ],
        "1:1, best before round 53 (uneven speed, --warp 0.5, since round 49)": [f"bestw-1-1-s{s}" for s in range(3)],
        "1:1, best before round 49 (twice the training, --min-steps 3600, since round 48)": [
            f"bestl-1-1-s{s}" for s in range(3)
        ],
        "1:1, best before round 48 (every 3rd frame, --frame-step 3, since round 36)": [
            f"bests3-1-1-s{s}" for s in range(3)
        ],
        "1:1, best before round 36 (3 members, member 2 on pose,vel since round 11; co-distilled, --distill 1, since round "
        "21)": [f"bestcd-1-1-s{s}" for s in range(3)],
        "1:1, best before round 21 (3 members; member 2 on pose,vel since round 11)": [
            f"bestm-1-1-s{s}" for s in range(3)
        ],
        "1:1, best before round 11 (3 members, each on local,vel,orient)": [f"best3-1-1-s{s}" for s in range(3)],
        "1:1, best, one network taught by the 3-member preset run of its seed (--teacher, round 24; uneven speed since "
        "round 49; the teacher's term weighted twice, --distill 2, since round 51)": [
            f"onewd2-1-1-s{s}" for s in range(3)
        ],
        "1:1, best before round 51, one network taught by the 3-member preset run of its seed (--teacher, round 24, "
        "--distill 1; uneven speed since round 49)": [f"onew-1-1-s{s}" for s in range(3)],
        "1:1, best before round 49, one network taught by the 3-member preset run of its seed (--teacher, round 24; "
        "twice the training since round 48)": [f"onel-1-1-s{s}" for s in range(3)],
        "1:1, best before round 48, one network taught by the 3-member preset run of its seed (--teacher, round 24; "
        "every 3rd frame since round 36)": [f"one3ts3-1-1-s{s}" for s in range(3)],
        "1:1, best before round 36, one network taught by the 3-member preset run of its seed (--teacher, round 24)": [
            f"one3t-1-1-s{s}" for s in range(3)
        ],
        "1:1, best, one network (local,vel,orient)": [f"one3-1-1-s{s}" for s in range(3)],
        "1:3, best before round 20 (pose,vel, --bones 0.2, 200 epochs; member 2 on the palm frame since round 13; --drop 0.1 since "
        "round 15)": ["bestd-1-3", "bestd-1-3-s1", "bestd-1-3-s2"],
        "1:3, best (a third generation, taught by the second generation's run of its seed, since round 54; every phase "
        "read since round 55)": [f"bestg3-1-3-s{s}" for s in range(3)],
        "1:3, best before round 54 (a second generation: the preset taught by the preset run of its seed, --teacher, "
        "since round 52)": [f"bestg2-1-3-s{s}" for s in range(3)],
        "1:3, best before round 52 (twice the training, --min-steps 3600, since round 37)": [
            f"bestl-1-3-s{s}" for s in range(3)
        ],
        "1:3, best before round 37 (every 4th frame, --frame-step 4, since round 33)": [
            f"bests4-1-3-s{s}" for s in range(3)
        ],
        "1:3, best before round 33 (members co-distilled, --distill 1, since round 20; seed 1 stopped at epoch 75 of 200, "
        "then resumed)": [f"bestcd-1-3-s{s}" for s in range(3)],
        "1:3, best before round 15 (member 2 on the palm frame since round 13; no frame dropping)": ["bestm-1-3"],
        "1:3, best before round 13 (3 members, each on pose,vel, --bones 0.2; 200 epochs)": ["best13-1-3"],
        "1:3, best with features local,vel,orient (before its 1:3 change)": ["best3-1-3"],
        "3:1, best (two generations, the second taught by the first, since round 59: bestcd-3-1-sS then bestg2-3-1-sS, "
        "--teacher)": [f"bestg2-3-1-s{s}" for s in range(3)],
        "3:1, best before round 59 (members co-distilled, --distill 1, since round 45; trained again in round 59's test "
        "session, the same accuracies)": [f"bestcd-3-1-s{s}" for s in range(3)],
        "3:1, best before round 45 (every 3rd frame, --frame-step 3, since round 42)": [
            f"bests3-3-1-s{s}" for s in range(3)
        ],
        "3:1, best before round 42 (every frame; seed 0 before the grouped kernel)": [
            "best3-3-1",
            "best3-3-1-s1",
            "best3-3-1-s2",
        ],
        "3:1, best with member 2 on pose,vel (--member-features; round 12 did not adopt it)": ["bestm-3-1"],
        "cw3, best (members co-distilled, --distill 1, since round 46)": [f"bestcd-cw3-s{s}" for s in range(3)],
        "cw3, best before round 46 (3 members; member 2 on pose,vel since round 14)": [
            f"bestm-cw3-s{s}" for s in range(3)
        ],
        "cw3, best before round 14 (3 members, each on local,vel,orient)": [f"best3-cw3-s{s}" for s in range(3)],
        "1:1, best256 (256 units, 100 epochs, 3 members)": [f"best256-1-1-s{s}" for s in range(3)],
        "1:1, best256, one network": [f"one256-1-1-s{s}" for s in range(3)],
        "1:3, best256 (min_steps 1800: 200 epochs)": ["best256-1-3"],
        "1:3, best256 with --min-steps 0 (100 epochs)": ["best256-1-3-e100"],
        "3:1, best256": ["best256-3-1"],
        "cw3, best256": [f"best256-cw3-s{s}" for s in range(3)],
        "1:1, best128 (128 units, 60 epochs, 3 members)": [f"best-1-1-s{s}" for s in range(3)],
        "1:1, best128, one network": [f"one-1-1-s{s}" for s in range(3)],
        "cw3, best128": [f"best-cw3-s{s}" for s in range(3)],
        "1:3, best128": ["best-1-3"],
        "3:1, best128": ["best-3-1"],
    }
    rows = [
        "| protocol, model | runs (seed) | test accuracy (last epoch) | mean +- std | training minutes per run |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, names in groups.items():
        done = [n for n in names if (root / n / "results.json").exists()]
        if not done:
            rows.append(f"| {label} | not run | | | |")
            continue
        res = [load(root / n) for n in done]
        accs = [r["test_acc"] for r in res]
        spread = f"{100 * statistics.mean(accs):.2f} +- {100 * statistics.stdev(accs):.2f}%" if len(accs) > 1 else ""
        minutes = ", ".join(f"{r['train_seconds'] / 60:.1f}" for r in res)
        rows.append(f"| {label} | {', '.join(done)} | {', '.join(pct(a) for a in accs)} | {spread} | {minutes} |")
    for prefix, preset in (
        ("bestxsw", "best (uneven speed, --warp 0.5, since round 47)"),
        ("bestxsb", "best before round 47 (3 members; --bones 0.2 since round 10)"),
        ("bestxs", "best (3 members) before round 10 (--bones 0)"),
        ("one3", "best, one network"),
        ("best3", "best with features local,vel,orient (its 1:1 features; before the cross-subject change)"),
        ("best256", "best256"),
        ("best", "best128"),
    ):
        rows += cross_subject(root, prefix, preset)
    return rows


def cross_subject(root: Path, prefix: str, preset: str) -> list[str]:
    rows = []
    folds = {f"subject{f}": root / f"{prefix}-xs-subject{f}" / "results.json" for f in range(1, 7)}
    done = {k: json.loads(p.read_text()) for k, p in folds.items() if p.exists()}
    if done:
        accs = [r["test_acc"] for r in done.values()]
        spread = f"{100 * statistics.mean(accs):.2f} +- {100 * statistics.stdev(accs):.2f}%" if len(accs) > 1 else ""
        minutes = [r["train_seconds"] / 60 for r in done.values()]
        per_fold = ", ".join(f"{k} {pct(r['test_acc'])}" for k, r in done.items())
        rows.append(
            f"| cross-subject, {preset} ({len(done)} of 6 folds) | {prefix}-xs-subjectS: {per_fold} | | {spread} | "
            f"{min(minutes):.1f} to {max(minutes):.1f} per fold |"
        )
    return rows


VALIDATION = {
    "v100": "best128's network (one network), 100 epochs",
    "v100-dists-angles": "+ features dists, angles",
    "v100-depth2": "+ a second bidirectional layer",
    "v100-units256": "256 units",
}


def seed_table(root: Path, groups: dict[str, str], header: list[str], cells) -> list[str]:
    """A row per group of validation runs NAME-s0, NAME-s1: its name, what it changes, then `cells(runs)`.
    A NAME of the form "A-s0+B-s1" lists its runs by their own names (runs of one recipe named apart), and so
    does the name of one finished run."""
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, what in groups.items():
        named = "+" in name or (root / name / "results.json").exists()
        names = name.split("+") if named else [f"{name}-s{s}" for s in (0, 1)]
        runs = [root / n for n in names if (root / n / "results.json").exists()]
        filled = cells(runs) if runs else ["not run", *[""] * (len(header) - 3)]
        label = ", ".join(r.name for r in runs) or name.replace("+", ", ") if named else f"{name}-sS"
        rows.append("| " + " | ".join([label, what, *filled]) + " |")
    return rows


def validation(root: Path) -> list[str]:
    def cells(runs: list[Path]) -> list[str]:
        res = [load(r) for r in runs]
        vals = [r["val_acc"] for r in res]
        loss = statistics.mean(best_row(r)["val_loss"] for r in runs)
        return [", ".join(pct(v) for v in vals), pct(statistics.mean(vals)), f"{loss:.3f}"] + [
            ", ".join(pct(r["test_acc"]) for r in res)
        ]

    header = ["runs", "what", "val acc (seeds 0, 1)", "mean val acc", "mean val loss (best epoch)"]
    return seed_table(root, VALIDATION, header + ["test acc (best val epoch)"], cells)


ROUND3 = {
    "v13-e100": "best256's network (one network), 100 epochs (the preset's schedule before min_steps)",
    "v13-e200": "200 epochs",
    "v13-ms1800": "min_steps 1800 (both presets now): 225 epochs on these 243 training sequences",
}


def validation_1_3(root: Path) -> list[str]:
    """Round 3 on 1:3: the preset keeps its last epoch, so compare validation at the end of training."""

    def cells(runs: list[Path]) -> list[str]:
        curves, res = [metric_rows(r) for r in runs], [load(r) for r in runs]
        tail = statistics.mean(float(row["val_acc"]) for c in curves for row in c[-10:])
        return [
            ", ".join(pct(float(c[-1]["val_acc"])) for c in curves),
            pct(tail),
            f"{statistics.mean(float(c[-1]['val_loss']) for c in curves):.3f}",
            ", ".join(f"{pct(r['val_acc'])} ({r['best_epoch']})" for r in res),
            ", ".join(pct(r["test_acc_last_epoch"]) for r in res),
        ]

    header = ["runs", "what", "val acc, last epoch (seeds 0, 1)", "mean val acc, last 10 epochs"]
    header += ["mean val loss, last epoch", "best val acc (epoch)", "test acc (last epoch)"]
    return seed_table(root, ROUND3, header, cells)


ROUND4 = {  # one change each to the best network (one network), 1:1; trained on the GPU machine (--device cuda)
    "v4-base": "best256's network (one network), 100 epochs",
    "v4-layernorm": "+ layer norm on the pooled features",
    "v4-aug-strong": "+ stronger augmentation: rotation 45 degrees, scale 0.3, jitter 4 mm",
    "v4-dropout05": "+ dropout 0.5 (from 0.2)",
    "v4-local-orient": "features local, vel, orient (palm-frame shape, motion, palm orientation) for pose, vel",
    "v4-local": "+ features local",
    "v4-pose-local-orient": "+ features local, orient",
    "v4-framedrop": "+ frame dropping 0.1",
    "v4-ema": "+ weight EMA 0.999",
    "v4-attention": "attention pooling for mean",
    "v4-lstm": "LSTM for GRU",
    "v4-wd005": "weight decay 0.05 (from 0.01)",
    "v4-e150": "150 epochs",
    "v4-units384": "384 units",
    "v4-lr2e-3": "learning rate 2e-3",
    "v4-batch16": "batch 16",
}
SEED1_EPOCH = 73  # every round-4 seed-1 run but units384 and batch16 got this far before the device time ran out


def tail_mean(curve: list[dict], key: str, end: int) -> float:
    """Mean of `key` over the 10 epochs up to `end`."""
    return statistics.mean(float(row[key]) for row in curve[end - 10 : end])


def validation_round4(root: Path) -> list[str]:
    """Round 4: seed 0 at the end of training, seed 1 at epoch SEED1_EPOCH (as far as all but two got)."""
    header = ["runs", "what", "seed 0: val acc, mean of its last 10 epochs", "val loss, same epochs"]
    header += [f"seed 1: val acc, mean of epochs {SEED1_EPOCH - 9}-{SEED1_EPOCH}", "val loss, same epochs"]
    header += ["seed 0: test acc (last epoch)"]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, what in ROUND4.items():
        cells = []
        for seed, end in ((0, None), (1, SEED1_EPOCH)):
            run = root / f"{name}-s{seed}"
            curve = metric_rows(run) if (run / "metrics.csv").exists() else []
            stop = end or len(curve)
            if len(curve) < max(stop, 10) or (end is None and not (run / "results.json").exists()):
                cells += ["not reached", ""]
                continue
            cells += [pct(tail_mean(curve, "val_acc", stop)), f"{tail_mean(curve, 'val_loss', stop):.3f}"]
        s0 = root / f"{name}-s0"
        cells.append(pct(load(s0)["test_acc_last_epoch"]) if (s0 / "results.json").exists() else "")
        rows.append("| " + " | ".join([f"{name}-sS", what, *cells]) + " |")
    return rows


ROUND5 = {  # round 4's best changes together, on the CPU (today's best is v5-ln-aug-lo)
    "v100-units256": "best256's network (one network), 100 epochs (round 2's run)",
    "v5-ln-aug": "+ layer norm, stronger augmentation (rotation 45, scale 0.3, jitter 4)",
    "v5-ln-aug-lo": "+ layer norm, stronger augmentation, features local, vel, orient (the preset now)",
}


ROUND6 = {  # the best preset's network with hand-shape augmentation
    "v5-ln-aug-lo": "the best preset's network (one network; round 5's run)",
    "v6-bones02": "+ hand-shape augmentation, --bones 0.2",
}


ROUND7 = {  # 1:3: the best preset's network against best256's (best256's seed 1: round 3's run of that command)
    "v4-13-base-s0+v13-ms1800-s1": "best256's network (one network), 225 epochs",
    "v7-13-best": "the best preset's network (one network), 225 epochs",
}


ROUND8 = {  # cross-subject folds 1 and 2, validation = one held-out training subject (--val-by subject)
    "v8-xs1-best256+v8-xs2-best256": "best256's network (one network)",
    "v8-xs1-best+v8-xs2-best": "the best preset's network with its 1:1 features local, vel, orient",
    "v8-xs1-best-posevel+v8-xs2-best-posevel": "the best preset's network on features pose, vel (its cross-subject recipe now)",
    "v8-xs1-best-bones+v8-xs2-best-bones": "the best preset's network, features local, vel, orient, + --bones 0.2",
}


def seeds(name: str, numbers) -> str:
    return "+".join(f"{name}-s{s}" for s in numbers)


def folds(name: str) -> str:
    """The runs of k-fold selection: NAME-f1 to NAME-f5 (the five folds of seed 0's partition)."""
    return "+".join(f"{name}-f{f}" for f in range(1, 6))


def subject_folds(prefix: str, change: str) -> str:
    """The runs validated on a held-out training subject, cross-subject folds 1 to 4: PREFIX1-CHANGE to PREFIX4-CHANGE."""
    return "+".join(f"{prefix}{f}-{change}" for f in range(1, 5))


ROUND9 = {  # 1:3 over more seeds (seeds 2 to 5 on a lent GPU; seeds 0 and 1 of the first two rows: round 7)
    "v4-13-base-s0+v13-ms1800-s1+" + seeds("v9-13-best256", range(2, 6)): "best256's network (one network)",
    "v7-13-best-s0+v7-13-best-s1+" + seeds("v9-13-best", range(2, 6)): "the best preset's network (local, vel, orient)",
    seeds("v9-13-posevel", range(6)): "the best preset's network on features pose, vel",
    seeds("v9-13-posevel", range(2)): "the same, seeds 0 and 1 only (beside the rows below)",
    seeds("v9-13-posevel-bones02", range(2)): "pose, vel + --bones 0.2 (the preset's 1:3 recipe now)",
    seeds("v9-13-posevel-dropout05", range(2)): "pose, vel + --dropout 0.5",
    seeds("v9-13-posevel-units128", range(2)): "pose, vel + --num-units 128",
    seeds("v7-13-best", range(2)): "local, vel, orient, seeds 0 and 1 only (round 7's runs)",
    seeds("v9-13-lo-bones02", range(2)): "local, vel, orient + --bones 0.2",
}


ROUND10 = {  # round 8's protocol (one held-out training subject) on folds 1 to 4: with and without --bones 0.2
    "v8-xs1-best-posevel+v8-xs2-best-posevel+v10-xs3-posevel+v10-xs4-posevel": (
        "the best preset's cross-subject network, pose, vel (folds 1, 2: round 8's runs)"
    ),
    subject_folds("v10-xs", "posevel-bones"): "the same + --bones 0.2",
}


def mixed_vs_same(
    prefix: str,
    n: int,
    same: str = "local, vel, orient",
    mixed: str = "local,vel,orient;pose,vel",
    note: str = "member 2 on pose, vel",
) -> dict[str, str]:
    """Rounds 11 to 14 (accuracy_validation.sh's mixed_vs_same): the 3-member preset, its members on the same
    features or on --member-features MIXED, seeds 0 to n - 1."""
    return {
        seeds(f"{prefix}-best", range(n)): f"the best preset (3 members, each {same})",
        seeds(f"{prefix}-mixed", range(n)): f"the same, --member-features '{mixed}' ({note})",
    }


ROUND11 = mixed_vs_same("v11", 5)  # 1:1
ROUND12 = mixed_vs_same("v12-31", 3)  # 3:1
ROUND13 = mixed_vs_same("v13m", 2, "pose, vel; --bones 0.2", "pose,vel;local,vel,orient", "member 2 palm frame")  # 1:3
ROUND14 = mixed_vs_same("v14-cw3", 3)  # cw3
ROUND15 = {  # 1:3 on a lent GPU: one network of the 1:3 preset (pose,vel, --bones 0.2) with one change each
    seeds("v15-13-base", range(6)): "the 1:3 preset's network (one network; pose, vel; --bones 0.2)",
    seeds("v15-13-drop01", range(6)): "+ frame dropping, --drop 0.1",
    seeds("v15-13-tempaug", range(6)): "+ stronger time augmentation, --speed 0.5 --crop 0.3",
    seeds("v15-13-vel4", range(6)): "+ velocity at a stride of 4 frames (features pose, vel, vel4)",
    seeds("v15-13-bones03", range(6)): "hand-shape augmentation --bones 0.3 (from 0.2)",
}

ROUND16 = {  # 1:3 on the CPU: one network of the 1:3 preset (pose,vel, --bones 0.2, --drop 0.1), manifold mixup
    seeds("v16-13-base", range(3)): "the 1:3 preset's network (one network; pose, vel; --bones 0.2; --drop 0.1)",
    seeds("v16-13-mixup04", range(3)): "+ manifold mixup, --mixup 0.4",
    seeds("v16-13-mixup2", range(3)): "+ manifold mixup, --mixup 2",
}

ROUND17 = {  # cross-subject as round 10, hand-size-free features beside the preset's (folds as each row lists)
    "+".join(
        f"v17-xs{f}-base" for f in (1, 2)
    ): "the preset's cross-subject network (pose, vel; --bones 0.2), folds 1, 2",
    "v17-xs1-angles": "+ joint angles (features pose, vel, angles), fold 1",
    "+".join(f"v17-xs{f}-dirs" for f in (1, 2)): "+ unit bone directions (features pose, vel, dirs), folds 1, 2",
    subject_folds("v17-xs", "dirs"): "+ unit bone directions (features pose, vel, dirs), folds 1 to 4",
}

ROUND18 = {  # 1:3 on the CPU: one network of the 1:3 preset with mirroring, more dropout or fewer units (base: round 16's)
    seeds("v16-13-base", range(3)): "the 1:3 preset's network (round 16's runs of the same command)",
    seeds("v18-13-mirror05", range(3)): "+ left-right mirroring of training sequences, --mirror 0.5",
    seeds("v18-13-dropout05", range(3)): "+ dropout 0.5 (from 0.2)",
    seeds("v18-13-units128", range(3)): "128 units (from 256)",
}

ROUND20 = {  # 1:3 on the CPU: the 3-member 1:3 preset with online co-distillation of its members
    seeds("v20-13-base", range(3)): "the 1:3 preset (3 members: pose,vel; the palm frame; pose,vel)",
    seeds("v20-13-distill1", range(3)): "+ co-distillation, --distill 1",
}
ROUND21 = {  # 1:1 on the CPU: round 20's co-distillation for the 1:1 preset; its base is round 11's mixed runs
    seeds("v11-mixed", range(5)): "the 1:1 preset (3 members: the palm frame; pose,vel; the palm frame; round 11)",
    seeds("v21-11-distill1", range(5)): "+ co-distillation, --distill 1",
}
BASE_13K = {folds("v22-13k-base"): "the 1:3 preset's network (one network; pose, vel)"}  # rounds 22-31
ROUND22 = {  # 1:3 on the CPU, k-fold selection: each candidate validated on the five folds of seed 0's partition
    **BASE_13K,
    folds("v22-13k-units128"): "+ 128 units, --num-units 128",
}
ROUND23 = {  # 1:3 on the CPU, k-fold selection as in round 22 (whose base runs are this round's base)
    **BASE_13K,
    folds("v23-13k-depth2"): "+ a second recurrent layer, --depth 2",
    folds("v23-13k-batch16"): "+ batches of 16, --batch-size 16 (120 epochs)",
    folds("v23-13k-dists"): "+ pairwise joint distances (features pose, vel, dists)",
}
ROUND24 = {  # 1:1 on the CPU: one network of the preset, alone and taught by round 21's run of its seed
    seeds("v24-11-one", range(3)): "one network of the 1:1 preset (palm frame; --member-features '')",
    seeds("v24-11-taught", range(3)): "+ taught by round 21's 3-member run (--teacher, --distill 1)",
}
PRESET_13 = {seeds("v20-13-distill1", range(3)): "the 1:3 preset (3 members, co-distilled; round 20)"}  # 25, 27
ROUND25 = {  # 1:3 on the CPU: the 3-member 1:3 preset with a second layer; its base is round 20's co-distilled runs
    **PRESET_13,
    seeds("v25-13-depth2", range(3)): "+ a second recurrent layer, --depth 2",
}
ROUND26 = {  # 1:3 on the CPU, k-fold selection as in round 22 (whose base runs are this round's base)
    **BASE_13K,
    folds("v26-13k-steps3600"): "+ twice the training, --min-steps 3600 (450 epochs)",
    folds("v26-13k-wd01"): "+ weight decay 0.1, --weight-decay 0.1 (from 0.01)",
}
ROUND27 = {  # 1:3 on the CPU: the 3-member 1:3 preset trained twice as long; its base is round 20's co-distilled runs
    **PRESET_13,
    seeds("v27-13-steps3600", range(3)): "+ twice the training, --min-steps 3600 (450 epochs)",
}
ROUND28 = {  # 1:3 on the CPU, k-fold selection as in round 22 (whose base runs are this round's base)
    **BASE_13K,
    folds("v28-13k-lr2e-3"): "+ twice the learning rate, --lr 2e-3",
    folds("v28-13k-ls02"): "+ label smoothing 0.2, --label-smoothing 0.2 (from 0.1)",
    folds("v28-13k-aug"): "+ stronger augmentation, --rotate 60 --scale 0.4 --jitter 6",
}
ROUND29 = {  # 1:3 on the CPU, k-fold as in round 28: its base and its stronger augmentation beside this round's runs
    **BASE_13K,
    folds("v28-13k-aug"): "+ round 28's augmentation, --rotate 60 --scale 0.4 --jitter 6",
    folds("v29-13k-aug2"): "+ stronger still, --rotate 90 --scale 0.5 --jitter 8",
    folds("v29-13k-rot60"): "+ rotation up to 60 degrees alone, --rotate 60",
}
ROUND30 = {  # 1:3 on the CPU: the 3-member preset with k-fold selection (folds of seed 0, as in rounds 22 to 29)
    folds("v30-13k3-base"): "the 1:3 preset (3 members, co-distilled)",
    folds("v30-13k3-aug"): "+ stronger augmentation, --rotate 60 --scale 0.4 --jitter 6",
}
ROUND31 = {  # 1:3 on the CPU, k-fold as in round 28: do its augmentation and round 23's second layer stack?
    **BASE_13K,
    folds("v28-13k-aug"): "+ round 28's augmentation, --rotate 60 --scale 0.4 --jitter 6",
    folds("v23-13k-depth2"): "+ round 23's second layer, --depth 2",
    folds("v31-13k-aug-depth2"): "+ both, --rotate 60 --scale 0.4 --jitter 6 --depth 2",
}
ROUND32 = {  # 1:3 on the CPU, k-fold as in round 22: the network reads every k-th frame
    **BASE_13K,
    folds("v32-13k-step2"): "+ every 2nd frame, --frame-step 2",
    folds("v32-13k-step3"): "+ every 3rd frame, --frame-step 3",
    folds("v32-13k-step4"): "+ every 4th frame, --frame-step 4",
}
ROUND33 = {  # 1:3 on the CPU: the 3-member preset with k-fold selection, as in round 30, reading every 4th frame
    folds("v30-13k3-base"): "the 1:3 preset (3 members, co-distilled)",
    folds("v33-13k3-step4"): "+ every 4th frame, --frame-step 4",
}
ROUND34 = {  # 1:1 on the CPU, k-fold: one network of the 1:1 preset (palm frame) reading every k-th frame
    folds("v34-11k-base"): "one network of the 1:1 preset (palm frame; --member-features '')",
    folds("v34-11k-step3"): "+ every 3rd frame, --frame-step 3",
    folds("v34-11k-step4"): "+ every 4th frame, --frame-step 4",
}
ROUND35 = {  # 1:3 on the CPU, k-fold as in round 32: one network of the 1:3 preset (every 4th frame) reading fewer
    folds("v35-13k-base"): "one network of the 1:3 preset as it stands (every 4th frame; pose, vel)",
    folds("v35-13k-step6"): "every 6th frame, --frame-step 6",
    folds("v35-13k-step8"): "every 8th frame, --frame-step 8",
}
ROUND36 = {  # 1:1 on the CPU: the 3-member 1:1 preset with k-fold selection, reading every frame or every 3rd
    folds("v36-11k3-base"): "the 1:1 preset (3 members, co-distilled)",
    folds("v36-11k3-step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND37 = {  # 1:3 on the CPU: the 3-member 1:3 preset as it stands (every 4th frame), k-fold, with one change each
    folds("v37-13k3-base"): "the 1:3 preset as it stands (3 members, every 4th frame)",
    folds("v37-13k3-members5"): "+ five members, --members 5",
    folds("v37-13k3-steps3600"): "+ twice the training, --min-steps 3600",
    folds("v37-13k3-tempaug"): "+ stronger temporal augmentation, --speed 0.5 --crop 0.3",
}
ROUND38 = {  # 3:1 on the CPU, k-fold: one network of the 3:1 preset (palm frame) reading every frame or every 3rd
    folds("v38-31k-base"): "one network of the 3:1 preset (palm frame)",
    folds("v38-31k-step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND39 = {  # cw3 on the CPU, k-fold: one network of the cw3 preset on the palm frame (its member 1), the same
    folds("v39-cwk-base"): "one network of the cw3 preset (palm frame; --member-features '')",
    folds("v39-cwk-step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND40 = {  # cross-subject as round 10 (one held-out training subject), folds 1 to 4: every frame or every 3rd
    subject_folds("v40-xs", "base"): "one network of the preset (pose, vel, --bones 0.2)",
    subject_folds("v40-xs", "step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND41 = {  # cw3 on the CPU: the 3-member cw3 preset with k-fold selection, reading every frame or every 3rd
    folds("v41-cwk3-base"): "the cw3 preset (3 members: two on the palm frame, one on pose,vel)",
    folds("v41-cwk3-step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND42 = {  # 3:1 on the CPU: the 3-member 3:1 preset with k-fold selection, reading every frame or every 3rd
    folds("v42-31k3-base"): "the 3:1 preset (3 members on the palm frame)",
    folds("v42-31k3-step3"): "+ every 3rd frame, --frame-step 3",
}
ROUND43 = {  # 1:3 on the CPU: the 3-member 1:3 preset with k-fold selection, with a new augmentation each
    folds("v43-13k3-base"): "the 1:3 preset as it stands (3 members, every 4th frame, 400 epochs)",
    folds("v43-13k3-warp"): "+ uneven speed, --warp 0.5",
    folds("v43-13k3-drift"): "+ a turning camera, --drift 30",
}

ROUND44 = {  # cross-subject as round 40 (one held-out training subject), folds 1 to 4: round 40's base runs, and
    # one network with a new augmentation each
    subject_folds("v40-xs", "base"): "one network of the preset (pose, vel, --bones 0.2)",
    subject_folds("v44-xs", "warp"): "+ uneven speed, --warp 0.5",
    subject_folds("v44-xs", "drift"): "+ a turning camera, --drift 30",
}
ROUND45 = {  # 3:1 on the CPU: the 3-member 3:1 preset with k-fold selection (round 42's runs as its base), and
    # with online co-distillation of its members
    folds("v42-31k3-step3"): "the 3:1 preset (3 members on the palm frame, every 3rd frame; round 42's runs)",
    folds("v45-31k3-distill1"): "+ co-distillation, --distill 1",
}
ROUND46 = {  # cw3 on the CPU: the same for the 3-member cw3 preset (round 41's runs as its base)
    folds("v41-cwk3-base"): "the cw3 preset (3 members: two on the palm frame, one on pose,vel; round 41's runs)",
    folds("v46-cwk3-distill1"): "+ co-distillation, --distill 1",
}
XS3_BASE = {  # the whole 3-member cross-subject preset on folds 1 to 4 (round 47's runs): the base of rounds 47 and 50
    subject_folds("v47-xs", "base"): "the cross-subject preset (3 members on pose, vel, --bones 0.2)",
}
ROUND47 = {  # cross-subject as round 44 (one held-out training subject), folds 1 to 4: the whole 3-member preset
    **XS3_BASE,
    subject_folds("v47-xs", "warp"): "+ uneven speed, --warp 0.5",
}
ROUND48 = {  # 1:1 as round 36 (k-fold, seed 0's five folds): the whole 3-member preset, every 3rd frame, one change each
    folds("v48-11k3-base"): "the 1:1 preset as it stands (3 members, co-distilled, every 3rd frame)",
    folds("v48-11k3-steps3600"): "+ twice the training, --min-steps 3600",
    folds("v48-11k3-drop"): "+ frame dropping, --drop 0.1",
}
ROUND49 = {  # 1:1 as round 48: its leader (twice the training, the 1:1 preset's since) with one change each
    folds("v48-11k3-steps3600"): "the 1:1 preset since round 48 (co-distilled, every 3rd frame, --min-steps 3600)",
    folds("v49-11k3-warp"): "+ uneven speed, --warp 0.5",
    folds("v49-11k3-bones"): "+ hand shapes, --bones 0.2",
}
ROUND50 = {  # cross-subject as round 47 (one held-out training subject), folds 1 to 4: its base, co-distilled members
    **XS3_BASE,
    subject_folds("v50-xs", "distill1"): "+ co-distilled members, --distill 1",
}
ROUND51 = {  # 1:1 as round 49 (k-fold): one network taught by round 49's uneven-speed run of its fold, weight 1 or 2
    folds("v51-11k-base"): "one network of the 1:1 preset taught by the preset run of its fold (--teacher)",
    folds("v51-11k-distill2"): "+ the teacher's term weighted twice, --distill 2",
}

ROUND52 = {  # 1:3 as round 43 (k-fold): the 3-member preset, and a second generation taught by it
    folds("v52-13k3-base"): "the 1:3 preset as it stands (round 43's base, trained again)",
    folds("v52-13k3-taught"): "+ taught by the base run of its fold, --teacher (a second generation)",
}

ROUND53 = {  # 1:1 as round 49 (k-fold): the 3-member preset, and a second generation taught by it
    folds("v49-11k3-warp"): "the 1:1 preset as it stands (round 49's uneven-speed runs)",
    folds("v53-11k3-taught"): "+ taught by the preset run of its fold, --teacher (a second generation)",
}

ROUND54 = {  # 1:3 as round 52 (k-fold): the second generation, and a third taught by it
    folds("v52-13k3-taught"): "the 1:3 preset as it now stands (round 52's second generation)",
    folds("v54-13k3-gen3"): "+ taught by the second-generation run of its fold, --teacher (a third generation)",
}

ROUND57 = {  # 3:1 as round 45 (k-fold): the preset as it stands, to be read with and without every phase
    folds("v57-31k3-base"): "the 3:1 preset as it stands (round 45's co-distilled members, trained again)",
}

R57_BASE = {folds("v57-31k3-base"): "the 3:1 preset as it stands (round 57's runs)"}  # rounds 58, 59's base

ROUND58 = {  # 3:1 as round 57 (k-fold): the preset as it stands, and with uneven speed
    **R57_BASE,
    folds("v58-31k3-warp"): "+ uneven speed, --warp 0.5",
}

ROUND59 = {  # 3:1 as round 57 (k-fold): the preset as it stands, a second generation, twice the training
    **R57_BASE,
    folds("v59-31k3-taught"): "+ taught by the preset run of its fold, --teacher (a second generation)",
    folds("v59-31k3-steps3600"): "+ twice the training, --min-steps 3600",
}

ROUND61 = {  # 3:1 as round 59 (k-fold): its second generation, a third, and the second trained twice as long
    folds("v59-31k3-taught"): "the 3:1 preset as it now stands (round 59's second generation)",
    folds("v61-31k3-gen3"): "+ taught by the second-generation run of its fold, --teacher (a third generation)",
    folds("v61-31k3-taughtsteps"): "the second generation trained twice as long, --min-steps 3600",
}

LATER_ROUNDS = (  # (heading, runs, what the val acc column lists): compared at the end of training
    ("round 8 (cross-subject)", ROUND8, "folds 1, 2"),
    ("round 9 (1:3)", ROUND9, "seeds as listed"),
    ("round 10 (cross-subject)", ROUND10, "folds 1 to 4"),
    ("round 11 (1:1, 3 members)", ROUND11, "seeds 0 to 4"),
    ("round 12 (3:1, 3 members)", ROUND12, "seeds 0 to 2"),
    ("round 13 (1:3, 3 members)", ROUND13, "seeds 0, 1"),
    ("round 14 (cw3, 3 members)", ROUND14, "seeds 0 to 2"),
    ("round 15 (1:3, one network)", ROUND15, "seeds 0 to 5"),
    ("round 16 (1:3, one network)", ROUND16, "seeds 0 to 2"),
    ("round 17 (cross-subject)", ROUND17, "folds as listed"),
    ("round 18 (1:3, one network)", ROUND18, "seeds 0 to 2"),
    ("round 20 (1:3, 3 members)", ROUND20, "seeds 0 to 2"),
    ("round 21 (1:1, 3 members)", ROUND21, "seeds 0 to 4"),
    ("round 22 (1:3, one network, k-fold)", ROUND22, "folds 1 to 5"),
    ("round 23 (1:3, one network, k-fold)", ROUND23, "folds 1 to 5"),
    ("round 24 (1:1, one network)", ROUND24, "seeds 0 to 2"),
    ("round 25 (1:3, 3 members)", ROUND25, "seeds 0 to 2"),
    ("round 26 (1:3, one network, k-fold)", ROUND26, "folds 1 to 5"),
    ("round 27 (1:3, 3 members)", ROUND27, "seeds 0 to 2"),
    ("round 28 (1:3, one network, k-fold)", ROUND28, "folds 1 to 5"),
    ("round 29 (1:3, one network, k-fold)", ROUND29, "folds 1 to 5"),
    ("round 30 (1:3, 3 members, k-fold)", ROUND30, "folds 1 to 5"),
    ("round 31 (1:3, one network, k-fold)", ROUND31, "folds 1 to 5"),
    ("round 32 (1:3, one network, k-fold)", ROUND32, "folds 1 to 5"),
    ("round 33 (1:3, 3 members, k-fold)", ROUND33, "folds 1 to 5"),
    ("round 34 (1:1, one network, k-fold)", ROUND34, "folds 1 to 5"),
    ("round 35 (1:3, one network, k-fold)", ROUND35, "folds 1 to 5"),
    ("round 36 (1:1, 3 members, k-fold)", ROUND36, "folds 1 to 5"),
    ("round 37 (1:3, 3 members, k-fold)", ROUND37, "folds 1 to 5"),
    ("round 38 (3:1, one network, k-fold)", ROUND38, "folds 1 to 5"),
    ("round 39 (cw3, one network, k-fold)", ROUND39, "folds 1 to 5"),
    ("round 40 (cross-subject, one network)", ROUND40, "folds 1 to 4"),
    ("round 41 (cw3, 3 members, k-fold)", ROUND41, "folds 1 to 5"),
    ("round 42 (3:1, 3 members, k-fold)", ROUND42, "folds 1 to 5"),
    ("round 43 (1:3, 3 members, k-fold)", ROUND43, "folds 1 to 5"),
    ("round 44 (cross-subject, one network)", ROUND44, "folds 1 to 4"),
    ("round 45 (3:1, 3 members, k-fold)", ROUND45, "folds 1 to 5"),
    ("round 46 (cw3, 3 members, k-fold)", ROUND46, "folds 1 to 5"),
    ("round 47 (cross-subject, 3 members)", ROUND47, "folds 1 to 4"),
    ("round 48 (1:1, 3 members, k-fold)", ROUND48, "folds 1 to 5"),
    ("round 49 (1:1, 3 members, k-fold)", ROUND49, "folds 1 to 5"),
    ("round 50 (cross-subject, 3 members)", ROUND50, "folds 1 to 4"),
    ("round 51 (1:1, one network taught, k-fold)", ROUND51, "folds 1 to 5"),
    ("round 52 (1:3, 3 members taught, k-fold)", ROUND52, "folds 1 to 5"),
    ("round 53 (1:1, 3 members taught, k-fold)", ROUND53, "folds 1 to 5"),
    ("round 54 (1:3, a third generation, k-fold)", ROUND54, "folds 1 to 5"),
    ("round 57 (3:1, 3 members, k-fold)", ROUND57, "folds 1 to 5"),
    ("round 58 (3:1, 3 members, k-fold)", ROUND58, "folds 1 to 5"),
    ("round 59 (3:1, 3 members, k-fold)", ROUND59, "folds 1 to 5"),
    ("round 61 (3:1, 3 members, k-fold)", ROUND61, "folds 1 to 5"),
)


def validation_round5(root: Path, groups: dict[str, str] = ROUND5, of: str = "seeds 0, 1") -> list[str]:
    """Rounds 5 to 8: the preset keeps its last epoch, so compare validation at the end of training."""

    def cells(runs: list[Path]) -> list[str]:
        last = [metric_rows(r)[-1] for r in runs]
        return [
            ", ".join(pct(float(row["val_acc"])) for row in last),
            pct(statistics.mean(float(row["val_acc"]) for row in last)),
            f"{statistics.mean(float(row['val_loss']) for row in last):.3f}",
            ", ".join(pct(load(r)["test_acc_last_epoch"]) for r in runs),
        ]

    header = ["runs", "what", f"val acc, last epoch ({of})", "mean val acc", "mean val loss, last epoch"]
    return seed_table(root, groups, header + ["test acc (last epoch)"], cells)


def metric_rows(run: Path) -> list[dict]:
    import csv

    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def best_row(run: Path) -> dict:
    """The metrics.csv row of the run's best validation epoch."""
    best = load(run)["best_epoch"]
    row = next(r for r in metric_rows(run) if int(r["epoch"]) == best)
    return {k: float(v) for k, v in row.items() if v}


RENAMED = ("best-", "one-", "v100-")  # runs of the preset that was called best then and is best128 now
RENAMED_256 = ("best256-", "one256-", "v13-", "v4-", "v5-")  # likewise, of the preset that is best256 now
# Runs made before the preset had min_steps (or under another folder name): (recorded, today's equivalent)
TODAY = {
    "best256-1-3-e100": (
        "--name best256-1-3 --threads 1 --protocol 1:3 --preset best256",
        "--name best256-1-3-e100 --threads 1 --protocol 1:3 --preset best256 --min-steps 0",
    ),
    "v13-e100-s0": ("--epochs 100 --seed 0", "--epochs 100 --min-steps 0 --seed 0"),
    "v13-e100-s1": ("--epochs 100 --seed 1", "--epochs 100 --min-steps 0 --seed 1"),
    "v13-e200-s0": ("--epochs 200 --seed 0", "--epochs 200 --min-steps 0 --seed 0"),
    "v13-ms1800-s1": ("--name v13-e200-s1 ", "--name v13-ms1800-s1 "),
}


def commands(root: Path) -> list[str]:
    out = []
    for run in sorted(p.parent for p in root.glob("*/command.json") if (p.parent / "metrics.csv").exists()):
        line = argv(run)
        if run.name.startswith(RENAMED):  # today's name of the preset it ran
            line = re.sub(r"--preset best(?= |$)", "--preset best128", line)
        if run.name.startswith(RENAMED_256):
            line = re.sub(r"--preset best(?= |$)", "--preset best256", line)
        if run.name in TODAY:
            recorded, today = TODAY[run.name]
            assert recorded in line, (run.name, line)
            line = line.replace(recorded, today)
        line += "".join(f" {flag}" for flag in since(run, line))
        stopped = "" if (run / "results.json").exists() else f" (stopped after epoch {len(metric_rows(run))})"
        out.append(f"- `{run.name}`{stopped}: `{line}`")
    return out


SAME_RUN = ("data", "out", "name", "threads")  # where a run lives and how many threads: not what it trains


def since(run: Path, line: str) -> list[str]:
    """Flags that make `line` train today what the run trained: the fields whose preset or default changed
    since the run was made, at the run's values (min_steps only where it changes the epochs, all_generations only
    where the run trained more than one generation)."""
    import dataclasses

    from handrnn.cli import config_from_args, get_parser
    from handrnn.config import Config

    today = config_from_args(get_parser().parse_args(shlex.split(line)[1:]))
    recorded = {**dataclasses.asdict(Config()), **json.loads((run / "config.json").read_text())}
    train = len(json.loads((run / "split.json").read_text())["train"])
    flags = []
    for name, value in dataclasses.asdict(today).items():
        was = recorded[name]
        if was == value or name in SAME_RUN or (name == "joints" and 0 in (was, value)):  # 0: the data's
            continue
        if name == "min_steps" and today.epochs_for(train) == dataclasses.replace(today, min_steps=was).epochs_for(
            train
        ):
            continue
        if name == "all_generations" and recorded["generations"] == 1:  # one generation: nothing to read together
            continue
        option = "--" + name.replace("_", "-")
        flags.append(
            (option if was else "--no-" + option[2:])
            if isinstance(was, bool)
            else f"{option} {was:g}"
            if isinstance(was, float)
            else f"{option} {shlex.quote(str(was))}"  # '' for an empty list
        )
    return flags


def ablation_figure(root: Path, out: Path) -> None:
    """Validation and test accuracy of each ablation row, as horizontal bars."""
    import numpy as np

    from handrnn.plots import plt, save

    names = [n for n in ABLATION if (root / n / "results.json").exists()]
    res = [load(root / n) for n in names]
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(names) + 1.5))
    ax.barh(y - 0.2, [100 * r["val_acc"] for r in res], 0.4, label="validation (52 sequences)")
    ax.barh(y + 0.2, [100 * r["test_acc"] for r in res], 0.4, label="test at the best validation epoch (575)")
    ax.set_yticks(y, [ABLATION[n] for n in names], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy (%)")
    ax.set_xlim(40, 100)
    ax.legend(loc="upper right", fontsize=8)
    save(fig, out, "Ablation on FPHA 1:1, seed 0 (experiments/accuracy.sh)")


def main(root: str) -> None:
    root = Path(root)
    ablation_figure(root, Path("docs/ablation.png"))
    print("\n".join(["### Ablation (1:1, seed 0)", "", *ablation(root), "", "### The best preset", "", *presets(root)]))
    print("\n".join(["", "### Validation runs that chose the best preset (1:1)", "", *validation(root)]))
    print("\n".join(["", "### Validation runs on 1:3", "", *validation_1_3(root)]))
    print("\n".join(["", "### Validation round 4 (1:1, GPU)", "", *validation_round4(root)]))
    print("\n".join(["", "### Validation round 5 (1:1)", "", *validation_round5(root)]))
    print("\n".join(["", "### Validation round 6 (1:1)", "", *validation_round5(root, ROUND6)]))
    if any((root / name).exists() for name in ("v4-13-base-s0", "v7-13-best-s0", "v7-13-best-s1")):
        print("\n".join(["", "### Validation round 7 (1:3)", "", *validation_round5(root, ROUND7)]))
    for title, groups, of in LATER_ROUNDS:
        print("\n".join(["", f"### Validation {title}", "", *validation_round5(root, groups, of)]))
    print("\n".join(["", "### Commands", "", *commands(root)]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/accuracy")
