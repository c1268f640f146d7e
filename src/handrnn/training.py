"""Training and evaluation: train_one_epoch, evaluate, fit (run folder, checkpoints, resume)."""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .augment import Augmentation
from .config import Config, validate
from .data import (
    Encoder,
    Normaliser,
    Phases,
    SequenceSet,
    Split,
    batch_indices,
    carve_validation,
    fingerprint,
    held_out,
    kept,
)
from .datasets import HandActions
from .errors import HandRNNError, Interrupted
from .models import Ensemble, build_model, together
from .runs import RunDir

log = logging.getLogger(__name__)
EVAL_BATCH = 32  # sequences of like length per evaluation batch: larger ones pad short sequences to long ones


def train_one_epoch(
    model: nn.Module,
    data: SequenceSet,
    batches: list[np.ndarray],
    optimizer: torch.optim.Optimizer,
    *,
    grad_clip: float = 0.0,
    pad_to: int | None = None,
    progress: bool = False,
    rng: np.random.Generator | None = None,
    scheduler=None,
    label_smoothing: float = 0.0,
    ema: torch.optim.swa_utils.AveragedModel | None = None,
    mixup: float = 0.0,
    distill: float = 0.0,
    teacher: Teacher | None = None,
) -> tuple[float, float]:
    """One pass over `batches`; returns (mean loss, accuracy). `rng` draws the augmentation of an augmented
    set and the pairs of `mixup`; `scheduler` steps after every batch, and so does `ema`. With mixup the
    accuracy counts each mixed example's larger label; `distill` weighs an ensemble's `peer_loss`, or, with a
    `teacher`, every network's `teacher_loss` (then the peers are not read). Raises HandRNNError on a
    non-finite loss."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    device = device_of(model)
    for index in tqdm(batches, leave=False, disable=not progress, unit="batch"):
        if teacher is None:
            x, lengths, y = data.batch(index, pad_to, rng)
        else:  # the teacher reads the same (augmented) frames through its own encoder
            views, y = data.batch_views(index, (data.encode, teacher.encoder), pad_to, rng)
            (x, lengths), (seen_by_teacher, its_lengths) = views  # its own step may give other lengths
            target = teacher.probabilities(seen_by_teacher.to(device), its_lengths)
        x, y = x.to(device), y.to(device)
        pairing = Pairing.draw(mixup, len(index), rng, device) if mixup > 0 else Pairing()
        if isinstance(model, Ensemble):  # each member learns on its own loss
            members = model.forward_members(x, lengths, pairing.mix)  # [M, B, C]
            loss = sum(pairing.loss(m, y, label_smoothing) for m in members)
            logits = Ensemble.combine(members.detach())
        else:
            members = logits = model(x, lengths, pairing.mix)
            loss = pairing.loss(logits, y, label_smoothing)
        if teacher is not None:
            loss = loss + distill * teacher_loss(members, pairing.mix(target))
        elif distill > 0 and isinstance(model, Ensemble):
            loss = loss + distill * peer_loss(members)
        if not torch.isfinite(loss):
            raise HandRNNError("training diverged: the loss is NaN or infinite (try a lower --lr or --grad-clip)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        total_loss += loss.item() / members_of(model) * len(index)  # an ensemble reports its members' mean loss
        correct += int((logits.argmax(1) == pairing.major(y)).sum())
        seen += len(index)
    return total_loss / seen, correct / seen


def peer_loss(member_logits: torch.Tensor) -> torch.Tensor:
    """Online co-distillation of an ensemble ([M, B, C] logits, M >= 2): the sum over members of
    KL(mean probability of the other members || the member's), per example; the targets are held fixed
    (detached), so each member moves towards its peers, not they towards it."""
    log_p = member_logits.log_softmax(-1)
    p = log_p.detach().exp()
    others = (p.sum(0, keepdim=True) - p) / (len(p) - 1)  # [M, B, C]: each member's peers' mean
    return nn.functional.kl_div(log_p, others, reduction="sum") / member_logits.shape[1]


def teacher_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Offline distillation: KL(teacher's probabilities [B, C] || each network's), summed over the networks of
    an ensemble's [M, B, C] logits (or of one network's [B, C]), averaged over the batch."""
    log_p = logits.log_softmax(-1)
    return nn.functional.kl_div(log_p, target.expand_as(log_p), reduction="sum") / target.shape[0]


@dataclass(frozen=True)
class Teacher:
    """A trained run's model (eval mode, never updated) and the encoder of its own input features."""

    model: nn.Module
    encoder: Encoder

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(x, lengths).softmax(-1)


def load_teacher(run: str, device: str, data: HandActions, index: dict[str, list[int]]) -> Teacher | None:
    """A teacher run folder (its best checkpoint: the last epoch where it had no validation part) as a Teacher
    on `device`, refused where it trained on a sequence that this run validates or tests on, or on other action
    names; None for '' (no teacher)."""
    if not run:
        return None
    from .evaluation import load_model  # evaluation builds on this module

    where = Path(run)
    if not (where / "config.json").is_file():
        raise HandRNNError(f"teacher: {where} is not a run folder (no config.json)")
    if not (where / "results.json").is_file():
        raise HandRNNError(f"teacher: {where} has not finished training (no results.json); finish it first")
    model, encoder, state = load_model(where, "best", device)
    if list(state["actions"]) != list(data.actions):
        raise HandRNNError(f"teacher: {where} was trained on other action names than this data's")
    taught = set(RunDir(where).read_split("train"))
    held_out = [data.ids[i] for part in ("val", "test") for i in index[part]]
    leaked = [sid for sid in held_out if sid in taught]
    if leaked:
        raise HandRNNError(
            f"teacher: {where} trained on {len(leaked)} of this run's validation or test sequences (e.g. "
            f"{leaked[0]}); give a teacher trained on this run's training part only (same protocol and seed)"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    return Teacher(model.eval(), encoder)


@dataclass(frozen=True)
class Pairing:
    """Manifold mixup of one batch: example i's pooled features become lam * f[i] + (1 - lam) * f[partner[i]],
    and its loss mixes the two labels' losses by the same weights (Verma et al., 2019). Pairing() mixes nothing."""

    lam: float = 1.0
    partner: torch.Tensor | None = None

    @classmethod
    def draw(cls, alpha: float, batch: int, rng: np.random.Generator | None, device: torch.device) -> Pairing:
        rng = rng if rng is not None else np.random.default_rng()  # unseeded only where no generator is given
        lam = float(rng.beta(alpha, alpha))
        return cls(lam, torch.from_numpy(rng.permutation(batch)).to(device))

    def mix(self, features: torch.Tensor) -> torch.Tensor:
        return features if self.partner is None else self.lam * features + (1 - self.lam) * features[self.partner]

    def loss(self, logits: torch.Tensor, y: torch.Tensor, label_smoothing: float) -> torch.Tensor:
        loss = nn.functional.cross_entropy(logits, y, label_smoothing=label_smoothing)
        if self.partner is None:
            return loss
        other = nn.functional.cross_entropy(logits, y[self.partner], label_smoothing=label_smoothing)
        return self.lam * loss + (1 - self.lam) * other

    def major(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.partner is None or self.lam >= 0.5 else y[self.partner]


def members_of(model: nn.Module) -> int:
    return len(model.members) if isinstance(model, Ensemble) else 1


@torch.no_grad()
def predict(model: nn.Module, data: SequenceSet | Phases) -> torch.Tensor:
    """Logits [N, C] for every sequence of `data`, in its order (batched by length, which is exact); for
    `Phases`, the log of each sequence's probabilities averaged over its readings."""
    if isinstance(data, Phases):
        probs = torch.softmax(predict(model, data.readings), 1)
        total = torch.zeros(len(data), probs.shape[1]).index_add_(0, data.owner, probs)
        return (total / torch.bincount(data.owner, minlength=len(data))[:, None]).log()
    model.eval()
    device = device_of(model)
    logits = torch.empty(len(data), model.num_classes)
    for index in batch_indices(data.lengths.numpy(), EVAL_BATCH, "bucket", None):
        x, lengths, _ = data.batch(index)
        logits[torch.as_tensor(index)] = model(x.to(device), lengths).cpu()
    return logits


def evaluate(model: nn.Module, data: SequenceSet | Phases) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on `data`."""
    if len(data) == 0:
        return float("nan"), float("nan")
    logits = predict(model, data)
    return float(nn.functional.cross_entropy(logits, data.y)), float((logits.argmax(1) == data.y).float().mean())


@dataclass
class Prepared:
    """Everything a run needs besides the model: the three parts of the data, encoded."""

    train: SequenceSet
    val: SequenceSet | Phases
    test: SequenceSet | Phases
    encoder: Encoder
    pad_to: int | None
    index: dict[str, list[int]]

    @property
    def normaliser(self) -> Normaliser:
        return self.encoder.normaliser


def augmentation(cfg: Config) -> Augmentation:
    return Augmentation(
        speed=cfg.speed,
        warp=cfg.warp,
        crop=cfg.crop,
        drop=cfg.drop,
        bones=cfg.bones,
        mirror=cfg.mirror,
        rotate=cfg.rotate,
        drift=cfg.drift,
        scale=cfg.scale,
        jitter=cfg.jitter,
    )


def prepare(cfg: Config, data: HandActions, split: Split) -> Prepared:
    subjects = data.subjects if cfg.val_by == "subject" else None
    train, val = carve_validation(data.labels, split.train, cfg.val_fraction, cfg.seed, subjects, cfg.val_fold)
    augment = augmentation(cfg)
    encoder = Encoder.fit(
        cfg.feature_names(), cfg.normalise, [data.sequences[i] for i in train], augment, cfg.seed, cfg.frame_step
    )

    def frames(index: np.ndarray) -> list[np.ndarray]:
        return [data.sequences[i] for i in index]

    def evaluated(index: np.ndarray) -> SequenceSet | Phases:
        return held_out(frames(index), data.labels[index], encoder, cfg.phases)

    pad_to = kept(int(data.lengths.max()), cfg.frame_step) if cfg.lengths == "pad" else None  # CW3: the max_len
    index = {"train": train.tolist(), "val": val.tolist(), "test": split.test.tolist()}
    training = SequenceSet(frames(train), data.labels[train], encoder, augment)
    return Prepared(training, evaluated(val), evaluated(split.test), encoder, pad_to, index)


def make_optimizer(cfg: Config, model: nn.Module) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return kind(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: Config, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """A per-batch learning-rate schedule, or None for a constant rate without warm-up."""
    total, warm = cfg.epochs * steps_per_epoch, cfg.warmup * steps_per_epoch
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    if cfg.schedule == "constant" and not warm:
        return None

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "constant":
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_ema(cfg: Config, model: nn.Module) -> torch.optim.swa_utils.AveragedModel | None:
    if not cfg.ema:
        return None
    multi_avg_fn = torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema)
    return torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=multi_avg_fn, use_buffers=True)


@dataclass
class Training:
    """What changes while a run trains: the model, its optimiser, schedule and weight average (and the teacher
    it learns from, which does not change)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    ema: torch.optim.swa_utils.AveragedModel | None
    teacher: Teacher | None = None
    earlier: list[nn.Module] = field(default_factory=list)  # earlier generations judged with it (all_generations)

    @property
    def eval_model(self) -> nn.Module:
        """The weights that are validated, tested and saved as "model": the average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def judged(self) -> nn.Module:
        """What validation and test read: eval_model, with the earlier generations' networks where there are."""
        return judged(self.eval_model, self.earlier)

    def state(self) -> dict:
        state = {"model": self.eval_model.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.ema is not None:
            state["train_model"], state["ema"] = self.model.state_dict(), self.ema.state_dict()
        return state

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state.get("train_model", state["model"]))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])


def resolve_device(name: str) -> torch.device:
    """cpu, cuda (refused without one) or auto (cuda when there is one)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise HandRNNError(
            "--device cuda: this machine has no CUDA device (or torch was built without CUDA); use cpu or auto"
        )
    return torch.device(name)


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def start_training(
    cfg: Config,
    num_classes: int,
    steps_per_epoch: int,
    teacher: Teacher | None = None,
    earlier: list[nn.Module] | None = None,
) -> Training:
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, num_classes).to(resolve_device(cfg.device))
    optimizer = make_optimizer(cfg, model)
    scheduler = make_scheduler(cfg, optimizer, steps_per_epoch)
    return Training(model, optimizer, scheduler, make_ema(cfg, model), teacher, earlier or [])


def judged(model: nn.Module, earlier: Sequence[nn.Module]) -> nn.Module:
    """`model` alone, or with the earlier generations' networks as one ensemble (all_generations)."""
    return together([*earlier, model]) if earlier else model


def load_earlier(cfg: Config, run_dir: RunDir, encoder: Encoder) -> list[nn.Module]:
    """The finished earlier generations of the run (best checkpoints, as `handrnn evaluate` reads them) that its
    last generation is judged with, on cfg's device: with all_generations and generations > 1, else none."""
    if not (cfg.all_generations and cfg.generations > 1):
        return []
    from .evaluation import earlier_generations  # evaluation builds on this module

    device = resolve_device(cfg.device)
    return [m.to(device) for m in earlier_generations(run_dir, cfg.generations, encoder)]


def with_joints(cfg: Config, data: HandActions) -> Config:
    """cfg with the data's joints per frame (joints 0 = the data's), checked against what the model needs."""
    if cfg.joints and cfg.joints != data.joints:
        raise HandRNNError(f"config: joints = {cfg.joints}, but the data has {data.joints} joints per frame")
    return validate(dataclasses.replace(cfg, joints=data.joints))


def fit(
    cfg: Config,
    data: HandActions,
    split: Split,
    run_dir: Path | RunDir,
    *,
    resume: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train cfg's model on split.train (minus validation), keep last/best checkpoints; returns results.

    With cfg.generations > 1 the earlier generations train first, each in its own folder inside run_dir
    (generation1, ...; a finished one is kept), each taught by the one before it (the first by cfg.teacher, if
    any), and the last, in run_dir, by the one before it. on_epoch(row) is called after each epoch of the last
    generation is saved (a sweep reports it, and may stop the run by raising)."""
    run_dir = RunDir(run_dir) if not isinstance(run_dir, RunDir) else run_dir
    cfg = with_joints(cfg, data)
    teacher, fresh = cfg.teacher, not run_dir.holds_run()
    if cfg.generations > 1 and fresh:
        run_dir.write_config(cfg)  # from the start: an interrupted earlier generation resumes with the run
    for g in range(1, cfg.generations):
        earlier = run_dir.generation(g)
        try:
            if not earlier.finished():
                if earlier.holds_run() and earlier.read_config().epochs != cfg.epochs:
                    earlier.update_config(epochs=cfg.epochs)  # resumed with another --epochs, as the run is
                log.info(f"generation {g} of {cfg.generations}: {earlier}")
                one = dataclasses.replace(cfg, generations=1, teacher=teacher)
                train_one(one, data, split, earlier, resume=earlier.has_checkpoint("last"))
        except Interrupted as e:
            raise e.within(f"generation {g} of {cfg.generations}", run_dir) from None
        except HandRNNError:
            if fresh and g == 1 and not earlier.holds_run():
                run_dir.drop_config()  # refused before the first generation started: the name stays free
            raise
        teacher = str(earlier.path)
    if cfg.generations > 1:
        log.info(f"generation {cfg.generations} of {cfg.generations}: {run_dir}")
    return train_one(cfg, data, split, run_dir, resume=resume, on_epoch=on_epoch, teacher=teacher)


def train_one(
    cfg: Config,
    data: HandActions,
    split: Split,
    run_dir: RunDir,
    *,
    resume: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
    teacher: str | None = None,
) -> dict:
    """fit's work for one generation (cfg with the data's joints, as fit gives it), taught by `teacher` (a run
    folder; None: cfg.teacher)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    prep = prepare(cfg, data, split)
    teacher_run = cfg.teacher if teacher is None else teacher
    taught_by = load_teacher(teacher_run, cfg.device, data, prep.index)  # refused before the folder is set up
    given, cfg = cfg, dataclasses.replace(cfg, epochs=cfg.epochs_for(len(prep.train)))  # config.json keeps the rule
    if cfg.val_fraction > 0 and len(prep.val) == 0:
        log.warning("the validation part is empty (too few training sequences per class): keeping the last epoch")
    if cfg.distill and cfg.members < 2 and not teacher_run:
        log.warning(f"distill = {cfg.distill} applies to ensembles; this run trains one network, so it is off")
    earlier = load_earlier(cfg, run_dir, prep.encoder)
    run = start_training(cfg, len(data.actions), math.ceil(len(prep.train) / cfg.batch_size), taught_by, earlier)
    history, best, start = [], {"epoch": 0, "val_acc": -1.0, "val_loss": float("inf")}, 1
    sha256 = {part: fingerprint(data, np.array(index, dtype=np.int64)) for part, index in prep.index.items()}
    if resume and run_dir.has_checkpoint("last"):
        for part, digest in sha256.items():
            run_dir.check_data(part, digest)
        state = run_dir.load("last")
        run.load(state)
        history, best, start = state["history"], state["best"], state["epoch"] + 1
        run_dir.write_metrics(history)  # the checkpoint's history is the truth (a kill may have cut metrics.csv)
    else:
        run_dir.create(given, {k: [data.ids[i] for i in v] for k, v in prep.index.items()}, sha256)
    meta = {
        "config": dataclasses.asdict(given),
        "actions": list(data.actions),
        "normaliser": dataclasses.asdict(prep.normaliser),
    }
    with run_dir.log_to(logging.getLogger("handrnn")), sigterm_as_interrupt():
        if start > 1:
            log.info(f"resuming {run_dir} after epoch {start - 1}")
        history, best = train_epochs(cfg, run, prep, run_dir, meta, history, best, start, on_epoch)
        return finish(cfg, run.eval_model, prep, history, best, run_dir, earlier)


def train_epochs(
    cfg: Config,
    run: Training,
    prep: Prepared,
    run_dir: RunDir,
    meta: dict,
    history: list[dict],
    best: dict,
    start: int,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[list[dict], dict]:
    """Epochs start..cfg.epochs, each checkpointed; Ctrl-C becomes Interrupted naming the resume command."""
    progress = sys.stderr.isatty()
    epoch, saved, started = start, start - 1, time.perf_counter()
    try:
        for epoch in range(start, cfg.epochs + 1):
            row = run_epoch(cfg, run, prep, epoch, progress)
            history.append(row)
            improved = better(row, best) or len(prep.val) == 0  # no validation part: the last epoch is kept
            if improved:
                best = {"epoch": epoch, "val_acc": row["val_acc"], "val_loss": row["val_loss"]}
            state = {**meta, **run.state(), "epoch": epoch, "history": history, "best": best}
            if improved:  # best first: a kill between the two writes repeats this epoch on resume
                run_dir.save("best", state)
            run_dir.save("last", state)
            saved = epoch
            run_dir.write_metrics(history)
            wall = time.perf_counter() - started  # training and evaluation of this session's epochs
            log.info(format_row(row, cfg.epochs, eta=wall / (epoch - start + 1) * (cfg.epochs - epoch)))
            if on_epoch is not None:
                on_epoch(row)
            if cfg.patience and epoch - best["epoch"] >= cfg.patience:
                log.info(f"no better validation score for {cfg.patience} epochs: stopping early")
                break
    except KeyboardInterrupt:
        kept = f"{run_dir.checkpoint_path('last')} holds epoch {saved}" if saved else "no epoch had finished"
        raise Interrupted(f"stopped in epoch {epoch}; {kept}", run_dir) from None
    return history, best


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A polite kill (SIGTERM) ends training like Ctrl-C (only the main thread can set signal handlers)."""
    previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # a polite kill (SIGTERM) ends the run like Ctrl-C


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def better(row: dict, best: dict) -> bool:
    return (row["val_acc"], -row["val_loss"]) > (best["val_acc"], -best["val_loss"])


def run_epoch(cfg: Config, run: Training, prep: Prepared, epoch: int, progress: bool) -> dict:
    # Each epoch's randomness is derived from (seed, epoch): a resumed run repeats it exactly.
    rng = np.random.default_rng([cfg.seed, epoch])
    torch.manual_seed(cfg.seed * 1_000_003 + epoch)
    batches = batch_indices(prep.train.lengths.numpy(), cfg.batch_size, cfg.lengths, rng)
    t0 = time.perf_counter()
    train_loss, train_acc = train_one_epoch(
        run.model,
        prep.train,
        batches,
        run.optimizer,
        grad_clip=cfg.grad_clip,
        pad_to=prep.pad_to,
        progress=progress,
        rng=rng,
        scheduler=run.scheduler,
        label_smoothing=cfg.label_smoothing,
        ema=run.ema,
        mixup=cfg.mixup,
        distill=cfg.distill,
        teacher=run.teacher,
    )
    seconds = time.perf_counter() - t0
    val_loss, val_acc = evaluate(run.judged, prep.val)
    test_acc = evaluate(run.judged, prep.test)[1] if cfg.test_every_epoch else ""
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "test_acc": test_acc,
        "seconds": seconds,
    }


def format_row(row: dict, epochs: int, eta: float | None = None) -> str:
    test = f" test_acc {row['test_acc']:.4f}" if row["test_acc"] != "" else ""
    left = f", {clock(eta)} left" if eta is not None and row["epoch"] < epochs else ""
    return (
        f"epoch {row['epoch']:>3}/{epochs} train_loss {row['train_loss']:.4f} train_acc {row['train_acc']:.4f} "
        f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f}{test} ({row['seconds']:.1f}s{left})"
    )


def clock(seconds: float) -> str:
    """1:02:03 or 2:03."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def finish(
    cfg: Config,
    model: nn.Module,
    prep: Prepared,
    history: list[dict],
    best: dict,
    run_dir: RunDir,
    earlier: Sequence[nn.Module] = (),
) -> dict:
    """Test the best and last checkpoints once (with the earlier generations, if given), write results.json."""
    last_loss, last_acc = evaluate(judged(model, earlier), prep.test)
    model.load_state_dict(run_dir.load("best")["model"])
    test_loss, test_acc = evaluate(judged(model, earlier), prep.test)
    seconds = [float(r["seconds"]) for r in history]
    results = {
        "run": str(run_dir),
        "model": cfg.model,
        "cell": cfg.cell,
        "protocol": cfg.protocol,
        "seed": cfg.seed,
        "sizes": {k: len(v) for k, v in prep.index.items()},
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "test_acc": test_acc,
        "test_loss": test_loss,
        "test_acc_last_epoch": last_acc,
        "test_loss_last_epoch": last_loss,
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else 0.0,
        "train_seconds": float(np.sum(seconds)),
        "parameters": sum(p.numel() for p in judged(model, earlier).parameters()),
    }
    run_dir.write_results(results)
    return results
