"""Studies: a published investigation defined as sweeps, run on the sweep engine, written up as REPORT.md.

`handrnn study cw3` reruns the CW3 report's experiments on the cw3 protocol. Every accuracy is given two
ways: CW3's (the peak test accuracy over the epochs, which is what CW3 reported) and ours (the test
accuracy of the epoch with the best validation accuracy), each beside CW3's published value.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Config
from .errors import HandRNNError
from .runs import RunDir, write_json, write_text
from .sweep import TRIALS, Space, Sweep, point_config, run_sweep

log = logging.getLogger(__name__)
BUDGETS = ("quick", "full")
REPORT = "REPORT.md"


@dataclass(frozen=True)
class Experiment:
    """One figure or table of the study: `field` takes each of `values`, on top of the study base and `fixed`."""

    key: str
    title: str
    field: str
    values: tuple
    fixed: dict = field(default_factory=dict)
    cw3: str = ""  # what CW3 reported
    cw3_values: dict = field(default_factory=dict)  # value -> CW3's published test accuracy, where it gave one


def cw3_experiments(budget: str) -> list[Experiment]:
    """CW3's sections 2 and 3; `quick` trims the widest and slowest points (said in the report)."""
    quick = budget == "quick"
    hrnn = {"model": "hrnn"}
    return [
        Experiment(
            "architectures",
            "Table 1 and Fig. 1: SimpleRNN, GRU and LSTM (128 units, batch 50, lr 1e-3)",
            "cell",
            ("rnn", "gru", "lstm"),
            cw3="GRU 57.37% > LSTM 56.00% > SimpleRNN 33.11%; GRU chosen",
            cw3_values={"rnn": 0.3311, "gru": 0.5737, "lstm": 0.5600},
        ),
        Experiment(
            "units",
            "Fig. 2 and 3: GRU width, accuracy and training time",
            "num_units",
            (16, 64, 128, 256) if quick else (16, 32, 64, 128, 256, 512),
            cw3="accuracy rises logarithmically with the units, with diminishing returns after 256; time grows",
        ),
        Experiment(
            "depth",
            "Fig. 4: GRU depth, accuracy and training time",
            "depth",
            (1, 2, 3, 4),
            cw3="more layers help up to 3, 4 is worse; 3 layers train in 86 s, 1 layer in 25 s (50 epochs)",
        ),
        Experiment("lr", "Fig. 5a: GRU learning rate", "lr", (1e-4, 1e-3, 1e-2), cw3="1e-3 kept as the default"),
        Experiment(
            "batch",
            "Fig. 5b: GRU batch size",
            "batch_size",
            (5, 10, 25, 50, 100),
            cw3="accuracy falls roughly linearly as the batch size grows",
        ),
        Experiment(
            "final-rnn",
            "Fig. 6 and 7: GRU-256, batch 5, learning rate (and the confusion matrix of the selected one)",
            "lr",
            (1e-4, 1e-3, 1e-2),
            {"num_units": 256, "batch_size": 5},
            cw3="79.57% at lr 1e-3",
            cw3_values={1e-3: 0.7957},
        ),
        Experiment(
            "hrnn-units",
            "Fig. 8: HRNN width (num_units1; num_units2 = 10 x num_units1)",
            "num_units1",
            (8, 16, 32, 64) if quick else (8, 16, 32, 64, 128),
            hrnn,
            cw3="accuracy rises logarithmically with the units, above the RNN's",
        ),
        Experiment(
            "hrnn-batch", "Fig. 9a: HRNN batch size", "batch_size", (5, 10, 25, 50, 100), hrnn, cw3="as the RNN's"
        ),
        Experiment(
            "hrnn-lr", "Fig. 9b: HRNN learning rate", "lr", (1e-4, 1e-3, 1e-2), hrnn, cw3="1e-4 slightly above 1e-3"
        ),
        Experiment(
            "final-hrnn",
            f"Fig. 10: HRNN {64 if quick else 128} units, batch 5, learning rate",
            "lr",
            (1e-4, 1e-3, 1e-2) if quick else (1e-4, 1e-3),  # at 128 units each full run takes about an hour
            {**hrnn, "num_units1": 64 if quick else 128, "batch_size": 5},
            cw3="86.67% at 128 units, batch 5, lr 1e-4",
            cw3_values={} if quick else {1e-4: 0.8667},
        ),
        Experiment(
            "lengths",
            "Beyond CW3: how sequences of different lengths are batched (GRU-128, CW3's defaults)",
            "lengths",
            ("pad", "bucket", "pack"),
            cw3="every sequence padded to the longest (1,151 frames) with -99 and a masking layer (`pad`); handrnn "
            "batches sequences of similar length (`bucket`, its default) or packs them (`pack`)",
        ),
    ]


@dataclass
class Study:
    name: str
    budget: str
    seeds: int
    base: Config
    experiments: list[Experiment]
    out_dir: Path

    def point(self, exp: Experiment, value, seed: int) -> dict:
        """The change from the base config (only fields that differ), so shared points train once."""
        change = {**exp.fixed, exp.field: value, "seed": seed}
        return {k: v for k, v in change.items() if getattr(self.base, k) != v}

    def points(self) -> list[dict]:
        seen, out = set(), []
        for exp in self.experiments:
            for value in exp.values:
                for seed in range(self.seeds):
                    change = self.point(exp, value, seed)
                    key = json.dumps(change, sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        out.append(change)
        return out

    def run_dir(self, exp: Experiment, value, seed: int) -> RunDir:
        name, _ = point_config(self.base, self.point(exp, value, seed))
        return RunDir(self.out_dir / TRIALS / name)

    def sweep(self, cost: dict[str, float] | None = None) -> Sweep:
        """The study as a sweep of its points, queued longest first when their `cost` is known."""
        points = self.points()
        if cost:
            points = sorted(points, key=lambda p: -cost[json.dumps(p, sort_keys=True)])
        return Sweep(self.base, Space(explicit=points), self.out_dir)


def make_study(name: str, budget: str, seeds: int, data: str, out: str, threads: int, epochs: int = 0) -> Study:
    if name != "cw3":
        raise HandRNNError(f"no study named {name!r}; studies: cw3")
    if budget not in BUDGETS:
        raise HandRNNError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    if seeds < 1:
        raise HandRNNError(f"--seeds must be at least 1, got {seeds}")
    if epochs < 0:
        raise HandRNNError(f"--epochs must be at least 1, got {epochs}")
    epochs = epochs or (10 if budget == "quick" else 50)
    base = Config(data=data, protocol="cw3", epochs=epochs, val_fraction=0.1, test_every_epoch=True, threads=threads)
    return Study(name, budget, seeds, base, cw3_experiments(budget), Path(out))


def estimated_seconds(study: Study, data) -> dict[str, float]:
    """Training seconds of each point (by its JSON), from the sweep engine's cost model (bench's epoch time)."""
    from .sweep import Pace

    pace = Pace(study.sweep(), data)
    return {json.dumps(change, sort_keys=True): pace.cost(change) for change in study.points()}


def estimate_minutes(study: Study, data, workers: int) -> float:
    """Wall minutes of the study's points not yet finished, the longest first, on `workers` workers."""
    seconds = estimated_seconds(study, data)
    left = [
        seconds[json.dumps(change, sort_keys=True)]
        for change in study.points()
        if not RunDir(study.out_dir / TRIALS / point_config(study.base, change)[0]).finished()
    ]
    return _makespan(sorted(left, reverse=True), workers) / 60


def _makespan(jobs: list[float], workers: int) -> float:
    """Wall time of jobs taken in order by `workers` workers, each taking the next job when free."""
    free = [0.0] * workers
    for job in jobs:
        free[free.index(min(free))] += job
    return max(free)


def run_study(study: Study, data, workers: int, command: str = "") -> Path:
    """Train what is missing, then write the report; `command` (the command line) goes into it."""
    minutes = estimate_minutes(study, data, workers)
    log.info(
        f"study {study.name} ({study.budget}): {len(study.points())} runs, {study.base.epochs} epochs, "
        f"{study.seeds} seed(s), {workers} worker(s): about {minutes:.0f} minutes left (estimate)"
    )
    started = time.time()
    sessions = read_sessions(study.out_dir)
    session = {"command": command or f"handrnn study {study.name} --budget {study.budget}", "workers": workers}
    session["estimate_minutes"] = round(minutes, 1)
    run_sweep(study.sweep(estimated_seconds(study, data)), data, workers=workers)
    session["wall_minutes"] = round((time.time() - started) / 60, 2)
    write_json(study.out_dir / SESSIONS, sessions + [session])
    return write_report(study)


SESSIONS = "sessions.json"  # each `handrnn study` session that trained: command, workers, estimate, wall minutes


def read_sessions(out_dir: Path) -> list[dict]:
    path = out_dir / SESSIONS
    return json.loads(path.read_text()) if path.exists() else []


# ---- the report ----


def run_numbers(run: RunDir) -> dict | None:
    """Ours (test at the best validation epoch), CW3's way (peak test over epochs), time, from a run folder."""
    if not run.finished():
        return None
    from .runs import read_metrics

    res = run.read_results()
    m = read_metrics(run / "metrics.csv")
    peak = float(np.nanmax(m["test_acc"])) if "test_acc" in m and np.isfinite(m["test_acc"]).any() else float("nan")
    return {
        "ours": res["test_acc"],
        "peak": peak,
        "val": res["val_acc"],
        "seconds_per_epoch": res["seconds_per_epoch"],
        "train_seconds": res["train_seconds"],
    }


def experiment_rows(study: Study, exp: Experiment) -> list[dict]:
    rows = []
    for value in exp.values:
        runs = [study.run_dir(exp, value, s) for s in range(study.seeds)]
        found = [n for n in (run_numbers(r) for r in runs) if n]
        row = {"value": value, "n": len(found), "runs": [str(r.path.relative_to(study.out_dir)) for r in runs]}
        for key in ("ours", "peak", "val", "seconds_per_epoch", "train_seconds"):
            vals = [f[key] for f in found]
            row[key] = statistics.mean(vals) if vals else float("nan")
            row[key + "_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        row["cw3"] = exp.cw3_values.get(value)
        rows.append(row)
    return rows


def pct(x: float, std: float = 0.0, n: int = 1) -> str:
    if x != x:
        return "not run"
    return f"{100 * x:.2f} ± {100 * std:.2f}%" if n > 1 else f"{100 * x:.2f}%"


def fmt_value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def experiment_table(exp: Experiment, rows: list[dict]) -> list[str]:
    lines = [
        f"| {exp.field} | ours: test at best val | CW3's way: peak test | CW3 | val acc | s/epoch | training time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cw3 = pct(r["cw3"]) if r["cw3"] is not None else ""
        ours, peak, val = (pct(r[k], r[k + "_std"], r["n"]) for k in ("ours", "peak", "val"))
        lines.append(
            f"| {fmt_value(r['value'])} | {ours} | {peak} | {cw3} | {val} | {r['seconds_per_epoch']:.2f} | "
            f"{duration(r['train_seconds'])} |"
        )
    return lines


def duration(seconds: float) -> str:
    if seconds != seconds:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def experiment_figure(exp: Experiment, rows: list[dict], out: Path) -> Path:
    from .plots import plt, save

    done = [r for r in rows if r["n"]]
    fig, (acc, sec) = plt.subplots(1, 2, figsize=(11, 4))
    numeric = all(isinstance(r["value"], (int, float)) for r in done)
    x = [r["value"] if numeric else i for i, r in enumerate(done)]
    series = (("ours", "o-", "ours: test at best val"), ("peak", "s--", "CW3's way: peak test"))
    for n, (key, style, text) in enumerate(series):
        y, err = [100 * r[key] for r in done], [100 * r[key + "_std"] for r in done]
        if numeric:
            acc.errorbar(x, y, err, fmt=style, label=text)
        else:  # categories: bars from zero, so that a small difference looks small
            acc.bar([i + (n - 0.5) * 0.38 for i in x], y, 0.38, yerr=err, label=text)
    cw3 = [(x[i], 100 * r["cw3"]) for i, r in enumerate(done) if r["cw3"] is not None]
    if cw3:
        acc.plot(*zip(*cw3), "r*", markersize=12, label="CW3 (published)")
    seconds = [r["train_seconds"] for r in done]
    sec.plot(x, seconds, "o-") if numeric else sec.bar(x, seconds, 0.6)
    for ax in (acc, sec):
        ax.set_xlabel(exp.field)
        if numeric and len(x) > 1 and min(x) > 0 and max(x) / min(x) >= 16:
            ax.set_xscale("log")
        ax.set_xticks(x, [fmt_value(r["value"]) for r in done])
        ax.minorticks_off()
    acc.set_ylabel("test accuracy (%)")
    acc.legend(fontsize=8)
    sec.set_ylabel("training seconds per run")
    return save(fig, out, exp.title)


def findings(study: Study, results: dict[str, list[dict]]) -> list[str]:
    """CW3's claims, each confirmed or not by our numbers (ours: test accuracy at the best validation epoch)."""

    def by(key):
        return {r["value"]: r["ours"] for r in results.get(key, []) if r["n"]}

    def listing(values: dict) -> str:
        return ", ".join(f"{k}: {100 * v:.1f}%" for k, v in values.items())

    out = []

    def say(claim: str, ok: bool, detail: str) -> None:
        out.append(f"{claim}: {'confirmed' if ok else 'not confirmed'} ({detail})")

    arch = by("architectures")
    if len(arch) == 3:
        order = sorted(arch, key=arch.get, reverse=True)
        names = {"rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}
        ours = " > ".join(f"{names[c]} {100 * arch[c]:.1f}%" for c in order)
        say("GRU > LSTM > SimpleRNN", order == ["gru", "lstm", "rnn"], f"ours: {ours}")
    batch = by("batch")
    if len(batch) >= 3:
        rho = _spearman(list(batch), list(batch.values()))
        say("accuracy falls as the batch size grows", rho < -0.5, f"rank correlation {rho:+.2f}; {listing(batch)}")
    units = by("units")
    if len(units) >= 3:
        rho = _spearman(list(units), list(units.values()))
        say("accuracy rises with the GRU's units", rho > 0.5, f"rank correlation {rho:+.2f}; {listing(units)}")
    depth = by("depth")
    if len(depth) == 4:
        best = max(depth, key=depth.get)
        ok = depth[3] > depth[1] and depth[4] < depth[3]
        say("depth helps up to 3 layers and 4 is worse", ok, f"best depth {best}; {listing(depth)}")
        secs = {r["value"]: r["train_seconds"] for r in results["depth"] if r["n"]}
        out.append(
            f"training time, 3 layers against 1: {secs[3] / secs[1]:.1f}x ({secs[3]:.1f} s vs {secs[1]:.1f} s "
            f"for {study.base.epochs} epochs; CW3: 86 s vs 25 s, 3.4x)"
        )
    gru, hrnn = arch.get("gru"), by("hrnn-units").get(16)
    if gru is not None and hrnn is not None:
        detail = f"HRNN 16/160 {100 * hrnn:.1f}% vs GRU-128 {100 * gru:.1f}%"
        say("HRNN above the RNN at CW3's defaults", hrnn > gru, detail)
    final_rnn, final_hrnn = by("final-rnn"), by("final-hrnn")
    if final_rnn and final_hrnn:
        a, b = max(final_rnn.values()), max(final_hrnn.values())
        detail = f"best over the final lr sweeps: HRNN {100 * b:.1f}% vs GRU-256 {100 * a:.1f}%"
        say("the tuned HRNN above the tuned GRU", b > a, detail)
    hlr = by("hrnn-lr")
    if 1e-4 in hlr and 1e-3 in hlr:
        say(
            "the HRNN prefers lr 1e-4 to 1e-3",
            hlr[1e-4] > hlr[1e-3],
            f"{100 * hlr[1e-4]:.1f}% vs {100 * hlr[1e-3]:.1f}%",
        )
    modes = by("lengths")
    if len(modes) == 3:
        secs = {r["value"]: r["train_seconds"] for r in results["lengths"] if r["n"]}
        out.append(
            f"length modes (beyond CW3): {listing(modes)}; padding to the longest trains "
            f"{secs['pad'] / secs['bucket']:.1f}x as long as bucketing ({secs['pad']:.0f} s vs {secs['bucket']:.0f} s)"
        )
    return out


def _spearman(x: list, y: list) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def selected_run(study: Study, exp: Experiment) -> RunDir | None:
    """The seed-0 run of the experiment's value with the best validation accuracy (the confusion matrix's)."""
    runs = [(n["val"], r) for r in (study.run_dir(exp, v, 0) for v in exp.values) if (n := run_numbers(r))]
    return max(runs, key=lambda t: t[0])[1] if runs else None


def write_report(study: Study) -> Path:
    from .evaluation import evaluate_run
    from .plots import plot_curves

    out = study.out_dir
    results = {exp.key: experiment_rows(study, exp) for exp in study.experiments}
    sessions = read_sessions(out)
    last = sessions[-1] if sessions else {"command": f"handrnn study {study.name} --budget {study.budget}"}
    command, workers = last["command"], last.get("workers", "?")
    wall = sum(s["wall_minutes"] for s in sessions)
    timing = f"; wall time {wall:.1f} minutes" + (f" over {len(sessions)} sessions" if len(sessions) > 1 else "")
    first = next((r for exp in study.experiments for r in [study.run_dir(exp, exp.values[0], 0)] if r.finished()), None)
    sizes, threads = "", "?"
    if first is not None:
        split = json.loads((first / "split.json").read_text())
        sizes = (
            f" ({len(split['train'])} training sequences, {len(split['val'])} validation, {len(split['test'])} test)"
        )
        threads = first.read_config().threads
    seeds = "seed 0" if study.seeds == 1 else f"seeds 0..{study.seeds - 1}"
    lines = [
        f"# The CW3 study, rerun by handrnn ({study.budget} budget)",
        "",
        f"Made by `{command}` on the cw3 protocol{sizes}; "
        f"the validation part is carved from CW3's training part. {study.base.epochs} epochs, Adam, {seeds}, "
        f"{workers} worker(s) with {threads} thread(s) each"
        + (f"{timing} (estimated beforehand: {sessions[0]['estimate_minutes']:.0f})." if sessions else "."),
        "",
        "Every accuracy is given two ways: **ours**, the test accuracy of the epoch with the best validation "
        "accuracy (the honest number), and **CW3's way**, the peak test accuracy over the epochs (what CW3 "
        "reported: its choices were made on its test split). With more than one seed: mean ± std.",
    ]
    if study.budget == "quick":
        lines += [
            "",
            f"The quick budget trains {study.base.epochs} epochs instead of CW3's 50 and trims the slowest points "
            "(GRU 32 and 512 units; HRNN 128 units, so Fig. 10 uses 64): its numbers show the shape of each "
            "finding, not CW3's fidelity. `--budget full` is CW3's.",
        ]
    lines += ["", "## Findings", "", *[f"- {f}" for f in findings(study, results)]]
    for exp in study.experiments:
        rows = results[exp.key]
        lines += ["", f"## {exp.title}", "", f"CW3: {exp.cw3}.", "", *experiment_table(exp, rows)]
        if any(r["n"] for r in rows):
            experiment_figure(exp, rows, out / f"{exp.key}.png")
            lines += ["", f"![{exp.title}]({exp.key}.png)"]
        if exp.key == "architectures":
            runs = {fmt_value(v): study.run_dir(exp, v, 0) / "metrics.csv" for v in exp.values}
            if all(p.exists() for p in runs.values()):
                plot_curves(runs, out / "curves-architectures.png", "Fig. 1: training curves, seed 0")
                lines += ["", "![training curves](curves-architectures.png)"]
        if exp.key == "final-rnn" and (best := selected_run(study, exp)) is not None:
            report = evaluate_run(best.path, data_path=study.base.data)
            (out / "confusion-final-rnn.png").write_bytes((best / "confusion-test-best.png").read_bytes())
            lines += [
                "",
                f"Fig. 7: the confusion matrix of the run selected by validation ({best.path.name}, test accuracy "
                f"{100 * report['accuracy']:.2f}% at its best validation epoch).",
                "",
                "![confusion matrix](confusion-final-rnn.png)",
            ]
    lines += ["", "## Runs", "", "Each row's run folders are under `trials/` of the study folder:", ""]
    for exp in study.experiments:
        for r in results[exp.key]:
            lines.append(f"- {exp.key}, {exp.field}={fmt_value(r['value'])}: {', '.join(r['runs'])}")
    path = out / REPORT
    write_text(path, "\n".join(lines) + "\n")
    write_text(
        out / "study.json",
        json.dumps({"study": study.name, "budget": study.budget, "results": results}, indent=2, default=str) + "\n",
    )
    return path


__all__ = ["Experiment", "Study", "cw3_experiments", "make_study", "run_study", "write_report"]
