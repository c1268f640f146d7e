"""The one typed configuration of a run; YAML files and command-line flags map onto its fields."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .data import LENGTH_MODES, NORMALISATIONS, PROTOCOLS
from .errors import HandRNNError
from .models import CELLS, MODELS


@dataclass
class Config:
    # data
    data: str = ""  # FPHA folder, .npz container, or .pkl (with allow_pickle); "" = $HANDRNN_DATA
    allow_pickle: bool = False  # unpickling runs code from the file: only for files you trust
    on_bad: str = "error"  # a malformed FPHA file: error (stop) | skip (leave it out, report it)
    protocol: str = "cw3"  # cw3 (950/225, 5 test per action) | 1:1 (official 600/575) | cross-subject
    fold: int = 0  # cross-subject: 0 = all six folds, s = leave out subject s only
    val_fraction: float = 0.1  # carved from training, stratified, for model selection
    normalise: str = "zscore"  # none | zscore | hand (fitted on training data only)
    lengths: str = "bucket"  # pad (CW3: all to the dataset maximum, masked) | bucket | pack
    # model
    model: str = "rnn"  # rnn (CW3 section 2) | hrnn (CW3 section 3)
    cell: str = "gru"  # rnn: rnn (SimpleRNN) | gru | lstm; for hrnn, the finger level
    num_units: int = 128  # rnn: hidden units per layer
    depth: int = 1  # rnn: recurrent layers
    cell2: str = "gru"  # hrnn: the hand level's cell
    num_units1: int = 16  # hrnn: units of each finger's layer
    num_units2: int = 0  # hrnn: units of the hand layer; 0 = 10 x num_units1 (CW3)
    fused: bool = True  # hrnn: GRU/SimpleRNN layers through handrnn's grouped kernel; off: PyTorch layers, one per finger
    dropout: float = 0.2  # before the classifier (CW3 gives no rate)
    # optimisation (CW3 defaults)
    batch_size: int = 50
    lr: float = 1e-3
    epochs: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max gradient norm; 0 = off
    patience: int = 0  # stop after this many epochs without a better validation score; 0 = never
    # run
    seed: int = 0  # fixes the split, the initial weights, the batch order and dropout
    threads: int = 0  # torch CPU threads; 0 = PyTorch's default
    test_every_epoch: bool = False  # also log test accuracy per epoch (CW3's curves); never used to select
    out: str = "runs"  # parent folder of run folders
    name: str = ""  # run folder name; "" = generated from the config

    def units2(self) -> int:
        return self.num_units2 or 10 * self.num_units1


CHOICES = {
    "on_bad": ("error", "skip"), "protocol": PROTOCOLS, "normalise": NORMALISATIONS, "lengths": LENGTH_MODES,
    "model": tuple(MODELS), "cell": tuple(CELLS), "cell2": tuple(CELLS),
}  # fmt: skip
POSITIVE = ("num_units", "depth", "num_units1", "batch_size", "epochs")


def validate(cfg: Config) -> Config:
    """Raise HandRNNError naming the first bad field."""
    for name, choices in CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise HandRNNError(f"config: {name} = {getattr(cfg, name)!r}; choose one of {', '.join(choices)}")
    for name in POSITIVE:
        if getattr(cfg, name) < 1:
            raise HandRNNError(f"config: {name} must be at least 1, got {getattr(cfg, name)}")
    if not 0 <= cfg.dropout < 1:
        raise HandRNNError(f"config: dropout must be in [0, 1), got {cfg.dropout}")
    if not 0 <= cfg.val_fraction < 0.5:
        raise HandRNNError(f"config: val_fraction must be in [0, 0.5), got {cfg.val_fraction}")
    if not cfg.lr > 0:
        raise HandRNNError(f"config: lr must be positive, got {cfg.lr}")
    for name in ("num_units2", "patience", "threads", "fold", "weight_decay", "grad_clip"):
        if getattr(cfg, name) < 0:
            raise HandRNNError(f"config: {name} must not be negative, got {getattr(cfg, name)}")
    if cfg.name and (Path(cfg.name).name != cfg.name or cfg.name in (".", "..")):
        raise HandRNNError(f"config: name must be a plain folder name, got {cfg.name!r}")
    if cfg.fold and cfg.protocol != "cross-subject":
        raise HandRNNError(f"config: fold = {cfg.fold} applies only to protocol cross-subject")
    if ".." in Path(cfg.out).parts:
        raise HandRNNError(f"config: out must not climb out with '..', got {cfg.out!r}")
    return cfg


def coerce(name: str, value: Any, where: str) -> Any:
    """Check and convert one value to its field's type (int accepted for float; no silent str->number)."""
    types = {f.name: f.type for f in fields(Config)}
    if name not in types:
        raise HandRNNError(f"{where}: unknown key {name!r}; known keys: {', '.join(types)}")
    kind = types[name]
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise HandRNNError(f"{where}: {name} must be {kind}, got {value!r}")
    return float(value) if kind == "float" else value


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise HandRNNError(f"{path}: cannot read config ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise HandRNNError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HandRNNError(f"{path}: a config file must be a mapping of key: value")
    if "allow_pickle" in raw:
        raise HandRNNError(f"{path}: allow_pickle can only be given on the command line (--allow-pickle), "
                           "so that a config file cannot make handrnn run code from a pickle")  # fmt: skip
    return {k: coerce(str(k), v, str(path)) for k, v in raw.items()}


def make_config(base: Config | None = None, **overrides: Any) -> Config:
    cfg = dataclasses.replace(base or Config(), **{k: coerce(k, v, "config") for k, v in overrides.items()})
    return validate(cfg)


def to_json(cfg: Config) -> str:
    return json.dumps(dataclasses.asdict(cfg), indent=2)


def from_dict(d: dict[str, Any], where: str) -> Config:
    return validate(Config(**{k: coerce(k, v, where) for k, v in d.items()}))
