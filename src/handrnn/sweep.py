"""Sweeps on Optuna: a base config plus a grid (--grid) or sampled ranges (--range) of field values.

Every trial is a normal run folder named by its resolved config (trials/LABEL-DIGEST), so a rerun with another
base config never reuses a point trained under a different one, and the same config is never trained twice.
The study lives in an Optuna storage: by default a SQLite file in the sweep folder; a PostgreSQL URL lets
workers on many machines share it. Workers claim queued trials atomically; a trial whose worker died (no
heartbeat) is failed and queued again, and its run folder resumes from its last checkpoint.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import FPHA_JOINTS, Config, coerce, validate
from .errors import HandRNNError, Interrupted
from .runs import RunDir, atomic_write, provenance, write_text

log = logging.getLogger(__name__)
NOT_SWEPT = ("data", "allow_pickle", "out", "name", "test_every_epoch", "protocol", "fold", "threads", "device")
NOT_IDENTITY = ("data", "allow_pickle", "out", "name", "threads", "device")  # where and how fast, not what is trained
STUDY_DB = "study.db"
TRIALS = "trials"


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass
class Space:
    """What a sweep varies: grid fields take each listed value, range fields are sampled (TPE); or an explicit
    list of points (a study's), each a change of the base config."""

    grid: dict[str, list] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)
    explicit: list[dict] = field(default_factory=list)

    def fields(self) -> list[str]:
        if self.explicit:
            return list(dict.fromkeys(k for point in self.explicit for k in point))
        return [*self.grid, *self.ranges]

    def points(self) -> list[dict]:
        """Every point of a grid or an explicit list (the trials of a sweep that samples nothing)."""
        if self.explicit:
            return self.explicit
        return [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]

    def choices(self, key: str) -> list:
        return list(dict.fromkeys(point[key] for point in self.points() if key in point))

    def as_json(self) -> dict:
        """The space as data; an explicit list counts as a set (its order only says what runs first)."""
        ranges = {k: dataclasses.asdict(v) for k, v in self.ranges.items()}
        explicit = sorted(self.explicit, key=lambda p: json.dumps(p, sort_keys=True))
        return {"grid": self.grid, "ranges": ranges, **({"explicit": explicit} if explicit else {})}


def _field_types() -> dict[str, str]:
    return {f.name: f.type for f in dataclasses.fields(Config)}


def _sweepable(key: str, spec: str, flag: str) -> str:
    key = key.strip().replace("-", "_")
    if key in NOT_SWEPT or key not in _field_types():
        raise HandRNNError(f"{flag} {spec!r}: {key!r} is not a field that can be swept")
    return key


def parse_grid(specs: list[str]) -> dict[str, list]:
    """["num_units=64,128", "lr=1e-3,1e-4"] -> {"num_units": [64, 128], "lr": [0.001, 0.0001]}."""
    types = _field_types()
    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep or not values.strip():
            raise HandRNNError(f"--grid {spec!r}: expected FIELD=V1,V2,...")
        key = _sweepable(key, spec, "--grid")
        grid[key] = [coerce(key, _parse_value(v.strip(), types[key], spec), f"--grid {key}") for v in values.split(",")]
        if len(set(grid[key])) != len(grid[key]):
            raise HandRNNError(f"--grid {spec!r}: a value is listed twice")
    return grid


def parse_ranges(specs: list[str]) -> dict[str, Range]:
    """["lr=1e-4:1e-2:log", "num_units=16:256"] -> sampled ranges (int fields sample integers)."""
    types = _field_types()
    ranges: dict[str, Range] = {}
    for spec in specs:
        key, sep, rest = spec.partition("=")
        parts = rest.split(":")
        if not sep or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise HandRNNError(f"--range {spec!r}: expected FIELD=LOW:HIGH or FIELD=LOW:HIGH:log")
        key = _sweepable(key, spec, "--range")
        if types[key] not in ("int", "float"):
            raise HandRNNError(f"--range {spec!r}: {key} is not a number; list its values with --grid")
        low, high = (_parse_value(p.strip(), types[key], spec) for p in parts[:2])
        is_log = len(parts) == 3
        if not low < high or (is_log and low <= 0):
            raise HandRNNError(f"--range {spec!r}: need LOW < HIGH (and LOW > 0 for log)")
        ranges[key] = Range(low, high, is_log, types[key] == "int")
    return ranges


def make_space(grid_specs: list[str], range_specs: list[str]) -> Space:
    space = Space(parse_grid(grid_specs), parse_ranges(range_specs))
    both = set(space.grid) & set(space.ranges)
    if both:
        raise HandRNNError(f"{', '.join(sorted(both))}: give a field either --grid or --range, not both")
    if not space.fields():
        raise HandRNNError("give at least one --grid FIELD=V1,V2,... or --range FIELD=LOW:HIGH")
    return space


def _parse_value(text: str, kind: str, spec: str):
    try:
        if kind == "bool":
            return {"true": True, "false": False}[text.lower()]
        return {"int": int, "float": float, "str": str}[kind](text)
    except (KeyError, ValueError):
        raise HandRNNError(f"{spec!r}: {text!r} is not a valid {kind}") from None


# Fields added after sweeps first stored trials, each with the values that train what runs did before it existed:
# at those values a field stays out of the digest, so that upgrading handrnn does not orphan finished trials.
ADDED_LATER = {
    "joints": (0, FPHA_JOINTS),
    "min_steps": (0,),
    "bones": (0.0,),
    "grouped_kernel": (False,),
    "val_by": ("sequence",),
    "member_features": ("",),
    "mixup": (0.0,),
    "mirror": (0.0,),
    "distill": (0.0,),
    "val_fold": (0,),
    "teacher": ("",),
    "frame_step": (1,),
    "warp": (0.0,),
    "drift": (0.0,),
    "generations": (1,),
    "phases": (False,),
    "all_generations": (False,),
}


def identity(cfg: Config) -> dict:
    """The fields that decide what a run trains and measures."""
    return {
        k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_IDENTITY and v not in ADDED_LATER.get(k, ())
    }


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def label(change: dict) -> str:
    if not change:
        return "base"
    return "-".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in change.items())


def point_config(base: Config, change: dict) -> tuple[str, Config]:
    """(trial folder name, validated config) of one point: the folder names the change and the config's digest."""
    cfg = validate(dataclasses.replace(base, **change))
    name = f"{label(change)}-{digest(identity(cfg))}"
    return name, dataclasses.replace(cfg, name=name)


def grid_points(base: Config, grid: dict[str, list]) -> list[tuple[str, Config]]:
    """(folder name, config) for every combination of the grid, each validated."""
    return [point_config(base, point) for point in Space(grid).points()]


@dataclass
class Sweep:
    """One study: the base config, the space, where its trials go and where the study is stored."""

    base: Config
    space: Space
    out_dir: Path
    storage: str = ""  # "" = sqlite:///OUT_DIR/study.db
    trials: int = 0  # sampled sweeps: how many trials in all; grids: every point once
    prune: bool = False
    heartbeat: int = 30  # seconds between a running trial's heartbeats
    grace: int = 120  # a running trial silent this long belongs to a dead worker

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        if self.base.protocol == "cross-subject":
            raise HandRNNError("sweeps select by validation accuracy on one split: use protocol cw3, 1:1, 1:3 or 3:1")
        if self.base.val_fraction == 0 and "val_fraction" not in self.space.fields():
            raise HandRNNError(
                "sweeps select by validation accuracy: give --val-fraction above 0 (the best preset trains without one)"
            )
        if self.space.ranges and self.trials < 1:
            raise HandRNNError("a sweep with --range samples points: give --trials N (N >= 1)")
        for point in self.space.points() if not self.space.ranges else []:
            point_config(self.base, point)  # a bad point is refused before anything runs

    @property
    def name(self) -> str:
        """The study's name: the sweep folder and a digest of everything that decides its trials."""
        spec = {"base": identity(self.base), "space": self.space.as_json(), "prune": self.prune}
        return f"{self.out_dir.name}-{digest(spec)}"

    @property
    def total(self) -> int:
        return self.trials if self.space.ranges else len(self.space.points())

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out_dir / STUDY_DB).resolve()}"


def open_study(sweep: Sweep, *, create: bool = False, worker: int = 0):
    """The sweep's Optuna study (created and, for a grid, filled with its queued points when `create`)."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")  # handrnn beats for its trials
    storage = _storage(sweep)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, sweep.base.epochs // 4))
        if sweep.prune
        else optuna.pruners.NopPruner()
    )
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=sweep.name,
            direction="maximize",
            pruner=pruner,
            load_if_exists=True,
        )
    except Exception as e:  # noqa: BLE001 - a storage that cannot be reached or written
        raise HandRNNError(f"sweep storage {_safe_url(sweep.storage_url())}: {e.__class__.__name__}: {e}") from None
    # Each worker, and each rerun that continues the study, draws its own points (a sampler seeded alike
    # would propose the points of the first run again).
    held = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=sweep.base.seed + 7919 * worker + 104729 * held)
    if create:
        study.set_user_attr("base", identity(sweep.base))
        study.set_user_attr("space", sweep.space.as_json())
        if not sweep.space.ranges:
            queue_grid(study, sweep)
    return study


def _storage(sweep: Sweep):
    import optuna

    url = sweep.storage_url()
    if url.startswith("sqlite:"):
        sweep.out_dir.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=sweep.heartbeat,
            grace_period=sweep.grace,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
        )
    except Exception as e:  # noqa: BLE001 - bad URL, missing driver, server down
        raise HandRNNError(f"sweep storage {_safe_url(url)}: {e.__class__.__name__}: {e}") from None


def _safe_url(url: str) -> str:
    """The URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':')[0]}:***@{tail}" if ":" in user else url


def queue_grid(study, sweep: Sweep) -> None:
    """Queue every grid point that the study does not hold yet (failed points stay failed: see retry_failed)."""
    held = {_key(t.params or t.system_attrs.get("fixed_params", {})) for t in study.get_trials(deepcopy=False)}
    for point in sweep.space.points():
        if _key(point) not in held:
            study.enqueue_trial(point)


def retry_failed(study) -> int:
    """Queue again every failed point that has not been retried (a fixed bug, a freed disk)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = {_key(t.params) for t in trials if t.state != TrialState.FAIL}
    again = {_key(t.params): t.params for t in trials if t.state == TrialState.FAIL and _key(t.params) not in done}
    for params in again.values():
        study.enqueue_trial(params)
    return len(again)


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def claim(study):
    """A queued trial, now RUNNING for this worker (atomic in the storage), or None when the queue is empty."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                return optuna.trial.Trial(study, t._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def next_trial(study, sweep: Sweep):
    """Claim a queued trial; in a sampled sweep, ask the sampler for a new one while fewer than `trials` exist."""
    import optuna
    from optuna.trial import TrialState

    optuna.storages.fail_stale_trials(study)  # a dead worker's trial: failed, and queued again
    trial = claim(study)
    if trial is not None or not sweep.space.ranges:
        return trial
    started = [t for t in counted(study.get_trials(deepcopy=False)) if t.state != TrialState.WAITING]
    if len(started) >= sweep.trials:
        return None
    return study.ask()


def counted(trials) -> list:
    """The trials that count: a failed trial that was queued again is replaced by its retry."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.number not in retried and not t.user_attrs.get("requeued")]


def suggest(trial, space: Space) -> dict:
    """The trial's values: its queued point, or values sampled from the space."""
    if space.explicit:  # a listed point sets only its own fields
        frozen = trial.study._storage.get_trial(trial._trial_id)
        fixed = {**frozen.system_attrs.get("fixed_params", {}), **frozen.params}
        return {k: trial.suggest_categorical(k, space.choices(k)) for k in fixed}
    values = {k: trial.suggest_categorical(k, v) for k, v in space.grid.items()}
    for k, r in space.ranges.items():
        if r.integer:
            values[k] = trial.suggest_int(k, int(r.low), int(r.high), log=r.log)
        else:
            values[k] = trial.suggest_float(k, r.low, r.high, log=r.log)
    return values


class Heartbeat:
    """Tells the storage every `interval` seconds that this worker still runs `trial`."""

    def __init__(self, study, trial, interval: int):
        self.storage, self.trial_id, self.interval = study._storage, trial._trial_id, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(self.interval):
                return

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_trial(study, trial, sweep: Sweep, data, worker: str = "") -> dict:
    """Train (or read back) one trial's run folder; its results become the trial's attributes."""
    import optuna

    from .data import protocol_splits
    from .training import fit, with_joints

    change = suggest(trial, sweep.space)
    name, cfg = point_config(sweep.base, change)
    run_dir = RunDir(sweep.out_dir / TRIALS / name)
    log.info(f"{worker}trial {trial.number}: {label(change)} ({run_dir})")
    trial.set_user_attr("run", f"{TRIALS}/{name}")
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("seed", cfg.seed)
    trial.set_user_attr("threads", cfg.threads)

    def report(row: dict) -> None:
        trial.report(float(row["val_acc"]), int(row["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {row['epoch']} (val_acc {row['val_acc']:.4f})")

    with run_dir.lock(wait=True):  # the same point sampled twice, or queued by two machines: trained once
        if run_dir.finished() and identity(run_dir.read_config()) == identity(with_joints(cfg, data)):
            results = run_dir.read_results()
        else:
            split = protocol_splits(data, cfg.protocol, cfg.seed)[0]  # each point's own seed makes its split
            results = fit(cfg, data, split, run_dir, resume=run_dir.has_checkpoint("last"), on_epoch=report)
            run_dir.write_command(provenance(cfg, sys.argv[1:]))
            run_dir.write_model_card(run_dir.read_command())
    for k in ("test_acc", "val_loss", "test_acc_last_epoch", "seconds_per_epoch", "parameters", "best_epoch"):
        if k in results:
            trial.set_user_attr(k, results[k])
    return results


def work(sweep: Sweep, data, number: int = 0) -> dict:
    """One worker: claim and run trials until none is left. Returns how many it ran, by outcome."""
    import optuna
    from optuna.trial import TrialState

    study = open_study(sweep, worker=number)
    worker = f"[worker {number}] " if number else ""
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    pace = Pace(sweep, data)
    while (trial := next_trial(study, sweep)) is not None:
        with Heartbeat(study, trial, sweep.heartbeat):
            try:
                results = run_trial(study, trial, sweep, data, worker)
            except optuna.TrialPruned as e:
                study.tell(trial, state=TrialState.PRUNED)
                counts["pruned"] += 1
                log.info(f"{worker}trial {trial.number}: {e}")
                continue
            except (KeyboardInterrupt, Interrupted):
                trial.set_user_attr("error", "interrupted")
                trial.set_user_attr("requeued", True)
                study.tell(trial, state=TrialState.FAIL)
                study.enqueue_trial(trial.params)  # a rerun resumes its run folder
                raise Interrupted(
                    "sweep interrupted: rerun the same command to finish it (trained epochs are kept)"
                ) from None
            except Exception as e:  # noqa: BLE001 - a failing point is recorded and the sweep goes on
                message = str(e) if isinstance(e, HandRNNError) else f"{e.__class__.__name__}: {e}"
                trial.set_user_attr("error", message)
                study.tell(trial, state=TrialState.FAIL)
                counts["failed"] += 1
                log.warning(f"{worker}trial {trial.number} failed: {message}")
                continue
            value = results["val_acc"]
            study.tell(trial, value if value == value else float("-inf"))
            counts["complete"] += 1
            pace.finished(trial.params)
        log.info(f"{worker}trial {trial.number} done: val_acc {value:.4f}; {pace.line(study)}")
    return counts


class Pace:
    """The sweep's time left: bench's model of each point's training seconds, rescaled by this worker's pace."""

    def __init__(self, sweep: Sweep, data):
        from .data import protocol_splits

        train = protocol_splits(data, sweep.base.protocol, sweep.base.seed)[0].train
        keep = 1 - sweep.base.val_fraction
        self.sweep = sweep
        self.sequences = max(1, int(len(train) * keep))
        self.frames = max(1, int(sum(len(data.sequences[i]) for i in train) * keep))
        self.lengths = np.array([len(data.sequences[i]) for i in train[: self.sequences]])  # for pad and pack
        self.pad_to = max(len(s) for s in data.sequences)
        self.started, self.done = time.perf_counter(), 0.0

    def cost(self, change: dict) -> float:
        from .bench import RUN_OVERHEAD_SECONDS, estimate_epoch_seconds

        cfg = point_config(self.sweep.base, change)[1]
        epoch = estimate_epoch_seconds(cfg, self.sequences, self.frames, self.lengths, self.pad_to)
        return cfg.epochs_for(self.sequences) * epoch + RUN_OVERHEAD_SECONDS

    def finished(self, change: dict) -> None:
        self.done += self.cost(change)

    def line(self, study) -> str:
        """'5/8 finished (1 failed), about 0:12 left'."""
        from optuna.trial import TrialState

        from .training import clock

        trials = counted(study.get_trials(deepcopy=False))
        ended = [t for t in trials if t.state.is_finished()]
        failed = sum(t.state == TrialState.FAIL for t in ended)
        text = f"{len(ended)}/{self.sweep.total} finished ({failed} failed)"
        if not self.done:
            return text
        if self.sweep.space.ranges:
            started = [self.cost(t.params) for t in trials if t.params]
            left = statistics.mean(started) * max(0, self.sweep.total - len(ended)) if started else 0.0
        else:
            over = {_key(t.params) for t in ended}
            left = sum(self.cost(p) for p in self.sweep.space.points() if _key(p) not in over)
        workers = 1 + sum(t.state == TrialState.RUNNING for t in trials)
        eta = left * (time.perf_counter() - self.started) / self.done / workers
        return f"{text}, about {clock(eta)} left"


def _worker_main(sweep: Sweep, threads: int, number: int) -> None:
    """A local worker process: its own torch threads, the data loaded once."""
    import sys

    from .cli import setup_logging
    from .datasets import load_data

    setup_logging()
    for h in logging.getLogger("handrnn").handlers:  # epoch lines of parallel trials go to their train.log only
        h.addFilter(lambda record: record.name != "handrnn.training")
    sweep.base = dataclasses.replace(sweep.base, threads=threads)
    try:
        data = load_data(sweep.base.data, allow_pickle=sweep.base.allow_pickle, on_bad=sweep.base.on_bad)
        work(sweep, data, number)
    except HandRNNError as e:
        print(f"handrnn sweep worker {number}: {e}", file=sys.stderr)
        sys.exit(2 if not isinstance(e, Interrupted) else 130)
    except KeyboardInterrupt:
        sys.exit(130)


def split_threads(total: int, workers: int) -> int:
    """torch threads per worker so that `workers` of them do not oversubscribe `total` cores."""
    return max(1, total // workers)


def run_sweep(sweep: Sweep, data, *, workers: int = 1, retry: bool = False) -> list[dict]:
    """Run the study with `workers` local processes (1: this process); return the table of its trials."""
    study = open_study(sweep, create=True)
    if retry:
        log.info(f"queued {retry_failed(study)} failed points again")
    threads = split_threads(sweep.base.threads or os.cpu_count() or 1, workers)
    log.info(
        f"sweep {sweep.name}: {sweep.total} trials, {workers} worker(s) x {threads} thread(s), "
        f"storage {_safe_url(sweep.storage_url())}; {estimate_left(study, sweep, data, workers)}"
    )
    if workers == 1:
        sweep.base = dataclasses.replace(sweep.base, threads=threads)
        work(sweep, data)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(sweep, threads, i + 1)) for i in range(workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.join()
            raise Interrupted(
                "sweep interrupted: rerun the same command to finish it (trained epochs are kept)"
            ) from None
        if any(p.exitcode == 130 for p in procs):
            raise Interrupted("sweep interrupted: rerun the same command to finish it (trained epochs are kept)")
    rows = table(study, sweep)
    write_table(sweep.out_dir, sweep.space.fields(), rows)
    return rows


def estimate_left(study, sweep: Sweep, data, workers: int) -> str:
    """'about 12:30 left (estimate)': bench's epoch model over the points not yet finished (a sampled
    sweep's points costed as the base config's)."""
    from optuna.trial import TrialState

    pace = Pace(sweep, data)
    done = {_key(t.params) for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE}
    if sweep.space.ranges:
        left = max(0, sweep.total - len(done)) * pace.cost({})
    else:
        left = sum(pace.cost(p) for p in sweep.space.points() if _key(p) not in done and not _trained(sweep, p))
    from .training import clock

    return f"about {clock(left / workers)} left (estimate)"


def _trained(sweep: Sweep, point: dict) -> bool:
    """Whether the point's run folder is finished (an earlier study over the same trial folders trained it)."""
    return RunDir(sweep.out_dir / TRIALS / point_config(sweep.base, point)[0]).finished()


def table(study, sweep: Sweep) -> list[dict]:
    """One row per point of the study (the latest attempt of each): its values, outcome and results."""
    from optuna.trial import TrialState

    rows = {}
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.WAITING, TrialState.RUNNING) or "run" not in t.user_attrs:
            continue
        state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(t.state, "failed")
        key = _key(t.params)
        if key in rows and rows[key]["state"] == "complete" and state != "complete":
            continue
        rows[key] = {
            **{k: t.params.get(k) for k in sweep.space.fields()},
            "state": state,
            "val_acc": t.value if state == "complete" else float("nan"),
            "test_acc": t.user_attrs.get("test_acc", float("nan")) if state == "complete" else float("nan"),
            "seconds_per_epoch": t.user_attrs.get("seconds_per_epoch", float("nan")),
            "parameters": t.user_attrs.get("parameters", ""),
            "run": t.user_attrs.get("run", ""),
            "trial": t.number,
            "error": t.user_attrs.get("error", "") if state == "failed" else "",
        }
    return sorted(rows.values(), key=lambda r: r["trial"])


def select(rows: list[dict], keys: list[str]) -> dict | None:
    """The best point by validation accuracy; with seed among the keys, by the mean over seeds of the other values."""
    done = [r for r in rows if r["state"] == "complete" and r["val_acc"] == r["val_acc"]]
    if not done:
        return None
    others = [k for k in keys if k != "seed"]
    groups: dict[tuple, list[dict]] = {}
    for r in done:
        groups.setdefault(tuple(r[k] for k in others), []).append(r)

    def mean(members, key):
        return statistics.mean(m[key] for m in members)

    best = max(groups.values(), key=lambda m: mean(m, "val_acc"))
    chosen = {k: best[0][k] for k in others}
    spread = statistics.stdev([m["val_acc"] for m in best]) if len(best) > 1 else 0.0
    return {
        **chosen,
        "seeds": [m.get("seed") for m in best] if "seed" in keys else None,
        "val_acc": mean(best, "val_acc"),
        "val_acc_std": spread,
        "test_acc": mean(best, "test_acc"),
        "runs": [m["run"] for m in best],
    }


def write_table(out_dir: Path, keys: list[str], rows: list[dict]) -> None:
    fields = [*keys, "state", "val_acc", "test_acc", "seconds_per_epoch", "parameters", "run", "trial", "error"]
    out_dir.mkdir(parents=True, exist_ok=True)

    def table_csv(path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fields)
            w.writeheader()
            w.writerows(rows)

    atomic_write(out_dir / "sweep.csv", table_csv)
    summary = {"fields": keys, "selected_by_val": select(rows, keys), "rows": rows}
    text = json.dumps(summary, indent=2, default=lambda x: None).replace("NaN", "null")
    write_text(out_dir / "sweep.json", text + "\n")
