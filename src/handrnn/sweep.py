"""Sweeps: a base config plus a grid of field values, one run folder per point, a table and a figure."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
from pathlib import Path

from .config import Config, coerce, validate
from .data import protocol_splits
from .datasets import HandActions
from .errors import HandRNNError
from .runs import RunDir
from .training import fit

log = logging.getLogger(__name__)
NOT_SWEPT = ("data", "allow_pickle", "out", "name", "test_every_epoch", "protocol", "fold")


def parse_grid(specs: list[str]) -> dict[str, list]:
    """["num_units=64,128", "lr=1e-3,1e-4"] -> {"num_units": [64, 128], "lr": [0.001, 0.0001]}."""
    types = {f.name: f.type for f in dataclasses.fields(Config)}
    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values.strip():
            raise HandRNNError(f"--grid {spec!r}: expected FIELD=V1,V2,...")
        if key in NOT_SWEPT or key not in types:
            raise HandRNNError(f"--grid {spec!r}: {key!r} is not a field that can be swept")
        grid[key] = [coerce(key, _parse_value(v.strip(), types[key], spec), f"--grid {key}") for v in values.split(",")]
    if not grid:
        raise HandRNNError("give at least one --grid FIELD=V1,V2,...")
    return grid


def _parse_value(text: str, kind: str, spec: str):
    try:
        if kind == "bool":
            return {"true": True, "false": False}[text.lower()]
        return {"int": int, "float": float, "str": str}[kind](text)
    except (KeyError, ValueError):
        raise HandRNNError(f"--grid {spec!r}: {text!r} is not a valid {kind}") from None


def grid_points(base: Config, grid: dict[str, list]) -> list[tuple[str, Config]]:
    """(folder name, config) for every combination of the grid, each validated."""
    points = []
    for values in itertools.product(*grid.values()):
        change = dict(zip(grid, values))
        name = "-".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in change.items())
        points.append((name, validate(dataclasses.replace(base, name=name, **change))))
    return points


def run_sweep(base: Config, grid: dict[str, list], data: HandActions, out_dir: Path) -> list[dict]:
    """Train every grid point (finished points are kept, interrupted ones resumed); write sweep.csv/json."""
    if base.protocol == "cross-subject":
        raise HandRNNError("sweeps select by validation accuracy on one split: use protocol cw3, 1:1, 1:3 or 3:1")
    if base.val_fraction == 0 and "val_fraction" not in grid:
        raise HandRNNError(
            "sweeps select by validation accuracy: give --val-fraction above 0 (the best preset trains without one)"
        )
    split = protocol_splits(data, base.protocol, base.seed)[0]
    points = grid_points(base, grid)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (name, cfg) in enumerate(points, 1):
        run_dir = RunDir(out_dir / name)
        if run_dir.finished():
            results = run_dir.read_results()
        else:
            log.info(f"sweep point {i}/{len(points)}: {name}")
            results = fit(cfg, data, split, run_dir, resume=run_dir.has_checkpoint("last"))
        rows.append(
            {
                **{k: getattr(cfg, k) for k in grid},
                "val_acc": results["val_acc"],
                "test_acc": results["test_acc"],
                "seconds_per_epoch": results["seconds_per_epoch"],
                "parameters": results["parameters"],
                "run": name,
            }
        )
        write_table(out_dir, grid, rows)
    return rows


def write_table(out_dir: Path, grid: dict[str, list], rows: list[dict]) -> None:
    fields = [*grid, "val_acc", "test_acc", "seconds_per_epoch", "parameters", "run"]
    with open(out_dir / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows)
    best = max(rows, key=lambda r: r["val_acc"])
    (out_dir / "sweep.json").write_text(
        json.dumps({"grid": grid, "selected_by_val": best, "rows": rows}, indent=2) + "\n"
    )
