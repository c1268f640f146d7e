import csv
import json

import pytest

from handrnn.cli import main
from handrnn.config import Config
from handrnn.errors import HandRNNError
from handrnn.sweep import grid_points, parse_grid


def test_parse_grid_types_and_errors():
    assert parse_grid(["num-units=8,16", "lr=1e-3,1e-2", "fused=true,false"]) == {
        "num_units": [8, 16],
        "lr": [0.001, 0.01],
        "fused": [True, False],
    }
    for spec, message in [
        ("num_units", "FIELD=V1"),
        ("units=3", "not a field"),
        ("num_units=a", "not a valid int"),
        ("out=x", "not a field"),
        ("fused=maybe", "not a valid bool"),
    ]:
        with pytest.raises(HandRNNError, match=message):
            parse_grid([spec])


def test_grid_points_are_the_product_from_the_base():
    points = grid_points(Config(epochs=3), {"num_units": [8, 16], "batch_size": [5, 50]})
    assert [n for n, _ in points] == [
        "num_units=8-batch_size=5",
        "num_units=8-batch_size=50",
        "num_units=16-batch_size=5",
        "num_units=16-batch_size=50",
    ]
    assert all(c.epochs == 3 for _, c in points) and points[3][1].num_units == 16
    with pytest.raises(HandRNNError, match="batch_size must be at least 1"):
        grid_points(Config(), {"batch_size": [0]})


def test_sweep_runs_every_point_and_continues(tree, tmp_path, capsys):
    argv = [
        "sweep",
        "--data",
        str(tree),
        "--out",
        str(tmp_path),
        "--name",
        "s",
        "--epochs",
        "2",
        "--grid",
        "num-units=4,8",
        "--protocol",
        "1:1",
    ]
    assert main(argv) == 0
    out_dir = tmp_path / "s"
    with open(out_dir / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["num_units"] for r in rows] == ["4", "8"] and (out_dir / "sweep.png").stat().st_size > 1000
    summary = json.loads((out_dir / "sweep.json").read_text())
    assert summary["selected_by_val"]["val_acc"] == max(float(r["val_acc"]) for r in rows)
    assert "selected by validation" in capsys.readouterr().out
    before = (out_dir / "num_units=4" / "metrics.csv").read_text()
    assert main(argv) == 0  # a finished sweep is read back, not retrained
    assert (out_dir / "num_units=4" / "metrics.csv").read_text() == before


def test_a_sweep_needs_a_validation_part(tree, tmp_path, capsys):
    from handrnn.cli import main

    argv = ["sweep", "--preset", "best", "--grid", "num-units=4,8", "--data", str(tree), "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "give --val-fraction above 0" in capsys.readouterr().err
