"""Kills, Ctrl-C and divergence lose nothing: atomic files, exact resume, clean messages."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from handrnn.cli import main
from handrnn.errors import HandRNNError
from handrnn.runs import atomic_write, load_checkpoint

from .conftest import make_tree

ARGS = ["--num-units", "48", "--batch-size", "4", "--protocol", "1:1", "--seed", "3"]


def metric_rows(run):
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def start(tree, out, name, epochs):
    cmd = [
        sys.executable,
        "-m",
        "handrnn",
        "train",
        "--data",
        str(tree),
        "--out",
        str(out),
        "--name",
        name,
        "--epochs",
        str(epochs),
        *ARGS,
    ]
    # A shell that starts pytest in the background leaves SIGINT ignored, and a child would inherit that:
    # restore the default, as a terminal gives it, so Ctrl-C reaches the training however the tests run.
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.fixture
def procs():
    """Started trainings, killed at the end of the test whatever happened (none is left running)."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_epochs(proc, run, n, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if (run / "metrics.csv").exists() and len(metric_rows(run)) >= n:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError("training did not reach the epoch in time")


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "t", reps=6)


def test_sigkill_then_resume_ends_like_an_uninterrupted_run(tree, tmp_path, procs):
    epochs = 12
    proc = start(tree, tmp_path, "killed", epochs)
    procs.append(proc)
    wait_for_epochs(proc, tmp_path / "killed", 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(metric_rows(tmp_path / "killed"))
    assert done < epochs, "the run finished before it was killed"
    load_checkpoint(tmp_path / "killed" / "last.pt")  # the kill left a readable checkpoint
    assert main(["train", "--resume", str(tmp_path / "killed")]) == 0
    assert (
        main(["train", "--data", str(tree), "--out", str(tmp_path), "--name", "whole", "--epochs", str(epochs), *ARGS])
        == 0
    )
    assert metric_rows(tmp_path / "killed") == metric_rows(tmp_path / "whole")
    a = load_checkpoint(tmp_path / "killed" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "whole" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_keeps_a_checkpoint_and_says_how_to_resume(tree, tmp_path, sig, procs):
    proc = start(tree, tmp_path, "int", 100_000)  # cannot finish before the signal
    procs.append(proc)
    wait_for_epochs(proc, tmp_path / "int", 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and f"handrnn train --resume {tmp_path / 'int'}" in err
    state = load_checkpoint(tmp_path / "int" / "last.pt")
    assert state["epoch"] >= 2 and len(state["history"]) == state["epoch"]


def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tree, tmp_path, capsys, monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(logits, target, *a, **k):
        if logits.requires_grad:
            calls["n"] += 1
            if calls["n"] > 30:  # a few epochs in
                return real(logits, target, *a, **k) * float("nan")
        return real(logits, target, *a, **k)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    code = main(["train", "--data", str(tree), "--out", str(tmp_path), "--name", "nan", "--epochs", "50", *ARGS])
    err = capsys.readouterr().err
    assert code == 2 and "NaN or infinite" in err and "Traceback" not in err
    state = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert 1 <= state["epoch"] < 50
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")

    def dies_half_way(p):
        p.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(HandRNNError, match="results.json: cannot write \\(disk full\\)"):
        atomic_write(path, dies_half_way)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]
    atomic_write(path, lambda p: p.write_text("new"))
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["results.json"]


class Killed(BaseException):
    """Stands for a SIGKILL: nothing in handrnn catches it."""


def test_a_kill_at_any_write_of_any_epoch_then_resume_ends_like_an_uninterrupted_run(tree, tmp_path, monkeypatch):
    import handrnn.runs as runs

    args = ["--data", str(tree), "--out", str(tmp_path), "--epochs", "3", *ARGS]
    assert main(["train", *args, "--name", "whole"]) == 0
    expected = json.loads((tmp_path / "whole" / "results.json").read_text())
    real = runs.atomic_write
    writes = {"n": 0}

    def counting(path, write):
        writes["n"] += 1
        real(path, write)

    monkeypatch.setattr(runs, "atomic_write", counting)
    assert main(["train", *args, "--name", "count"]) == 0
    total = writes["n"]  # config, split, command, and each epoch's best.pt, last.pt, metrics.csv, then results
    assert total >= 3 * 2 + 3
    for k in range(1, total + 1):
        calls = {"n": 0}

        def dying(path, write, k=k, calls=calls):
            calls["n"] += 1
            if calls["n"] == k:  # killed halfway: the temporary file is written, the rename never happens
                write(path.with_name(f".{path.name}.tmp"))
                raise Killed
            real(path, write)

        monkeypatch.setattr(runs, "atomic_write", dying)
        name = f"k{k}"
        with pytest.raises(Killed):
            main(["train", *args, "--name", name])
        monkeypatch.setattr(runs, "atomic_write", real)
        run = tmp_path / name
        again = ["train", "--resume", str(run)] if (run / "config.json").exists() else ["train", *args, "--name", name]
        assert main(again) == 0, k
        got = json.loads((run / "results.json").read_text())
        for key in ("best_epoch", "val_acc", "test_acc", "test_acc_last_epoch", "epochs_run"):
            assert got[key] == expected[key], (k, key)
        assert metric_rows(run) == metric_rows(tmp_path / "whole"), k
