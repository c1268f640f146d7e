import json

import numpy as np
import pytest

from handrnn.bench import estimate_epoch_seconds
from handrnn.cli import main
from handrnn.config import Config
from handrnn.study import _makespan, cw3_experiments, make_study


def test_cw3_study_points_are_shared_between_figures(tmp_path):
    study = make_study("cw3", "full", 1, "", str(tmp_path), 1)
    points = study.points()
    keys = [json.dumps(p, sort_keys=True) for p in points]
    assert len(keys) == len(set(keys))
    assert {} in points  # CW3's default GRU-128 (Table 1, width, depth, lr, batch): one run for five figures
    assert sum(1 for p in points if set(p) <= {"num_units"}) == 6  # 16..512, with 128 the default
    exps = {e.key: e for e in study.experiments}
    assert exps["architectures"].cw3_values == {"rnn": 0.3311, "gru": 0.5737, "lstm": 0.5600}
    assert exps["final-rnn"].cw3_values == {1e-3: 0.7957} and exps["final-hrnn"].cw3_values == {1e-4: 0.8667}
    assert study.run_dir(exps["units"], 128, 0).path == study.run_dir(exps["depth"], 1, 0).path
    assert study.base.epochs == 50 and study.base.test_every_epoch and study.base.val_fraction > 0
    assert len(make_study("cw3", "full", 3, "", str(tmp_path), 1).points()) == 3 * len(points)
    quick = cw3_experiments("quick")
    assert (
        max(e.fixed.get("num_units1", 0) for e in quick) == 64
        and make_study("cw3", "quick", 1, "", "x", 1).base.epochs == 10
    )


def test_makespan_and_the_epoch_time_model():
    assert _makespan([3.0, 2.0, 2.0], 2) == 4.0 and _makespan([1.0, 1.0], 1) == 2.0
    cw3 = {"sequences": 857, "frames": 75_400}  # cw3's training part less validation
    measured = {  # seconds per epoch measured on this machine, 1 thread (the 50-epoch runs of commit 6878843's results/)
        (("num_units", 16),): 0.22,
        (("num_units", 512),): 8.23,
        (("num_units", 256), ("batch_size", 5)): 4.59,
        (("model", "hrnn"), ("num_units1", 128), ("batch_size", 5)): 73.0,
    }
    for change, seconds in measured.items():
        estimate = estimate_epoch_seconds(Config(**dict(change)), **cw3)
        assert 0.6 * seconds < estimate < 1.6 * seconds, (change, estimate)
    gru = Config()
    assert estimate_epoch_seconds(Config(bidirectional=True), **cw3) > estimate_epoch_seconds(gru, **cw3)
    assert estimate_epoch_seconds(Config(members=3), **cw3) == pytest.approx(3 * estimate_epoch_seconds(gru, **cw3))
    lengths = np.random.default_rng(0).integers(20, 200, cw3["sequences"])  # bucket's mean length is its loop
    by_mode = {
        mode: estimate_epoch_seconds(Config(lengths=mode), cw3["sequences"], int(lengths.sum()), lengths, 1151)
        for mode in ("bucket", "pack", "pad")
    }
    assert by_mode["bucket"] < by_mode["pack"] < by_mode["pad"]
    assert by_mode["pad"] > 5 * by_mode["bucket"]  # measured: 7.61 s against 0.55 s (README's speed table)


def test_study_command_runs_and_reports(tree, tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["study", "cw3", "--data", str(tree), "--out", str(out), "--epochs", "1", "--workers", "1", "--threads", "1"]
    assert main(argv) == 0
    report = (out / "REPORT.md").read_text()
    for exp in cw3_experiments("quick"):
        assert f"## {exp.title}" in report and (out / f"{exp.key}.png").stat().st_size > 1000
    assert "33.11%" in report and "79.57%" in report and "CW3's way: peak test" in report
    assert "## Findings" in report and "GRU > LSTM > SimpleRNN: " in report
    assert f"Made by `handrnn {' '.join(argv)}`" in report
    assert (out / "curves-architectures.png").exists() and (out / "confusion-final-rnn.png").exists()
    results = json.loads((out / "study.json").read_text())["results"]
    assert all(r["n"] == 1 for rows in results.values() for r in rows)  # every point ran
    trials = sorted((out / "trials").iterdir())
    assert len(trials) == len(make_study("cw3", "quick", 1, "", str(out), 1).points())
    stamps = {t.name: (t / "metrics.csv").stat().st_mtime_ns for t in trials}
    assert main(argv + ["--report-only"]) == 0  # the report again, from the runs there; nothing retrained
    assert {t.name: (t / "metrics.csv").stat().st_mtime_ns for t in trials} == stamps
    assert (out / "REPORT.md").read_text().splitlines()[2] == report.splitlines()[2]
    assert "wrote" in capsys.readouterr().out


def test_study_command_errors(tmp_path, capsys):
    for extra, message in [
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--data", str(tmp_path / "missing")], "no such file or directory"),
    ]:
        assert main(["study", "cw3", "--out", str(tmp_path), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
