"""Shared fixtures: small generated FPHA-layout trees, and the real dataset beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from handrnn.skeleton import NUM_FEATURES

REPO = Path(__file__).resolve().parents[1]
ACTIONS = ["open_jar", "close_jar", "pour", "stir"]


def write_skeleton(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{t:04d} " + " ".join(f"{v:.4f}" for v in row) for t, row in enumerate(frames)]
    path.write_text("\n".join(lines) + "\n")


def make_sequence(rng: np.random.Generator, label: int, length: int) -> np.ndarray:
    """A class-dependent drifting hand: every action moves the joints in its own direction."""
    base = rng.normal(0, 30, NUM_FEATURES) + 300
    direction = np.zeros(NUM_FEATURES)
    direction[label :: len(ACTIONS)] = 2.0
    t = np.arange(length)[:, None]
    return base + t * direction + rng.normal(0, 1.0, (length, NUM_FEATURES))


def make_tree(root: Path, *, subjects: int = 3, reps: int = 4, seed: int = 0, split: bool = True) -> Path:
    """An FPHA-layout tree: Hand_pose_annotation_v1/Subject_s/<action>/<rep>/skeleton.txt + split file."""
    rng = np.random.default_rng(seed)
    entries = {"Training": [], "Test": []}
    for s in range(1, subjects + 1):
        for label, action in enumerate(ACTIONS):
            for rep in range(1, reps + 1):
                length = int(rng.integers(5, 40))
                write_skeleton(
                    root / "Hand_pose_annotation_v1" / f"Subject_{s}" / action / str(rep) / "skeleton.txt",
                    make_sequence(rng, label, length),
                )
                entries["Training" if rep % 2 else "Test"].append(f"Subject_{s}/{action}/{rep} {label}")
    if split:
        text = "".join(f"{part} {len(e)}\n" + "".join(x + "\n" for x in e) for part, e in entries.items())
        (root / "data_split_action_recognition.txt").write_text(text)
    return root


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HANDRNN_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "fpha")


@pytest.fixture(scope="session")
def fpha() -> Path:
    """The real FPHA copy: a missing copy fails under CI and skips elsewhere."""
    path = Path(os.environ.get("HANDRNN_TEST_DATA", REPO.parent / "shared" / "data" / "fpha"))
    if not (path / "Hand_pose_annotation_v1").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the FPHA data is missing at {path}")
        pytest.skip(f"FPHA data not found at {path}")
    return path
