"""`handrnn evaluate`: test a run's checkpoint and write its metrics, confusion matrix and mistakes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .augment import Augmentation
from .config import Config, from_dict
from .data import Encoder, Normaliser, fingerprint, held_out
from .datasets import HandActions, load_data
from .errors import HandRNNError
from .metrics import classification_report, macro_f1
from .models import build_model, together
from .runs import RunDir
from .skeleton import NUM_JOINTS
from .training import augmentation, members_of, predict, resolve_device

TTA_SEED = 0  # test-time views are drawn from this seed: an evaluation gives the same number every time


def load_model(
    run_dir: Path, checkpoint: str = "best", device: str = "cpu", member: int = 0
) -> tuple[torch.nn.Module, Encoder, dict]:
    """The model of a run folder's checkpoint (best or last) on `device`, its input encoder and the
    checkpoint's metadata; `member` k >= 1 gives an ensemble's k-th network alone (it reads its own columns of
    the same input). A run of several generations with all_generations is the ensemble of every generation's
    networks (the earlier ones at their best checkpoint, the one that taught the next, as training judged the run;
    members counted over all of them)."""
    run = RunDir(run_dir)
    folds = run.folds()
    if folds:
        raise HandRNNError(
            f"{run_dir}: a cross-subject folder holds one model per fold; give one of them, e.g. {folds[0]}"
        )
    state = run.load(checkpoint)
    where = run.checkpoint_path(checkpoint)
    try:
        cfg = from_dict(state["config"], str(where))
        model = build_model(cfg, len(state["actions"]))
        model.load_state_dict(state["model"])
        Normaliser(**state["normaliser"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise HandRNNError(
            f"{where}: not a checkpoint this handrnn can load (another version or model; {e.__class__.__name__}: "
            f"{str(e).splitlines()[0][:120]})"
        ) from None
    encoder = Encoder(cfg.feature_names(), Normaliser(**state["normaliser"]), cfg.frame_step)
    if cfg.all_generations and cfg.generations > 1:
        model = together([*earlier_generations(run, cfg.generations, encoder), model])
    model = pick_member(model, member, where).to(resolve_device(device))
    return model.eval(), encoder, state


def earlier_generations(run: RunDir, generations: int, encoder: Encoder) -> list[torch.nn.Module]:
    """The models of a run's earlier generations (generation1 to generation{generations - 1}), each at its best
    checkpoint; each must read the input as the run's last generation does."""
    models = []
    for g in range(1, generations):
        model, theirs, _ = load_model(run.generation(g).path, "best")
        if theirs != encoder:
            raise HandRNNError(f"{run.generation(g).path}: reads other input than {run.path} (features or normaliser)")
        models.append(model)
    return models


def pick_member(model: torch.nn.Module, member: int, where: Path) -> torch.nn.Module:
    """The whole model (member 0) or an ensemble's member-th network (from 1)."""
    if not member:
        return model
    count = members_of(model)
    if count == 1:
        raise HandRNNError(f"{where}: member {member} asked for, but this run trained one network, not an ensemble")
    if not 1 <= member <= count:
        raise HandRNNError(f"{where}: member must be in 1..{count} (the ensemble's networks), got {member}")
    return model.members[member - 1]


def which(member: int = 0, tta: int = 1, phases: bool = False) -> str:
    """How an evaluation reads a run, for its messages: one ensemble member, several test-time views, every
    phase of its frame step."""
    return (
        (f" member {member}" if member else "")
        + (f", {tta} views" if tta > 1 else "")
        + (", every phase" if phases else "")
    )


def report_stem(part: str, checkpoint: str, member: int = 0, tta: int = 1, phases: bool = False) -> str:
    """The name shared by an evaluation's files: PART-CHECKPOINT, with -memberK for one ensemble member, -ttaN
    for N test-time views and -phases for every phase of the run's frame step."""
    return (
        f"{part}-{checkpoint}"
        + (f"-member{member}" if member else "")
        + (f"-tta{tta}" if tta > 1 else "")
        + ("-phases" if phases else "")
    )


def predict_views(
    model: torch.nn.Module,
    frames: list[np.ndarray],
    labels: np.ndarray,
    encoder: Encoder,
    augment: Augmentation,
    views: int = 1,
    seed: int = TTA_SEED,
    phases: bool = False,
) -> torch.Tensor:
    """Logits [N, C] of raw sequences; with `views` > 1 (test-time augmentation) their softmax is the mean
    probability over each sequence itself and views - 1 variants drawn with `augment` (the run's training
    augmentation) from a generator seeded with `seed`; with `phases`, each of them is read from every phase of
    the encoder's step (`Phases`). One view, one phase, is `predict`'s logits unchanged."""
    if views > 1 and not augment:
        raise HandRNNError("test-time views are drawn with the run's training augmentation, and this run had none")
    logits = predict(model, held_out(frames, labels, encoder, phases))
    if views == 1:
        return logits
    rng = np.random.default_rng([seed, 11])
    log_probs = [logits.log_softmax(1)]
    for _ in range(views - 1):
        variants = [augment(f, rng) for f in frames]
        log_probs.append(predict(model, held_out(variants, labels, encoder, phases)).log_softmax(1))
    return torch.stack(log_probs).logsumexp(0) - np.log(views)


def checkpoint_joints(state: dict) -> int:
    """Joints per frame of the data a checkpoint was trained on (FPHA's 21 for runs made before the field)."""
    return state["config"].get("joints") or NUM_JOINTS


def split_indices(data: HandActions, run_dir: Path, part: str) -> np.ndarray:
    """Indices into `data` of the sequences that the run used as `part` (train/val/test)."""
    ids = RunDir(run_dir).read_split(part)
    where = {sid: i for i, sid in enumerate(data.ids)}
    missing = [sid for sid in ids if sid not in where]
    if missing:
        raise HandRNNError(
            f"the data lacks {len(missing)} {part} sequence(s) of this run, e.g. {missing[0]}: is it the same dataset?"
        )
    return np.array([where[sid] for sid in ids], dtype=np.int64)


class Predictions(NamedTuple):
    """A run's logits [N, C] for its `part`, the indices of those sequences in `data`, and the checkpoint read."""

    logits: np.ndarray
    index: np.ndarray
    data: HandActions
    state: dict
    config: Config
    phases: bool = False  # read from every phase of the frame step


def run_predictions(
    run_dir: Path,
    *,
    checkpoint: str = "best",
    data_path: str = "",
    part: str = "test",
    allow_pickle: bool = False,
    device: str = "cpu",
    member: int = 0,
    tta: int = 1,
    phases: bool | None = None,
    data: HandActions | None = None,
) -> Predictions:
    """The logits of a run's checkpoint on the sequences of its `part`, read from `data` (loaded from `data_path`
    or the run's own dataset when None) after checking that they are the ones the run used; `phases` None reads
    them as the run's config says."""
    if tta < 1:
        raise HandRNNError(f"tta must be at least 1 (1 = the sequence alone), got {tta}")
    cfg = RunDir(run_dir).read_config()
    phases = reads_phases(cfg, phases)
    model, encoder, state = load_model(run_dir, checkpoint, device, member)
    if data is None:
        data = load_data(data_path or cfg.data, allow_pickle=allow_pickle, on_bad=cfg.on_bad)
    if list(data.actions) != list(state["actions"]):
        raise HandRNNError(f"the data's action names differ from those the run {run_dir} was trained on")
    index = split_indices(data, run_dir, part)
    RunDir(run_dir).check_data(part, fingerprint(data, index))
    frames = [data.sequences[i] for i in index]
    logits = predict_views(model, frames, data.labels[index], encoder, augmentation(cfg), tta, phases=phases).numpy()
    return Predictions(logits, index, data, state, cfg, phases)


def reads_phases(cfg: Config, phases: bool | None) -> bool:
    """Whether an evaluation reads every phase: as asked, else as the run's config says; never at frame step 1,
    where there is one phase."""
    return (cfg.phases if phases is None else phases) and cfg.frame_step > 1


def evaluate_run(
    run_dir: Path, *, checkpoint: str = "best", part: str = "test", member: int = 0, tta: int = 1, **options
) -> dict:
    """Evaluate one run (`run_predictions`' options) and write its report, confusion matrix and mistakes there."""
    run_dir = Path(run_dir)
    p = run_predictions(run_dir, checkpoint=checkpoint, part=part, member=member, tta=tta, **options)
    report = classification_report(p.logits, p.data.labels[p.index], p.data.actions)
    report.update(
        {
            "checkpoint": checkpoint,
            "epoch": p.state["epoch"],
            "part": part,
            "member": member,
            "tta": tta,
            "phases": p.phases,
        }
    )
    cfg = p.config
    who = f"{cfg.model}/{cfg.cell}" + which(member, tta, p.phases)
    title = f"{who} {cfg.protocol} {part} ({checkpoint} epoch {p.state['epoch']}): acc {report['accuracy']:.4f}"
    write_report(run_dir, report_stem(part, checkpoint, member, tta, p.phases), report, p, title)
    return report


def evaluate_combination(
    run_dirs: list[Path], out: Path, *, checkpoint: str = "best", part: str = "test", tta: int = 1, **options
) -> dict:
    """Several runs as one predictor: the mean of their probabilities on the `part` that every one of them held out
    (the same sequences), each run reading its own features, normalisation and (with tta) augmentation. The
    report, with each run's own accuracy, goes to the folder `out`."""
    run_dirs = [Path(r) for r in run_dirs]
    if len(run_dirs) < 2:
        raise HandRNNError("a combination needs at least two runs")
    seen = [r.resolve() for r in run_dirs]
    twice = next((r for k, r in enumerate(run_dirs) if seen[k] in seen[:k]), None)
    if twice is not None:
        raise HandRNNError(f"{twice} is given twice: each run of a combination counts once")
    if options.get("member"):
        raise HandRNNError("--member picks a network of one run; a combination takes each run whole")
    if Path(out).exists() and not Path(out).is_dir():
        raise HandRNNError(f"{out}: a file, not a folder for the combination's report")
    options.update(checkpoint=checkpoint, part=part, tta=tta)
    first = run_predictions(run_dirs[0], **options)
    preds = [first]
    for run_dir in run_dirs[1:]:
        p = run_predictions(run_dir, **{**options, "data": first.data})
        if not np.array_equal(np.sort(p.index), np.sort(first.index)):
            differ = len(set(p.index.tolist()) ^ set(first.index.tolist()))
            raise HandRNNError(
                f"{run_dir}: its {part} part is not that of {run_dirs[0]} ({differ} sequences in one only): a "
                f"combination is evaluated on a part that every run held out (same protocol and split)"
            )
        where = {int(i): k for k, i in enumerate(p.index)}
        preds.append(p._replace(logits=p.logits[[where[int(i)] for i in first.index]], index=first.index))
    labels = first.data.labels[first.index]
    log_probs = torch.stack([torch.from_numpy(p.logits).log_softmax(1) for p in preds])
    logits = (log_probs.logsumexp(0) - np.log(len(preds))).numpy()
    report = classification_report(logits, labels, first.data.actions)
    phases = any(p.phases for p in preds)
    report.update(
        {
            "checkpoint": checkpoint,
            "part": part,
            "tta": tta,
            "phases": phases,
            "runs": {
                str(r): {
                    "epoch": p.state["epoch"],
                    "accuracy": float((p.logits.argmax(1) == labels).mean()),
                    "phases": p.phases,
                }
                for r, p in zip(run_dirs, preds)
            },
        }
    )
    title = f"{len(preds)} runs combined, {part} ({checkpoint} checkpoints): acc {report['accuracy']:.4f}"
    Path(out).mkdir(parents=True, exist_ok=True)
    stem = combination_stem(part, checkpoint, tta, phases)
    write_report(Path(out), stem, report, first._replace(logits=logits), title)
    return report


def combination_stem(part: str, checkpoint: str, tta: int = 1, phases: bool = False) -> str:
    """The name shared by a combination's files: the one-run name with -combined (-phases where any of its runs
    read every phase)."""
    return report_stem(part, checkpoint, 0, tta, phases) + "-combined"


def write_report(folder: Path, stem: str, report: dict, p: Predictions, title: str) -> None:
    """evaluation-STEM.json, confusion-STEM.png and misclassified-STEM.csv in `folder`."""
    RunDir(folder).write_json(f"evaluation-{stem}.json", report)
    from .plots import plot_confusion  # matplotlib only where a figure is drawn: predict starts faster

    plot_confusion(np.array(report["confusion_matrix"]), p.data.actions, folder / f"confusion-{stem}.png", title)
    write_mistakes(folder / f"misclassified-{stem}.csv", p.data, p.index, p.logits)


def write_mistakes(path: Path, data: HandActions, index: np.ndarray, logits: np.ndarray) -> None:
    from .runs import atomic_write

    atomic_write(path, lambda tmp: _write_mistakes(tmp, data, index, logits))


def _write_mistakes(path: Path, data: HandActions, index: np.ndarray, logits: np.ndarray) -> None:
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "frames", "true", "predicted", "p_predicted", "p_true"])
        for row, i in enumerate(index):
            y, p = int(data.labels[i]), int(logits[row].argmax())
            if y != p:
                w.writerow(
                    [
                        data.ids[i],
                        len(data.sequences[i]),
                        data.actions[y],
                        data.actions[p],
                        f"{probs[row, p]:.3f}",
                        f"{probs[row, y]:.3f}",
                    ]
                )


def evaluate_folds(parent: Path, folds: list[RunDir], **kwargs) -> dict:
    """A cross-subject parent as one run: each fold evaluated, the confusion matrices pooled."""
    reports = {fold.path.name: evaluate_run(fold.path, **kwargs) for fold in folds}
    cm = np.sum([np.array(r["confusion_matrix"]) for r in reports.values()], axis=0)
    actions = list(next(iter(reports.values()))["per_class_accuracy"])
    support = cm.sum(1)
    pooled = {
        "folds": {name: r["accuracy"] for name, r in reports.items()},
        "fold_mean": float(np.mean([r["accuracy"] for r in reports.values()])),
        "fold_std": float(np.std([r["accuracy"] for r in reports.values()], ddof=1)) if len(reports) > 1 else 0.0,
        "n": int(cm.sum()),
        "accuracy": float(np.trace(cm) / cm.sum()),
        "macro_f1": macro_f1(cm),
        "per_class_accuracy": {
            a: (float(cm[i, i] / support[i]) if support[i] else None) for i, a in enumerate(actions)
        },
        "confusion_matrix": cm.tolist(),
        "part": kwargs.get("part", "test"),
        "checkpoint": kwargs.get("checkpoint", "best"),
        "member": kwargs.get("member", 0),
        "tta": kwargs.get("tta", 1),
        "phases": any(r["phases"] for r in reports.values()),
    }
    stem = report_stem(pooled["part"], pooled["checkpoint"], pooled["member"], pooled["tta"], pooled["phases"])
    RunDir(parent).write_json(f"evaluation-{stem}.json", pooled)
    title = f"{Path(parent).name}: {len(folds)} folds pooled, {pooled['part']} accuracy {pooled['accuracy']:.4f}"
    from .plots import plot_confusion

    plot_confusion(cm, actions, Path(parent) / f"confusion-{stem}.png", title)
    return pooled
