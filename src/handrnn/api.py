"""The Python API: load a trained run and classify arrays; train from a config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import Config, from_dict, make_config
from .data import Encoder
from .datasets import as_frames, check_hand
from .errors import HandRNNError
from .evaluation import load_model, predict_views
from .skeleton import NUM_JOINTS
from .training import augmentation


@dataclass
class Classifier:
    """A trained run, ready to classify sequences: the model, its input encoder and the action names."""

    model: torch.nn.Module
    encoder: Encoder
    actions: list[str]
    config: Config

    def predict_proba(self, sequences, check: bool = True, views: int = 1) -> np.ndarray:
        """One array [T, 63] or [T, 21, 3] (millimetres, FPHA's joint order), or a list of them -> [N, C]
        probabilities, rows in the input's order. `check` refuses input that is not in millimetres or not in
        FPHA's joint order (datasets.check_hand); `views` > 1 averages each sequence with views - 1 variants
        drawn with the run's training augmentation (test-time augmentation, as `handrnn evaluate --tta`). A run
        with `phases` reads each sequence from every phase of its frame step, as `handrnn evaluate` does."""
        if views < 1:
            raise HandRNNError(f"views must be at least 1 (1 = each sequence alone), got {views}")
        single = isinstance(sequences, np.ndarray) and sequences.ndim in (2, 3) and sequences.dtype != object
        seqs = [sequences] if single else list(sequences)
        joints = self.config.joints or NUM_JOINTS  # the run's layout (FPHA: 21 joints)
        frames = [as_frames(s, f"sequence {i}", joints) for i, s in enumerate(seqs)]
        if check:
            for i, f in enumerate(frames):
                check_hand(f, f"sequence {i}")
        labels = np.zeros(len(frames), dtype=np.int64)
        augment, phases = augmentation(self.config), self.config.phases
        logits = predict_views(self.model, frames, labels, self.encoder, augment, views, phases=phases)
        return torch.softmax(logits, 1).numpy()

    def __call__(self, sequences, top: int = 3, check: bool = True, views: int = 1) -> list[list[tuple[str, float]]]:
        """For each sequence, its `top` actions with their probabilities, most likely first."""
        probs = self.predict_proba(sequences, check, views)
        order = np.argsort(-probs, axis=1)[:, :top]
        return [[(self.actions[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def load(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu") -> Classifier:
    """The model of a run folder (`best` or `last` checkpoint) on `device` (cpu, cuda or auto), with its
    normalisation and action names."""
    model, encoder, state = load_model(Path(run_dir), checkpoint, device)
    return Classifier(model, encoder, list(state["actions"]), from_dict(state["config"], str(run_dir)))


def train(config: Config | dict | None = None, **overrides) -> list[dict]:
    """Train as `handrnn train` does, printing the same progress; returns each split's results.

    handrnn.train(data="path/to/fpha", protocol="1:1", epochs=10) or handrnn.train(cfg)."""
    from .cli import main  # the command line is the one place that runs a training (lock, folds, logging)

    cfg = make_config(**config) if isinstance(config, dict) else (config or Config())
    cfg = make_config(cfg, **overrides)
    if not cfg.name:
        from .runs import default_name

        cfg = make_config(cfg, name=default_name(cfg))
    argv = ["train"]
    for name, value in vars(cfg).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    code = main(argv)
    if code != 0:
        from .errors import HandRNNError

        raise HandRNNError(f"training stopped with exit status {code} (the message above says why)")
    return results_of(cfg)


def results_of(cfg: Config) -> list[dict]:
    from .runs import RunDir

    root = RunDir(Path(cfg.out) / cfg.name)
    summary = root.read_results()
    if "folds" in summary:
        return [RunDir(root / fold).read_results() for fold in summary["folds"]]
    return [summary]
