"""Shared fixtures: small generated FPHA-layout trees, and the real dataset beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from handrnn.skeleton import FINGER_CHAINS, NUM_FEATURES, NUM_JOINTS, REFERENCE_BONES_MM

REPO = Path(__file__).resolve().parents[1]
ACTIONS = ["open_jar", "close_jar", "pour", "stir"]


def write_skeleton(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{t:04d} " + " ".join(f"{v:.4f}" for v in row) for t, row in enumerate(frames)]
    path.write_text("\n".join(lines) + "\n")


def hand_pose(rng: np.random.Generator) -> np.ndarray:
    """A plausible right hand [21, 3] in millimetres, FPHA's joint order, bones of FPHA's mean lengths."""
    joints = np.zeros((NUM_JOINTS, 3))
    for f, chain in enumerate(FINGER_CHAINS):
        angle = -0.7 + 0.35 * f + rng.normal(0, 0.03)
        direction = np.array([np.cos(angle), np.sin(angle), rng.normal(0, 0.05)])
        direction /= np.linalg.norm(direction)
        for k, (parent, child) in enumerate(zip(chain[:-1], chain[1:])):
            joints[child] = joints[parent] + REFERENCE_BONES_MM[4 * f + k] * direction
    return joints


def curl(joints: np.ndarray, finger: int, angle: float) -> np.ndarray:
    """The finger's PIP, DIP and TIP turned by `angle` about its MCP (bone lengths kept)."""
    chain = FINGER_CHAINS[finger]
    mcp, outer = joints[chain[1]], list(chain[2:])
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])  # towards the palm, about the y axis
    out = joints.copy()
    out[outer] = (joints[outer] - mcp) @ turn.T + mcp
    return out


def make_sequence(rng: np.random.Generator, label: int, length: int) -> np.ndarray:
    """A hand whose action decides how it moves: a translation along its own axis and one finger curling."""
    hand = hand_pose(rng) + rng.normal(300, 30, 3)
    axis = np.zeros(3)
    axis[label % 3] = 2.0 if label < 3 else -2.0
    frames = [curl(hand, label % 5, 0.03 * t) + t * axis for t in range(length)]
    return np.stack(frames).reshape(length, NUM_FEATURES) + rng.normal(0, 0.5, (length, NUM_FEATURES))


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


def train_tiny(tree: Path, root: Path, name: str, flags: list[str]) -> Path:
    """A one-epoch model of 6 units on the tree's 1:1 split, with `flags` on top; its run folder."""
    from handrnn.cli import main

    argv = ["train", "--data", str(tree), "--out", str(root), "--name", name, "--epochs", "1", "--num-units", "6"]
    assert main(argv + ["--protocol", "1:1", "--threads", "1", *flags]) == 0
    return root / name
