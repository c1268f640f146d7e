"""The `handrnn` command: data summary/convert, train, evaluate."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import numpy as np

from .config import DEVICES, ON_BAD, PROTOCOLS, Config, coerce, load_preset, load_yaml, make_config, validate
from .errors import HandRNNError, Interrupted
from .runs import CHECKPOINTS

DEVICE_HELP = "cpu | cuda | auto (cuda when there is one)"

log = logging.getLogger("handrnn")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per Config field (--batch-size for batch_size); unset flags leave the field alone."""
    g = p.add_argument_group("config (each flag sets the Config field of the same name)")
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata.get('help', '')} (default: {f.default!r})".replace("%", "%%")
        if f.type == "bool":
            g.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text
            )
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            g.add_argument(flag, dest=f.name, type=kind, default=argparse.SUPPRESS, metavar=f.type.upper(), help=text)


def config_from_args(args: argparse.Namespace) -> Config:
    """Defaults, then the preset (--preset; its by_protocol changes for the run's protocol), then the YAML
    file (--config), then flags."""
    preset, by_protocol = load_preset(preset_path(args.preset)) if getattr(args, "preset", None) else ({}, {})
    given = load_yaml(args.config) if args.config else {}
    names = {f.name for f in dataclasses.fields(Config)}
    given.update({k: v for k, v in vars(args).items() if k in names})
    protocol = given.get("protocol", preset.get("protocol", Config().protocol))
    return make_config(Config(), **{**preset, **by_protocol.get(protocol, {}), **given})


def preset_path(name: str) -> Path:
    """The YAML file of a preset shipped with handrnn (src/handrnn/presets/NAME.yaml)."""
    from . import presets

    path = Path(presets.__file__).parent / f"{name}.yaml"
    if not path.is_file():
        raise HandRNNError(f"no preset named {name!r}; choose one of {', '.join(preset_names())}")
    return path


def preset_names() -> list[str]:
    from . import presets

    return sorted(p.stem for p in Path(presets.__file__).parent.glob("*.yaml"))


def cmd_train(args: argparse.Namespace) -> int:
    from .runs import RunDir, default_name

    if args.resume:
        cfg, out_root = None, RunDir(args.resume)
        out_root.read_config()  # a folder that holds no run stops here, before the lock creates anything
    else:
        cfg = config_from_args(args)
        if args.print_config:
            import yaml

            print(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False), end="")
            return 0
        out_root = RunDir(Path(cfg.out) / (cfg.name or default_name(cfg)))
    data = None
    if cfg is not None:  # a new run: bad data stops it before any folder is made
        from .datasets import load_data

        data = load_data(cfg.data, allow_pickle=cfg.allow_pickle, on_bad=cfg.on_bad)
    with out_root.lock():
        return train_in(out_root, cfg, args, data)


def train_in(out_root, cfg: Config | None, args: argparse.Namespace, data=None) -> int:
    """cmd_train's work, with the run folder locked; cfg is None when resuming (data is then loaded here)."""
    from .data import protocol_splits
    from .datasets import load_data
    from .runs import RunDir, provenance, summarise_folds
    from .training import fit

    if args.resume:
        extra = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(Config)}}
        if set(extra) - {"epochs", "data", "threads", "allow_pickle"}:
            raise HandRNNError(
                "--resume continues a run as configured; only --epochs, --data, --threads and --allow-pickle may change"
            )
        cfg = make_config(out_root.read_config(), **extra)
    elif out_root.holds_run():
        raise HandRNNError(
            f"{out_root} already holds a run: pick another --name, or continue it with --resume {out_root}"
        )
    else:
        out_root.write_command(provenance(cfg, args.argv))
    if data is None:
        data = load_data(cfg.data, allow_pickle=cfg.allow_pickle, on_bad=cfg.on_bad)
    splits = protocol_splits(data, cfg.protocol, cfg.seed)
    if cfg.fold:
        splits = [s for s in splits if s.name == f"subject{cfg.fold}"]
        if not splits:
            raise HandRNNError(f"fold {cfg.fold}: no such subject in the data")
    if args.resume and len(splits) > 1 and out_root.path.name in [s.name for s in splits]:
        splits = [s for s in splits if s.name == out_root.path.name]  # one fold's folder: that fold, in place
    folds = len(splits) > 1
    if folds and not args.resume:
        out_root.write_config(cfg)  # the parent holds the folds' config: it can be resumed as a whole
    results = []
    for i, split in enumerate(splits, 1):
        run_dir = RunDir(out_root / split.name) if folds else out_root
        if args.resume and run_dir.holds_run() and cfg.epochs != run_dir.read_config().epochs:
            run_dir.update_config(epochs=cfg.epochs)
        fold = f"fold {i}/{len(splits)}, " if folds else ""
        log.info(
            f"run {run_dir}: {cfg.model}/{cfg.cell} on {cfg.protocol} ({fold}{split.name}), "
            f"{len(split.train)} train / {len(split.test)} test"
        )
        try:
            results.append(fit(cfg, data, split, run_dir, resume=bool(args.resume)))
        except Interrupted as e:
            if not folds:
                raise
            raise e.within(f"fold {split.name}", out_root) from None
        command = out_root.read_command()
        run_dir.write_model_card(command)
        print(f"{run_dir}: test accuracy {results[-1]['test_acc']:.4f} (best val epoch {results[-1]['best_epoch']})")
    if folds:
        if args.resume and out_root.holds_run() and cfg.epochs != out_root.read_config().epochs:
            out_root.update_config(epochs=cfg.epochs)
        summary = summarise_folds(out_root.path, results)
        print(
            f"{out_root}: test accuracy {summary['test_acc_mean']:.4f} +- {summary['test_acc_std']:.4f} over {len(results)} folds"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_folds, evaluate_run, report_stem, which
    from .runs import RunDir

    options = {
        "checkpoint": args.checkpoint,
        "data_path": args.data or "",
        "part": args.part,
        "allow_pickle": args.allow_pickle,
        "device": args.device,
        "member": args.member,
        "tta": args.tta,
        "phases": args.phases,
    }
    if args.threads < 0:
        raise HandRNNError(f"--threads must be 0 (PyTorch's default) or more, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if len(args.run) > 1 or args.out:
        return evaluate_together(args, options)
    run = args.run[0]
    folds = RunDir(run).folds()
    r = evaluate_folds(Path(run), folds, **options) if folds else evaluate_run(Path(run), **options)
    stem = report_stem(args.part, args.checkpoint, args.member, args.tta, r["phases"])
    who = run + which(args.member, args.tta, r["phases"])
    if folds:  # a cross-subject parent: every fold, pooled
        print(f"{who} ({args.part}, {args.checkpoint} checkpoints, {len(folds)} folds, {r['n']} sequences)")
        print("per fold: " + ", ".join(f"{k} {v:.4f}" for k, v in r["folds"].items()))
        print(
            f"pooled accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}; "
            f"fold mean {r['fold_mean']:.4f} +- {r['fold_std']:.4f}"
        )
        print(f"wrote evaluation-{stem}.json and confusion-{stem}.png in {run}")
        return 0
    print(f"{who} ({args.part}, {args.checkpoint} checkpoint, epoch {r['epoch']}, {r['n']} sequences)")
    print_scores(r)
    print(f"wrote evaluation-{stem}.json, confusion-{stem}.png, misclassified-{stem}.csv in {run}")
    return 0


def evaluate_together(args: argparse.Namespace, options: dict) -> int:
    """`evaluate RUN RUN... --out DIR`: the runs' mean probabilities as one predictor."""
    from .evaluation import combination_stem, evaluate_combination, which

    if len(args.run) < 2:
        raise HandRNNError("--out is for several runs evaluated together; one run's report goes in its own folder")
    if not args.out:
        raise HandRNNError("several runs are evaluated together: give --out, the folder for their joint report")
    r = evaluate_combination([Path(p) for p in args.run], Path(args.out), **options)
    views = which(0, args.tta, r["phases"])
    print(f"{len(args.run)} runs together{views} ({args.part}, {args.checkpoint} checkpoints, {r['n']} sequences)")
    print("each alone: " + ", ".join(f"{k} {v['accuracy']:.4f}" for k, v in r["runs"].items()))
    print_scores(r)
    stem = combination_stem(args.part, args.checkpoint, args.tta, r["phases"])
    print(f"wrote evaluation-{stem}.json, confusion-{stem}.png, misclassified-{stem}.csv in {args.out}")
    return 0


def print_scores(r: dict) -> None:
    print(
        f"accuracy {r['accuracy']:.4f}  top-5 {r['top5_accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
        f"loss {r['loss']:.4f}"
    )
    worst = sorted((v, k) for k, v in r["per_class_accuracy"].items() if v is not None)[:5]
    print("lowest per-class accuracy: " + ", ".join(f"{k} {v:.2f}" for v, k in worst))


def cmd_predict(args: argparse.Namespace) -> int:
    from .config import from_dict
    from .evaluation import load_model, reads_phases

    for flag in ("top", "every"):
        if getattr(args, flag) < 1:
            raise HandRNNError(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if args.window < 0 or args.stride < 0:
        raise HandRNNError("--window and --stride must be positive")
    if args.stream == bool(args.files):
        raise HandRNNError("give skeleton files to classify, or --stream to read frames from standard input")
    model, encoder, state = load_model(Path(args.run), args.checkpoint, args.device)
    out = Reporter(list(state["actions"]), args.top, args.json)
    stride = args.stride or max(1, args.window // 4)
    phases = reads_phases(from_dict(state["config"], args.run), None)  # as evaluate reads the run
    if args.stream:
        return predict_stream(model, encoder, state, out, args, stride, phases)
    from .datasets import check_hand, read_sequence
    from .evaluation import checkpoint_joints
    from .stream import classify, segments, windows

    joints = checkpoint_joints(state)  # the run's layout (FPHA: 21 joints)
    seqs = [(Path(f), read_sequence(Path(f), joints)) for f in args.files]  # all read before any is classified
    if not args.no_check:
        for path, seq in seqs:
            check_hand(seq, str(path))
    for path, seq in seqs:
        if args.window:
            results = list(windows(model, encoder, [seq], args.window, stride, phases))
            out.segments(str(path), segments(results, args.window))
        else:
            out.ranked("file", str(path), classify(model, encoder, seq, phases))
    return 0


def predict_stream(
    model, encoder, state: dict, out: Reporter, args: argparse.Namespace, stride: int, phases: bool = False
) -> int:
    """predict --stream: windows (each read from every phase with `phases`), or the live recurrent state, which
    reads every k-th frame from the first as they come."""
    from .datasets import check_hand
    from .evaluation import checkpoint_joints
    from .stream import Streamer, read_frames, segments, windows

    frames = read_frames(sys.stdin, checkpoint_joints(state))
    if not args.no_check:
        frames = checked(frames, check_hand)
    if args.window:
        results = []
        for seen, probs in windows(model, encoder, frames, args.window, stride, phases):
            out.ranked("frames", f"{max(0, seen - args.window)}-{seen}", probs)
            results.append((seen, probs))
        out.segments("stdin", segments(results, args.window))
        return 0
    streamer, probs = Streamer(model, encoder), None
    for frame in frames:
        probs = streamer.push(frame)
        if streamer.frames % args.every == 0:
            out.ranked("frame", streamer.frames, probs)
    if probs is None:
        raise HandRNNError("stdin: no frames")
    if streamer.frames % args.every:
        out.ranked("frame", streamer.frames, probs)
    return 0


def checked(frames, check_hand, first: int = 10):
    """The stream's frames, the first `first` of them checked for millimetres and FPHA's joint order."""
    seen = []
    for frame in frames:
        if len(seen) < first:
            seen.append(frame)
            if len(seen) == first:
                check_hand(np.concatenate(seen), "stdin")
        yield frame
    if 0 < len(seen) < first:
        check_hand(np.concatenate(seen), "stdin")


class Reporter:
    """predict's output: top actions as text or JSON lines, flushed as they come (a stream is watched live)."""

    def __init__(self, actions: list[str], top: int, as_json: bool):
        self.actions, self.top, self.json = actions, top, as_json

    def ranked(self, key: str, where, probs) -> None:
        """One line: `key` (file, frame or frames) and where, then the top actions."""
        import json

        order = np.argsort(-probs)[: self.top]
        if self.json:
            top = [{"action": self.actions[j], "probability": round(float(probs[j]), 6)} for j in order]
            print(json.dumps({key: where, "top": top}))
        else:
            label = where if key == "file" else f"{key} {where}"
            print(f"{label}: " + ", ".join(f"{self.actions[j]} {probs[j]:.3f}" for j in order))
        sys.stdout.flush()

    def segments(self, where: str, segs) -> None:
        import json

        for s in segs:
            if self.json:
                row = {"segment": where, "start": s.start, "end": s.end, "action": self.actions[s.action]}
                print(json.dumps({**row, "probability": round(s.probability, 6)}))
            else:
                print(f"{where}: frames {s.start}-{s.end}: {self.actions[s.action]} ({s.probability:.3f})")
        sys.stdout.flush()


def cmd_summary(args: argparse.Namespace) -> int:
    from .datasets import load_data

    d = load_data(args.data, allow_pickle=args.allow_pickle, on_bad=args.on_bad)
    lengths = d.lengths
    print(
        f"sequences {len(d)}  frames {int(lengths.sum())}  actions {len(d.actions)}  subjects {len(set(d.subjects.tolist()) - {0})}"
    )
    print(f"length min {lengths.min()}  median {np.median(lengths):g}  mean {lengths.mean():.1f}  max {lengths.max()}")
    print(f"official split: train {(d.split == 0).sum()}  test {(d.split == 1).sum()}")
    for skipped in d.skipped:
        print(f"skipped {skipped}")
    if (d.subjects > 0).any():
        print("per subject: " + "  ".join(f"{s}:{n}" for s, n in zip(*np.unique(d.subjects, return_counts=True))))
    counts = np.bincount(d.labels, minlength=len(d.actions))
    print("per action:")
    for i, a in enumerate(d.actions):
        print(f"  {i + 1:>2} {a:<28} {counts[i]:>3}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    import os

    from .data import protocol_splits
    from .datasets import load_data, to_cw3_dict, write_cw3

    if args.protocol == "cross-subject":
        raise HandRNNError("convert writes one train/test container: use --protocol cw3 or 1:1")
    d = load_data(args.data, allow_pickle=args.allow_pickle)
    # A container keeps its own split unless a protocol is asked for; an FPHA tree gets CW3's split by default.
    source = args.data or os.environ.get("HANDRNN_DATA", "")
    protocol = args.protocol or ("1:1" if source and Path(source).is_file() else "cw3")
    split = protocol_splits(d, protocol, args.seed)[0]
    write_cw3(Path(args.out), to_cw3_dict(d, split.train, split.test))
    how = "the container's own split" if protocol == "1:1" and not args.protocol else f"{protocol}, seed {args.seed}"
    print(f"wrote {args.out}: {len(split.train)} train / {len(split.test)} test sequences ({how})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import os

    from .bench import print_table, run_bench

    data = args.data or os.environ.get("HANDRNN_DATA", "")
    if not data:
        raise HandRNNError("no data given: pass --data PATH or set $HANDRNN_DATA")
    if args.seconds is not None and args.seconds <= 0:
        raise HandRNNError(f"--seconds must be positive, got {args.seconds}")
    result = run_bench(Path(data), Path(args.out), quick=args.quick, budget=args.seconds, device=args.device)
    print_table(result)
    print(f"wrote {Path(args.out) / 'bench.json'} and bench.csv")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    import dataclasses as dc
    import json

    from .datasets import load_data
    from .plots import plot_sweep
    from .sweep import Sweep, make_space, run_sweep

    space = make_space(args.grid, args.range)
    cfg = config_from_args(args)
    if args.workers < 1:
        raise HandRNNError(f"--workers must be at least 1, got {args.workers}")
    name = cfg.name or "sweep-" + "-".join(space.fields())
    sweep = Sweep(dc.replace(cfg, name=""), space, Path(cfg.out) / name, args.storage, args.trials, args.prune)
    data = load_data(cfg.data, allow_pickle=cfg.allow_pickle, on_bad=cfg.on_bad)
    rows = run_sweep(sweep, data, workers=args.workers, retry=args.retry_failed)
    done = [r for r in rows if r["state"] == "complete"]
    if done:
        values = {k: sorted({r[k] for r in done}) for k in space.fields()}
        title = f"{cfg.model}/{cfg.cell} sweep on {cfg.protocol}"
        plot_sweep(done, values, sweep.out_dir / "sweep.png", title)
    for r in rows:
        outcome = f"val {r['val_acc']:.4f}  test {r['test_acc']:.4f}" if r["state"] == "complete" else r["state"]
        error = f": {r['error']}" if r["error"] else ""
        print(f"{r['run']:<60} {outcome}{error}")
    summary = json.loads((sweep.out_dir / "sweep.json").read_text())
    best = summary["selected_by_val"]
    if best is None:
        print(f"no trial finished; wrote sweep.csv and sweep.json in {sweep.out_dir}")
        return 1
    seeds = f" (mean of seeds {best['seeds']})" if best["seeds"] else ""
    chosen = ", ".join(f"{k}={best[k]}" for k in space.fields() if k != "seed")
    print(
        f"selected by validation{seeds}: {chosen or 'the base config'}: val {best['val_acc']:.4f}, "
        f"test {best['test_acc']:.4f}; wrote sweep.csv, sweep.json, sweep.png in {sweep.out_dir}"
    )
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    import shlex

    from .datasets import load_data
    from .study import make_study, run_study, write_report
    from .sweep import TRIALS

    if args.workers < 1:
        raise HandRNNError(f"--workers must be at least 1, got {args.workers}")
    out = args.out or f"runs/study-{args.name}-{args.budget}"
    study = make_study(args.name, args.budget, args.seeds, args.data, out, args.threads, args.epochs)
    if args.report_only:
        if not (study.out_dir / TRIALS).is_dir():
            raise HandRNNError(f"{study.out_dir}: no study runs here; run the study first (without --report-only)")
        path = write_report(study)
    else:
        command = " ".join(["handrnn", *(shlex.quote(a) for a in args.argv)])
        path = run_study(study, load_data(args.data), args.workers, command)
    print(f"wrote {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export

    path = export(Path(args.run), args.format, Path(args.out) if args.out else None, args.checkpoint)
    print(f"wrote {path}: input joints [1, T, 3 x joints] (FPHA: 63, millimetres), output probabilities [1, C]")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .datasets import read_sequence
    from .plots import animate_hand

    if args.fps < 1 or args.step < 1:
        raise HandRNNError("--fps and --step must be at least 1")
    path = Path(args.file)
    frames = read_sequence(path)
    name = "/".join(path.parts[-4:-1]) if path.name == "skeleton.txt" else path.name  # Subject/action/rep
    captions, title = None, name
    if args.run:
        captions = running_prediction(Path(args.run), frames, args.device)
        title = f"{name}; caption: {Path(args.run).name}'s top action so far"
    keep = list(range(0, len(frames), args.step))
    out = Path(args.out or name.replace("/", "-").removesuffix(path.suffix) + ".gif")
    animate_hand(
        frames[keep], out, captions=[captions[i] for i in keep] if captions else None, fps=args.fps, title=title
    )
    print(f"wrote {out} ({len(keep)} frames)")
    return 0


def running_prediction(run: Path, frames: np.ndarray, device: str = "cpu") -> list[str]:
    """The run's top action and probability after each frame: streamed when the model can carry its
    state, otherwise each prefix classified anew."""
    from .evaluation import load_model
    from .stream import Streamer, can_stream, classify

    model, encoder, state = load_model(run, device=device)
    actions = state["actions"]
    if can_stream(model):
        streamer = Streamer(model, encoder)
        probs = [streamer.push(frames[t : t + 1]) for t in range(len(frames))]
    else:
        probs = [classify(model, encoder, frames[: t + 1]) for t in range(len(frames))]
    return [f"{actions[int(p.argmax())]} {p.max():.2f}" for p in probs]


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_curves
    from .runs import RunDir

    runs = {}
    for r in args.runs:
        folds = RunDir(r).folds()  # a cross-subject parent: one curve per fold
        for run, label in [(f, f"{Path(r).name}/{f.path.name}") for f in folds] or [(RunDir(r), Path(r).name)]:
            path = run.metrics_path
            if not path.is_file():
                raise HandRNNError(f"{run}: not a run folder (no {path.name})")
            runs[label] = path
    print(f"wrote {plot_curves(runs, Path(args.out), args.title)}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from .runs import RunDir, describe

    if args.folds:
        print("\n".join(fold_table([RunDir(r) for r in args.runs])))
        return 0

    rows = [
        "| run | model | protocol | seed | sizes (train/val/test) | best epoch | val acc | test acc (best val) | test acc (last epoch) | s/epoch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    queue = list(args.runs)
    while queue:
        r = queue.pop(0)
        run = RunDir(r)
        if not run.finished() and (run.epochs_done() or run.holds_run() and not run.folds()):
            rows.append(f"| {Path(r).name} | unfinished: {run.progress()} | | | | | | | | |")
            continue
        res = run.read_results()
        if "folds" in res:
            rows.append(
                f"| {Path(r).name} | | cross-subject | | | | | {res['test_acc_mean']:.4f} +- {res['test_acc_std']:.4f} | | |"
            )
            queue[0:0] = [str(f.path) for f in run.folds()]  # then each fold's own row
            continue
        z = res["sizes"]
        rows.append(
            f"| {Path(r).name} | {describe(run.read_config())} | {res['protocol']} | {res['seed']} | {z['train']}/{z['val']}/{z['test']} | "
            f"{res['best_epoch']}/{res['epochs_run']} | {res['val_acc']:.4f} | {res['test_acc']:.4f} | "
            f"{res['test_acc_last_epoch']:.4f} | {res['seconds_per_epoch']:.2f} |"
        )
    print("\n".join(rows))
    return 0


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="handrnn", description="Hand action recognition from 3D hand skeletons with RNNs.")
    sub = p.add_subparsers(dest="command", required=True)
    add_data_commands(sub)
    add_training_commands(sub)
    add_run_commands(sub)
    b = sub.add_parser("bench", help="measure training and inference speed on the cw3 training set")
    b.add_argument("--data", default="", help="FPHA folder or .npz container (default: $HANDRNN_DATA)")
    b.add_argument("--quick", action="store_true", help="a few rows, about a minute")
    b.add_argument("--seconds", type=float, help="time budget per row (default 3 quick, 15 full)")
    b.add_argument("--out", default="bench", help="folder for bench.json and bench.csv")
    b.add_argument("--device", choices=DEVICES, default="cpu", help=DEVICE_HELP)
    b.set_defaults(func=cmd_bench)
    return p


def add_data_commands(sub) -> None:
    data = sub.add_parser("data", help="inspect or convert a dataset")
    data = data.add_subparsers(dest="data_command", required=True)
    s = data.add_parser("summary", help="counts, per-class and per-subject numbers, length statistics")
    c = data.add_parser("convert", help="write a CW3 container (.npz safe, or .pkl) from an FPHA tree or container")
    for q in (s, c):
        q.add_argument("--data", default="", help="FPHA folder or container (default: $HANDRNN_DATA)")
        q.add_argument("--allow-pickle", action="store_true", help="read a pickled container (runs code from the file)")
    s.add_argument("--on-bad", choices=ON_BAD, default="error", help="what to do with a malformed file")
    s.set_defaults(func=cmd_summary)
    c.add_argument("--out", required=True, help="output file, .npz or .pkl")
    c.add_argument(
        "--protocol",
        choices=[p for p in PROTOCOLS if p != "cross-subject"],
        help="split to write (default: a container's own split; cw3 for an FPHA tree)",
    )
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_convert)


def add_training_commands(sub) -> None:
    t = sub.add_parser("train", help="train a model; writes a run folder")
    t.add_argument("--preset", help="a shipped config (best: see docs/accuracy.md); --config and flags override it")
    t.add_argument("--config", help="YAML file of Config fields; flags override it")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    t.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    add_config_flags(t)
    t.set_defaults(func=cmd_train)
    sw = sub.add_parser(
        "sweep", help="train the points of a grid or sampled ranges of config values (Optuna); table and figure"
    )
    grid_help = "values of one Config field (repeat for a product grid), e.g. --grid num-units=64,128,256"
    sw.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2", help=grid_help)
    range_help = "a number field sampled by TPE, e.g. --range lr=1e-4:1e-2:log (needs --trials)"
    sw.add_argument("--range", action="append", default=[], metavar="FIELD=LOW:HIGH[:log]", help=range_help)
    sw.add_argument("--trials", type=int, default=0, help="sampled sweeps: how many trials in all")
    sw.add_argument("--workers", type=int, default=1, help="local worker processes; --threads is split between them")
    storage_help = (
        "Optuna storage URL shared by workers on many machines (default: sqlite file study.db in the sweep folder)"
    )
    sw.add_argument("--storage", default="", metavar="URL", help=storage_help)
    sw.add_argument("--prune", action="store_true", help="stop trials whose validation accuracy trails the median")
    sw.add_argument("--retry-failed", action="store_true", help="train the failed points again")
    sw.add_argument("--preset", help="a shipped base config (see handrnn train --help)")
    sw.add_argument("--config", help="YAML file of the base config; flags override it")
    add_config_flags(sw)
    sw.set_defaults(func=cmd_sweep)
    st = sub.add_parser("study", help="rerun a published study (cw3) on the sweep engine and write REPORT.md")
    st.add_argument("name", choices=["cw3"], help="cw3: the CW3 report's experiments, each beside CW3's numbers")
    st.add_argument("--budget", choices=["quick", "full"], default="quick", help="quick: under 30 minutes; full: CW3's")
    st.add_argument("--data", default="", help="FPHA folder (default: $HANDRNN_DATA)")
    st.add_argument("--out", default="", help="study folder (default: runs/study-NAME-BUDGET)")
    st.add_argument("--seeds", type=int, default=1, help="seeds per point (mean and spread in the report)")
    st.add_argument("--workers", type=int, default=2, help="local worker processes")
    st.add_argument("--threads", type=int, default=0, help="torch threads in all, split between workers (0: all cores)")
    st.add_argument("--epochs", type=int, default=0, help="override the budget's epochs (10 quick, 50 full)")
    st.add_argument("--report-only", action="store_true", help="rewrite REPORT.md from the runs there, train nothing")
    st.set_defaults(func=cmd_study)


def add_run_commands(sub) -> None:
    e = sub.add_parser("evaluate", help="test a run: metrics, confusion matrix, misclassified sequences")
    e.add_argument(
        "run", nargs="+", help="run folder; several (with --out): their mean probabilities, as one predictor"
    )
    e.add_argument("--out", default="", help="several runs: the folder for their joint report")
    e.add_argument("--checkpoint", choices=CHECKPOINTS, default="best")
    e.add_argument("--part", choices=["test", "val", "train"], default="test")
    e.add_argument("--data", default="", help="dataset path, if it moved since training")
    e.add_argument("--allow-pickle", action="store_true", help="read a pickled container (runs code from the file)")
    e.add_argument("--device", choices=DEVICES, default="cpu", help=DEVICE_HELP)
    e.add_argument(
        "--member", type=int, default=0, help="an ensemble's K-th network alone (from 1); 0 = the whole model"
    )
    e.add_argument(
        "--tta",
        type=int,
        default=1,
        metavar="N",
        help="test-time augmentation: average the probabilities of each sequence and N-1 variants drawn with the "
        "run's training augmentation (fixed seed); 1 = the sequence alone",
    )
    e.add_argument(
        "--phases",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a run that reads every k-th frame: average the probabilities of each sequence read from frame 0, "
        "1, ..., k-1 (or not); default: as the run's config says (phases)",
    )
    e.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = PyTorch's default")
    e.set_defaults(func=cmd_evaluate)
    ex = sub.add_parser("export", help="write a run's model as ONNX or TorchScript: raw joints in, probabilities out")
    ex.add_argument("run", help="run folder")
    ex.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    ex.add_argument("--out", help="output file (default: RUN/model.onnx or RUN/model.pt)")
    ex.add_argument("--checkpoint", choices=CHECKPOINTS, default="best")
    ex.set_defaults(func=cmd_export)
    pr = sub.add_parser(
        "predict", help="classify skeleton files (skeleton.txt, .npy, .csv), or frames streamed on standard input"
    )
    pr.add_argument("run", help="run folder")
    pr.add_argument("files", nargs="*", help="FPHA skeleton.txt files, .npy arrays [T, 63] / [T, 21, 3], .csv rows")
    pr.add_argument("--checkpoint", choices=CHECKPOINTS, default="best")
    pr.add_argument("--top", type=int, default=3, help="how many actions to list")
    pr.add_argument("--json", action="store_true", help="JSON lines: one object per file, window or report")
    pr.add_argument("--stream", action="store_true", help="read frames from standard input as they arrive")
    pr.add_argument("--every", type=int, default=10, help="--stream: report the current top actions every N frames")
    window_help = "classify the last W frames every --stride frames and cut the recording into actions"
    pr.add_argument("--window", type=int, default=0, metavar="W", help=window_help)
    pr.add_argument("--stride", type=int, default=0, help="--window: frames between windows (default W/4)")
    pr.add_argument("--no-check", action="store_true", help="skip the millimetre and joint-order check")
    pr.add_argument("--device", choices=DEVICES, default="cpu", help=DEVICE_HELP)
    pr.set_defaults(func=cmd_predict)
    sh = sub.add_parser(
        "show", help="a skeleton file as an animated 3D hand (GIF or MP4), with a run's running prediction"
    )
    sh.add_argument("file", help="skeleton.txt, .npy or .csv")
    sh.add_argument("--run", help="caption each frame with this run's top action so far")
    sh.add_argument("--device", choices=DEVICES, default="cpu", help=DEVICE_HELP)
    sh.add_argument("--out", help="GIF or MP4 file (default: FILE's name with .gif, in the current folder)")
    sh.add_argument("--fps", type=int, default=30, help="frames per second (FPHA records 30)")
    sh.add_argument("--step", type=int, default=1, help="show every Nth frame (a smaller, faster file)")
    sh.set_defaults(func=cmd_show)
    pl = sub.add_parser("plot", help="training curves (loss, accuracy per epoch) of one or more runs in one PNG")
    pl.add_argument("runs", nargs="+", help="run folders")
    pl.add_argument("--out", required=True, help="PNG file")
    pl.add_argument("--title", default="")
    pl.set_defaults(func=cmd_plot)
    tb = sub.add_parser("table", help="a markdown table of the results of run folders")
    tb.add_argument("runs", nargs="+", help="run folders")
    tb.add_argument(
        "--folds",
        action="store_true",
        help="k-fold selection: runs that differ only in --val-fold grouped, validation right at the last epoch "
        "summed over the folds, best first",
    )
    tb.set_defaults(func=cmd_table)


def fold_table(runs: list) -> list[str]:
    """`table --folds`: one row per group of k-fold runs (runs.fold_groups), best first."""
    from .runs import fold_groups

    rows = [
        "| runs | protocol | what differs | model | folds | val right, last epoch (per fold) | val acc | "
        "mean val loss | test acc, last epoch (mean +- std) | s/epoch |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in fold_groups(runs):
        held = ", ".join(map(str, g["folds"]))
        rows.append(
            f"| {', '.join(g['runs'])} | {g['protocol']} | {', '.join(f'{k}={v}' for k, v in g['changes'].items())} | "
            f"{g['describe']} | {held} of {g['of']} | {g['right']}/{g['n']} ({'/'.join(map(str, g['right_per_fold']))}) | "
            f"{g['right'] / g['n']:.2%} | {g['val_loss']:.3f} | {g['test_acc_mean']:.2%} +- {g['test_acc_std']:.2%} | "
            f"{g['seconds_per_epoch']:.2f} |"
        )
    return rows


def setup_logging() -> None:
    """handrnn's messages go to stderr as 'handrnn: ...'; other libraries' INFO chatter stays silent."""
    for h in [h for h in log.handlers if getattr(h, "handrnn", False)]:
        log.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)  # the current stderr, also when main() runs again
    handler.setFormatter(logging.Formatter("handrnn: %(message)s"))
    handler.handrnn = True
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = get_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # predict's files may come after its options (argparse leaves them over)
        if getattr(args, "command", None) == "predict" and not any(e.startswith("-") for e in extra):
            args.files += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv
    try:
        return args.func(args)
    except Interrupted as e:
        print(f"handrnn: interrupted: {e}", file=sys.stderr)
        return 130
    except HandRNNError as e:
        print(f"handrnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handrnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head or less, closed early
        sys.stderr.close()
        return 0
    except OSError as e:  # disk full, read-only folder, a name too long: the system's words, one line
        where = f"{e.filename}: " if e.filename else ""
        print(f"handrnn: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except UnicodeError as e:
        print(f"handrnn: error: a file name or text is not valid UTF-8 ({e.reason})", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback on request
        if os.environ.get("HANDRNN_DEBUG"):
            raise
        print(
            f"handrnn: internal error: {e.__class__.__name__}: {e} (HANDRNN_DEBUG=1 shows the traceback; "
            "please report it)",
            file=sys.stderr,
        )
        return 3


__all__ = ["coerce", "get_parser", "main", "validate"]
