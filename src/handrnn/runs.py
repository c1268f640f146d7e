"""Run folders: their layout, atomic reading and writing, the results schema, run names and fold summaries
(a cross-subject parent's, and k-fold selection's over runs that differ only in their validation fold).

A run folder holds config.json (the resolved config), split.json (the sequence ids of each part),
metrics.csv (one row per epoch), last.pt and best.pt (checkpoints) and results.json. A cross-subject
parent folder holds one run folder per fold and a results.json that summarises them.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .config import Config, from_dict, to_json
from .errors import HandRNNError

CONFIG, SPLIT, METRICS, RESULTS, COMMAND = "config.json", "split.json", "metrics.csv", "results.json", "command.json"
LOCK = ".lock"  # held (flock) by the process that trains in the folder
MODEL_CARD = "MODEL.md"  # a short model card, written when training ends
LOG = "train.log"  # what training printed, appended by each session (resumes included)
GENERATION = re.compile(r"generation\d+")  # an earlier generation's folder inside a run (config generations)
CHECKPOINTS = ("best", "last")  # best.pt: the best validation epoch; last.pt: the latest finished epoch
METRIC_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_acc", "seconds"]


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file and rename, so a kill leaves the previous good file. The temporary file
    is created exclusively under a random name (a planted link cannot redirect it), and the rename replaces
    a link at `path` instead of writing through it."""
    import tempfile

    path = Path(path)
    refuse_link(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise HandRNNError(f"{path}: cannot write ({e.strerror or e})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise HandRNNError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)


def refuse_link(path: Path) -> None:
    """handrnn writes its outputs as plain files: a symbolic link where one goes is refused."""
    if Path(path).is_symlink():
        raise HandRNNError(f"{path}: is a symbolic link; handrnn writes no output through links (remove it)")


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise HandRNNError(f"{path.parent}: not a run folder (no {path.name})") from None
    except (OSError, json.JSONDecodeError) as e:
        raise HandRNNError(f"{path}: cannot read the run's {what} ({e})") from None


def save_checkpoint(path: Path, state: dict) -> None:
    import torch

    atomic_write(path, lambda p: torch.save(state, p))


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint without unpickling code: tensors and plain data only."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HandRNNError(f"{path}: no such checkpoint") from None
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file
        raise HandRNNError(f"{path}: not a handrnn checkpoint ({e.__class__.__name__})") from None


class RunDir:
    """One run folder; every file name of the layout is spelled here only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    @contextmanager
    def lock(self, wait: bool = False) -> Iterator[None]:
        """Hold the folder for this process; another handrnn process that asks for it stops with a message
        (or, with `wait`, waits until this one is done)."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:  # never truncates, never follows a link planted at the lock's name
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise HandRNNError(f"{self.path / LOCK}: cannot lock the run folder ({e.strerror or e})") from None
        with os.fdopen(fd, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise HandRNNError(
                    f"{self.path} is in use by another handrnn process: wait for it to end, or pick another --name"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def holds_run(self) -> bool:
        return (self.path / CONFIG).exists()

    def folds(self) -> list[RunDir]:
        """The fold folders of a cross-subject parent (subject1, subject2, ...), [] for a single run."""
        if self.has_checkpoint("last") or not self.holds_run():  # a parent holds the folds' config.json
            return []
        kids = [
            RunDir(p)
            for p in self.path.iterdir()
            if p.is_dir() and (p / CONFIG).exists() and not GENERATION.fullmatch(p.name)
        ]
        return sorted(kids, key=lambda r: [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", r.path.name)])

    def generation(self, g: int) -> RunDir:
        """The folder of earlier generation g inside this run (config generations)."""
        return RunDir(self.path / f"generation{g}")

    def finished(self) -> bool:
        return (self.path / RESULTS).exists()

    def checkpoint_path(self, which: str) -> Path:
        if which not in CHECKPOINTS:
            raise HandRNNError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {which!r}")
        return self.path / f"{which}.pt"

    def has_checkpoint(self, which: str = "last") -> bool:
        return self.checkpoint_path(which).exists()

    def create(self, cfg: Config, split: dict[str, list[str]], sha256: dict[str, str]) -> None:
        """config.json, and split.json: each part's sequence ids and the SHA-256 of its data (data.fingerprint)."""
        self.write_config(cfg)
        write_json(self.path / SPLIT, {**split, "sha256": sha256})

    def check_data(self, part: str, sha256: str) -> None:
        """Refuse data whose `part` is not what the run used (a run from before fingerprints passes)."""
        stored = read_json(self.path / SPLIT, "split").get("sha256", {}).get(part)
        if stored is not None and stored != sha256:
            raise HandRNNError(
                f"{self.path}: the {part} data differs from the data this run was trained on (sequences changed, "
                f"added or removed, or another dataset): give --data the run's own dataset"
            )

    def write_config(self, cfg: Config) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / CONFIG, json.loads(to_json(cfg)))

    def drop_config(self) -> None:
        """Forget config.json (a run that a refused first step never started)."""
        (self.path / CONFIG).unlink(missing_ok=True)

    def read_config(self) -> Config:
        return from_dict(read_json(self.path / CONFIG, "config"), str(self.path / CONFIG))

    def update_config(self, **changes) -> None:
        write_json(self.path / CONFIG, {**read_json(self.path / CONFIG, "config"), **changes})

    def read_split(self, part: str) -> list[str]:
        split = read_json(self.path / SPLIT, "split")
        if part not in split:
            raise HandRNNError(f"{self.path / SPLIT}: no {part!r} part")
        return split[part]

    def save(self, which: str, state: dict) -> None:
        save_checkpoint(self.checkpoint_path(which), state)

    def load(self, which: str) -> dict:
        return load_checkpoint(self.checkpoint_path(which))

    def write_metrics(self, history: list[dict]) -> None:
        def write(p: Path) -> None:
            with open(p, "w", newline="") as f:
                w = csv.DictWriter(f, METRIC_FIELDS)
                w.writeheader()
                w.writerows(history)

        atomic_write(self.path / METRICS, write)

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def epochs_done(self) -> int:
        path = self.path / METRICS
        if not path.exists():
            return 0
        try:
            return max(0, len(path.read_bytes().splitlines()) - 1)  # rows counted, whatever their bytes
        except OSError as e:
            raise HandRNNError(f"{path}: cannot read ({e.strerror or e})") from None

    def progress(self) -> str:
        """How far an unfinished run got: its epochs, or the earlier generation it is in."""
        cfg = self.read_config()
        for g in range(1, cfg.generations):
            if not self.generation(g).finished():
                return f"in generation {g} of {cfg.generations}, {self.generation(g).epochs_done()} epoch(s) done"
        return f"{self.epochs_done()} epoch(s) in metrics.csv, no results.json"

    def write_results(self, results: dict) -> None:
        write_json(self.path / RESULTS, results)

    def read_results(self) -> dict:
        return read_json(self.path / RESULTS, "results")

    @contextmanager
    def log_to(self, logger: logging.Logger) -> Iterator[None]:
        """While inside, append what `logger` says to train.log in the folder (each session appends)."""
        handler = logging.FileHandler(self.path / LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        handler.setLevel(logging.INFO)
        logger.addHandler(handler)
        level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:  # a library caller that set up no logging still gets the log
            logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.setLevel(level)
            logger.removeHandler(handler)
            handler.close()

    def write_command(self, provenance: dict) -> None:
        """command.json: how the run was started (command line, versions, threads)."""
        write_json(self.path / COMMAND, provenance)

    def read_command(self) -> dict:
        path = self.path / COMMAND
        return read_json(path, "command") if path.exists() else {}

    def write_model_card(self, command: dict) -> None:
        """MODEL.md: what the model is, what it was trained on, how well it did, and how it was made."""
        cfg, res = self.read_config(), self.read_results()
        sizes = res.get("sizes", {})
        pct = lambda x: "n/a" if x != x else f"{100 * x:.2f}%"  # noqa: E731 - NaN: no validation part
        lines = [
            f"# {self.path.name}",
            "",
            f"A classifier of hand actions from 3D hand-joint sequences (`{describe(cfg)}`), trained by handrnn.",
            "",
            "## Data",
            "",
            f"- dataset: `{cfg.data or '$HANDRNN_DATA'}`; protocol `{cfg.protocol}`"
            + (f", fold {self.path.name}" if cfg.protocol == "cross-subject" else "")
            + f"; seed {cfg.seed}",
            f"- sequences: {sizes.get('train', '?')} train, {sizes.get('val', '?')} validation, {sizes.get('test', '?')} test"
            " (their ids and SHA-256 in split.json)",
            f"- input: features `{features_label(cfg)}`, normalisation `{cfg.normalise}`, joints in millimetres, FPHA's joint order",
            "",
            "## Results",
            "",
            f"- test accuracy {pct(res['test_acc'])} at the best validation epoch ({res['best_epoch']} of "
            f"{res['epochs_run']}; validation accuracy {pct(res['val_acc'])}); last epoch {pct(res['test_acc_last_epoch'])}",
            f"- {res['parameters']:,} parameters; {res['train_seconds'] / 60:.1f} minutes of training "
            f"({res['seconds_per_epoch']:.2f} s per epoch, {command.get('threads', '?')} thread(s))",
            "",
            "## How it was made",
            "",
            f"- command: `{shlex.join(command.get('argv', ['?']))}`",
            f"- started {command.get('started', '?')}; handrnn {command.get('handrnn', '?')}, torch "
            f"{command.get('torch', '?')}, python {command.get('python', '?')}; git commit {command.get('git') or 'unknown'}",
            "- the full configuration is config.json; metrics per epoch are metrics.csv; the log is train.log",
            *(
                [
                    f"- generation {cfg.generations} of {cfg.generations}, taught by generation{cfg.generations - 1}: "
                    f"the earlier generations are the run folders generation1 to generation{cfg.generations - 1} "
                    "in this folder; the minutes above are this generation's"
                    + (
                        "; its results, `evaluate`, `predict` and `handrnn.load` read every generation's networks "
                        "together (all_generations)"
                        if cfg.all_generations
                        else ""
                    )
                ]
                if cfg.generations > 1
                else []
            ),
            "",
            "## Use",
            "",
            f"`handrnn predict {self.path} FILE` or `handrnn.load({str(self.path)!r})(array)`; "
            f"`handrnn export {self.path} --format onnx` for onnxruntime.",
        ]
        write_text(self.path / MODEL_CARD, "\n".join(lines) + "\n")

    def write_json(self, name: str, obj) -> None:
        write_json(self.path / name, obj)


def provenance(cfg: Config, argv: list[str]) -> dict:
    """How a run was started: the command line, the versions, the thread count (float order depends on it)."""
    import platform
    from importlib.metadata import version

    import torch

    return {
        "argv": ["handrnn", *argv],
        "handrnn": version("handrnn"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": cfg.threads or torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "git": git_commit(),
    }


def git_commit() -> str | None:
    """The commit of handrnn's source when it runs from a git checkout (with '+dirty' for local changes)."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=5
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def size_label(cfg: Config) -> str:
    """The model's shape in a few characters: gru128x1, bigru128x2, or gru16-160 for the HRNN."""
    if cfg.model == "hrnn":
        return f"{cfg.cell}{cfg.num_units1}-{cfg.units2()}{'' if cfg.fused else '-unfused'}"
    return f"{'bi' if cfg.bidirectional else ''}{cfg.cell}{cfg.num_units}x{cfg.depth}"


def features_label(cfg: Config) -> str:
    """The features a run reads: its features field, or each member's list (member_features)."""
    return f"members {cfg.member_features}" if cfg.member_features else cfg.features


def describe(cfg: Config) -> str:
    """One line naming what a run trained, for tables."""
    label = features_label(cfg)
    step = f"every{cfg.frame_step}" if cfg.frame_step > 1 else ""
    gen = f"gen{cfg.generations}" + ("all" if cfg.all_generations else "") if cfg.generations > 1 else ""
    extras = [f for f in (label if label != "xyz" else "", cfg.pool if cfg.pool != "last" else "", step, gen) if f]
    return " ".join([cfg.model, size_label(cfg), f"b{cfg.batch_size}", f"lr{cfg.lr:g}", cfg.lengths, *extras])


def default_name(cfg: Config) -> str:
    proto = cfg.protocol.replace(":", "-")
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.model}-{size_label(cfg)}-{proto}-b{cfg.batch_size}-lr{cfg.lr:g}-s{cfg.seed}"


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv as columns; a damaged file is one clear error."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        cols = rows[0].keys() if rows else []
        return {c: np.array([float(r[c]) if r[c] not in ("", None) else np.nan for r in rows]) for c in cols}
    except (OSError, UnicodeDecodeError, ValueError, TypeError, csv.Error) as e:
        raise HandRNNError(f"{path}: not a readable metrics file ({e})") from None


def summarise_folds(out_root: Path, results: list[dict]) -> dict:
    """Mean and std of the folds' test accuracy, written to the parent folder's results.json."""
    accs = np.array([r["test_acc"] for r in results])
    summary = {
        "folds": {Path(r["run"]).name: r["test_acc"] for r in results},
        "test_acc_mean": float(accs.mean()),
        "test_acc_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
    }
    write_json(Path(out_root) / RESULTS, summary)
    return summary


WHERE_FIELDS = ("val_fold", "name", "out", "threads", "device")  # where and how fast a run trained, not what


def what_fields(cfg: Config) -> dict:
    """A run's config fields less WHERE_FIELDS: what it trained, as k-fold grouping compares runs."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in WHERE_FIELDS}


def fold_groups(runs: list[RunDir]) -> list[dict]:
    """k-fold selection (--val-fold): finished runs grouped by their config less the validation fold (and where
    they ran), each group's validation sequences right at the last epoch summed over its folds, its mean
    last-epoch validation loss and test accuracy, best first (accuracy over the folds held, then lower loss).
    `changes` names the config fields, and this group's values, that differ between the groups given."""
    groups: dict[str, dict] = {}
    for run in runs:
        if run.folds():
            raise HandRNNError(f"{run}: a cross-subject folder; k-fold selection reads runs made with --val-fold")
        if not run.finished():
            done = run.epochs_done()
            raise HandRNNError(
                f"{run}: unfinished ({done} epoch(s), no {RESULTS}); finish or resume it"
                if done
                else f"{run}: not a run folder (no {RESULTS})"
            )
        cfg, res, last = run.read_config(), run.read_results(), read_metrics(run.metrics_path)
        if not len(last.get("val_acc", ())):
            raise HandRNNError(f"{run.metrics_path}: no epoch with a validation accuracy")
        if cfg.val_fold < 1:
            raise HandRNNError(f"{run}: not a k-fold run (made without --val-fold); give runs of folds 1 to n")
        try:
            n, test_acc, seconds = res["sizes"]["val"], res["test_acc_last_epoch"], res["seconds_per_epoch"]
        except (KeyError, TypeError) as e:
            raise HandRNNError(f"{run}: {RESULTS} lacks {e} (another handrnn version?)") from None
        fields = what_fields(cfg)
        if cfg.teacher:
            fields["teacher"] = fold_teacher(cfg)
        group = groups.setdefault(json.dumps(fields, sort_keys=True), {"fields": fields, "config": cfg, "folds": {}})
        if cfg.val_fold in group["folds"]:
            other = group["folds"][cfg.val_fold]["run"]
            raise HandRNNError(f"{run} and {other}: the same config and fold {cfg.val_fold} twice; give one of them")
        group["folds"][cfg.val_fold] = {
            "run": run.path.name,
            "right": round(float(last["val_acc"][-1]) * n),
            "n": n,
            "val_loss": float(last["val_loss"][-1]),
            "test_acc": test_acc,
            "seconds_per_epoch": seconds,
        }
    keys = {k for g in groups.values() for k in g["fields"]}
    varying = sorted(k for k in keys if len({repr(g["fields"].get(k)) for g in groups.values()}) > 1)
    rows = [summarise_group(g, varying) for g in groups.values()]
    return sorted(rows, key=lambda r: (-r["right"] / r["n"], r["val_loss"]))


def fold_teacher(cfg: Config) -> str:
    """A k-fold student's teacher as fold_groups compares it: where the teacher is a k-fold run of the student's own
    fold, its config less where it ran (named by its description and a digest of the rest), so that the students
    of folds 1 to n, each taught by its fold's run of one teacher config, form one group; otherwise its path. A
    teacher taught in turn (a third generation's) is compared the same way, down the chain."""
    where = Path(cfg.teacher)
    if not (where / "config.json").is_file():
        return cfg.teacher
    teacher = RunDir(where).read_config()
    if teacher.val_fold != cfg.val_fold:
        return cfg.teacher
    fields = what_fields(teacher)
    if teacher.teacher:
        fields["teacher"] = fold_teacher(teacher)
    digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
    return f"its fold's run of {describe(teacher)} [{digest}]"


def summarise_group(group: dict, varying: list[str]) -> dict:
    """One k-fold group's row of fold_groups."""
    folds = [group["folds"][k] for k in sorted(group["folds"])]
    test = np.array([f["test_acc"] for f in folds])
    return {
        "runs": [f["run"] for f in folds],
        "folds": sorted(group["folds"]),
        "of": round(1 / group["fields"]["val_fraction"]),
        "changes": {k: group["fields"][k] for k in varying},
        "describe": describe(group["config"]),
        "protocol": group["fields"]["protocol"],
        "right": sum(f["right"] for f in folds),
        "n": sum(f["n"] for f in folds),
        "right_per_fold": [f["right"] for f in folds],
        "val_loss": float(np.mean([f["val_loss"] for f in folds])),
        "test_acc_mean": float(test.mean()),
        "test_acc_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0,
        "seconds_per_epoch": float(np.mean([f["seconds_per_epoch"] for f in folds])),
    }
