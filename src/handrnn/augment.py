"""Training-time augmentation of joint sequences: rotation, scaling, jitter, speed change, uneven speed (time
warp), crop, frame drop, hand shape (bone lengths), mirroring (a left hand from a right one) and a camera
turning during the action (drift).

Each function maps x [T, 21, 3] (and a numpy Generator) to a new sequence; `Augmentation` chains the
ones whose magnitude is not 0. Rotation, drift and scaling act about the sequence's centre, so a hand stays
where it was; rotation keeps every bone's length (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import BONES, NUM_COORDS, NUM_JOINTS

MIN_FRAMES = 2  # crops and drops keep at least this many frames (velocities need two)
WARP_STRETCHES = 4  # a time warp plays this many equal stretches of the output, each at its own speed


def random_axis(rng: np.random.Generator) -> np.ndarray:
    axis = rng.normal(size=3)
    return axis / np.linalg.norm(axis)


def axis_rotations(axis: np.ndarray, radians: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] about the unit `axis` by each of `radians` [...] (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.asarray(radians, dtype=np.float64)[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k  # ((1 - cos) k) @ k, as it always was: same floats


def random_rotation(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A rotation matrix [3, 3] about a uniformly random axis by an angle uniform in [-max, max] degrees."""
    axis = random_axis(rng)
    return axis_rotations(axis, np.deg2rad(rng.uniform(-max_degrees, max_degrees)))


def centre(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, NUM_COORDS).mean(0)


def rotate(x: np.ndarray, rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    c = centre(x)
    return (x - c) @ random_rotation(rng, max_degrees).T + c


def scale(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Scale about the centre by a factor uniform in [1 - amount, 1 + amount]."""
    c = centre(x)
    return (x - c) * rng.uniform(1 - amount, 1 + amount) + c


def jitter(x: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Independent Gaussian noise of `sigma` (millimetres) on every coordinate."""
    return x + rng.normal(0.0, sigma, x.shape)


def drift(x: np.ndarray, rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A head-worn camera turning during the action: a rotation about a random axis through the sequence's
    centre, by 0 at the first frame growing evenly to an angle uniform in [-max, max] degrees at the last.
    Every bone keeps its length in every frame."""
    axis = random_axis(rng)
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees))
    turns = axis_rotations(axis, np.linspace(0.0, angle, len(x)))  # [T, 3, 3]
    c = centre(x)
    return np.einsum("tjc,tdc->tjd", x - c, turns) + c


def interpolate(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """x [T, ...] read at the fractional frame positions `pos` in [0, T - 1], linearly between frames."""
    i0 = np.clip(pos.astype(int), 0, len(x) - 2)
    w = (pos - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return x[i0] * (1 - w) + x[i0 + 1] * w


def resample(x: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of x [T, ...] to `length` frames, first and last frames kept."""
    if length == len(x) or len(x) < 2:
        return x
    return interpolate(x, np.linspace(0, len(x) - 1, length))


def speed(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Play the action faster or slower: a factor log-uniform in [1 / (1 + amount), 1 + amount]."""
    factor = np.exp(rng.uniform(-np.log1p(amount), np.log1p(amount)))
    return resample(x, max(MIN_FRAMES, int(round(len(x) / factor))))


def warp(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Uneven speed within the action: the output's WARP_STRETCHES equal stretches each play the input at its
    own speed factor, log-uniform in [1 / (1 + amount), 1 + amount]. The frame count, the first and the last
    frames are kept, and time only runs forward."""
    if len(x) < 2:
        return x
    rates = np.exp(rng.uniform(-np.log1p(amount), np.log1p(amount), WARP_STRETCHES))
    knots = np.concatenate([[0.0], np.cumsum(rates)]) * ((len(x) - 1) / rates.sum())  # input frame at each knot
    pos = np.interp(np.linspace(0, WARP_STRETCHES, len(x)), np.arange(WARP_STRETCHES + 1), knots)
    return interpolate(x, np.minimum(pos, len(x) - 1))


def crop(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A random contiguous window keeping a fraction uniform in [1 - amount, 1] of the frames."""
    keep = max(min(MIN_FRAMES, len(x)), int(round(len(x) * rng.uniform(1 - amount, 1))))
    start = int(rng.integers(0, len(x) - keep + 1))
    return x[start : start + keep]


def drop(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Leave out each frame with probability p (at least MIN_FRAMES stay)."""
    kept = rng.random(len(x)) >= p
    if kept.sum() < MIN_FRAMES:
        return x
    return x[kept]


def bones(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Another hand of the same motion: each bone's length times its own factor uniform in [1 - amount,
    1 + amount] (one per bone for the whole sequence), every bone's direction kept; the wrist stays."""
    if x.shape[1] != NUM_JOINTS:
        raise ValueError(f"bone-length augmentation needs FPHA's {NUM_JOINTS} joints, got {x.shape[1]}")
    y = x.copy()
    for (parent, child), f in zip(BONES, rng.uniform(1 - amount, 1 + amount, len(BONES))):
        y[:, child] = y[:, parent] + (x[:, child] - x[:, parent]) * f  # BONES lists a parent before its child
    return y


def mirror(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """With probability p, the sequence reflected through the plane x = centre (the camera's left and right
    swapped): the same motion by the other hand. Bone lengths stay; the hand's handedness flips."""
    if rng.random() >= p:
        return x
    y = x.copy()
    y[..., 0] = 2 * centre(x)[0] - x[..., 0]
    return y


@dataclass(frozen=True)
class Augmentation:
    """Magnitudes of each augmentation (0 = off), applied in the field order below."""

    speed: float = 0.0  # factor log-uniform in [1/(1+s), 1+s]
    warp: float = 0.0  # each stretch's speed factor log-uniform in [1/(1+w), 1+w]
    crop: float = 0.0  # keep a window of at least 1 - crop of the frames
    drop: float = 0.0  # probability of leaving a frame out
    bones: float = 0.0  # each bone's length times its own factor in [1 - bones, 1 + bones]
    mirror: float = 0.0  # probability of reflecting the sequence left-right
    rotate: float = 0.0  # maximum angle in degrees about a random axis
    drift: float = 0.0  # maximum angle in degrees reached at the last frame, from 0 at the first
    scale: float = 0.0  # factor uniform in [1 - scale, 1 + scale]
    jitter: float = 0.0  # Gaussian noise, millimetres

    def __bool__(self) -> bool:
        return any(v > 0 for v in vars(self).values())

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """[T, 63] -> [T', 63] float32, a new random variant of the sequence."""
        x = frames.reshape(len(frames), -1, NUM_COORDS).astype(np.float64)  # any joint layout
        for name, fn in STEPS:
            amount = getattr(self, name)
            if amount > 0:
                x = fn(x, rng, amount)
        return x.reshape(len(x), -1).astype(np.float32)


STEPS = (
    ("speed", speed),
    ("warp", warp),
    ("crop", crop),
    ("drop", drop),
    ("bones", bones),
    ("mirror", mirror),
    ("rotate", rotate),
    ("drift", drift),
    ("scale", scale),
    ("jitter", jitter),
)
