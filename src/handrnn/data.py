"""Protocols (train/test splits), validation carving, normalisation and variable-length batching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .datasets import TEST, TRAIN, HandActions
from .errors import HandRNNError
from .skeleton import MCP_JOINTS, NUM_COORDS, NUM_JOINTS, WRIST

PROTOCOLS = ("cw3", "1:1", "cross-subject")
CW3_TEST_PER_CLASS = 5
NORMALISATIONS = ("none", "zscore", "hand")
LENGTH_MODES = ("pad", "bucket", "pack")
PAD_VALUE = -99.0  # CW3's padding value (0 occurs in the data)


@dataclass(frozen=True)
class Split:
    """One train/test partition of a dataset, by index; `name` tells folds apart."""

    name: str
    train: np.ndarray
    test: np.ndarray


def protocol_splits(data: HandActions, protocol: str, seed: int) -> list[Split]:
    """The train/test splits of a protocol: one for cw3 and 1:1, one per subject for cross-subject."""
    if protocol == "cw3":
        return [cw3_split(data.labels, seed)]
    if protocol == "1:1":
        train, test = np.flatnonzero(data.split == TRAIN), np.flatnonzero(data.split == TEST)
        if len(train) == 0 or len(test) == 0:
            raise HandRNNError("protocol 1:1 needs the split that comes with the data (FPHA's split file or a CW3 container)")
        return [Split("1:1", train, test)]
    if protocol == "cross-subject":
        subjects = np.unique(data.subjects)
        if (subjects <= 0).any() or len(subjects) < 2:
            raise HandRNNError("protocol cross-subject needs subject ids (read the FPHA tree, not a CW3 container)")
        return [Split(f"subject{s}", np.flatnonzero(data.subjects != s), np.flatnonzero(data.subjects == s)) for s in subjects]
    raise HandRNNError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def cw3_split(labels: np.ndarray, seed: int, per_class: int = CW3_TEST_PER_CLASS) -> Split:
    """CW3's split: exactly `per_class` test sequences of each action, drawn at random given `seed`."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) <= per_class:
            raise HandRNNError(f"protocol cw3 needs more than {per_class} sequences of each action; class {c} has {len(members)}")
        test.extend(rng.choice(members, per_class, replace=False))
    test = np.sort(np.array(test, dtype=np.int64))
    return Split("cw3", np.setdiff1d(np.arange(len(labels)), test), test)


def carve_validation(labels: np.ndarray, train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, val) indices from `train`: about `fraction` of each class goes to validation."""
    if fraction <= 0:
        return train, train[:0]
    rng = np.random.default_rng([seed, 1])
    val = []
    for c in np.unique(labels[train]):
        members = train[labels[train] == c]
        k = int(round(fraction * len(members)))
        k = min(max(k, 1), len(members) - 1)
        val.extend(rng.choice(members, k, replace=False))
    val = np.sort(np.array(val, dtype=np.int64))
    return np.setdiff1d(train, val), val


# ---------------------------------------------------------------------------------------------
# Normalisation


@dataclass
class Normaliser:
    """Per-frame normalisation fitted on training data; its state travels with the model as plain lists."""

    kind: str = "none"
    mean: list[float] | None = None  # zscore: per-coordinate mean (63)
    std: list[float] | None = None  # zscore: per-coordinate std (63)
    palm: float | None = None  # hand: mean wrist-to-MCP distance of the training frames

    @classmethod
    def fit(cls, kind: str, sequences: list[np.ndarray]) -> Normaliser:
        if kind not in NORMALISATIONS:
            raise HandRNNError(f"unknown normalisation {kind!r}; choose one of {', '.join(NORMALISATIONS)}")
        if kind == "none":
            return cls(kind)
        frames = np.concatenate(sequences).astype(np.float64)
        if kind == "zscore":
            return cls(kind, mean=frames.mean(0).tolist(), std=np.maximum(frames.std(0), 1e-6).tolist())
        return cls(kind, palm=float(palm_size(frames).mean()))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """[T, 63] -> [T, 63] float32."""
        if self.kind == "zscore":
            return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)
        if self.kind == "hand":
            joints = x.reshape(len(x), NUM_JOINTS, NUM_COORDS)
            return ((joints - joints[:, WRIST : WRIST + 1]) / self.palm).reshape(len(x), -1).astype(np.float32)
        return x.astype(np.float32)


def palm_size(frames: np.ndarray) -> np.ndarray:
    """Mean wrist-to-MCP distance of each frame: [T, 63] -> [T]."""
    joints = frames.reshape(len(frames), NUM_JOINTS, NUM_COORDS)
    return np.linalg.norm(joints[:, list(MCP_JOINTS)] - joints[:, WRIST : WRIST + 1], axis=-1).mean(-1)


# ---------------------------------------------------------------------------------------------
# Variable-length batching


class SequenceSet:
    """Normalised sequences as tensors, ready to batch: x[i] float32 [T_i, 63], y int64 [N]."""

    def __init__(self, sequences: list[np.ndarray], labels: np.ndarray, normaliser: Normaliser):
        self.x = [torch.from_numpy(normaliser(s)) for s in sequences]
        self.y = torch.as_tensor(labels, dtype=torch.long)
        self.lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, index: np.ndarray, pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x [B, T, 63] padded with PAD_VALUE to the batch maximum or `pad_to`, lengths [B], y [B])."""
        xs = [self.x[i] for i in index]
        if pad_to is not None:
            xs.append(torch.zeros(pad_to, xs[0].shape[1]))  # sets the padded length, dropped below
        x = pad_sequence(xs, batch_first=True, padding_value=PAD_VALUE)[: len(index)]
        return x, self.lengths[index], self.y[index]


def batch_indices(lengths: np.ndarray, batch_size: int, mode: str, rng: np.random.Generator | None,
                  jitter: float = 0.2) -> list[np.ndarray]:  # fmt: skip
    """Split range(len(lengths)) into batches; rng=None means a fixed evaluation order.

    pad/pack: random batches. bucket: batches of similar length (sorted by length times a random
    factor in [1, 1 + jitter], so batch membership still changes between epochs), in random order.
    """
    n = len(lengths)
    if mode == "bucket":
        noise = 1.0 if rng is None else 1.0 + jitter * rng.random(n)
        order = np.argsort(lengths * noise, kind="stable")
    elif mode in ("pad", "pack"):
        order = np.arange(n) if rng is None else rng.permutation(n)
    else:
        raise HandRNNError(f"unknown length mode {mode!r}; choose one of {', '.join(LENGTH_MODES)}")
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if mode == "bucket" and rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
