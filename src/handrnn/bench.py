"""`handrnn bench`: training speed per length mode and model, useful FLOP rate, inference latency, load times.

Everything is measured in one process and one run, so that ratios between rows hold on a noisy machine.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import logging
import math
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from . import features
from .config import Config, make_config
from .data import Encoder, Normaliser, SequenceSet, batch_indices, cw3_split
from .datasets import load_data, read_fpha
from .models import GATES, FingerRNN, build_model
from .runs import atomic_write, describe, size_label, write_json
from .skeleton import FINGER_INPUT, FINGER_JOINTS, NUM_FINGERS
from .training import augmentation, resolve_device, train_one_epoch

log = logging.getLogger(__name__)


def recurrent_flops_per_frame(cfg: Config) -> float:
    """Forward multiply-adds x 2 of the recurrent layers for one real frame (input and hidden matmuls)."""

    def layer(cell: str, n_in: int, hidden: int) -> float:
        return 2.0 * GATES[cell] * hidden * (n_in + hidden)

    if cfg.model == "hrnn":
        u1, k = cfg.num_units1, features.joint_channels(cfg.feature_names())
        one = NUM_FINGERS * layer(cfg.cell, FINGER_JOINTS * k, u1) + layer(cfg.cell2, NUM_FINGERS * u1, cfg.units2())
    else:
        directions, h = (2 if cfg.bidirectional else 1), cfg.num_units
        first = layer(cfg.cell, features.size(cfg.feature_names()), h)
        one = directions * (first + (cfg.depth - 1) * layer(cfg.cell, directions * h, h))
    return cfg.members * one


# A model of one training epoch's seconds (1 thread, this 2-core machine), fitted to measured cw3 epochs of
# GRU-16..512 at batch 50 and checked against GRU-256 batch 5 and HRNN 128/1280 batch 5 (50-epoch runs whose
# tables were results/README.md until commit 6878843):
# each batch costs a fixed time per frame of its recurrence loop, and each frame its FLOPs.
SECONDS_PER_LOOP_FRAME = 1.17e-4  # per batch, per frame of the recurrence, per layer and direction
SECONDS_PER_FLOP = 6.05e-11  # forward FLOPs of a training frame (the backward pass included in the rate)
EVALUATION_SHARE = 1.15  # validation and test passes after each epoch
RUN_OVERHEAD_SECONDS = 15.0  # per run: encoding, start-up, final tests (the quick study took 17.4 min, 13.0 estimated)


def estimate_epoch_seconds(
    cfg: Config, sequences: int, frames: int, lengths: np.ndarray | None = None, pad_to: int = 0
) -> float:
    """Estimated seconds of one training epoch on `sequences` training sequences of `frames` frames in all.

    `bucket` batches sequences of similar length, so the recurrence loops over about the mean length per batch.
    Given the training sequences' `lengths` and the dataset's longest (`pad_to`), `pad` loops over `pad_to` and
    computes every padded frame, and `pack` loops over each random batch's longest.
    """
    steps = math.ceil(sequences / cfg.batch_size)
    if cfg.model == "hrnn":
        loops = 2  # the fused finger level, then the hand level
    else:
        loops = cfg.depth * (2 if cfg.bidirectional else 1)
    loop_frames, computed = steps * frames / sequences, frames
    if cfg.lengths == "pad" and pad_to:
        loop_frames, computed = steps * pad_to, sequences * pad_to
    elif lengths is not None and cfg.lengths == "pack":
        batches = batch_indices(lengths, cfg.batch_size, "pack", np.random.default_rng(0))
        loop_frames = float(sum(lengths[b].max() for b in batches))
    loop = loop_frames * loops * cfg.members * SECONDS_PER_LOOP_FRAME
    return EVALUATION_SHARE * (loop + computed * recurrent_flops_per_frame(cfg) * SECONDS_PER_FLOP)


def matmul_gflops(seconds: float = 2.0, n: int = 2048) -> float:
    """This machine's single-precision matrix multiply rate (a large torch.mm), in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2.0 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def time_training(cfg: Config, train: SequenceSet, pad_to: int | None, budget: float) -> dict:
    """Seconds per training epoch (extrapolated from the batches that fit in `budget` seconds)."""
    torch.manual_seed(0)
    model = build_model(cfg, int(train.y.max()) + 1).to(resolve_device(cfg.device))  # the data's class count
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    batches = batch_indices(train.lengths.numpy(), cfg.batch_size, cfg.lengths, np.random.default_rng(0))
    pad = pad_to if cfg.lengths == "pad" else None
    rng = np.random.default_rng(0)  # draws the augmentation of an augmented set
    train_one_epoch(model, train, batches[:1], optimizer, pad_to=pad, rng=rng)  # warm-up, not timed
    done, t0 = 0, time.perf_counter()
    while done < len(batches) and (done == 0 or time.perf_counter() - t0 < budget):
        train_one_epoch(model, train, batches[done : done + 1], optimizer, pad_to=pad, rng=rng)
        done += 1
    elapsed = time.perf_counter() - t0
    epoch = elapsed / done * len(batches)
    frames = int(train.lengths.sum())
    useful = 3.0 * recurrent_flops_per_frame(cfg) * frames / epoch / 1e9  # forward + backward ~ 3 x forward
    return {
        "seconds_per_epoch": epoch,
        "frames_per_second": frames / epoch,
        "useful_gflops": useful,
        "batches_timed": done,
        "batches": len(batches),
    }


def ensemble_cost(
    seqs: list[np.ndarray], labels: np.ndarray, pad_to: int, budget: float, members: int = 5, device: str = "cpu"
) -> dict:
    """Seconds per training epoch of the `best` preset's network at 128 units (issue 9's measure: GRU-128
    members) alone and as an ensemble of `members`, with the preset's features and augmentation: on PyTorch's
    layers (members one after another), and on the CPU also on the grouped kernel (directions and members in
    one call)."""
    from .cli import preset_path
    from .config import load_preset

    preset = {k: v for k, v in load_preset(preset_path("best"))[0].items() if k != "members"}
    cfg = make_config(Config(), **{**preset, "num_units": 128, "device": device})
    encoder = Encoder.fit(cfg.feature_names(), cfg.normalise, seqs, step=cfg.frame_step)
    train = SequenceSet(seqs, labels, encoder, augmentation(cfg))
    result = {"model": describe(cfg), "members": members}
    modes = (("", False), ("grouped_", True)) if resolve_device(device).type == "cpu" else (("", False),)
    for prefix, grouped in modes:  # (on a GPU the models run PyTorch's layers: models.kernel_runs_on)
        one_cfg = dataclasses.replace(cfg, grouped_kernel=grouped)
        one = time_training(one_cfg, train, pad_to, budget)["seconds_per_epoch"]
        many = time_training(dataclasses.replace(one_cfg, members=members), train, pad_to, budget)
        result.update(
            {
                f"{prefix}one_member_s": one,
                f"{prefix}ensemble_s": many["seconds_per_epoch"],
                f"{prefix}ratio": many["seconds_per_epoch"] / one,
            }
        )
    return result


def format_ensemble(e: dict) -> str:
    text = (
        f"{e['model']}: one network {e['one_member_s']:.2f} s/epoch, {e['members']} members "
        f"{e['ensemble_s']:.2f} s/epoch ({e['ratio']:.2f}x)"
    )
    if "grouped_ratio" in e:
        text += (
            f"; with --grouped-kernel one network {e['grouped_one_member_s']:.2f} s/epoch, {e['members']} members "
            f"{e['grouped_ensemble_s']:.2f} s/epoch ({e['grouped_ratio']:.2f}x)"
        )
    return text


def grouped_scaling(
    groups=(1, 2, 5), units: int = 128, batch: int = 32, frames: int = 77, budget: float = 1.0, device: str = "cpu"
) -> list:
    """Milliseconds per forward + backward of the grouped kernel (GRU, 126 inputs) with G groups: whether
    G networks (ensemble members, directions) run in less than G times the time of one."""
    from .recurrent import grouped_rnn

    where = resolve_device(device)
    rows = []
    for g in groups:
        torch.manual_seed(0)
        params = [(torch.randn(g, 3 * units, n, device=where) * 0.1).requires_grad_() for n in (126, units)]
        params += [torch.zeros(g, 3 * units, device=where, requires_grad=True) for _ in range(2)]
        x = torch.randn(batch, frames, g * 126, device=where)
        grouped_rnn("gru", x, None, *params)[0].sum().backward()  # warm-up
        reps, t0 = 0, time.perf_counter()
        while reps == 0 or time.perf_counter() - t0 < budget:
            grouped_rnn("gru", x, None, *params)[0].sum().backward()
            reps += 1
        synchronize(where)
        rows.append({"groups": g, "ms": 1e3 * (time.perf_counter() - t0) / reps})
    for r in rows:
        r["ratio_to_one"] = r["ms"] / rows[0]["ms"]
    return rows


def finger_level_ms(units: int, batch: int, frames: int, budget: float = 2.0, device: str = "cpu") -> dict:
    """Milliseconds per forward + backward of the finger level alone (the part fusion changes), on one
    batch of `batch` random sequences of `frames` frames: fused against five layers one after another."""
    torch.manual_seed(0)
    where = resolve_device(device)
    layer = FingerRNN(cell="gru", units=units).to(where)
    x = torch.randn(batch, frames, NUM_FINGERS * FINGER_INPUT, device=where)
    ms = {}
    for fused in (True, False):  # the kernel called directly: on a GPU the layer itself runs PyTorch's layers
        run = (lambda: layer._grouped(x, None)[0]) if fused else (lambda: layer._five_layers(x)[0])
        run().sum().backward()  # warm-up
        reps, t0 = 0, time.perf_counter()
        while reps == 0 or time.perf_counter() - t0 < budget:
            run().sum().backward()
            reps += 1
        synchronize(where)
        ms["fused" if fused else "five_layers"] = 1e3 * (time.perf_counter() - t0) / reps
    return {"units": units, "batch": batch, "frames": frames, **ms, "ratio": ms["five_layers"] / ms["fused"]}


@torch.no_grad()
def inference_latency(cfg: Config, seq: torch.Tensor, num_classes: int, reps: int = 20) -> dict:
    """Milliseconds to classify one whole sequence, and per frame when streaming frame by frame (batch 1)."""
    torch.manual_seed(0)
    device = resolve_device(cfg.device)
    model = build_model(dataclasses.replace(cfg, lengths="bucket"), num_classes).to(device).eval()
    x, lengths = seq[None].to(device), torch.tensor([len(seq)])
    model(x, lengths)
    whole = []
    for _ in range(reps):
        t0 = time.perf_counter()
        model(x, lengths)
        whole.append(time.perf_counter() - t0)
    state, t0 = None, time.perf_counter()
    for t in range(len(seq)):
        _, state = model.stream(x[:, t : t + 1], state)
    per_frame = (time.perf_counter() - t0) / len(seq)
    result = {"whole_sequence_ms": 1e3 * float(np.median(whole)), "stream_ms_per_frame": 1e3 * per_frame}
    return {**result, **export_latency(model.cpu(), seq, reps)}


@torch.no_grad()
def export_latency(model: torch.nn.Module, frames: torch.Tensor, reps: int = 20) -> dict:
    """Milliseconds to classify one sequence of raw frames with the exported graph (features, network,
    softmax) in PyTorch and in onnxruntime (one thread each); {} without onnx/onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return {}
    from .data import Encoder, Normaliser
    from .export import Exportable, write_onnx

    wrapped = Exportable(copy.deepcopy(model), Encoder(("xyz",), Normaliser("none"))).eval()
    x = frames[None].float()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        write_onnx(wrapped, x, path, {"actions": "[]"})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"joints": x.numpy()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch_ms = _median_ms(lambda: wrapped(x), reps)
    finally:
        torch.set_num_threads(threads)
    return {"export_torch_ms": torch_ms, "export_onnx_ms": _median_ms(lambda: session.run(None, feed), reps)}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_ms(call, reps: int) -> float:
    call()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def bench_cases(quick: bool) -> list[dict]:
    """The grid of (model, cell, size, length mode, batch) rows to time."""
    rnns = [{"model": "rnn", "cell": c, "num_units": u} for c in ("rnn", "gru", "lstm") for u in (128, 256)]
    hrnns = [{"model": "hrnn", "cell": "gru", "num_units1": 16, "fused": f} for f in (True, False)]
    if quick:
        return (
            [{**rnns[2], "lengths": m, "batch_size": 50} for m in ("pad", "bucket", "pack")]
            + [{**rnns[3], "lengths": "bucket", "batch_size": 50}]
            + [{**h, "lengths": "bucket", "batch_size": 50} for h in hrnns]
        )
    grid = [
        {**m, "lengths": mode, "batch_size": b}
        for m in rnns + hrnns
        for mode in ("pad", "bucket", "pack")
        for b in (50, 5)
    ]
    best = [{**h, "num_units1": 128, "lengths": "bucket", "batch_size": 5} for h in hrnns]  # CW3's best HRNN size
    return grid + best


def load_times(data_path: Path) -> dict:
    """Seconds to read the data cold (parsed) and warm (from the cache); a file (.npz) is read twice."""
    with tempfile.TemporaryDirectory() as cache:
        if data_path.is_dir():
            read = lambda: read_fpha(data_path, cache_dir=Path(cache))  # noqa: E731
        else:
            read = lambda: load_data(data_path)  # noqa: E731
        t0 = time.perf_counter()
        read()
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        data = read()
        warm = time.perf_counter() - t0
    return {"cold_s": cold, "warm_s": warm, "data": data}


def run_bench(
    data_path: Path, out_dir: Path, *, quick: bool = False, budget: float | None = None, device: str = "cpu"
) -> dict:
    budget = budget if budget is not None else (3.0 if quick else 15.0)
    loads = load_times(Path(data_path))
    data = loads.pop("data")
    split = cw3_split(data.labels, 0)
    seqs = [data.sequences[i] for i in split.train]
    train = SequenceSet(seqs, data.labels[split.train], Normaliser.fit("zscore", seqs))
    pad_to = int(data.lengths.max())
    mm = matmul_gflops()
    median_seq = train.x[int(np.argsort(train.lengths.numpy())[len(train) // 2])]
    rows, latency_done = [], set()
    cases = bench_cases(quick)
    for i, case in enumerate(cases, 1):
        cfg = make_config(Config(), **case, device=device)
        row = {"model": f"{cfg.model}-{size_label(cfg)}", "lengths": cfg.lengths, "batch": cfg.batch_size}
        row.update(time_training(cfg, train, pad_to, budget))
        row["fraction_of_matmul"] = row["useful_gflops"] / mm
        if row["model"] not in latency_done:
            row.update(inference_latency(cfg, median_seq, len(data.actions)))
            latency_done.add(row["model"])
        rows.append(row)
        log.info(f"[{i}/{len(cases)}] {format_row(row)}")
    fingers = [finger_level_ms(16, b, len(median_seq), min(budget, 2.0), device) for b in (50, 5)]
    ensemble = ensemble_cost(seqs, data.labels[split.train], pad_to, budget, device=device)
    log.info(f"ensemble: {format_ensemble(ensemble)}")
    ensemble["grouped_kernel"] = grouped_scaling(budget=min(budget, 2.0), device=device)
    result = {
        "command": "handrnn bench" + (" --quick" if quick else "") + f" --seconds {budget:g} --device {device}",
        "device": str(resolve_device(device)),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_sequences": len(train),
        "train_frames": int(train.lengths.sum()),
        "pad_to": pad_to,
        "matmul_gflops": mm,
        "load_cold_s": loads["cold_s"],
        "load_warm_s": loads["warm_s"],
        "median_length": len(median_seq),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": rows,
        "finger_level": fingers,
        "ensemble": ensemble,
    }
    write_outputs(result, Path(out_dir))
    return result


COLUMNS = [
    "model",
    "lengths",
    "batch",
    "seconds_per_epoch",
    "frames_per_second",
    "useful_gflops",
    "fraction_of_matmul",
    "whole_sequence_ms",
    "stream_ms_per_frame",
    "export_torch_ms",
    "export_onnx_ms",
    "batches_timed",
    "batches",
]


def format_row(row: dict) -> str:
    lat = (
        f"  whole {row['whole_sequence_ms']:.2f} ms  stream {row['stream_ms_per_frame']:.3f} ms/frame"
        if "whole_sequence_ms" in row
        else ""
    )
    if "export_onnx_ms" in row:
        lat += f"  exported: torch {row['export_torch_ms']:.2f} ms, onnxruntime {row['export_onnx_ms']:.2f} ms"
    return (
        f"{row['model']:<22} {row['lengths']:<6} b{row['batch']:<3} {row['seconds_per_epoch']:8.2f} s/epoch "
        f"{row['frames_per_second']:9.0f} frames/s {row['useful_gflops']:6.1f} GFLOP/s "
        f"({100 * row['fraction_of_matmul']:4.1f}% of mm){lat}"
    )


def write_outputs(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "bench.json", result)

    def rows(path: Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(result["rows"])

    atomic_write(out_dir / "bench.csv", rows)


def print_table(result: dict) -> None:
    print(
        f"matmul {result['matmul_gflops']:.1f} GFLOP/s ({result['threads']} threads, torch {result['torch']}); "
        f"train set {result['train_sequences']} sequences, {result['train_frames']} frames, pad to {result['pad_to']}"
    )
    print(
        f"dataset load: cold {result['load_cold_s']:.2f} s, warm {result['load_warm_s']:.3f} s; "
        f"peak memory {result['peak_rss_mb']:.0f} MB; median sequence {result['median_length']} frames"
    )
    for row in result["rows"]:
        print(format_row(row))
    if "ensemble" in result:
        print(f"ensemble, {format_ensemble(result['ensemble'])}")
        scaling = ", ".join(
            f"{r['groups']}: {r['ms']:.1f} ms ({r['ratio_to_one']:.2f}x)" for r in result["ensemble"]["grouped_kernel"]
        )
        print(f"grouped kernel, GRU-128 forward + backward, batch 32, 77 frames, by groups: {scaling}")
    for f in result.get("finger_level", []):
        print(
            f"finger level alone (GRU-{f['units']}, batch {f['batch']}, {f['frames']} frames, forward + backward): "
            f"fused {f['fused']:.2f} ms, five layers {f['five_layers']:.2f} ms ({f['ratio']:.2f}x)"
        )
