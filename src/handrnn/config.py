"""The one typed configuration of a run; YAML files and command-line flags map onto its fields.

This module is the ground floor: it imports neither torch nor the rest of handrnn, and it owns the choice
lists that the other modules and the command line pick from.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import HandRNNError

PROTOCOLS = ("cw3", "1:1", "1:3", "3:1", "cross-subject")
NORMALISATIONS = ("none", "zscore", "hand")
LENGTH_MODES = ("pad", "bucket", "pack")
MODEL_NAMES = ("rnn", "hrnn")
CELL_NAMES = ("rnn", "gru", "lstm")  # SimpleRNN (tanh Elman), GRU, LSTM
POOLS = ("last", "mean", "max", "attention")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
ON_BAD = ("error", "skip")
DEVICES = ("cpu", "cuda", "auto")
FEATURE_NAMES = ("xyz", "pose", "vel", "vel4", "local", "bones", "dirs", "dists", "angles", "orient")  # features.py
FPHA_JOINTS = 21  # skeleton.NUM_JOINTS (this module imports nothing of handrnn's but errors)
JOINT_FEATURES = ("xyz", "pose", "vel", "vel4", "local")  # [T, 21, 3] each: the HRNN can split them by finger


def opt(default: Any, help: str) -> Any:
    """A Config field with its documentation, which becomes the flag's --help text."""
    return field(default=default, metadata={"help": help})


@dataclass
class Config:
    # data
    data: str = opt("", 'FPHA folder, .npz container, or .pkl (with allow_pickle); "" = $HANDRNN_DATA')
    allow_pickle: bool = opt(False, "unpickling runs code from the file: only for files you trust")
    on_bad: str = opt("error", "a malformed FPHA file: error (stop) | skip (leave it out, report it)")
    protocol: str = opt("cw3", "cw3 (950/225, 5 test per action) | 1:1 (official 600/575) | 1:3 | 3:1 | cross-subject")
    fold: int = opt(0, "cross-subject: 0 = all six folds, s = leave out subject s only")
    val_fraction: float = opt(0.1, "carved from training, stratified, for model selection")
    val_by: str = opt("sequence", "sequence: val_fraction of each action | subject: one training subject's sequences")
    val_fold: int = opt(
        0, "val_by sequence: 0 = drawn with the seed | k = fold k of n = round(1/val_fraction) disjoint folds"
    )
    normalise: str = opt("zscore", "none | zscore | hand (xyz only) (fitted on training data only)")
    features: str = opt("xyz", "comma list: xyz (CW3) pose vel vel4 local bones dirs dists angles orient")
    joints: int = opt(0, "joints per frame: 0 = the data's (FPHA: 21); another layout trains model rnn on xyz only")
    frame_step: int = opt(
        1, "the model reads every k-th frame from the first (FPHA: 30 per second); augmentation sees all"
    )
    phases: bool = opt(
        False,
        "frame_step k > 1: validation, test and prediction read each whole sequence k times (from frame 0, 1, ..., "
        "k-1) and average the probabilities; off: from frame 0 only",
    )
    lengths: str = opt("bucket", "pad (CW3: all to the dataset maximum, masked) | bucket | pack")
    # model
    model: str = opt("rnn", "rnn (CW3 section 2) | hrnn (CW3 section 3)")
    cell: str = opt("gru", "rnn: rnn (SimpleRNN) | gru | lstm; for hrnn, the finger level")
    num_units: int = opt(128, "rnn: hidden units per layer")
    depth: int = opt(1, "rnn: recurrent layers")
    cell2: str = opt("gru", "hrnn: the hand level's cell")
    num_units1: int = opt(16, "hrnn: units of each finger's layer")
    num_units2: int = opt(0, "hrnn: units of the hand layer; 0 = 10 x num_units1 (CW3)")
    fused: bool = opt(
        True, "hrnn: GRU/SimpleRNN layers through the grouped kernel (CPU); off: one PyTorch layer per finger"
    )
    bidirectional: bool = opt(False, "rnn: each layer also reads the sequence backwards from its true last frame")
    pool: str = opt("last", "last (CW3: state at the last frame) | mean | max | attention over valid frames")
    layer_norm: bool = opt(False, "layer norm on the pooled features before dropout")
    dropout: float = opt(0.2, "before the classifier (CW3 gives no rate)")
    members: int = opt(1, "an ensemble of this many networks trained together; their probabilities are averaged")
    member_features: str = opt(
        "",
        "model rnn: each ensemble member's features, ';' between members, cycled over them (e.g. "
        "'local,vel,orient;pose,vel'; one member reads the first); the input is their union, features is not "
        "read; '' = all read features",
    )
    grouped_kernel: bool = opt(
        False, "model rnn (GRU/SimpleRNN): a layer's directions and ensemble members in one grouped-kernel call (CPU)"
    )
    # augmentation of training sequences, on the fly (0 = off)
    speed: float = opt(0.0, "play speed factor log-uniform in [1/(1+s), 1+s]")
    warp: float = opt(0.0, "uneven speed: 4 equal stretches of a sequence, each at its own factor in [1/(1+w), 1+w]")
    crop: float = opt(0.0, "keep a random window of at least 1 - crop of the frames")
    drop: float = opt(0.0, "leave out each frame with this probability")
    bones: float = opt(0.0, "hand shape: each bone's length times its own factor in [1 - b, 1 + b], directions kept")
    mirror: float = opt(0.0, "probability of reflecting a training sequence left-right (the other hand's motion)")
    rotate: float = opt(0.0, "random 3D rotation up to this many degrees")
    drift: float = opt(0.0, "camera turning during the action: rotation from 0 to up to this many degrees at the end")
    scale: float = opt(0.0, "scale by a factor in [1 - scale, 1 + scale]")
    jitter: float = opt(0.0, "Gaussian noise on every coordinate, millimetres")
    # optimisation (CW3 defaults)
    batch_size: int = opt(50, "sequences per training batch (CW3: 50)")
    lr: float = opt(1e-3, "learning rate (CW3: 1e-3)")
    epochs: int = opt(50, "training epochs (CW3: 50)")
    min_steps: int = opt(0, "at least this many optimiser steps: more epochs on a small training part; 0 = off")
    optimizer: str = opt("adam", "adam (CW3) | adamw (decoupled weight decay)")
    weight_decay: float = opt(0.0, "L2 penalty (adam) or decoupled weight decay (adamw)")
    schedule: str = opt("constant", "learning rate over training: constant | cosine | onecycle (both per batch)")
    warmup: int = opt(0, "epochs of linear warm-up (cosine)")
    label_smoothing: float = opt(0.0, "cross-entropy label smoothing")
    mixup: float = opt(0.0, "manifold mixup: pairs of pooled features and their labels mixed by Beta(a, a); 0 = off")
    distill: float = opt(
        0.0,
        "ensembles: each member also learns the other members' mean prediction, with this weight on the KL "
        "divergence (online co-distillation); 0 = off; one network ignores it (with a warning); with a teacher, "
        "the weight of the teacher's term instead",
    )
    teacher: str = opt(
        "",
        "a trained run folder whose predictions each network also learns (offline distillation, weight distill; "
        "it must not have trained on this run's validation or test sequences); '' = off",
    )
    generations: int = opt(
        1,
        "train this many generations in one run: each after the first is taught by the one before it (offline "
        "distillation, weight distill), the earlier ones kept in the run folder as generation1, ...; the first is "
        "taught by teacher, if given",
    )
    all_generations: bool = opt(
        False,
        "generations > 1: validate, test and predict with the mean of every generation's probabilities (their "
        "networks as one ensemble); off: the last generation alone",
    )
    ema: float = opt(0.0, "decay of an exponential moving average of the weights, used to validate and test; 0 = off")
    grad_clip: float = opt(5.0, "max gradient norm; 0 = off")
    patience: int = opt(0, "stop after this many epochs without a better validation score; 0 = never")
    # run
    seed: int = opt(0, "fixes the split, the initial weights, the batch order and dropout")
    threads: int = opt(0, "torch CPU threads; 0 = PyTorch's default")
    device: str = opt("cpu", "cpu | cuda | auto (cuda when there is one); runs are reproducible on one device")
    test_every_epoch: bool = opt(False, "also log test accuracy per epoch (CW3's curves); never used to select")
    out: str = opt("runs", "parent folder of run folders")
    name: str = opt("", 'run folder name; "" = generated from the config')

    def epochs_for(self, train_size: int) -> int:
        """Epochs of training on `train_size` sequences: `epochs`, or more where `min_steps` needs them."""
        steps_per_epoch = max(1, -(-train_size // self.batch_size))
        return max(self.epochs, -(-self.min_steps // steps_per_epoch))

    def units2(self) -> int:
        return self.num_units2 or 10 * self.num_units1

    def feature_names(self) -> tuple[str, ...]:
        """The encoded input's features in canonical order (per-joint first): the features field, or the
        union of the members' lists when member_features is given."""
        lists = self.member_feature_names() if self.member_features else [listed(self.features)]
        return canonical(n for names in lists for n in names)

    def member_lists(self) -> list[tuple[str, ...]]:
        """member_features as one canonical name tuple per ';'-separated list (not yet per member); [] if unset."""
        return [canonical(listed(part)) for part in self.member_features.split(";") if part.strip()]

    def member_feature_names(self) -> list[tuple[str, ...]]:
        """Each ensemble member's features: its member_features list (cycled; with fewer members than lists, the
        first lists), or the input's."""
        lists = self.member_lists() or [self.feature_names()]
        return [lists[i % len(lists)] for i in range(self.members)]


def canonical(names) -> tuple[str, ...]:
    """Feature names, each once, in FEATURE_NAMES order."""
    names = set(names)
    return tuple(n for n in FEATURE_NAMES if n in names)


CHOICES = {
    "on_bad": ON_BAD,
    "protocol": PROTOCOLS,
    "normalise": NORMALISATIONS,
    "lengths": LENGTH_MODES,
    "model": MODEL_NAMES,
    "cell": CELL_NAMES,
    "cell2": CELL_NAMES,
    "pool": POOLS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "device": DEVICES,
    "val_by": ("sequence", "subject"),
}
POSITIVE = ("num_units", "depth", "num_units1", "batch_size", "epochs", "members", "frame_step", "generations")
NOT_NEGATIVE = (
    "distill",
    "joints",
    "mixup",
    "min_steps",
    "num_units2",
    "patience",
    "threads",
    "fold",
    "val_fold",
    "weight_decay",
    "grad_clip",
    "warmup",
    "speed",
    "warp",
    "rotate",
    "drift",
    "jitter",
    "seed",
)
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds must fit
FRACTIONS = ("dropout", "crop", "drop", "bones", "mirror", "scale", "label_smoothing", "ema")  # each in [0, 1)


def validate(cfg: Config) -> Config:
    """Raise HandRNNError naming the first bad field."""
    for name, choices in CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise HandRNNError(f"config: {name} = {getattr(cfg, name)!r}; choose one of {', '.join(choices)}")
    for name in POSITIVE:
        if getattr(cfg, name) < 1:
            raise HandRNNError(f"config: {name} must be at least 1, got {getattr(cfg, name)}")
    for name in FRACTIONS:
        if not 0 <= getattr(cfg, name) < 1:
            raise HandRNNError(f"config: {name} must be in [0, 1), got {getattr(cfg, name)}")
    if not 0 <= cfg.val_fraction < 0.5:
        raise HandRNNError(f"config: val_fraction must be in [0, 0.5), got {cfg.val_fraction}")
    if not cfg.lr > 0:
        raise HandRNNError(f"config: lr must be positive, got {cfg.lr}")
    for name in NOT_NEGATIVE:
        if getattr(cfg, name) < 0:
            raise HandRNNError(f"config: {name} must not be negative, got {getattr(cfg, name)}")
    if cfg.seed > MAX_SEED:
        raise HandRNNError(f"config: seed must be at most {MAX_SEED}, got {cfg.seed}")
    validate_model_inputs(cfg)
    if cfg.name and (Path(cfg.name).name != cfg.name or cfg.name in (".", "..")):
        raise HandRNNError(f"config: name must be a plain folder name, got {cfg.name!r}")
    validate_val_fold(cfg)
    if cfg.teacher and not cfg.distill > 0:
        raise HandRNNError(f"config: teacher = {cfg.teacher!r} needs distill > 0 (the weight of its term), got 0")
    if cfg.generations > 1 and not cfg.distill > 0:
        raise HandRNNError(
            f"config: generations = {cfg.generations} needs distill > 0 (the weight of the teacher's term), got 0"
        )
    if cfg.fold and cfg.protocol != "cross-subject":
        raise HandRNNError(f"config: fold = {cfg.fold} applies only to protocol cross-subject")
    if ".." in Path(cfg.out).parts:
        raise HandRNNError(f"config: out must not climb out with '..', got {cfg.out!r}")
    return cfg


def val_folds(val_fraction: float) -> int:
    """How many disjoint validation folds k-fold selection cuts from the training part."""
    return max(2, round(1 / val_fraction))


def validate_val_fold(cfg: Config) -> None:
    if not cfg.val_fold:
        return
    if cfg.val_fraction <= 0 or cfg.val_by != "sequence":
        raise HandRNNError(
            f"config: val_fold = {cfg.val_fold} needs a validation part by sequence "
            f"(val_fraction > 0, val_by sequence), got val_fraction {cfg.val_fraction}, val_by {cfg.val_by}"
        )
    n = val_folds(cfg.val_fraction)
    if cfg.val_fold > n:
        raise HandRNNError(
            f"config: val_fold must be in 1..{n} (val_fraction {cfg.val_fraction} cuts {n} folds), got {cfg.val_fold}"
        )


def listed(text: str) -> list[str]:
    """ "pose, vel," -> ["pose", "vel"]."""
    return [n.strip() for n in text.split(",") if n.strip()]


def validate_model_inputs(cfg: Config) -> None:
    """The features, normalisation and model must fit together."""
    names = listed(cfg.features)
    if not known_list(names):
        raise HandRNNError(f"config: features = {cfg.features!r}; give a comma list of {', '.join(FEATURE_NAMES)}")
    validate_member_features(cfg)
    if cfg.normalise == "hand" and cfg.feature_names() != ("xyz",):
        raise HandRNNError("config: normalise = 'hand' reads raw coordinates; use it with features = 'xyz' only")
    if cfg.joints not in (0, FPHA_JOINTS):
        if cfg.model != "rnn" or cfg.feature_names() != ("xyz",) or cfg.normalise == "hand" or cfg.bones:
            raise HandRNNError(
                f"config: data of {cfg.joints} joints per frame trains model rnn on features xyz (normalise zscore "
                f"or none) only: the hrnn, the other features, normalise hand and bones need FPHA's {FPHA_JOINTS} joints"
            )
    if cfg.model == "hrnn":
        if not set(names) <= set(JOINT_FEATURES):
            raise HandRNNError(
                f"config: the hrnn splits its input by finger, so its features must be per joint "
                f"({', '.join(JOINT_FEATURES)}), got {cfg.features!r}"
            )
        if cfg.bidirectional:
            raise HandRNNError("config: bidirectional applies to model rnn only")


def known_list(names: list[str]) -> bool:
    """A feature list that is not empty and names known features only."""
    return bool(names) and all(n in FEATURE_NAMES for n in names)


def validate_member_features(cfg: Config) -> None:
    if not cfg.member_features:
        return
    parts = cfg.member_features.split(";")
    for part in parts:
        if not known_list(listed(part)):
            raise HandRNNError(
                f"config: member_features = {cfg.member_features!r}: each ';'-separated part must be a comma list of "
                f"{', '.join(FEATURE_NAMES)}, got {part.strip()!r}"
            )
    if cfg.model != "rnn":
        raise HandRNNError("config: member_features applies to model rnn only")


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
    if not ok and kind == "float" and isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value, ok = float(value), True
        except ValueError:
            pass
    if not ok:
        raise HandRNNError(f"{where}: {name} must be {kind}, got {value!r}")
    return float(value) if kind == "float" else value


def load_yaml(path: str | Path) -> dict[str, Any]:
    return {k: coerce(str(k), v, str(path)) for k, v in read_mapping(path).items()}


def load_preset(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A preset's values, and its changes for single protocols (`by_protocol: {PROTOCOL: {key: value}}`)."""
    raw = read_mapping(path)
    nested = raw.pop("by_protocol", None) or {}
    if not isinstance(nested, dict) or not all(isinstance(m, dict) for m in nested.values()):
        raise HandRNNError(f"{path}: by_protocol must map protocols ({', '.join(PROTOCOLS)}) to key: value changes")
    for p in nested:
        if p not in PROTOCOLS:
            raise HandRNNError(
                f"{path}: by_protocol: {p!r} is not a protocol; choose one of {', '.join(PROTOCOLS)} "
                "(quote '1:1', '1:3', '3:1': YAML reads them unquoted as numbers)"
            )
    values = {k: coerce(str(k), v, str(path)) for k, v in raw.items()}
    changes = {p: {k: coerce(str(k), v, f"{path}: by_protocol: {p}") for k, v in m.items()} for p, m in nested.items()}
    return values, changes


def read_mapping(path: str | Path) -> dict[Any, Any]:
    """A YAML file's top-level mapping, its values not yet checked."""
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
    if raw.get("allow_pickle"):
        raise HandRNNError(
            f"{path}: allow_pickle can only be given on the command line (--allow-pickle), "
            "so that a config file cannot make handrnn run code from a pickle"
        )
    raw.pop("allow_pickle", None)  # a run's own config.json says false: it replays as it is
    return raw


def make_config(base: Config | None = None, **overrides: Any) -> Config:
    cfg = dataclasses.replace(base or Config(), **{k: coerce(k, v, "config") for k, v in overrides.items()})
    return validate(cfg)


def to_json(cfg: Config) -> str:
    return json.dumps(dataclasses.asdict(cfg), indent=2)


def from_dict(d: dict[str, Any], where: str) -> Config:
    """A config stored by handrnn (a run's config.json, a checkpoint). Consent to unpickle never comes from a
    file: allow_pickle is always False here, whatever the file says."""
    values = {k: coerce(k, v, where) for k, v in d.items()}
    return validate(Config(**{**values, "allow_pickle": False}))
