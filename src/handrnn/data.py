"""Protocols (train/test splits), validation carving, input encoding (features, normalisation), batching."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from . import features
from .augment import Augmentation
from .config import LENGTH_MODES, NORMALISATIONS, PROTOCOLS, val_folds
from .datasets import TEST, TRAIN, HandActions
from .errors import HandRNNError
from .skeleton import NUM_COORDS, NUM_JOINTS, WRIST

CW3_TEST_PER_CLASS = 5
RATIO_PROTOCOLS = {"1:3": 0.25, "3:1": 0.75}  # FPHA paper: fraction of each action's sequences used for training
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
            raise HandRNNError(
                "protocol 1:1 needs the split that comes with the data (FPHA's split file or a CW3 container)"
            )
        return [Split("1:1", train, test)]
    if protocol in RATIO_PROTOCOLS:
        return [ratio_split(data.labels, RATIO_PROTOCOLS[protocol], seed, protocol)]
    if protocol == "cross-subject":
        subjects = np.unique(data.subjects)
        if (subjects <= 0).any() or len(subjects) < 2:
            raise HandRNNError("protocol cross-subject needs subject ids (read the FPHA tree, not a CW3 container)")
        return [
            Split(f"subject{s}", np.flatnonzero(data.subjects != s), np.flatnonzero(data.subjects == s))
            for s in subjects
        ]
    raise HandRNNError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def cw3_split(labels: np.ndarray, seed: int, per_class: int = CW3_TEST_PER_CLASS) -> Split:
    """CW3's split: exactly `per_class` test sequences of each action, drawn at random given `seed`."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) <= per_class:
            raise HandRNNError(
                f"protocol cw3 needs more than {per_class} sequences of each action; class {c} has {len(members)}"
            )
        test.extend(rng.choice(members, per_class, replace=False))
    test = np.sort(np.array(test, dtype=np.int64))
    return Split("cw3", np.setdiff1d(np.arange(len(labels)), test), test)


def ratio_split(labels: np.ndarray, train_fraction: float, seed: int, name: str) -> Split:
    """Per action, a random `train_fraction` of its sequences (at least one) for training, the rest for test."""
    rng = np.random.default_rng([seed, 13])
    train = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) < 2:
            raise HandRNNError(
                f"protocol {name} needs at least 2 sequences of each action; class {c} has {len(members)}"
            )
        k = min(max(int(round(train_fraction * len(members))), 1), len(members) - 1)
        train.extend(members[:k])
    train = np.sort(np.array(train, dtype=np.int64))
    return Split(name, train, np.setdiff1d(np.arange(len(labels)), train))


def fingerprint(data: HandActions, index: np.ndarray) -> str:
    """SHA-256 of the sequences at `index`: their ids, action names, labels and every value, in order."""
    h = hashlib.sha256()
    for i in index:
        h.update(f"{data.ids[i]}\t{data.actions[data.labels[i]]}\t{data.sequences[i].shape}\n".encode())
        h.update(np.ascontiguousarray(data.sequences[i], dtype=np.float32).tobytes())
    return h.hexdigest()


def carve_validation(
    labels: np.ndarray,
    train: np.ndarray,
    fraction: float,
    seed: int,
    subjects: np.ndarray | None = None,
    fold: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, val) indices from `train`: about `fraction` of each class goes to validation.
    With `subjects` (one id per sequence of the whole dataset), validation is instead every training
    sequence of one training subject, drawn with the seed: unseen people, as cross-subject tests.
    With `fold` k > 0, validation is the k-th of val_folds(fraction) disjoint folds (carve_fold)."""
    if fraction <= 0:
        return train, train[:0]
    if subjects is not None:
        return carve_subject(subjects, train, seed)
    if fold:
        return carve_fold(labels, train, val_folds(fraction), fold, seed)
    rng = np.random.default_rng([seed, 1])
    val = []
    for c in np.unique(labels[train]):
        members = train[labels[train] == c]
        k = int(round(fraction * len(members)))
        k = min(max(k, 1), len(members) - 1)
        val.extend(rng.choice(members, k, replace=False))
    val = np.sort(np.array(val, dtype=np.int64))
    return np.setdiff1d(train, val), val


def carve_fold(labels: np.ndarray, train: np.ndarray, n: int, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): val is fold `fold` (1..n) of n disjoint folds of `train` that share out every class
    evenly (sizes differ by at most one), the partition drawn with the seed: the runs of folds 1..n with one
    seed validate on each training sequence once. A class with a single training sequence stays in training."""
    if not 1 <= fold <= n:
        raise HandRNNError(f"val_fold must be in 1..{n}, got {fold}")
    rng = np.random.default_rng([seed, 2])
    classes = [train[labels[train] == c] for c in np.unique(labels[train])]
    order = np.concatenate([rng.permutation(m) for m in classes if len(m) > 1] or [train[:0]])
    val = np.sort(order[np.arange(len(order)) % n == fold - 1])  # one running count: every fold gets its share
    return np.setdiff1d(train, val), val


def carve_subject(subjects: np.ndarray, train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): val is every sequence in `train` of one of its subjects, drawn with the seed."""
    present = np.unique(subjects[train])
    if (present <= 0).any():
        raise HandRNNError("val_by subject needs subject ids (read the FPHA tree, not a CW3 container)")
    if len(present) < 2:
        raise HandRNNError(f"val_by subject needs at least 2 subjects in the training part, it has {len(present)}")
    held_out = np.random.default_rng([seed, 1]).choice(present)
    return train[subjects[train] != held_out], train[subjects[train] == held_out]


# ---------------------------------------------------------------------------------------------
# Normalisation


@dataclass
class Normaliser:
    """Per-frame normalisation of encoded frames [T, D], fitted on training data; its state travels with the
    model as plain lists."""

    kind: str = "none"
    mean: list[float] | None = None  # zscore: per-column mean (D)
    std: list[float] | None = None  # zscore: per-column std (D)
    palm: float | None = None  # hand (raw coordinates only): mean wrist-to-MCP distance of the training frames

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
        """[T, D] -> [T, D] float32."""
        if self.kind == "zscore":
            return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)
        if self.kind == "hand":
            joints = x.reshape(len(x), NUM_JOINTS, NUM_COORDS)
            return ((joints - joints[:, WRIST : WRIST + 1]) / self.palm).reshape(len(x), -1).astype(np.float32)
        return x.astype(np.float32)


def palm_size(frames: np.ndarray) -> np.ndarray:
    """Mean wrist-to-MCP distance of each frame: [T, 63] -> [T]."""
    return features.palm_size(frames.reshape(len(frames), NUM_JOINTS, NUM_COORDS))


def kept(frames: int, step: int) -> int:
    """How many of `frames` frames a model reads at every `step`-th frame (the first always)."""
    return -(-frames // step)


@dataclass
class Encoder:
    """Raw frames [T, 63] -> model input [T', D]: every `step`-th frame from the first (T' = ceil(T / step)),
    the chosen features of those frames, then the fitted normaliser."""

    names: tuple[str, ...]
    normaliser: Normaliser
    step: int = 1

    @classmethod
    def fit(
        cls,
        names: Sequence[str],
        normalise: str,
        sequences: list[np.ndarray],
        augment: Augmentation | None = None,
        seed: int = 0,
        step: int = 1,
    ) -> Encoder:
        """Fit the normaliser on the sequences as training will show them: one augmented variant of each
        when there is augmentation (a near-constant feature, such as a distance within the rigid palm, would
        otherwise be divided by a tiny spread that jitter then blows up)."""
        names = tuple(names)
        if augment:
            rng = np.random.default_rng([seed, 7])
            sequences = [augment(s, rng) for s in sequences]
        return cls(names, Normaliser.fit(normalise, [features.encode(s[::step], names) for s in sequences]), step)

    def __call__(self, frames: np.ndarray, palm: float | None = None) -> np.ndarray:
        return self.encode_kept(frames[:: self.step], palm)

    def encode_kept(self, frames: np.ndarray, palm: float | None = None) -> np.ndarray:
        """Frames already taken at the model's step (a stream's) -> model input, one row per frame."""
        return self.normaliser(features.encode(frames, self.names, palm))


# ---------------------------------------------------------------------------------------------
# Variable-length batching


class SequenceSet:
    """Sequences ready to batch: encoded tensors x[i] float32 [T_i, D], labels y int64 [N].

    With an `augment`ation, each batch encodes a fresh random variant of the raw sequences (pass the epoch's
    rng to `batch`); `lengths` (for bucketing) are then those the raw sequences would have. `batch_views`
    encodes the same frames with several encoders (a teacher reads its own features, at its own step).
    """

    def __init__(self, sequences: list[np.ndarray], labels: np.ndarray, encode, augment: Augmentation | None = None):
        self.encode, self.augment = encode, augment if augment else None
        self.raw = sequences  # the caller's arrays, not copies
        self.x = None if self.augment else [torch.from_numpy(encode(s)) for s in sequences]
        self.y = torch.as_tensor(labels, dtype=torch.long)
        step = encode.step if isinstance(encode, Encoder) else 1
        read = [len(s) for s in self.x] if self.x is not None else [kept(len(s), step) for s in sequences]
        self.lengths = torch.tensor(read, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def batch(
        self, index: np.ndarray, pad_to: int | None = None, rng: np.random.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x [B, T, D] padded with PAD_VALUE to the batch maximum or `pad_to`, lengths [B], y [B])."""
        ((x, lengths),), y = self.batch_views(index, (self.encode,), pad_to, rng)
        return x, lengths, y

    def batch_views(
        self, index: np.ndarray, encoders, pad_to: int | None = None, rng: np.random.Generator | None = None
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """The batch's frames (one random variant of each when augmented) encoded by each of `encoders`:
        ([(x [B, T, D_e], lengths [B]) per encoder], y [B]). The rng is drawn from as `batch` draws from it."""
        frames = [self.raw[i] for i in index]
        if self.augment is not None:
            if rng is None:
                raise ValueError("an augmented SequenceSet needs the epoch's rng")
            frames = [self.augment(f, rng) for f in frames]
        views = []
        for encode in encoders:
            xs = self._encoded(index, frames, encode)
            lengths = torch.tensor([len(x) for x in xs], dtype=torch.long)
            views.append((pad(xs, lengths, pad_to), lengths))
        return views, self.y[index]

    def _encoded(self, index: np.ndarray, frames: list[np.ndarray], encode) -> list[torch.Tensor]:
        if encode is self.encode and self.x is not None:  # not augmented: encoded once, in __init__
            return [self.x[i] for i in index]
        return [torch.from_numpy(encode(f)) for f in frames]


class Phases:
    """Sequences each read from every phase of `encode`'s step: from frame 0, 1, ..., step - 1 (those a sequence
    has), every reading one sequence of `readings`; `owner` names each reading's sequence. `predict` averages a
    sequence's probabilities over its readings."""

    def __init__(self, sequences: list[np.ndarray], labels: np.ndarray, encode: Encoder):
        starts = [range(min(encode.step, len(s))) for s in sequences]
        self.owner = torch.tensor([i for i, r in enumerate(starts) for _ in r], dtype=torch.long)
        frames = [s[o:] for s, r in zip(sequences, starts) for o in r]
        self.readings = SequenceSet(frames, np.asarray(labels)[self.owner.numpy()], encode)
        self.y = torch.as_tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)


def held_out(
    sequences: list[np.ndarray], labels: np.ndarray, encode: Encoder, phases: bool = False
) -> SequenceSet | Phases:
    """Sequences to evaluate: read once from their first frame, or with `phases` (and a step > 1) from every
    phase of the encoder's step."""
    if phases and encode.step > 1:
        return Phases(sequences, labels, encode)
    return SequenceSet(sequences, labels, encode)


def pad(xs: list[torch.Tensor], lengths: torch.Tensor, pad_to: int | None) -> torch.Tensor:
    """[T_i, D] tensors -> [B, T, D] padded with PAD_VALUE to the longest or `pad_to`."""
    if pad_to is not None:
        xs = [*xs, torch.zeros(max(pad_to, int(lengths.max())), xs[0].shape[1])]  # sets the padded length
    return pad_sequence(xs, batch_first=True, padding_value=PAD_VALUE)[: len(lengths)]


def batch_indices(
    lengths: np.ndarray, batch_size: int, mode: str, rng: np.random.Generator | None, jitter: float = 0.2
) -> list[np.ndarray]:
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
