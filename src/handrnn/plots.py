"""Figures from result files (no torch needed): training curves and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .errors import HandRNNError
from .runs import read_metrics


def save(fig, out: Path, title: str = "") -> Path:
    """Title, lay out, write a PNG and free the figure."""
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    from .runs import atomic_write

    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(out), lambda tmp: fig.savefig(tmp, dpi=120, format=Path(out).suffix.lstrip(".") or "png"))
    except OSError as e:
        raise HandRNNError(f"{out}: cannot write the figure ({e.strerror or e})") from None
    finally:
        plt.close(fig)
    return out


def plot_curves(runs: dict[str, Path], out: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch for each run (label -> metrics.csv): train solid, val dashed, test dotted."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12.5, 4))
    for i, (label, path) in enumerate(runs.items()):
        m, color = read_metrics(path), f"C{i}"
        ax_loss.plot(m["epoch"], m["train_loss"], color=color, label=f"{label} train")
        ax_loss.plot(m["epoch"], m["val_loss"], color=color, ls="--", label=f"{label} val")
        ax_acc.plot(m["epoch"], m["train_acc"], color=color, label=f"{label} train")
        ax_acc.plot(m["epoch"], m["val_acc"], color=color, ls="--", label=f"{label} val")
        if np.isfinite(m["test_acc"]).any():
            ax_acc.plot(m["epoch"], m["test_acc"], color=color, ls=":", label=f"{label} test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return save(fig, out, title)


def plot_confusion(cm: np.ndarray, actions: list[str], out: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with the action names on both axes."""
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    n = len(actions)
    fig, ax = plt.subplots(figsize=(0.26 * n + 3, 0.26 * n + 2.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), actions, rotation=90, fontsize=6)
    ax.set_yticks(range(n), actions, fontsize=6)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(title, fontsize=9)
    size = 5 if n > 20 else 8
    for i, j in zip(*np.nonzero(cm)):  # the count of each non-empty cell, readable on light and dark blue
        ax.text(
            j,
            i,
            str(int(cm[i, j])),
            ha="center",
            va="center",
            fontsize=size,
            color="white" if norm[i, j] > 0.5 else "black",
        )
    fig.colorbar(im, ax=ax, fraction=0.03, label="fraction of the true class")
    return save(fig, out)


FINGER_COLOURS = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple")  # thumb .. pinky


def animate_hand(
    frames: np.ndarray, out: Path, *, captions: list[str] | None = None, fps: int = 30, title: str = ""
) -> Path:
    """The sequence [T, 63] as a turning 3D hand (bones coloured by finger) written to GIF or MP4; `captions`
    (one per frame) are shown under it, e.g. the model's running prediction."""
    from matplotlib import animation

    from .runs import refuse_link
    from .skeleton import FINGER_CHAINS, FINGERS, NUM_COORDS, NUM_JOINTS

    suffix = Path(out).suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise HandRNNError(f"{out}: write a .gif or an .mp4")
    if suffix == ".mp4" and not animation.writers.is_available("ffmpeg"):
        raise HandRNNError(f"{out}: MP4 needs ffmpeg on the PATH; write a .gif instead")
    joints = frames.reshape(len(frames), NUM_JOINTS, NUM_COORDS)
    centre = joints.reshape(-1, 3).mean(0)
    reach = max(float(np.abs(joints - centre).max()), 1e-6)
    fig = plt.figure(figsize=(4.8, 5.2))
    ax = fig.add_subplot(projection="3d")
    lines = [ax.plot([], [], [], "o-", color=c, lw=2, ms=3, label=f)[0] for c, f in zip(FINGER_COLOURS, FINGERS)]
    for axis, c in zip("xyz", centre):
        getattr(ax, f"set_{axis}lim")(c - reach, c + reach)
        getattr(ax, f"set_{axis}label")(f"{axis} (mm)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper left")
    text = fig.text(0.5, 0.03, "", ha="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)

    def draw(t: int):
        for line, chain in zip(lines, FINGER_CHAINS):
            xyz = joints[t, list(chain)]
            line.set_data(xyz[:, 0], xyz[:, 1])
            line.set_3d_properties(xyz[:, 2])
        ax.view_init(elev=20, azim=-60 + 40 * t / max(1, len(joints) - 1))
        text.set_text(f"frame {t + 1}/{len(joints)}" + (f"   {captions[t]}" if captions else ""))
        return [*lines, text]

    anim = animation.FuncAnimation(fig, draw, frames=len(joints), interval=1000 / fps, blit=False)
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        writer = animation.PillowWriter(fps=fps) if suffix == ".gif" else animation.FFMpegWriter(fps=fps)
        refuse_link(Path(out))
        anim.save(str(out), writer=writer, dpi=80)
    except OSError as e:
        raise HandRNNError(f"{out}: cannot write the animation ({e.strerror or e})") from None
    finally:
        plt.close(fig)
    return Path(out)


def plot_sweep(rows: list[dict], grid: dict[str, list], out: Path, title: str = "") -> Path:
    """Accuracy (validation solid, test dotted) and seconds per epoch against each swept field (grid: its values)."""
    keys = list(grid)
    fig, axes = plt.subplots(2, len(keys), figsize=(5 * len(keys), 7), squeeze=False)
    for col, key in enumerate(keys):
        others = [k for k in keys if k != key]
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault(tuple(r[k] for k in others), []).append(r)
        for i, (rest, members) in enumerate(groups.items()):
            members = sorted(members, key=lambda r: r[key])
            x = [r[key] for r in members]
            prefix = ", ".join(f"{k}={v}" for k, v in zip(others, rest))
            prefix = f"{prefix}: " if prefix else ""
            axes[0, col].plot(x, [r["val_acc"] for r in members], "o-", color=f"C{i}", label=f"{prefix}validation")
            axes[0, col].plot(x, [r["test_acc"] for r in members], "o:", color=f"C{i}", label=f"{prefix}test")
            axes[1, col].plot(x, [r["seconds_per_epoch"] for r in members], "o-", color=f"C{i}")
        values = grid[key]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            log_scale = key in ("lr", "weight_decay") or (min(values) > 0 and max(values) / min(values) >= 16)
            for ax in axes[:, col]:
                ax.set_xscale("log" if log_scale else "linear")
                if len(values) <= 10:  # a grid's values, plainly (sampled values keep the axis' own ticks)
                    ax.set_xticks(sorted(values), [f"{v:g}" for v in sorted(values)])
                    ax.minorticks_off()
        axes[0, col].set(xlabel=key, ylabel="accuracy (val solid, test dotted)")
        axes[1, col].set(xlabel=key, ylabel="seconds per epoch")
        axes[0, col].legend(fontsize=7)
    return save(fig, out, title)
